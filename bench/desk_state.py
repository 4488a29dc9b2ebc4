"""What sharing the desk through Redis costs a unit of change (chatserver/redis_state.py),
by the size of the desk: N customers present (each a socket in the presence), N/10 chats
waiting and N/20 agents online with chats.

    python bench/desk_state.py [--customers 100,1000,10000] [--repeat 50]
                               [--redis-url redis://127.0.0.1:6379/15] [--write docs/benchmarks.md]

For each size: writing the memory as JSON and reading it back (what a unit pays when it
changed the desk, and what another process pays at its next unit), and the round trip of
one `hold()` through the real Redis when nothing moved (the lock and version script, and
the write-and-release script) and when a customer joined (a real change to write).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine, percentile, write_section

from chatserver.desk_state import DeskMemory
from chatserver.models import AgentStatus, Priority, Team
from chatserver.presence import AgentPresence, CustomerPresence, node_socket
from chatserver.redis_state import RedisDeskState
from chatserver.routing import AgentProfile, Router

GRACE = timedelta(seconds=60)
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def desk(customers: int) -> DeskMemory:
    memory = DeskMemory(Router(), CustomerPresence(GRACE), AgentPresence(GRACE))
    fill(memory, customers)
    return memory


def fill(memory: DeskMemory, customers: int) -> None:
    router = memory.router
    for n in range(max(1, customers // 20)):
        agent_id = f"agent-{n:05d}"
        router.upsert_agent(
            AgentProfile(
                id=agent_id,
                name=f"Agent {n}",
                languages=frozenset({"en", "ja"}),
                teams=frozenset({Team("account")}),
                capacity=20,
            ),
            NOW,
        )
        router.agent_online(agent_id, NOW)
        if router.agent_status(agent_id) is not AgentStatus.ONLINE:
            raise RuntimeError("the agent did not come online")
        memory.agents.connect(agent_id, node_socket("node-a", f"console-{n}"))
    for n in range(customers):
        conversation_id = f"conv-{n:06d}-{uuid.UUID(int=n).hex[:12]}"
        memory.customers.join(conversation_id, node_socket("node-a", f"sid-{n:020d}"))
        if n % 10 == 0:
            router.enqueue(
                conversation_id,
                language="en",
                team=Team("account"),
                priority=Priority.MEDIUM,
                now=NOW,
            )


def timed(action, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def timed_async(action, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def one_size(client: Redis, customers: int, repeat: int) -> dict[str, object]:
    memory = desk(customers)
    raw = json.dumps(memory.to_state(), separators=(",", ":"), sort_keys=True)
    policy = memory.router.policy

    def write() -> None:
        json.dumps(memory.to_state(), separators=(",", ":"), sort_keys=True)

    def read() -> None:
        DeskMemory.from_state(
            json.loads(raw), policy=policy, customer_grace=GRACE, agent_grace=GRACE
        )

    writes, reads = timed(write, repeat), timed(read, repeat)
    prefix = f"bench-desk-{uuid.uuid4().hex[:8]}"
    state = RedisDeskState.sharing(client, desk(0), prefix=prefix, node="node-a")

    async def rebuild() -> None:  # the store's part, as the server's restore does it
        fill(state.memory, customers)

    state.rebuild = rebuild
    try:
        async with state.hold():
            pass  # the first unit: nothing in Redis yet, so the desk is built and written
        assert len(state.memory.customers.sockets()) == customers

        async def unchanged() -> None:
            async with state.hold():
                pass

        joined = iter(range(10**9))

        async def a_join() -> None:
            async with state.hold() as shared:
                shared.customers.join("conv-new", node_socket("node-a", f"x{next(joined)}"))

        idle = await timed_async(unchanged, repeat)
        change = await timed_async(a_join, repeat)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    return {
        "customers": customers,
        "bytes": len(raw),
        "write": writes,
        "read": reads,
        "hold, nothing moved": idle,
        "hold, a customer joined": change,
    }


def row(result: dict[str, object]) -> str:
    def cell(name: str) -> str:
        times = result[name]
        assert isinstance(times, list)
        return f"{statistics.median(times):.2f} / {percentile(times, 0.99):.2f} ms"

    return (
        f"| {result['customers']:,} | {int(result['bytes']) / 1024:,.0f} KiB | {cell('write')} | "  # type: ignore[call-overload]
        f"{cell('read')} | {cell('hold, nothing moved')} | {cell('hold, a customer joined')} |\n"
    )


async def main_async(args: argparse.Namespace) -> int:
    client = Redis.from_url(args.redis_url)
    try:
        results = [
            await one_size(client, int(size), args.repeat) for size in args.customers.split(",")
        ]
    finally:
        await client.aclose()
    command = "python bench/desk_state.py " + " ".join(sys.argv[1:])
    body = (
        f"Command: `{command.strip()}`  \n{machine()}; Redis on 127.0.0.1.  \n"
        "N customers present, N/10 chats waiting, N/20 agents online; p50 / p99 of "
        f"{args.repeat} runs each.\n\n"
        "| customers | desk as JSON | write it | read it back | `hold()`, nothing moved | "
        "`hold()`, a customer joined |\n|---|---|---|---|---|---|\n"
        + "".join(row(result) for result in results)
    )
    print(body)
    if args.write:
        write_section(args.write, "desk-state", "## Sharing the desk through Redis\n\n" + body)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--write", type=Path, help="markdown file whose section is replaced")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
