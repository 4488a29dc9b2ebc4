"""Several real server processes sharing one desk through Redis and PostgreSQL, for the
scale-out tests: each `Node` is `python -m chatserver serve` on its own port, started,
killed (SIGKILL) and stopped like a deployment's processes; the clients are real
python-socketio clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from redis.asyncio import Redis

from tests.services import fresh_postgres, require_redis

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 90.0
PASSWORD = "cluster-password"
CALL_TIMEOUT = 30.0
# Rate limits off: many clients talk from one address on purpose.
NO_RATE_LIMITS = {
    f"CHATSERVER_RATE_{kind}{scope}": "off"
    for kind in ("MESSAGES", "STARTS", "TYPING", "EVENTS", "CONNECTIONS", "LOGINS")
    for scope in ("", "_PER_ADDRESS")
}
# A small FAQ: training the bot is most of start-up, and the bot is not what is tested.
FAQ = """\
language: en
entries:
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


@dataclass
class Desk:
    """What the processes of one desk share: the database, Redis and the key prefix."""

    tmp_path: Path
    database_url: str
    redis_url: str
    prefix: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:10]}")
    env: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        faq_dir = self.tmp_path / "faq"
        faq_dir.mkdir(exist_ok=True)
        (faq_dir / "en.yaml").write_text(FAQ, encoding="utf-8")
        self.env = {
            **NO_RATE_LIMITS,
            "CHATSERVER_DATABASE_URL": self.database_url,
            "CHATSERVER_REDIS_URL": self.redis_url,
            "CHATSERVER_REDIS_PREFIX": self.prefix,
            "CHATSERVER_FAQ_DIR": str(faq_dir),
            "CHATSERVER_FAQ_EMBEDDINGS": "false",
            "CHATSERVER_FAQ_RELOAD_INTERVAL": "0",
            "CHATSERVER_LOG_LEVEL": "info",
            **self.env,
        }

    def add_agent(self, username: str, *, capacity: int = 3, languages: str = "en") -> None:
        """An account in the shared database (the CLI, as an operator would)."""
        subprocess.run(
            [
                sys.executable,
                "-m",
                "chatserver",
                "agents",
                "add",
                username,
                "--name",
                username.title(),
                "--languages",
                languages,
                "--capacity",
                str(capacity),
                "--password-stdin",
            ],
            input=PASSWORD,
            text=True,
            cwd=ROOT,
            env={**os.environ, **self.env},
            check=True,
            capture_output=True,
        )

    def node(self, name: str, **env: str) -> Node:
        node = Node(self, name, env)
        self.nodes.append(node)
        return node

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes))


@dataclass
class Node:
    """One server process of the desk."""

    desk: Desk
    name: str
    extra_env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    node_id: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.desk.tmp_path / f"{self.name}.log"

    async def start(self) -> Node:
        env = {**os.environ, **self.desk.env, **self.extra_env, "CHATSERVER_PORT": str(self.port)}
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "chatserver",
                "serve",
                cwd=ROOT,
                stdout=log,
                stderr=log,
                env=env,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.process.returncode is None, f"{self.name} exited: {self.log_tail()}"
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            self.node_id = (await response.json())["node"]
                            return self
                await asyncio.sleep(0.1)
        pytest.fail(f"{self.name} was not ready in {READY_TIMEOUT} s: {self.log_tail()}")

    async def kill(self) -> None:
        """SIGKILL: no goodbye, the heartbeat and the lease simply stop."""
        assert self.process is not None
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


class Client:
    """A python-socketio client that records what it is sent, event by event."""

    def __init__(self, namespace: str, *, reconnection: bool = False) -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(
            reconnection=reconnection,
            reconnection_attempts=0,
            reconnection_delay=0.2,
            reconnection_delay_max=1.0,
        )
        self.received: dict[str, list[Any]] = {}
        self.connections = 0
        self.changed = asyncio.Event()
        self.on_connect: Callable[[], Any] | None = None
        self.sio.on("*", self._record, namespace=namespace)
        self.sio.on("connect", self._connected, namespace=namespace)

    async def _record(self, event: str, data: Any = None) -> None:
        self.received.setdefault(event, []).append(data)
        self.changed.set()

    async def _connected(self) -> None:
        self.connections += 1
        self.changed.set()
        if self.on_connect is not None:
            asyncio.get_running_loop().create_task(self.on_connect())

    async def connect(self, url: str, auth: dict[str, str] | None = None) -> None:
        await self.sio.connect(
            url, namespaces=[self.namespace], transports=["websocket"], auth=auth, wait_timeout=10
        )

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, namespace=self.namespace, timeout=CALL_TIMEOUT)

    def events(self, event: str) -> list[Any]:
        return self.received.get(event, [])

    async def wait_for(
        self, event: str, check: Callable[[Any], bool] = lambda _d: True, timeout: float = 15
    ) -> Any:
        """The first `event` (old or new) that passes `check`."""
        async with asyncio.timeout(timeout):
            while True:
                for data in self.events(event):
                    if check(data):
                        return data
                self.changed.clear()
                await self.changed.wait()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
        http = self.sio.eio.http
        if http is not None and not http.closed:
            await http.close()


@contextlib.asynccontextmanager
async def shared_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """A desk on a fresh PostgreSQL database and the real Redis under a prefix of its own:
    its processes stopped and its keys deleted afterwards."""
    redis_url = require_redis()
    async with fresh_postgres() as database_url:
        shared = Desk(tmp_path, database_url, redis_url)
        try:
            yield shared
        finally:
            await shared.stop()
            client = Redis.from_url(redis_url)
            keys = [key async for key in client.scan_iter(match=f"{shared.prefix}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


async def log_in(url: str, username: str) -> dict[str, str]:
    """The console's auth for `username`."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/api/v1/login", json={"username": username, "password": PASSWORD}
        ) as response,
    ):
        assert response.status == 200, await response.text()
        return {"token": (await response.json())["token"]}


async def agent(url: str, username: str, *, reconnection: bool = False) -> Client:
    client = Client("/agent", reconnection=reconnection)
    await client.connect(url, await log_in(url, username))
    return client
