"""No single conversation, agent or payload breaks a handler for the others: the tick, the
queue fan-out and publishing skip the item that fails, log and count it, and go on.
Real servers, real Socket.IO clients, real SQLite files; the faults are real stored data or
a store that fails on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chatserver.dispatch import Dispatcher
from chatserver.events import Notify
from chatserver.isolation import Isolation
from chatserver.keys import SERVICES, SIO
from chatserver.models import UnknownConversation
from chatserver.routing import Router
from chatserver.settings import CHAT_LANGUAGES
from chatserver.sockets.base import publish
from tests.conftest import Customer, FakeClock, counting_ids
from tests.faulty import FaultyStores
from tests.test_handoff_e2e import (
    PASSWORD,
    Agent,
    connect_agent,
    desk_settings,
    metrics_text,
    open_console,
)
from tests.test_undo import CATALOGS, build, no_matcher


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def listed(agent: Agent, conversation_id: str) -> bool:
    """Whether the agent's console has been shown the conversation in a queue list."""
    return any(
        w["conversation_id"] == conversation_id for q in agent.pushed("queue") for w in q["waiting"]
    )


def about(pushes: list[Any], conversation_id: str) -> list[Any]:
    return [p for p in pushes if p["conversation_id"] == conversation_id]


async def hand_off(server: Any, connect: Any) -> tuple[Customer, str]:
    customer = await connect(server)
    started = await customer.call("start", {"languages": ["ja"]})
    assert (await customer.call("request_agent", {}))["ok"] is True
    await customer.wait_pushed("queued")
    return customer, started["conversation"]["id"]


async def test_a_chat_whose_clock_cannot_be_saved_stops_no_other_chat(
    start_server, settings, connect
):
    clock = FakeClock()
    stores = FaultyStores()
    server = await start_server(desk_settings(settings), clock=clock, store_factory=stores)
    sam = await connect_agent(
        server, "sam", "Sam Okafor", ["ja", "en"], role="supervisor", takes_chats=True
    )
    try:
        _, good = await hand_off(server, connect)
        _, bad = await hand_off(server, connect)
        await sam.wait_pushed("offer", 2)
        stores.last.broken.add(bad)  # from now on its SLA clock cannot be saved

        clock.advance(21)  # both offers expire (10 s) and both warnings are due (20 s)
        await until(lambda: bool(about(sam.pushed("sla_warning"), good)))
        await until(lambda: len(about(sam.pushed("offer"), good)) == 2)  # offered again
        await until(lambda: len(about(sam.pushed("offer"), bad)) == 2)
        assert not about(sam.pushed("sla_warning"), bad)
        assert 'chatserver_isolated_failures_total{stage="sla_clock"}' in await metrics_text(server)

        stores.last.heal()  # the next tick tries the failed clock again
        await until(lambda: bool(about(sam.pushed("sla_warning"), bad)))
        await asyncio.sleep(0.6)  # more ticks: still one warning each
        assert len(about(sam.pushed("sla_warning"), good)) == 1
        assert len(about(sam.pushed("sla_warning"), bad)) == 1
    finally:
        await sam.client.disconnect()


async def test_a_stored_chat_in_an_unknown_language_breaks_no_console(
    start_server, settings, connect, db_path: Path
):
    """The real case: a chat in a queue for language 'xx' (no such locale) made every
    console connection fail. Now that one chat is left out of the lists; everything else
    works: consoles connect, list the other chats, get offers and the queue's changes."""
    clock = FakeClock()
    first = await start_server(desk_settings(settings), clock=clock)
    aiko = await connect_agent(first, "aiko", "Aiko Tanaka", ["ja", "en"])
    broken_customer, broken = await hand_off(first, connect)
    fine_customer, fine = await hand_off(first, connect)
    for each in (aiko, broken_customer, fine_customer):
        await each.client.disconnect()
    await first.close()
    with contextlib.closing(sqlite3.connect(db_path)) as db, db:
        db.execute("UPDATE conversations SET language = 'xx' WHERE id = ?", (broken,))

    second = await start_server(desk_settings(settings), clock=clock)
    accounts = second.app[SERVICES].accounts
    await accounts.add(
        username="sam",
        name="Sam Okafor",
        languages=["en"],
        teams=["technical", "account", "trading"],
        capacity=3,
        role="supervisor",
        password=PASSWORD,
    )
    consoles = [
        await open_console(second, (await accounts.login(name, PASSWORD)).token)
        for name in ("aiko", "sam")
    ]
    try:
        for console in consoles:
            (snapshot, *_) = await console.wait_pushed("queue")
            assert [w["conversation_id"] for w in snapshot["waiting"]] == [fine]
        aiko, sam = consoles
        await aiko.wait_pushed("offer")

        _, later = await hand_off(second, connect)  # the tick's fan-out still goes out
        await until(lambda: listed(aiko, later) and listed(sam, later))
        assert not listed(aiko, broken)
        assert not listed(sam, broken)
        text = await metrics_text(second)
        assert 'chatserver_isolated_failures_total{stage="queue_view"}' in text
    finally:
        for console in consoles:
            await console.client.disconnect()


async def test_a_notification_that_cannot_be_sent_stops_no_other(server, connect):
    one, two = await connect(server), await connect(server)
    first = (await one.call("start", {}))["conversation"]["id"]
    second = (await two.call("start", {}))["conversation"]["id"]
    await publish(
        server.app[SIO],
        server.app,
        [
            Notify.customer(first, "announcement", {"not json": {1, 2}}),
            Notify.customer(second, "announcement", {"text": "hello"}),
        ],
    )
    (announcement,) = await two.wait_pushed("announcement")
    assert announcement == {"text": "hello"}
    assert not one.pushed("announcement")
    assert 'chatserver_isolated_failures_total{stage="publish"} 1.0' in await metrics_text(server)


async def test_a_held_chat_that_cannot_be_briefed_stops_no_other_briefing(
    start_server, settings, connect, db_path: Path
):
    """A console that reconnects is briefed on every chat its agent holds: one that cannot
    be briefed (stored in language 'xx') leaves the others, and the connection, intact."""
    server = await start_server(desk_settings(settings), clock=FakeClock())
    aiko = await connect_agent(server, "aiko", "Aiko Tanaka", ["ja", "en"])
    consoles = [aiko]
    try:
        chats = []
        for _ in range(2):
            _, chat = await hand_off(server, connect)
            assert (await aiko.call("accept", {"conversation_id": chat}))["ok"] is True
            chats.append(chat)
        broken, fine = chats
        # Stored through the desk's own store, which keeps the rows it writes.
        store = server.app[SERVICES].store
        held_chat = await store.get_conversation(broken)
        assert held_chat is not None
        await store.save_conversation(replace(held_chat, language="xx"))

        token = (await server.app[SERVICES].accounts.login("aiko", PASSWORD)).token
        consoles.append(await open_console(server, token))  # a second tab
        (held,) = await consoles[1].wait_pushed("conversation")
        assert held["held"] is True
        assert held["conversation"]["id"] == fine
        await consoles[1].wait_pushed("queue")
        assert 'chatserver_isolated_failures_total{stage="briefing"} 1.0' in await metrics_text(
            server
        )
    finally:
        for console in consoles:
            await console.client.disconnect()


async def test_a_chat_that_cannot_be_restored_leaves_the_others_on_the_desk(tmp_path: Path):
    """After a restart, a chat whose agent's account is gone goes back in line, which must
    be stored; if the store refuses, that chat stays out, and the others are restored."""
    scene = await build(tmp_path)
    lost = await scene.conversation("active")
    await scene.store.save_conversation(replace(lost, agent_id="gone"))
    scene.store.broken.add(lost.id)
    failures: list[str] = []
    restarted = Dispatcher(
        store=scene.store,
        router=Router(),
        clock=scene.clock,
        new_id=counting_ids("restarted"),
        catalogs=CATALOGS,
        matcher=no_matcher,
        languages=CHAT_LANGUAGES,
        observe=lambda name, labels: (
            failures.append(labels["stage"]) if name == "isolated_failure" else None
        ),
    )
    await restarted.restore()
    router = restarted.router
    assert router.assignee(scene.chats["assigned"]) == "aiko"
    assert [v.conversation_id for v in router.waiting(scene.clock.now())] == [
        scene.chats["waiting"]
    ]
    with pytest.raises(UnknownConversation):
        router.assignee(lost.id)
    assert (await scene.conversation("active")).agent_id == "gone"  # as it was
    assert failures == ["restore"]
    await scene.store.close()


def test_a_failing_item_is_counted_every_time_and_logged_once_until_it_works(caplog):
    counted: list[str] = []
    failures = Isolation(counted.append, logging.getLogger("test.isolation"))
    caplog.set_level(logging.DEBUG, logger="test.isolation")
    done: list[str] = []
    for attempt in range(3):
        for item in ("c1", "c2"):
            with failures.item("sla_clock", item):
                if item == "c1" and attempt < 2:
                    raise RuntimeError("cannot save")
                done.append(f"{item}/{attempt}")
    assert done == ["c2/0", "c2/1", "c1/2", "c2/2"]
    assert counted == ["sla_clock", "sla_clock"]
    logged = [(r.levelno, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert logged == [
        (logging.ERROR, "sla_clock failed for c1; skipped, the others go on", True),
        (logging.DEBUG, "sla_clock still fails for c1", True),
        (logging.INFO, "sla_clock works again for c1", False),
    ]
