"""The store's writes of a handoff, on SQLite, called directly: no desk, no Socket.IO.

    python bench/handoff_writes.py [--conversations 300] [--repeat 3]

For each conversation, the writes a handoff makes through the store, in the order the
desk makes them: the conversation queued (its row), its SLA clocks started, the desk's line
to the customer, the row assigned, the agent's answer, the SLA's first response, the row
closed. Each runs alone and waits for its commit, as on a quiet desk. Reports µs of CPU and
of wall time per write, the best of `--repeat` runs (each on its own file). Only
comparable between runs of the same command on the same machine, alternated.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatserver import sla  # noqa: E402
from chatserver.models import (  # noqa: E402
    Author,
    ConversationStatus,
    NewMessage,
    Priority,
    Team,
    new_conversation,
)
from chatserver.store import open_store  # noqa: E402

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
WRITES_PER_CONVERSATION = 7


async def one_run(conversations: int, directory: Path) -> tuple[float, float]:
    store = await open_store(f"sqlite:///{directory / 'handoff.sqlite3'}")
    try:
        rows = []
        for n in range(conversations):
            conversation = new_conversation(f"c{n}", language="ja", language_confirmed=True, now=T0)
            await store.create_conversation(conversation, f"h{n}")
            rows.append(conversation)
        policy = sla.policy_for(sla.Channel.CHAT, Priority.HIGH)
        cpu, wall = time.process_time(), time.perf_counter()
        for n, conversation in enumerate(rows):
            at = T0 + timedelta(seconds=n)
            queued = dataclasses.replace(
                conversation.transition(ConversationStatus.QUEUED, at),
                team=Team.TECHNICAL,
                priority=Priority.HIGH,
                handed_off_at=at,
            )
            await store.save_conversation(queued)
            applied = sla.apply(policy, conversation.id, at)
            await store.save_sla(applied, queued, new=True)
            line = NewMessage(f"s{n}", conversation.id, Author.SYSTEM, "…", at)
            await store.append_message(line)
            assigned = dataclasses.replace(
                queued.transition(ConversationStatus.ASSIGNED, at), agent_id="agent-1"
            )
            await store.save_conversation(assigned)
            answer = NewMessage(f"a{n}", conversation.id, Author.AGENT, "こんにちは", at)
            await store.append_message(answer)
            answered, _ = sla.on_agent_message(applied, at, "agent-1", internal=False)
            await store.save_sla(answered, assigned)
            await store.save_conversation(assigned.transition(ConversationStatus.CLOSED, at))
        writes = conversations * WRITES_PER_CONVERSATION
        return (
            (time.process_time() - cpu) / writes * 1e6,
            (time.perf_counter() - wall) / writes * 1e6,
        )
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as directory:
            runs.append(await one_run(args.conversations, Path(directory)))
    cpu = min(r[0] for r in runs)
    wall = min(r[1] for r in runs)
    print(f"Python {platform.python_version()}; {args.conversations} handoffs x 7 writes")
    print(f"per write: {cpu:.0f} µs CPU, {wall:.0f} µs wall (best of {args.repeat})")


if __name__ == "__main__":
    asyncio.run(main())
