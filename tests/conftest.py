"""Shared fixtures: settings on a temporary SQLite file, a real server, real Socket.IO clients."""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from chatserver.app import create_app
from chatserver.settings import Settings

# The `browser` fixture (headless Chromium) lives beside the browser tests' other helpers.
pytest_plugins = ["tests.browser"]

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One embedding cache for the whole run, in pytest's temporary directory, for this
    process and the servers it starts: the suite neither reads nor fills the user's own
    (~/.cache/chatserver, where benchmarks leave tens of thousands of rows), and the first
    FAQ build pays for the rest, as on a fresh CI machine. A CHATSERVER_CACHE_DIR given to
    pytest is kept."""
    given = os.environ.get("CHATSERVER_CACHE_DIR")
    directory = Path(given) if given else tmp_path_factory.mktemp("embedding-cache")
    os.environ["CHATSERVER_CACHE_DIR"] = str(directory)
    yield directory
    if given is None:
        os.environ.pop("CHATSERVER_CACHE_DIR", None)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        """The same time as seconds, for what counts on a monotonic clock (rate limits)."""
        return self.current.timestamp()


def counting_ids(prefix: str = "id") -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):06d}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "chat.sqlite3"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings.defaults(
        database_url=f"sqlite:///{db_path}",
        faq_dir=ROOT / "faq",
        locales_dir=ROOT / "locales",
        max_message_chars=500,
    )


@dataclass
class Customer:
    """A real python-socketio client on /customer that records what the server pushes."""

    client: socketio.AsyncClient
    received: list[tuple[str, Any]] = field(default_factory=list)

    async def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        return await self.client.call(event, data, namespace="/customer", timeout=timeout)

    def pushed(self, event: str) -> list[Any]:
        return [data for name, data in self.received if name == event]

    async def wait_pushed(self, event: str, count: int = 1, timeout: float = 5) -> list[Any]:
        """The first `count` pushes of `event`, waiting for them to arrive."""
        async with asyncio.timeout(timeout):
            while len(self.pushed(event)) < count:
                await asyncio.sleep(0.005)
        return self.pushed(event)[:count]


ServerFactory = Callable[..., Awaitable[TestServer]]
CustomerFactory = Callable[..., Awaitable[Customer]]


@pytest.fixture
async def start_server(aiohttp_server: Any) -> ServerFactory:
    async def start(settings: Settings, **kwargs: Any) -> TestServer:
        app: web.Application = create_app(settings, **kwargs)
        server: TestServer = await aiohttp_server(app)
        return server

    return start


@pytest.fixture
async def server(start_server: ServerFactory, settings: Settings) -> TestServer:
    return await start_server(settings, clock=FakeClock())


@pytest.fixture
async def connect() -> AsyncIterator[CustomerFactory]:
    clients: list[socketio.AsyncClient] = []

    async def make(
        server: TestServer, *, headers: dict[str, str] | None = None, transport: str = "websocket"
    ) -> Customer:
        client = socketio.AsyncClient(reconnection=False)
        customer = Customer(client)

        @client.on("*", namespace="/customer")  # type: ignore[misc]
        async def record(event: str, data: Any = None) -> None:
            customer.received.append((event, data))

        await client.connect(
            str(server.make_url("/")),
            namespaces=["/customer"],
            transports=[transport],
            headers=headers or {},
            wait_timeout=10,
        )
        clients.append(client)
        return customer

    yield make
    for client in clients:
        if client.transport() == "polling":
            # python-engineio's client waits for its pending long poll to come back (up to
            # the ping interval, 25 s) after saying goodbye; the server's close ends it.
            for namespace in client.namespaces:
                await client._send_packet(
                    client.packet_class(socketio.packet.DISCONNECT, namespace=namespace)
                )
            await client.eio.disconnect(abort=True)
        else:
            await client.disconnect()


def top_faq(reply: dict[str, Any]) -> str | None:
    """The entry a bot reply is about: its answer, or its first suggestion."""
    meta = reply["meta"]
    if "faq_id" in meta:
        return str(meta["faq_id"])
    suggestions = meta.get("suggestions") or []
    return str(suggestions[0]["faq_id"]) if suggestions else None


@pytest.fixture
async def rooms(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Builds the rooms of the human side on their own (tests/human_desk.py), each on a
    SQLite file of its own; their stores are closed afterwards."""
    from tests.human_desk import build

    opened: list[Any] = []

    async def make(**options: Any) -> Any:
        built = await build(tmp_path / f"rooms-{len(opened)}", **options)
        opened.append(built)
        return built

    yield make
    for built in opened:
        await built.store.close()


# ---- a real SMTP server for the mail tests (inbox replies, transcripts by email) ----


class Mailbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.connected = 0  # clients not yet hung up (changed on the server's thread)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        return "250 Message accepted for delivery"

    async def wait(self, count: int = 1, timeout: float = 10) -> list[EmailMessage]:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                await asyncio.sleep(0.01)
        return self.received


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _CountingSMTP(SMTP):
    """One client's session, counted in its mailbox while connected."""

    def connection_made(self, transport: Any) -> None:
        self.event_handler.connected += 1
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self.event_handler.connected -= 1


class _Controller(Controller):
    """Stops only once every client has hung up: aiosmtpd's stop() closes its loop with
    the sessions' transports still open, and their sockets then surface as ResourceWarnings
    in whatever test the garbage collector happens to run in."""

    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)

    def stop(self, no_assert: bool = False) -> None:
        deadline = time.monotonic() + 5
        while self.handler.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        super().stop(no_assert)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server (aiosmtpd) on a free port, keeping what it receives."""
    mailbox = Mailbox()
    port = free_port()
    controller = _Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
