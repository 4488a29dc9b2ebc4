"""PostgreSQL: the bot's exchanges written one statement each, and together.

The store writes the exchanges that reach it in one turn of the event loop with one
statement (chatserver/store/exchange_batch.py). This runs a customer message and the bot's
reply in each of `--conversations` conversations at once, `--rounds` times, through the
store on a fresh database, with groups capped at 1 (every exchange alone) up to 64, and
reports the CPU an exchange costs PostgreSQL (its processes on this machine, read from
/proc) and this process (SQLAlchemy, asyncpg, the store).

    python bench/exchange_batch.py [--database postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, write_section  # noqa: E402
from chatserver.models import Author, NewMessage, new_conversation  # noqa: E402
from chatserver.store import Answer, open_store  # noqa: E402

GROUPS = (1, 2, 4, 8, 16, 64)
CLK_TCK = os.sysconf("SC_CLK_TCK")
NOW = datetime.now(UTC)


def postgres_cpu(postmaster: int) -> float:
    """CPU seconds of the PostgreSQL server so far: its processes alive, and those ended
    (the postmaster's children's time)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if entry.name == str(postmaster):
                total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            elif int(fields[1]) == postmaster:
                total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@contextlib.asynccontextmanager
async def fresh_database(base: str) -> AsyncIterator[tuple[str, int]]:
    """A new database, dropped afterwards, and the local postmaster's pid."""
    name = f"chat_bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            backend = (await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        try:
            yield base.rsplit("/", 1)[0] + "/" + name, parent_of(backend)
        finally:
            async with admin.connect() as connection:
                await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def message(cid: str, author: Author, text: str, **fields: object) -> NewMessage:
    return NewMessage(uuid.uuid4().hex, cid, author, text, NOW, "en", **fields)  # type: ignore[arg-type]


async def one_size(base: str, largest: int, conversations: int, rounds: int) -> dict[str, float]:
    async with fresh_database(base) as (url, postmaster):
        store = await open_store(url)
        try:
            assert store._exchanges is not None, "PostgreSQL only"
            store._exchanges.largest = largest
            ids = [uuid.uuid4().hex for _ in range(conversations)]
            for cid in ids:
                await store.create_conversation(
                    new_conversation(cid, language="en", language_confirmed=True, now=NOW),
                    uuid.uuid4().hex,
                )
            seqs = dict.fromkeys(ids, 0)

            async def exchange(cid: str, n: int) -> None:
                def answer(stored: object) -> Answer:
                    meta = {"in_reply_to": seqs[cid] + 1, "faq_id": "password-reset"}
                    return Answer(replies=[message(cid, Author.BOT, "Reset it here", meta=meta)])

                done = await store.append_exchange(
                    message(cid, Author.CUSTOMER, "I forgot my MT5 password", client_id=f"k{n}"),
                    answer,
                    last_seq=seqs[cid],
                )
                seqs[cid] = done.replies[-1].seq

            await asyncio.gather(*(exchange(cid, 0) for cid in ids))  # warm: pool, statements
            pg, ours, wall = postgres_cpu(postmaster), time.process_time(), time.perf_counter()
            for n in range(1, rounds + 1):
                await asyncio.gather(*(exchange(cid, n) for cid in ids))
            count = conversations * rounds
            return {
                "postgres": (postgres_cpu(postmaster) - pg) * 1000 / count,
                "ours": (time.process_time() - ours) * 1000 / count,
                "wall": (time.perf_counter() - wall) * 1000 / count,
            }
        finally:
            await store.close()


async def run(base: str, conversations: int, rounds: int) -> str:
    figures = {size: await one_size(base, size, conversations, rounds) for size in GROUPS}
    alone = figures[1]
    rows = [
        f"| {size} | {f['postgres']:.3f} | {f['ours']:.3f} | {f['wall']:.3f} | "
        f"{alone['postgres'] / f['postgres']:.1f}x |"
        for size, f in figures.items()
    ]
    return "\n".join(
        [
            "### `exchange-batch`",
            "",
            "Command: `python bench/exchange_batch.py`  ",
            f"{machine()}; PostgreSQL on this machine, a fresh database; {conversations} "
            f"conversations, each with a customer message and one bot reply at once, "
            f"{rounds} rounds; CPU an exchange.",
            "",
            "| exchanges a statement at most | PostgreSQL, ms | this process, ms | wall, ms "
            "| PostgreSQL against one each |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--write", type=Path, help="replace the `exchange-batch` section of this file"
    )
    args = parser.parse_args()
    report = asyncio.run(run(args.database, args.conversations, args.rounds))
    print(report)
    if args.write:
        write_section(args.write, "exchange-batch", report)


if __name__ == "__main__":
    main()
