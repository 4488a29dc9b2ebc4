"""Handoff under load: customers ask for a person, agents accept, on one server process.

    python bench/handoff.py [--customers 500] [--agents 50] [--rates 10,50] [--write docs/benchmarks.md]

Starts `chatserver serve` as a separate process (uvloop, tuned GC, a fresh SQLite file),
creates the agents, connects them and the customers with python-socketio clients from
this process, and measures, per conversation, the time from the customer's
`request_agent` to the agent's `conversation` event (the chat is on the agent's screen):
that covers the handoff, the offer, the agent's accept round trip and the briefing. Agents
accept every offer at once and close each chat a moment after answering, as a desk would.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import socketio

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, percentile, write_section  # noqa: E402

LANGUAGES = ("en", "ja", "zh-Hans", "ko", "th", "es", "de", "ar")  # 8 languages
PASSWORD = "bench-password"
MARKER = "handoff"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def create_agents(database_url: str, count: int) -> list[tuple[str, str]]:
    """Agents spread over the 8 languages, each also speaking English, all teams."""
    sys.path.insert(0, str(ROOT))
    from chatserver.accounts import Accounts
    from chatserver.clock import SystemClock, new_id
    from chatserver.store import open_store

    store = await open_store(database_url)
    accounts = Accounts(
        store=store,
        clock=SystemClock(),
        new_id=new_id,
        languages=LANGUAGES,
        session_lifetime=dt.timedelta(hours=1),
    )
    created = []
    for index in range(count):
        language = LANGUAGES[index % len(LANGUAGES)]
        username = f"agent{index:03d}"
        await accounts.add(
            username=username,
            name=f"Agent {index}",
            languages=[language] if language == "en" else [language, "en"],
            teams=["technical", "account", "trading"],
            capacity=12,
            role="agent",
            password=PASSWORD,
        )
        created.append((username, language))
    await store.close()
    return created


class Run:
    def __init__(self, url: str) -> None:
        self.url = url
        self.requested: dict[str, float] = {}
        self.on_screen: dict[str, float] = {}
        self.clients: list[socketio.AsyncClient] = []

    async def agent(self, session: aiohttp.ClientSession, username: str) -> None:
        async with session.post(
            f"{self.url}/api/v1/login", json={"username": username, "password": PASSWORD}
        ) as response:
            token = (await response.json())["token"]
        client = socketio.AsyncClient(reconnection=False)
        self.clients.append(client)

        @client.on("offer", namespace="/agent")  # type: ignore[misc]
        async def offer(data: dict[str, Any]) -> None:
            await client.emit("accept", {"conversation_id": data["conversation_id"]}, "/agent")

        @client.on("conversation", namespace="/agent")  # type: ignore[misc]
        async def conversation(data: dict[str, Any]) -> None:
            conversation_id = data["conversation"]["id"]
            self.on_screen.setdefault(conversation_id, time.perf_counter())
            await client.emit(
                "message",
                {"conversation_id": conversation_id, "text": "Hello, how can I help?"},
                "/agent",
            )
            await asyncio.sleep(0.5)
            if client.connected:
                await client.emit("close", {"conversation_id": conversation_id}, "/agent")

        await client.connect(
            self.url, namespaces=["/agent"], transports=["websocket"], auth={"token": token}
        )

    async def customer(self, language: str) -> tuple[socketio.AsyncClient, str]:
        client = socketio.AsyncClient(reconnection=False)
        self.clients.append(client)
        await client.connect(self.url, namespaces=["/customer"], transports=["websocket"])
        started = await client.call("start", {"language": language}, namespace="/customer")
        return client, started["conversation"]["id"]

    async def ask(self, client: socketio.AsyncClient, conversation_id: str) -> None:
        self.requested[conversation_id] = time.perf_counter()
        await client.call("request_agent", {}, namespace="/customer", timeout=30)

    async def close(self) -> None:
        await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)


async def measure(url: str, agents: list[tuple[str, str]], customers: int, rate: float) -> Run:
    run = Run(url)
    async with aiohttp.ClientSession() as session:
        for start in range(0, len(agents), 10):  # log-ins hash passwords: ten at a time
            await asyncio.gather(*(run.agent(session, u) for u, _ in agents[start : start + 10]))
    connected = []
    for start in range(0, customers, 50):
        batch = [LANGUAGES[i % len(LANGUAGES)] for i in range(start, min(customers, start + 50))]
        connected += await asyncio.gather(*(run.customer(lang) for lang in batch))
    pending = []
    for client, conversation_id in connected:
        pending.append(asyncio.create_task(run.ask(client, conversation_id)))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*pending)
    deadline = time.perf_counter() + 30
    while len(run.on_screen) < customers and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return run


async def one_rate(args: argparse.Namespace, rate: float) -> tuple[list[float], float]:
    """A fresh server and database, the whole run at one request rate: latencies (ms) of the
    conversations that reached an agent, and the run time."""
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
        agents = await create_agents(database_url, args.agents)
        port = free_port()
        env = {
            **os.environ,
            "CHATSERVER_PORT": str(port),
            "CHATSERVER_DATABASE_URL": database_url,
            "CHATSERVER_LANGUAGES": ",".join(LANGUAGES),
            "CHATSERVER_LOG_LEVEL": "warning",
            "CHATSERVER_FAQ_RELOAD_INTERVAL": "0",
            # One load generator stands for thousands of clients at their own addresses.
            **{
                f"CHATSERVER_RATE_{kind}_PER_ADDRESS": "off"
                for kind in ("MESSAGES", "STARTS", "TYPING", "EVENTS", "CONNECTIONS", "LOGINS")
            },
        }
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chatserver", cwd=ROOT, env=env
        )
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                for _ in range(300):
                    try:
                        async with session.get(f"{url}/readyz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.2)
            started = time.perf_counter()
            run = await measure(url, agents, args.customers, rate)
            elapsed = time.perf_counter() - started
            latencies = [
                (run.on_screen[c] - run.requested[c]) * 1000
                for c in run.requested
                if c in run.on_screen
            ]
            await run.close()
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), 30)
    return latencies, elapsed


async def main_async(args: argparse.Namespace) -> int:
    rates = [float(r) for r in args.rates.split(",")]
    runs = [await one_rate(args, rate) for rate in rates]
    if not all(latencies for latencies, _ in runs):
        print("no conversation reached an agent", file=sys.stderr)
        return 1

    def row(label: str, cell: Callable[[list[float], float], str]) -> str:
        return f"| {label} | " + " | ".join(cell(lat, el) for lat, el in runs) + " |\n"

    command = "python bench/handoff.py " + " ".join(sys.argv[1:])
    body = (
        f"Command: `{command.strip()}`  \n"
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()}; "
        f"CPU: {cpu_model()} x {os.cpu_count()}; server and clients on the same machine.  \n"
        f"{args.agents} agents over {len(LANGUAGES)} languages ({', '.join(LANGUAGES)}; each "
        f"also speaks English, capacity 12), {args.customers} customers asking for a person; "
        "one server process (uvloop, tuned GC, SQLite), a fresh one for each rate.\n\n"
        "| measure | " + " | ".join(f"{r:g} requests/s" for r in rates) + " |\n"
        "|---|"
        + "---|" * len(rates)
        + "\n"
        + row("conversations on an agent's screen", lambda lat, _: f"{len(lat)} / {args.customers}")
        + row(
            "request_agent -> agent's `conversation`, p50",
            lambda lat, _: f"{statistics.median(lat):.1f} ms",
        )
        + row("p95", lambda lat, _: f"{percentile(lat, 0.95):.1f} ms")
        + row("p99", lambda lat, _: f"{percentile(lat, 0.99):.1f} ms")
        + row("max", lambda lat, _: f"{max(lat):.1f} ms")
        + row("run time", lambda _, elapsed: f"{elapsed:.1f} s")
    )
    print(body)
    if args.write:
        write_section(args.write, MARKER, "## Handoff\n\n" + body)
    return 0 if all(len(lat) == args.customers for lat, _ in runs) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument(
        "--rates", default="10,50", help="request_agent per second, one run per rate (10,50)"
    )
    parser.add_argument(
        "--write", type=Path, help="markdown file whose handoff section is replaced"
    )
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
