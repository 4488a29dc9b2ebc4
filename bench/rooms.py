"""The client manager's rooms: memory per customer and the cost of a disconnect.

Each customer's socket is in its own room, its conversation's and its language's, as on the
desk (chatserver/sockets/customer.py). Compared: python-socketio's `AsyncManager` and the
desk's `LocalManager` (chatserver/sockets/manager.py, `IndexedRooms`), in one process, with
the same sockets entered the same way through the managers' public coroutines.

    python bench/rooms.py [--customers 1000,10000] [--leaving 1000] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import tracemalloc
from pathlib import Path

import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, write_section  # noqa: E402
from chatserver.settings import CHAT_LANGUAGES as LANGUAGES  # noqa: E402
from chatserver.sockets.base import conversation_room, readers_room  # noqa: E402
from chatserver.sockets.manager import LocalManager  # noqa: E402

NAMESPACE = "/customer"


async def seated(manager: socketio.AsyncManager, customers: int) -> list[str]:
    """`customers` connected sockets, each in its conversation's and its language's room."""
    socketio.AsyncServer(client_manager=manager)  # gives the manager its server
    sids = []
    for i in range(customers):
        sid = await manager.connect(f"eio{i:08d}", NAMESPACE)
        await manager.enter_room(sid, NAMESPACE, conversation_room(f"c{i:031d}"))
        await manager.enter_room(sid, NAMESPACE, readers_room(LANGUAGES[i % len(LANGUAGES)]))
        sids.append(sid)
    return sids


async def measure(kind: type[socketio.AsyncManager], customers: int, leaving: int) -> list[str]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    manager = kind()
    sids = await seated(manager, customers)
    per_customer = (tracemalloc.get_traced_memory()[0] - before) / customers
    tracemalloc.stop()
    gone = sids[:: max(1, customers // leaving)][:leaving]
    started = time.perf_counter()
    for sid in gone:
        await manager.disconnect(sid, NAMESPACE)
    per_disconnect = (time.perf_counter() - started) / len(gone)
    left = sum(1 for _ in manager.get_participants(NAMESPACE, None))
    assert left == customers - len(gone), "every leaving socket left, the others stayed"
    return [
        f"`{kind.__module__}.{kind.__name__}`",
        f"{customers:,}",
        f"{per_customer:,.0f} B",
        f"{per_disconnect * 1e6:,.1f} µs",
    ]


async def run(args: argparse.Namespace) -> str:
    rows = []
    for customers in args.customers:
        for kind in (socketio.AsyncManager, LocalManager):
            rows.append(await measure(kind, customers, min(args.leaving, customers)))
    shown = [a for a in sys.argv[1:] if a not in {"--write", str(args.write)}]
    command = " ".join(["python bench/rooms.py", *shown])
    lines = [
        f"Command: `{command}`  ",
        f"{machine()}.  ",
        "Each customer's socket in its own room, its conversation's and its language's "
        f"({len(LANGUAGES)} languages); memory traced while they are seated (tracemalloc: "
        f"the rooms and the socket ids), then {args.leaving:,} of them disconnect one after "
        "another, spread over the namespace.",
        "",
        "| manager | customers | rooms' memory per customer | one disconnect |",
        "|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--customers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1000, 10000],
        help="comma-separated numbers of connected customers",
    )
    parser.add_argument("--leaving", type=int, default=1000, help="disconnects timed")
    parser.add_argument("--write", type=Path, help="replace the `rooms` section of this file")
    args = parser.parse_args()
    report = asyncio.run(run(args))
    print(report)
    if args.write:
        write_section(args.write, "rooms", report)


if __name__ == "__main__":
    main()
