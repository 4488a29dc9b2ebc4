"""State in memory changes only when the store took the change. Every use case of the desk,
with each of its writes failing in turn, leaves the router, the SLA clocks, the database
and the consoles' view as they were, and the same call made again succeeds. The store is
the real SQL store on a real SQLite file, made to fail on purpose."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatserver.agents import AgentAccount
from chatserver.dispatch import Dispatcher
from chatserver.handoff import Handoff, HandoffReason
from chatserver.holdings import Holding
from chatserver.i18n import Catalogs
from chatserver.keys import SERVICES
from chatserver.models import (
    Conversation,
    Priority,
    Role,
    Team,
    UnknownConversation,
    new_conversation,
)
from chatserver.routing import Router
from chatserver.settings import CHAT_LANGUAGES
from chatserver.sla import AppliedSla
from tests.conftest import ROOT, FakeClock, counting_ids
from tests.faulty import FaultyStore, FaultyStores, StoreFault, open_faulty
from tests.test_handoff_e2e import Agent, connect_agent, desk_settings, metrics_text

# -- the dispatcher on its own: a real SQLite store and a fake clock ------------------------

CATALOGS = Catalogs.load(ROOT / "locales", ("en", "ja"), "en")


def account(agent_id: str, name: str, role: Role = Role.AGENT) -> AgentAccount:
    return AgentAccount(
        id=agent_id,
        username=agent_id,
        name=name,
        languages=("ja", "en"),
        teams=tuple(Team),
        capacity=3,
        role=role,
        password_hash="not used",
        created_at=FakeClock().now(),
    )


AIKO, EMMA, SAM = (
    account("aiko", "Aiko"),
    account("emma", "Emma"),
    account("sam", "Sam", Role.SUPERVISOR),
)
HANDOFF = Handoff(HandoffReason.REQUESTED, Team.ACCOUNT, Priority.MEDIUM)


def no_matcher() -> Any:
    raise AssertionError("these conversations have no FAQ topic")


@dataclass
class Scene:
    """A desk with three agents online and one conversation in each state that matters."""

    dispatcher: Dispatcher
    store: FaultyStore
    clock: FakeClock
    chats: dict[str, str]  # role in the scene -> conversation id

    async def conversation(self, role: str) -> Conversation:
        conversation = await self.store.get_conversation(self.chats[role])
        assert conversation is not None
        return conversation


async def build(directory: Path) -> Scene:
    store = await open_faulty(f"sqlite:///{directory / 'desk.sqlite3'}")
    clock = FakeClock()
    ids = counting_ids()
    dispatcher = Dispatcher(
        store=store,
        router=Router(),
        clock=clock,
        new_id=ids,
        catalogs=CATALOGS,
        matcher=no_matcher,
        languages=CHAT_LANGUAGES,
    )
    for each in (AIKO, EMMA, SAM):
        await store.create_agent(each)
        await dispatcher.agent_online(each)
    chats: dict[str, str] = {}
    for role in ("active", "assigned", "waiting", "bot"):
        conversation = new_conversation(
            ids(), language="ja", language_confirmed=True, now=clock.now()
        )
        await store.create_conversation(conversation, f"token-{role}")
        chats[role] = conversation.id
        if role != "bot":
            await dispatcher.hand_off(conversation, HANDOFF)
        if role in ("active", "assigned"):
            await dispatcher.accept("aiko", conversation.id)
        if role == "active":
            await dispatcher.agent_message("aiko", conversation.id, "Hello", "hello", note=False)
    return Scene(dispatcher, store, clock, chats)


async def state(scene: Scene) -> dict[str, Any]:
    """What the desk holds in memory and in the database, and what consoles are shown."""
    dispatcher, store = scene.dispatcher, scene.store
    now = scene.clock.now()
    router = dispatcher.router

    def assignee(conversation_id: str) -> str | None:
        try:
            return router.assignee(conversation_id)
        except UnknownConversation:
            return "(not routed)"

    rows: dict[str, Any] = {}
    slas: dict[str, AppliedSla | None] = {}
    holdings: dict[str, list[Holding]] = {}
    for role, conversation_id in scene.chats.items():
        holdings[role] = await store.holdings(conversation_id)
        row = await scene.conversation(role)
        rows[role] = (
            row.status,
            row.agent_id,
            row.team,
            row.priority,
            row.handed_off_at,
            row.closed_at,
            row.tracking_number is not None,  # drawn at random
        )
        slas[role] = await store.sla(conversation_id)
    return {
        "routed": {role: assignee(c) for role, c in scene.chats.items()},
        "waiting": [
            (v.conversation_id, v.queue, v.position, v.languages, v.offered_to, v.passed)
            for v in router.waiting(now)
        ],
        "agents": {
            a: (router.agent_status(a), router.agent_conversations(a)) for a in dispatcher.accounts
        },
        "clocks": {role: dispatcher.sla_of(c) for role, c in scene.chats.items()},
        "rows": rows,
        "slas": slas,
        "holdings": holdings,  # who held each chat: taken back with its row
        "consoles": {a: dispatcher.queue_for(a) for a in dispatcher.accounts},
    }


UseCase = Callable[[Scene], Awaitable[object]]


async def hand_off(scene: Scene) -> object:
    return await scene.dispatcher.hand_off(await scene.conversation("bot"), HANDOFF)


USE_CASES: dict[str, UseCase] = {
    "hand_off": hand_off,
    "accept": lambda s: s.dispatcher.accept("emma", s.chats["waiting"]),
    "assign": lambda s: s.dispatcher.assign("sam", s.chats["waiting"], "emma"),
    "transfer to an agent": lambda s: s.dispatcher.transfer(
        "aiko", s.chats["assigned"], to_agent="emma", to_queue=None, reason="busy"
    ),
    "transfer to a queue": lambda s: s.dispatcher.transfer(
        "aiko", s.chats["active"], to_agent=None, to_queue=("en", "technical"), reason="English"
    ),
    "first reply": lambda s: s.dispatcher.agent_message(
        "aiko", s.chats["assigned"], "Hello", "first", note=False
    ),
    "note": lambda s: s.dispatcher.agent_message(
        "aiko", s.chats["assigned"], "VIP", "note", note=True
    ),
    "close": lambda s: s.dispatcher.close(s.chats["active"], by_agent="aiko"),
    "customer ends an assigned chat": lambda s: s.dispatcher.close(s.chats["assigned"]),
    "abandon": lambda s: s.dispatcher.close(s.chats["waiting"]),
    "leave a message": lambda s: s.dispatcher.leave_message(
        s.chats["bot"], "email", "kenji@example.com", "Call me"
    ),
    "agent goes offline": lambda s: s.dispatcher.agent_status("aiko", "offline"),
    "agent goes away": lambda s: s.dispatcher.agent_status("emma", "away"),
    "agent comes back": lambda s: s.dispatcher.agent_online(EMMA),
}


@pytest.mark.parametrize("name", USE_CASES)
async def test_a_use_case_whose_write_fails_changes_nothing_and_can_be_retried(
    name: str, tmp_path: Path
):
    use_case = USE_CASES[name]
    reference = await build(tmp_path / "reference")
    await use_case(reference)
    expected = await state(reference)
    await reference.store.close()

    for nth in itertools.count(1):
        scene = await build(tmp_path / f"write-{nth}")
        try:
            before = await state(scene)
            scene.store.fail_write(nth)
            try:
                await use_case(scene)
            except StoreFault:
                assert await state(scene) == before, f"{name}: write {nth} failed"
                await use_case(scene)  # the same call again
                assert await state(scene) == expected, f"{name}: retried after write {nth}"
            else:
                assert scene.store.fault_pending, f"{name}: write {nth} failed unnoticed"
                assert await state(scene) == expected
                break
        finally:
            await scene.store.close()


async def test_a_first_reply_whose_follow_up_failed_is_delivered_when_resent(tmp_path: Path):
    """The reply was stored, then its follow-up (the chat becomes active, the clock stops)
    failed: the console resends it with the same client id, and this time it goes out."""
    scene = await build(tmp_path)
    chat = scene.chats["assigned"]
    scene.store.fail_write(2)  # the first write stores the reply, the second fails
    with pytest.raises(StoreFault):
        await scene.dispatcher.agent_message("aiko", chat, "Hello", "first", note=False)
    outcome = await scene.dispatcher.agent_message("aiko", chat, "Hello", "first", note=False)
    assert outcome.result["duplicate"] is False
    assert [(n.audience, n.event) for n in outcome.notifications if n.event == "message"] == [
        ("agent", "message"),
        ("customer", "message"),
    ]
    assert (await scene.conversation("assigned")).status == "active"
    clocks = scene.dispatcher.sla_of(chat)
    assert clocks is not None
    assert not clocks.first_response.running
    again = await scene.dispatcher.agent_message("aiko", chat, "Hello", "first", note=False)
    assert again.result["duplicate"] is True
    assert not again.notifications
    await scene.store.close()


async def test_the_tick_skips_a_clock_it_cannot_save_and_tries_it_again(tmp_path: Path):
    scene = await build(tmp_path)
    dispatcher = scene.dispatcher
    broken, fine = scene.chats["waiting"], scene.chats["assigned"]
    scene.store.broken.add(broken)
    stored_before = await scene.store.sla(broken)
    scene.clock.advance(21)  # offers expired, first-response warnings due
    notifications = await dispatcher.tick()
    warned = {n.payload["conversation_id"] for n in notifications if n.event == "sla_warning"}
    assert fine in warned
    assert broken not in warned
    assert any(n.event == "offer" for n in notifications)  # the waiting chat offered again
    # Neither the database nor the desk moved the broken clock on: it is due again.
    assert await scene.store.sla(broken) == stored_before == dispatcher.sla_of(broken)

    scene.store.heal()
    warned = {
        n.payload["conversation_id"] for n in await dispatcher.tick() if n.event == "sla_warning"
    }
    assert warned == {broken}
    assert await scene.store.sla(broken) == dispatcher.sla_of(broken) != stored_before
    await scene.store.close()


async def test_an_agent_whose_leaving_cannot_be_stored_is_taken_offline_by_the_tick(
    tmp_path: Path,
):
    """The grace timer runs once: if the store refuses, the tick tries again, so the desk
    is never left with an agent nobody is behind."""
    scene = await build(tmp_path)
    scene.store.fail_write()
    with pytest.raises(StoreFault):
        await scene.dispatcher.agent_status("aiko", "offline")
    assert scene.dispatcher.router.agent_status("aiko") == "online"
    await scene.dispatcher.tick()
    assert scene.dispatcher.router.agent_status("aiko") == "offline"
    assert (await scene.conversation("assigned")).status == "queued"
    await scene.store.close()


# -- end to end: real consoles and customers -----------------------------------------------


@pytest.fixture
async def faulty_desk(start_server, settings):
    stores = FaultyStores()
    server = await start_server(desk_settings(settings), clock=FakeClock(), store_factory=stores)
    return server, stores


@pytest.fixture
async def consoles(faulty_desk):
    server, _ = faulty_desk
    agents: list[Agent] = []

    async def make(username: str, name: str) -> Agent:
        agents.append(await connect_agent(server, username, name, ["ja"]))
        return agents[-1]

    yield make
    for agent in agents:
        if agent.client.connected:
            await agent.client.disconnect()


async def chat_with(server: Any, connect: Any, aiko: Agent) -> tuple[Any, str]:
    """A customer whose chat Aiko has taken from the queue."""
    customer = await connect(server)
    started = await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    await customer.wait_pushed("queued")
    chat = started["conversation"]["id"]
    assert (await aiko.call("accept", {"conversation_id": chat}))["ok"] is True
    await customer.wait_pushed("assigned")
    await aiko.wait_pushed("conversation")
    return customer, chat


async def agreed_holder(server: Any, chat: str) -> str | None:
    """Who has the chat: the router and the database must say the same."""
    services = server.app[SERVICES]
    row = await services.store.get_conversation(chat)
    assert row is not None
    assert services.dispatcher.router.assignee(chat) == row.agent_id
    return row.agent_id


async def say(agent: Agent, chat: str, text: str) -> dict[str, Any]:
    return dict(await agent.call("message", {"conversation_id": chat, "text": text}))


@pytest.mark.parametrize("fault", ["store", "surrogate"])
async def test_a_transfer_the_store_refuses_leaves_the_chat_with_its_agent(
    faulty_desk, consoles, connect, fault
):
    server, stores = faulty_desk
    aiko = await consoles("aiko", "Aiko Tanaka")
    emma = await consoles("emma", "Emma Clarke")
    customer, chat = await chat_with(server, connect, aiko)

    # A reason that cannot be stored (a lone surrogate), or a store that fails its next write.
    reason = "\ud800" if fault == "surrogate" else "busy"
    if fault == "store":
        stores.last.fail_write()
    refused = await aiko.call(
        "transfer", {"conversation_id": chat, "to_agent": emma.id, "reason": reason}
    )
    assert refused["ok"] is False
    assert await agreed_holder(server, chat) == aiko.id
    assert (await say(aiko, chat, "still here"))["ok"] is True
    await until_agent_text(customer, "still here")
    assert (await say(emma, chat, "hello"))["error"]["code"] == "not_your_conversation"
    assert not emma.pushed("conversation")
    assert not aiko.pushed("released")

    moved = await aiko.call(
        "transfer", {"conversation_id": chat, "to_agent": emma.id, "reason": "busy"}
    )
    assert moved["ok"] is True
    await emma.wait_pushed("conversation")
    await aiko.wait_pushed("released")
    assert await agreed_holder(server, chat) == emma.id
    assert (await say(emma, chat, "hello"))["ok"] is True
    assert (await say(aiko, chat, "hi"))["error"]["code"] == "not_your_conversation"


async def test_an_accept_the_store_refuses_leaves_the_chat_waiting(faulty_desk, consoles, connect):
    server, stores = faulty_desk
    aiko = await consoles("aiko", "Aiko Tanaka")
    customer = await connect(server)
    await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    (offer,) = await aiko.wait_pushed("offer")
    chat = offer["conversation_id"]

    stores.last.fail_write()
    assert (await aiko.call("accept", {"conversation_id": chat}))["ok"] is False
    assert await agreed_holder(server, chat) is None
    assert (await stores.last.get_conversation(chat)).status == "queued"  # type: ignore[union-attr]
    assert (await say(aiko, chat, "hello"))["error"]["code"] == "not_your_conversation"
    await asyncio.sleep(0.6)  # a queue update or two: the chat is still listed as waiting
    assert chat in [w["conversation_id"] for w in aiko.pushed("queue")[-1]["waiting"]]
    assert not customer.pushed("assigned")

    assert (await aiko.call("accept", {"conversation_id": chat}))["ok"] is True
    await customer.wait_pushed("assigned")
    assert await agreed_holder(server, chat) == aiko.id


async def test_a_close_the_store_refuses_leaves_the_chat_open(faulty_desk, consoles, connect):
    server, stores = faulty_desk
    aiko = await consoles("aiko", "Aiko Tanaka")
    customer, chat = await chat_with(server, connect, aiko)

    stores.last.fail_write()
    assert (await aiko.call("close", {"conversation_id": chat}))["ok"] is False
    assert await agreed_holder(server, chat) == aiko.id
    assert (await stores.last.get_conversation(chat)).status == "assigned"  # type: ignore[union-attr]
    assert (await say(aiko, chat, "one more thing"))["ok"] is True
    assert not customer.pushed("closed")

    assert (await aiko.call("close", {"conversation_id": chat}))["ok"] is True
    await customer.wait_pushed("closed")
    assert (await stores.last.get_conversation(chat)).status == "closed"  # type: ignore[union-attr]


async def until_agent_text(customer: Any, text: str) -> None:
    async with asyncio.timeout(5):
        while not any(m["text"] == text for m in customer.pushed("message")):
            await asyncio.sleep(0.01)


async def test_a_departure_the_store_refuses_is_tried_again_on_the_next_tick(
    faulty_desk, consoles, connect
):
    """The customer's absence is not forgotten when abandoning the queue cannot be stored:
    the chat stays queued, in the router and the database alike, until a tick succeeds."""
    server, stores = faulty_desk
    clock = server.app[SERVICES].dispatcher.clock
    await consoles("aiko", "Aiko Tanaka")
    customer = await connect(server)
    started = await customer.call("start", {"languages": ["ja"]})
    chat = started["conversation"]["id"]
    await customer.call("request_agent", {})
    await customer.wait_pushed("queued")
    dispatcher = server.app[SERVICES].dispatcher
    await customer.client.disconnect()
    async with asyncio.timeout(5):
        while not dispatcher.presence.is_away(chat):
            await asyncio.sleep(0.005)

    stores.last.broken.add(chat)
    clock.advance(61)
    async with asyncio.timeout(5):  # the ticker tried, and the store refused
        while 'stage="departure"' not in await metrics_text(server):
            await asyncio.sleep(0.01)
    assert dispatcher.router.queue_lengths() != {}
    row = await stores.last.get_conversation(chat)
    assert row is not None
    assert str(row.status) == "queued"
    assert dispatcher.presence.is_away(chat)

    stores.last.heal()
    async with asyncio.timeout(5):
        while str((await stores.last.get_conversation(chat)).status) != "abandoned":
            await asyncio.sleep(0.01)
    assert dispatcher.router.queue_lengths() == {}
