"""Start-up and shut-down: each resource is opened and closed by its own context, so a
step that fails closes what the steps before it opened, and the start fails saying why."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from chatserver.app import StartupFailed, create_app
from chatserver.settings import Settings
from chatserver.store.sql import StoreClosed
from tests.conftest import FakeClock
from tests.faulty import FaultyStore, FaultyStores, wal_of


def with_changes(settings: Settings, **changes: Any) -> Settings:
    fields = {name: getattr(settings, name) for name in settings.__slots__}
    return Settings.defaults(**{**fields, **changes})


async def assert_closed(store: FaultyStore, database: Path) -> None:
    """The store refuses work, and SQLite has no connection left: closing the last one
    moved the write-ahead log into the database (the file is gone or empty)."""
    assert store.closed
    with pytest.raises(StoreClosed):
        await store.ping()
    wal = wal_of(database)
    assert not wal.exists() or wal.stat().st_size == 0


async def test_a_restore_that_fails_closes_the_store_and_the_start_fails_saying_so(
    aiohttp_server, settings, db_path
):
    stores = FaultyStores(fail_open_handoffs=True)
    app = create_app(settings, clock=FakeClock(), store_factory=stores)
    with pytest.raises(StartupFailed, match="restoring the queue") as raised:
        await aiohttp_server(app)
    assert "open handoffs cannot be read" in str(raised.value.__cause__)
    await assert_closed(stores.last, db_path)
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "dispatch-ticker"]


async def test_demo_agents_that_cannot_be_stored_close_the_store(aiohttp_server, settings, db_path):
    # The first write after the migrations is the first demo agent's.
    stores = FaultyStores(fail_write=1)
    app = create_app(with_changes(settings, demo_agents=True), store_factory=stores)
    with pytest.raises(StartupFailed, match="demo agents"):
        await aiohttp_server(app)
    await assert_closed(stores.last, db_path)


async def test_a_server_that_stops_closes_the_store_after_its_tasks(
    aiohttp_server, settings, db_path
):
    stores = FaultyStores()
    app = create_app(with_changes(settings, faq_reload_interval=60), store_factory=stores)
    server = await aiohttp_server(app)
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert {"dispatch-ticker", "faq-reloader"} <= names
    await server.close()
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert not {"dispatch-ticker", "faq-reloader"} & names
    await assert_closed(stores.last, db_path)


async def test_a_store_that_cannot_be_opened_stops_the_faq_watcher_and_the_start_fails_saying_so(
    aiohttp_server, settings
):
    async def unreachable(_settings: Settings) -> Any:
        raise ConnectionRefusedError("the database does not answer")

    app = create_app(with_changes(settings, faq_reload_interval=60), store_factory=unreachable)
    with pytest.raises(StartupFailed, match="opening the store: the database does not answer"):
        await aiohttp_server(app)
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "faq-reloader"]


async def test_cleaning_up_again_after_a_failed_start_as_run_app_does_changes_nothing(
    settings, db_path
):
    stores = FaultyStores(fail_open_handoffs=True)
    runner = web.AppRunner(
        create_app(with_changes(settings, faq_reload_interval=60), store_factory=stores)
    )
    with pytest.raises(StartupFailed, match="restoring the queue"):
        await runner.setup()
    await assert_closed(stores.last, db_path)
    await runner.cleanup()  # `web.run_app` cleans up in a `finally`
    await assert_closed(stores.last, db_path)
    assert not {t.get_name() for t in asyncio.all_tasks()} & {"faq-reloader", "dispatch-ticker"}
