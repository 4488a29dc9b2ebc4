"""Chaos: the real server, as a process, killed with SIGKILL and restarted at seeded random
moments while customers and agents (real python-socketio clients that reconnect) talk.

Customers start, ask for a person and keep writing, each message with a `client_id`; after
every reconnect they resume with their token and `last_seq` (docs/protocol.md) and resend
what was not acknowledged, with the same `client_id`. Agents log in over HTTP, connect the
console, accept what they are offered and answer every customer message, resending their
unacknowledged replies too. Between kills some clients drop their own connection for a
moment (what they miss meanwhile comes only by resume or briefing), and each kill lands
during a burst of sends, so that some writes are committed and their acknowledgements
lost. Afterwards, from the SQLite file and what each client saw:
  - every acknowledged message is stored exactly once;
  - every acknowledged customer message reached an agent (live, or in the briefing a
    console gets when it reconnects), every acknowledged reply reached its customer (live,
    or in the missed messages of a resume);
  - each conversation's messages are numbered 1..last_seq without gaps;
  - the SLA clocks ran on across restarts: each first response is measured from the
    original handoff (a chat first answered after a restart included), hit or missed
    against the original due time.

`CHATSERVER_CHAOS_SEED` replays another schedule (default: a fixed seed, so CI is stable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("CHATSERVER_CHAOS_SEED", "20261124"))
DEMO_PASSWORD = "demo-password"  # chatserver.demo: the accounts --demo-agents creates
AGENTS = ("emma", "carlos", "aiko")  # all speak English; capacities 4 + 3 + 3
CUSTOMERS = 6
CALL_TIMEOUT = 3.0  # an acknowledgement lost with its connection is given up after this
READY_TIMEOUT = 60.0
SETTLE_TIMEOUT = 30.0  # after the last restart: time for every resend and delivery
BEGAN = time.monotonic()  # the traces' zero


def stamp() -> str:
    return f"{time.monotonic() - BEGAN:7.2f}"


# Rate limits off (they have their own tests; here a few clients talk fast on purpose). A
# desk without them ignores the variables.
NO_RATE_LIMITS = {
    f"CHATSERVER_RATE_{kind}{scope}": "off"
    for kind in ("MESSAGES", "STARTS", "TYPING", "EVENTS", "CONNECTIONS", "LOGINS")
    for scope in ("", "_PER_ADDRESS")
}
# A small FAQ: the bot is not what this test is about, and training it is most of start-up.
FAQ = """\
language: en
entries:
  - id: mt5-install
    category: technical
    priority: low
    question: How do I install MT5?
    variants: [Where can I download MetaTrader 5?, install mt5]
    answer: Download MetaTrader 5 from the client portal.
  - id: password-reset
    category: account
    priority: medium
    question: How do I reset my password?
    variants: [I forgot my password, reset password]
    answer: Use "Forgot password" on the log-in page.
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`python -m chatserver serve` on a fixed port and SQLite file, killed and restarted."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.db_path = tmp_path / "chaos.sqlite3"
        self.log_path = tmp_path / "server.log"
        self.faq_dir = tmp_path / "faq"
        self.faq_dir.mkdir()
        (self.faq_dir / "en.yaml").write_text(FAQ, encoding="utf-8")
        self.process: asyncio.subprocess.Process | None = None
        self.restarted_at: list[datetime] = []  # when each new process became ready
        self.trace: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "chatserver",
            "serve",
            "--port",
            str(self.port),
            "--database-url",
            f"sqlite:///{self.db_path}",
            "--faq-dir",
            str(self.faq_dir),
            "--faq-embeddings",
            "false",
            "--faq-reload-interval",
            "0",
            "--demo-agents",
            "true",
            "--log-level",
            "warning",
        ]
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command, cwd=ROOT, stdout=log, stderr=log, env={**os.environ, **NO_RATE_LIMITS}
            )
        deadline = time.monotonic() + READY_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.process.returncode is None, f"the server exited: {self.log_tail()}"
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            self.trace.append(f"{stamp()} ready")
                            return
                await asyncio.sleep(0.05)
        pytest.fail(f"the server was not ready in {READY_TIMEOUT} s: {self.log_tail()}")

    async def kill(self) -> None:
        assert self.process is not None
        self.trace.append(f"{stamp()} killed")
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Actor:
    """What every client does alike: connect with reconnection, count connections, call with
    a bounded wait, remember every message it was shown."""

    name: str
    namespace: str
    sio: socketio.AsyncClient = field(
        default_factory=lambda: socketio.AsyncClient(
            reconnection=True,
            reconnection_attempts=0,
            reconnection_delay=0.1,
            reconnection_delay_max=0.5,
        )
    )
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    connections: int = 0  # a new server-side session each time
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)  # message id -> message
    calls_lost: int = 0
    url: str = ""
    auth: dict[str, str] | None = None
    blips: int = 0
    trace: list[str] = field(default_factory=list)  # what a failure message shows

    def __post_init__(self) -> None:
        @self.sio.event(namespace=self.namespace)  # type: ignore[misc]
        async def connect() -> None:
            self.connections += 1
            self.note(f"connected ({self.connections})")
            self.connected.set()

        @self.sio.event(namespace=self.namespace)  # type: ignore[misc]
        async def connect_error(data: Any = None) -> None:
            self.note(f"connection refused: {data}")

        @self.sio.event(namespace=self.namespace)  # type: ignore[misc]
        async def disconnect(reason: Any = None) -> None:
            self.note(f"disconnected: {reason}")
            self.connected.clear()

        @self.sio.on("message", namespace=self.namespace)  # type: ignore[misc]
        async def message(data: dict[str, Any]) -> None:
            self.see(data)

    def see(self, message: dict[str, Any]) -> None:
        self.seen[message["id"]] = message

    def note(self, event: str) -> None:
        self.trace.append(f"{stamp()} {event}")

    def state(self) -> str:
        """The client's own view of its connection, and its last moves."""
        reconnecting = self.sio._reconnect_task is not None  # diagnosis only
        return (
            f"{self.name}: connected={self.sio.connected} engine={self.sio.eio.state} "
            f"reconnecting={reconnecting}; last: {' | '.join(self.trace[-8:])}"
        )

    async def call(self, event: str, data: Any) -> Any | None:
        """The acknowledgement, or None when the connection went away first (or a rate
        limit said to come back later): the caller sends again."""
        await self.connected.wait()
        try:
            ack = await self.sio.call(event, data, namespace=self.namespace, timeout=CALL_TIMEOUT)
        except socketio.exceptions.SocketIOError as lost:  # timeout, or not connected any more
            self.calls_lost += 1
            self.note(f"{event} lost: {lost!r}")
            await asyncio.sleep(0.05)
            return None
        if isinstance(ack, dict) and not ack.get("ok") and ack["error"]["code"] == "rate_limited":
            await asyncio.sleep(float(ack["error"].get("retry_after", 1)))
            return None
        return ack

    async def connect(self, url: str) -> None:
        self.url = url
        await self.sio.connect(
            url,
            namespaces=[self.namespace],
            transports=["websocket"],
            auth=self.auth,
            wait_timeout=10,
        )

    async def blip(self, seconds: float) -> None:
        """The client's own network drops for a while (the server keeps running).

        Only a connected client drops: python-socketio 5.18's `shutdown()` during a
        reconnection leaves the finished reconnect task in place, and that client then never
        reconnects after the next kill (tests/test_chaos.py's own failure, reproduced alone).
        A browser tab has no such state; this keeps the test about the server."""
        while not self.sio.connected:  # set once a reconnection has wholly finished
            await asyncio.sleep(0.01)
        self.blips += 1
        self.note(f"drops for {seconds:.2f} s")
        await self.sio.disconnect()  # by the client: no reconnection follows
        await asyncio.sleep(seconds)
        await self.connect(self.url)
        self.note("back from the drop")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
        http = self.sio.eio.http
        if http is not None and not http.closed:
            await http.close()


@dataclass
class Customer(Actor):
    token: str = ""
    conversation_id: str = ""
    session: int = 0  # the connection `start` last ran on
    resumes: int = 0
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)  # client id -> message
    resent: int = 0
    duplicates: int = 0  # resends the server had stored already (their first ack was lost)
    resuming: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def last_seq(self) -> int:
        """The highest seq up to which nothing is missing (a push may overtake an ack)."""
        seqs = {
            m["seq"] for m in self.seen.values() if m["conversation_id"] == self.conversation_id
        }
        last = 0
        while last + 1 in seqs:
            last += 1
        return last

    async def begin(self, url: str) -> None:
        await self.connect(url)
        started = await self.call("start", {"languages": ["en"]})
        assert started is not None, f"{self.name}: no answer to start"
        assert started["ok"] is True, started
        self.token = started["token"]
        self.conversation_id = started["conversation"]["id"]
        self.session = self.connections
        for each in started["messages"]:
            self.see(each)
        asked = await self.call("request_agent", {})
        assert asked is not None, f"{self.name}: no answer to request_agent"
        assert asked["ok"] is True, asked

    async def resumed(self) -> None:
        """After a reconnect, `start` with the token first: what was missed comes back."""
        async with self.resuming:
            await self._resume()

    async def _resume(self) -> None:
        while self.session != self.connections:
            connection = self.connections
            ack = await self.call("start", {"token": self.token, "last_seq": self.last_seq})
            if ack is None:
                continue
            assert ack["ok"] is True, f"{self.name}: resume refused: {ack}"
            assert ack["conversation"]["id"] == self.conversation_id
            for each in ack["messages"]:
                self.see(each)
            self.session = connection
            self.resumes += 1

    async def say(self, client_id: str, text: str) -> None:
        """Send until acknowledged; a resend carries the same client_id."""
        attempts = 0
        while True:
            await self.resumed()
            attempts += 1
            ack = await self.call("message", {"text": text, "client_id": client_id})
            if ack is None or (not ack["ok"] and ack["error"]["code"] == "not_started"):
                continue  # the connection changed under the call: resume, then resend
            assert ack["ok"] is True, f"{self.name}: {client_id} refused: {ack}"
            self.acked[client_id] = ack["message"]
            self.see(ack["message"])
            self.resent += attempts - 1
            self.duplicates += bool(ack["duplicate"])
            return

    async def talk(self, rng: random.Random, until: asyncio.Event, burst: asyncio.Event) -> None:
        """A message now and then; when `burst` is set, several at once (not waiting for
        each acknowledgement), so that a kill finds writes in flight."""
        number = 0
        while not until.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(rng.uniform(0.05, 0.4)):
                    await burst.wait()
            count = rng.randint(3, 8) if burst.is_set() else 1
            numbers = range(number + 1, number + count + 1)
            number += count
            await asyncio.gather(
                *(self.say(f"{self.name}-{n}", f"Message {n} from {self.name}") for n in numbers)
            )
        await self.resumed()

    def replies(self) -> set[str]:
        return {m["id"] for m in self.seen.values() if m["author"] == "agent"}


@dataclass
class Agent(Actor):
    id: str = ""
    offers: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)  # client id -> reply
    hold_back: Callable[[str], bool] = lambda _conversation_id: False
    resent: int = 0
    duplicates: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()

        @self.sio.on("offer", namespace=self.namespace)  # type: ignore[misc]
        async def offer(data: dict[str, Any]) -> None:
            self.offers.add(data["conversation_id"])

        @self.sio.on("offer_withdrawn", namespace=self.namespace)  # type: ignore[misc]
        async def withdrawn(data: dict[str, Any]) -> None:
            self.offers.discard(data["conversation_id"])

        @self.sio.on("conversation", namespace=self.namespace)  # type: ignore[misc]
        async def briefing(data: dict[str, Any]) -> None:
            self.held.add(data["conversation"]["id"])
            for each in data["messages"]:
                self.see(each)

        @self.sio.on("released", namespace=self.namespace)  # type: ignore[misc]
        async def released(data: dict[str, Any]) -> None:
            self.held.discard(data["conversation_id"])

    async def begin(self, url: str) -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{url}/api/v1/login", json={"username": self.name, "password": DEMO_PASSWORD}
            ) as response,
        ):
            assert response.status == 200, await response.text()
            logged_in = await response.json()
        self.id = logged_in["agent"]["id"]
        self.auth = {"token": logged_in["token"]}
        await self.connect(url)

    def unanswered(self) -> list[dict[str, Any]]:
        answered = {m["meta"].get("in_reply_to_id") for m in self.acked.values()}
        return sorted(
            (
                m
                for m in self.seen.values()
                if m["author"] == "customer"
                and m["conversation_id"] in self.held
                and m["id"] not in answered
                and not self.hold_back(m["conversation_id"])
            ),
            key=lambda m: (m["conversation_id"], m["seq"]),
        )

    async def work(self, until: asyncio.Event) -> None:
        """Accept every offer, answer every customer message (once, resending the same
        client_id until acknowledged)."""
        while not until.is_set():
            for conversation_id in sorted(self.offers):
                ack = await self.call("accept", {"conversation_id": conversation_id})
                if ack is None:
                    continue
                self.offers.discard(conversation_id)
                if ack["ok"]:
                    self.held.add(conversation_id)
            for message in self.unanswered():
                client_id = f"re-{message['id']}"
                attempts = 0
                while not until.is_set():
                    attempts += 1
                    ack = await self.call(
                        "message",
                        {
                            "conversation_id": message["conversation_id"],
                            "text": f"Re: {message['text']}",
                            "client_id": client_id,
                        },
                    )
                    if ack is None:
                        continue
                    if not ack["ok"] and ack["error"]["code"] == "not_your_conversation":
                        # Re-queued to someone else while this console was away (it missed
                        # `released`): it is not this agent's to answer any more.
                        self.held.discard(message["conversation_id"])
                        break
                    assert ack["ok"] is True, f"{self.name}: reply refused: {ack}"
                    reply = ack["message"]
                    reply["meta"]["in_reply_to_id"] = message["id"]
                    self.acked[client_id] = reply
                    self.see(reply)
                    self.resent += attempts - 1
                    self.duplicates += bool(ack.get("duplicate"))
                    break
            await asyncio.sleep(0.05)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    server = Server(tmp_path)
    try:
        yield server
    finally:
        await server.stop()


async def test_nothing_acknowledged_is_lost_or_doubled_across_kills(server: Server) -> None:
    rng = random.Random(SEED)
    kills = rng.randint(3, 6)
    began = time.monotonic()
    await server.start()
    first_conversation: list[str] = []
    restarts = 0
    agents = [
        Agent(
            name,
            "/agent",
            # The first chat gets no answer before a restart: its FRT must span one.
            hold_back=lambda c: restarts == 0 and c in first_conversation[:1],
        )
        for name in AGENTS
    ]
    customers = [Customer(f"c{n}", "/customer") for n in range(CUSTOMERS)]
    stop_talking, stop_working, burst = asyncio.Event(), asyncio.Event(), asyncio.Event()
    try:
        for agent in agents:
            await agent.begin(server.url)
        for customer in customers:
            await customer.begin(server.url)
            first_conversation.append(customer.conversation_id)
        workers = [asyncio.create_task(a.work(stop_working)) for a in agents]
        talkers = [
            asyncio.create_task(c.talk(random.Random(rng.random()), stop_talking, burst))
            for c in customers
        ]
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            # Clients drop on their own too: what they miss comes back by resume or briefing.
            dropping = [*rng.sample(customers, 2), *rng.sample(agents, 1)]
            await asyncio.gather(*(actor.blip(rng.uniform(0.3, 1.5)) for actor in dropping))
            await asyncio.sleep(rng.uniform(0.5, 2.5))
            burst.set()  # customers send at once, agents answer: the kill lands mid-write
            await asyncio.sleep(rng.uniform(0.0, 0.08))
            await server.kill()
            burst.clear()
            restarts += 1
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            await server.start()
            server.restarted_at.append(datetime.now(UTC))
        await asyncio.sleep(rng.uniform(1.0, 3.0))
        stop_talking.set()
        async with asyncio.timeout(SETTLE_TIMEOUT):
            await asyncio.gather(*talkers)
            while not settled(customers, agents):
                await asyncio.sleep(0.1)
        stop_working.set()
        await asyncio.gather(*workers)
    except TimeoutError:
        pytest.fail(
            f"not settled in {SETTLE_TIMEOUT} s:\n{progress(customers, agents)}\n"
            f"server: {' | '.join(server.trace)}"
        )
    finally:
        stop_talking.set()
        stop_working.set()
        for actor in [*customers, *agents]:
            await actor.close()
        await server.stop()
    elapsed = time.monotonic() - began
    check_stored_once(server.db_path, customers, agents)
    check_delivered(customers, agents)
    check_sequences(server.db_path)
    answered_after_restart = check_sla(server.db_path, server.restarted_at)
    print(
        f"\nchaos seed {SEED}: {kills} kills in {elapsed:.1f} s; "
        f"{sum(len(c.acked) for c in customers)} customer messages "
        f"({sum(c.resent for c in customers)} resent, "
        f"{sum(c.duplicates for c in customers)} of them stored before, "
        f"{sum(c.resumes for c in customers)} resumes), "
        f"{sum(len(a.acked) for a in agents)} replies ({sum(a.resent for a in agents)} resent, "
        f"{sum(a.duplicates for a in agents)} stored before); "
        f"{sum(a.blips for a in [*customers, *agents])} client-side drops; "
        f"{answered_after_restart} chats first answered after a restart"
    )
    assert answered_after_restart >= 1, "no chat was first answered after a restart"


def settled(customers: list[Customer], agents: list[Agent]) -> bool:
    """Every acknowledged message has been shown to the other side and answered."""
    replies = [r for a in agents for r in a.acked.values()]
    seen_by_agents = {m for a in agents for m in a.seen}
    return all(
        all(m["id"] in seen_by_agents for m in c.acked.values())
        and {r["id"] for r in replies if r["conversation_id"] == c.conversation_id} <= c.replies()
        for c in customers
    ) and all(not a.unanswered() for a in agents)


def progress(customers: list[Customer], agents: list[Agent]) -> str:
    seen_by_agents = {m for a in agents for m in a.seen}
    lines = []
    replies = [(a.name, k, r) for a in agents for k, r in a.acked.items()]
    for c in customers:
        unseen = [k for k, m in c.acked.items() if m["id"] not in seen_by_agents]
        missed = [
            f"{name}:{k}"
            for name, k, r in replies
            if r["conversation_id"] == c.conversation_id and r["id"] not in c.replies()
        ]
        lines.append(
            f"{c.name}: {len(c.acked)} acked, not seen by an agent: {unseen}; "
            f"replies it never saw: {missed}"
        )
    for a in agents:
        lines.append(f"{a.name}: holds {sorted(a.held)}, unanswered {len(a.unanswered())}")
    lines.extend(actor.state() for actor in [*customers, *agents])
    return "\n".join(lines)


def database(db_path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    return db


def check_stored_once(db_path: Path, customers: list[Customer], agents: list[Agent]) -> None:
    db = database(db_path)
    try:
        acked = [m for actor in [*customers, *agents] for m in actor.acked.values()]
        assert acked, "nothing was acknowledged"
        for message in acked:
            rows = db.execute(
                "SELECT id FROM messages WHERE conversation_id = ? AND client_id = ?",
                (message["conversation_id"], message["client_id"]),
            ).fetchall()
            assert [r["id"] for r in rows] == [message["id"]], (
                f"{message['client_id']} stored {len(rows)} times: {[dict(r) for r in rows]}"
            )
        texts = db.execute(
            "SELECT conversation_id, text, count(*) AS n FROM messages "
            "WHERE author = 'customer' GROUP BY conversation_id, text HAVING n > 1"
        ).fetchall()
        assert not texts, f"the same text stored twice: {[dict(r) for r in texts]}"
    finally:
        db.close()


def check_delivered(customers: list[Customer], agents: list[Agent]) -> None:
    seen_by_agents = {m for a in agents for m in a.seen}
    for customer in customers:
        missing = [k for k, m in customer.acked.items() if m["id"] not in seen_by_agents]
        assert not missing, f"{customer.name}: no agent ever saw {missing}"
    for agent in agents:
        for client_id, reply in agent.acked.items():
            customer = next(c for c in customers if c.conversation_id == reply["conversation_id"])
            assert reply["id"] in customer.replies(), (
                f"{customer.name} never saw {agent.name}'s reply {client_id}"
            )


def check_sequences(db_path: Path) -> None:
    db = database(db_path)
    try:
        for row in db.execute("SELECT id, last_seq FROM conversations"):
            seqs = [
                r["seq"]
                for r in db.execute(
                    "SELECT seq FROM messages WHERE conversation_id = ? ORDER BY seq", (row["id"],)
                )
            ]
            assert seqs == list(range(1, row["last_seq"] + 1)), (row["id"], row["last_seq"], seqs)
    finally:
        db.close()


def _when(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    value = datetime.fromisoformat(raw)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_sla(db_path: Path, restarts: list[datetime]) -> int:
    """First responses measured from the original handoff; returns how many chats were first
    answered after a restart (their clock had to survive it)."""
    db = database(db_path)
    after_restart = 0
    try:
        handed_off = db.execute(
            "SELECT id, handed_off_at FROM conversations WHERE handed_off_at IS NOT NULL"
        ).fetchall()
        assert handed_off, "no conversation was handed off"
        for conversation in handed_off:
            sla = db.execute(
                "SELECT * FROM applied_slas WHERE conversation_id = ?", (conversation["id"],)
            ).fetchone()
            assert sla is not None, f"{conversation['id']}: no SLA row"
            handoff = _when(conversation["handed_off_at"])
            assert _when(sla["handed_off_at"]) == handoff, (
                f"{conversation['id']}: the SLA clock restarted at {sla['handed_off_at']}, "
                f"the handoff was at {conversation['handed_off_at']}"
            )
            state = json.loads(sla["state"])
            clock = state["first_response"]
            assert datetime.fromisoformat(clock["started_at"]) == handoff, (clock, handoff)
            target = timedelta(seconds=state["policy"]["first_response"])
            assert datetime.fromisoformat(clock["due_at"]) == handoff + target, clock
            first = db.execute(
                "SELECT created_at FROM messages WHERE conversation_id = ? AND author = 'agent' "
                "AND NOT internal ORDER BY seq LIMIT 1",
                (conversation["id"],),
            ).fetchone()
            if first is None:
                continue
            answered = _when(first["created_at"])
            assert answered is not None
            assert clock["stopped_at"] is not None, f"answered, clock running: {clock}"
            assert datetime.fromisoformat(clock["stopped_at"]) == answered, (clock, answered)
            assert sla["frt_seconds"] == pytest.approx((answered - handoff).total_seconds()), (
                dict(sla),
                answered,
            )
            expected = "hit" if answered <= handoff + target else "missed"
            assert clock["status"] == sla["frt_status"] == expected, (dict(sla), answered)
            if any(handoff < restart < answered for restart in restarts):
                after_restart += 1
    finally:
        db.close()
    return after_restart
