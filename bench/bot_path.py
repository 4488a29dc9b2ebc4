"""The bot's path: customer messages answered by the bot, through `Desk.receive`.

    python bench/bot_path.py [--conversations 50] [--messages 10] [--repeat 3]

Builds the desk the way the server does (chatserver.wiring.build_desk) over a fresh
SQLite file (synchronous=NORMAL, the default), the repository's FAQ with embeddings off,
and calls `Desk.receive` directly: no Socket.IO, so what is measured is the desk, the bot
and the store. Each conversation starts in English (chosen) and its customer asks FAQ
questions in English; the bot answers or suggests (no declines, no handoffs).

Reports, per customer message: store calls (reads and write transactions, as
`SqlStore.read`/`write`/`read_bulk` see them), SQL statements and commits (SQLite's
trace callback: each row of a many-row insert is a statement), and µs of wall time (the best of `--repeat` runs, each on its own file).
Timings are only comparable between runs on a quiet machine, with the same command; the
counts do not depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatserver import sla  # noqa: E402
from chatserver.app import load_detector  # noqa: E402
from chatserver.bot import Bot  # noqa: E402
from chatserver.clock import SystemClock, new_id  # noqa: E402
from chatserver.faq_reload import faq_fingerprint, load_matcher  # noqa: E402
from chatserver.i18n import Catalogs  # noqa: E402
from chatserver.settings import Settings  # noqa: E402
from chatserver.store import SqlStore, open_store  # noqa: E402
from chatserver.store.sql import Operation, T  # noqa: E402
from chatserver.wiring import build_desk  # noqa: E402

QUESTIONS = (
    "How do I install MT5?",
    "I forgot my MT5 password",
    "How can I deposit money?",
    "How do I open an account?",
    "What documents do I need to open an account?",
    "How do I install a custom indicator?",
    "Which server should I choose when logging in?",
    "My deposit has not arrived",
    "How long does verification take?",
    "How do I backtest my EA?",
)

COUNTS: Counter[str] = Counter()
STORE_SECONDS = [0.0]  # wall time inside the store's operations


class CountingStore(SqlStore):
    """The real store, counting the operations (each one transaction) handed to it and
    timing them (on SQLite they run on the event loop: their time is the store's own)."""

    async def read(self, operation: Operation[T]) -> T:
        return await _counted("reads", super().read(operation))

    async def read_bulk(self, operation: Operation[T]) -> T:
        return await _counted("reads", super().read_bulk(operation))

    async def write(self, operation: Operation[T]) -> T:
        return await _counted("writes", super().write(operation))


async def _counted(kind: str, call: Awaitable[T]) -> T:
    """One store operation counted under `kind`, its wall time added to the store's."""
    COUNTS[kind] += 1
    started = time.perf_counter()
    try:
        return await call
    finally:
        STORE_SECONDS[0] += time.perf_counter() - started


@event.listens_for(sa.Engine, "connect")
def _trace(dbapi_connection: Any, _record: Any) -> None:
    """Statements counted as SQLite runs them, whether through SQLAlchemy or the driver
    (chatserver/store/driver.py); each row of an executemany is one."""
    dbapi_connection.set_trace_callback(_traced)


def _traced(sql: str) -> None:
    verb = sql.split(None, 1)[0].upper() if sql.strip() else ""
    if verb == "COMMIT":
        COUNTS["commits"] += 1
    elif verb not in ("BEGIN", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE"):
        COUNTS["statements"] += 1


async def run(settings: Settings, bot: Bot, conversations: int, messages: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bot-path-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        store = await open_store(url, store_class=CountingStore)
        try:
            desk = build_desk(
                settings,
                store=store,
                bot=bot,
                detector=load_detector(
                    settings.languages, settings.language_backend, settings.default_language
                ),
                clock=SystemClock(),
                new_id=new_id,
                policies=sla.default_policies(),
            )
            ids = [(await desk.start(choice="en")).conversation.id for _ in range(conversations)]
            for conversation_id in ids[:2]:  # warm-up: caches, compiled statements
                await desk.receive(conversation_id, QUESTIONS[0], None)
            COUNTS.clear()
            STORE_SECONDS[0] = 0.0
            kinds: Counter[str] = Counter()
            started = time.perf_counter()
            for i in range(messages):
                for n, conversation_id in enumerate(ids):
                    text = QUESTIONS[(i + n) % len(QUESTIONS)]
                    received = await desk.receive(conversation_id, text, f"c{i}")
                    kinds.update(str(r.meta.get("kind")) for r in received.replies)
            elapsed = time.perf_counter() - started
            total = conversations * messages
            return {
                "us": elapsed / total * 1e6,
                "store_us": STORE_SECONDS[0] / total * 1e6,
                "per_message": {k: v / total for k, v in sorted(COUNTS.items())},
                "kinds": dict(kinds),
                "total": total,
            }
        finally:
            await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10, help="per conversation")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = Settings.defaults(
        faq_dir=ROOT / "faq", locales_dir=ROOT / "locales", faq_embeddings=False
    )
    _, matcher = load_matcher(
        settings.faq_dir, faq_fingerprint(settings.faq_dir), settings.faq_skip_invalid, False
    )
    catalogs = Catalogs.load(settings.locales_dir, settings.languages, settings.default_language)
    bot = Bot(matcher, catalogs)
    runs = [await run(settings, bot, args.conversations, args.messages) for _ in range(args.repeat)]
    best = min(runs, key=lambda r: r["us"])
    print(
        f"Python {platform.python_version()}; SQLAlchemy {sa.__version__}; SQLite {_sqlite_version()}"
    )
    print(
        f"{runs[0]['total']} customer messages a run, {args.repeat} runs; replies: {runs[0]['kinds']}"
    )
    print("per message: " + ", ".join(f"{k} {v:.2f}" for k, v in runs[0]["per_message"].items()))
    print(
        f"µs per message: best {best['us']:.0f} (of which in the store {best['store_us']:.0f}),"
        f" median {statistics.median(r['us'] for r in runs):.0f}"
        " (wall time; comparable only between runs on a quiet machine)"
    )


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


if __name__ == "__main__":
    asyncio.run(main())
