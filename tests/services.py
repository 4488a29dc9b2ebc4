"""Finding the real PostgreSQL and Redis the tests talk to, or skipping with the reason.

With CHATSERVER_REQUIRE_SERVICES=1 (CI) a missing service fails the test instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine

POSTGRES_URL = os.environ.get(
    "CHATSERVER_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CHATSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def require(name: str, url: str, default_port: int) -> None:
    if _reachable(url, default_port):
        return
    reason = f"{name} is not reachable at {url}"
    if os.environ.get("CHATSERVER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and CHATSERVER_REQUIRE_SERVICES=1 says it must be")
    pytest.skip(f"{reason} (set CHATSERVER_TEST_POSTGRES_URL / start the service)")


def require_postgres() -> str:
    require("PostgreSQL", POSTGRES_URL, 5432)
    return POSTGRES_URL


def require_redis() -> str:
    require("Redis", REDIS_URL, 6379)
    return REDIS_URL


@contextlib.asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one test (its URL), dropped afterwards."""
    base = require_postgres()
    name = f"chat_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def require_binary(name: str, install: str) -> str:
    """The path of an executable the test runs (PATH, then /usr/sbin), or skip saying how
    to `install` it (fail instead under CHATSERVER_REQUIRE_SERVICES=1)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    reason = f"{name} is not installed"
    if os.environ.get("CHATSERVER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and CHATSERVER_REQUIRE_SERVICES=1 says it must be")
    pytest.skip(f"{reason} ({install})")


@contextlib.asynccontextmanager
async def private_redis(port: int, tmp_path: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """A Redis of this test's own (no persistence, as CI's), to restart at will."""
    server = require_binary("redis-server", "apt-get install redis-server")
    process = await asyncio.create_subprocess_exec(
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    client = Redis(port=port)
    try:
        for _ in range(100):
            with contextlib.suppress(Exception):
                if await client.ping():
                    break
            await asyncio.sleep(0.05)
        yield process
    finally:
        await client.aclose()
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()
