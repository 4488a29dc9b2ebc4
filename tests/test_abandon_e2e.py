"""No chat gets stuck: a customer whose widget is gone for longer than the grace period
leaves the queue (or their chat with an agent ends), and nobody waits on a ghost.

Real servers and real Socket.IO clients; the clock moves only when a test says so, and the
server's own ticker does the rest.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from chatserver.dispatch import CUSTOMER_LEFT
from chatserver.keys import SERVICES
from chatserver.language import display_name
from chatserver.sla import ClockStatus
from chatserver.system_lines import CUSTOMER_LEFT_TEXT, FALLBACK_TEXT
from tests.conftest import Customer, CustomerFactory, FakeClock
from tests.test_handoff_e2e import (
    PASSWORD,
    Agent,
    desk_settings,
    metrics_text,
    open_console,
)

GRACE = 60  # the default CHATSERVER_CUSTOMER_GRACE_SECONDS
TICKS = 0.6  # long enough for the server's ticker (every 0.25 s) to run twice


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def desk(start_server, settings, clock) -> TestServer:
    server: TestServer = await start_server(desk_settings(settings), clock=clock)
    return server


@pytest.fixture
async def agent_for(desk):
    """An agent account (all teams) with a console connected to the desk."""
    agents: list[Agent] = []

    async def make(
        username: str, languages: list[str], *, capacity: int = 3, role: str = "agent"
    ) -> Agent:
        accounts = desk.app[SERVICES].accounts
        await accounts.add(
            username=username,
            name=username.title(),
            languages=languages,
            teams=["technical", "account", "trading"],
            capacity=capacity,
            role=role,
            password=PASSWORD,
        )
        token = (await accounts.login(username, PASSWORD)).token
        agents.append(await open_console(desk, token))
        return agents[-1]

    yield make
    for agent in agents:
        if agent.client.connected:
            await agent.client.disconnect()


async def queue_up(server: TestServer, connect: CustomerFactory) -> tuple[Customer, dict[str, Any]]:
    """A Japanese customer who asked for a person and was told their place in line."""
    customer = await connect(server)
    started = await customer.call("start", {"languages": ["ja"]})
    assert (await customer.call("request_agent", {}))["ok"] is True
    await customer.wait_pushed("queued")
    return customer, started


async def close_widget(server: TestServer, customer: Customer, conversation_id: str) -> None:
    """The customer closes the tab; returns once the server knows their last socket went."""
    await customer.client.disconnect()
    presence = server.app[SERVICES].dispatcher.presence
    async with asyncio.timeout(5):
        while not presence.is_away(conversation_id):
            await asyncio.sleep(0.005)


async def wait_status(server: TestServer, conversation_id: str, status: str) -> None:
    store = server.app[SERVICES].store
    async with asyncio.timeout(5):
        while True:
            conversation = await store.get_conversation(conversation_id)
            assert conversation is not None
            if str(conversation.status) == status:
                return
            await asyncio.sleep(0.01)


async def status_of(server: TestServer, conversation_id: str) -> str:
    conversation = await server.app[SERVICES].store.get_conversation(conversation_id)
    assert conversation is not None
    return str(conversation.status)


def last_offer_event(agent: Agent, conversation_id: str) -> str | None:
    events = [
        name
        for name, data in agent.received
        if name in ("offer", "offer_withdrawn") and data["conversation_id"] == conversation_id
    ]
    return events[-1] if events else None


async def test_a_customer_gone_past_the_grace_abandons_the_queue_without_a_breach(
    desk, connect, agent_for, clock
):
    aiko = await agent_for("aiko", ["ja"])
    sam = await agent_for("sam", ["ko"], role="supervisor")  # hears every breach
    customer, started = await queue_up(desk, connect)
    conversation_id = started["conversation"]["id"]
    (offer,) = await aiko.wait_pushed("offer")
    assert offer["conversation_id"] == conversation_id
    left_at = clock.now()
    await close_widget(desk, customer, conversation_id)

    clock.advance(31)  # past the 30 s first-response target, inside the grace
    await asyncio.sleep(TICKS)
    assert await status_of(desk, conversation_id) == "queued"
    assert not sam.pushed("sla_breach")  # the customer may still come back

    clock.advance(GRACE + 1 - 31)
    await wait_status(desk, conversation_id, "abandoned")
    dispatcher = desk.app[SERVICES].dispatcher
    assert dispatcher.router.queue_lengths() == {}
    async with asyncio.timeout(5):
        while last_offer_event(aiko, conversation_id) != "offer_withdrawn":
            await asyncio.sleep(0.01)
    applied = await desk.app[SERVICES].store.sla(conversation_id)
    assert applied is not None
    assert applied.first_response.status is ClockStatus.CANCELLED
    assert applied.first_response.stopped_at == left_at  # as of their leaving

    await asyncio.sleep(TICKS)  # later ticks cannot breach it either
    assert not sam.pushed("sla_breach")
    assert not aiko.pushed("sla_breach")
    text = await metrics_text(desk)
    assert 'chatserver_abandoned_total{queue="ja/account"} 1.0' in text
    assert 'status="missed"' not in text
    assert (
        'chatserver_first_responses_total{language="ja",priority="medium",status="cancelled"'
        in text
    )
    assert "chatserver_first_response_seconds_count{" not in text  # nobody answered
    token = (await desk.app[SERVICES].accounts.login("sam", PASSWORD)).token
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(desk.make_url("/api/v1/reports/sla"), params={"by": "day"}) as response,
    ):
        (report,) = (await response.json())["rows"]
    assert (report["handoffs"], report["abandoned"]) == (1, 1)
    assert (report["answered"], report["within_target"], report["missed"]) == (0, 0, 0)


async def test_a_customer_back_within_the_grace_keeps_their_place(desk, connect, agent_for, clock):
    await agent_for("aiko", ["ja"])
    first, first_started = await queue_up(desk, connect)
    second, second_started = await queue_up(desk, connect)
    first_id = first_started["conversation"]["id"]
    second_id = second_started["conversation"]["id"]
    assert second.pushed("queued")[-1]["position"] == 2
    await close_widget(desk, first, first_id)
    await close_widget(desk, second, second_id)

    clock.advance(30)
    back = await connect(desk)
    ack = await back.call("start", {"token": second_started["token"], "last_seq": 0})
    assert ack["conversation"]["status"] == "queued"
    (queued,) = await back.wait_pushed("queued")
    assert queued["position"] == 2  # the same place, not the end of the line

    clock.advance(GRACE + 1 - 30)  # the first customer is gone for good; the second is back
    await wait_status(desk, first_id, "abandoned")
    async with asyncio.timeout(5):
        while back.pushed("queued")[-1]["position"] != 1:
            await asyncio.sleep(0.01)
    clock.advance(5 * GRACE)
    await asyncio.sleep(TICKS)
    assert await status_of(desk, second_id) == "queued"


async def test_closing_one_of_two_tabs_starts_no_grace(desk, connect, agent_for, clock):
    await agent_for("aiko", ["ja"])
    tab, started = await queue_up(desk, connect)
    conversation_id = started["conversation"]["id"]
    other_tab = await connect(desk)
    resumed = await other_tab.call("start", {"token": started["token"]})
    assert resumed["resumed"] is True
    presence = desk.app[SERVICES].dispatcher.presence
    assert presence.tabs(conversation_id) == 2

    await tab.client.disconnect()
    async with asyncio.timeout(5):
        while presence.tabs(conversation_id) != 1:
            await asyncio.sleep(0.005)
    assert not presence.is_away(conversation_id)
    clock.advance(GRACE + 1)
    await asyncio.sleep(TICKS)
    assert await status_of(desk, conversation_id) == "queued"

    await close_widget(desk, other_tab, conversation_id)  # the last tab: now it starts
    clock.advance(GRACE + 1)
    await wait_status(desk, conversation_id, "abandoned")


async def test_coming_back_after_leaving_says_why_and_offers_the_queue_again(
    desk, connect, agent_for, clock
):
    aiko = await agent_for("aiko", ["ja"])
    customer, started = await queue_up(desk, connect)
    conversation_id = started["conversation"]["id"]
    await close_widget(desk, customer, conversation_id)
    clock.advance(GRACE + 1)
    await wait_status(desk, conversation_id, "abandoned")

    back = await connect(desk)
    ack = await back.call(
        "start", {"token": started["token"], "last_seq": started["conversation"]["last_seq"]}
    )
    assert ack["ok"] is True
    assert ack["conversation"]["status"] == "abandoned"
    told = [m for m in ack["messages"] if m["meta"].get("kind") == CUSTOMER_LEFT]
    assert len(told) == 1
    japanese = desk.app[SERVICES].catalogs.translator("ja").gettext(CUSTOMER_LEFT_TEXT)
    assert (told[0]["author"], told[0]["text"], told[0]["language"]) == (
        "system",
        japanese,
        "ja",
    )
    assert "担当者" in told[0]["text"]  # in Japanese, not the English msgid
    refused = await back.call("request_agent", {})
    assert refused["error"]["code"] == "conversation_closed"

    # The widget's "Talk to a person": a new conversation in the same language, queued.
    again = await back.call("start", {"languages": ["ja"]})
    assert again["conversation"]["language"] == "ja"
    assert (await back.call("request_agent", {}))["ok"] is True
    (queued,) = await back.wait_pushed("queued")
    assert queued["position"] == 1
    async with asyncio.timeout(5):
        while last_offer_event(aiko, again["conversation"]["id"]) != "offer":
            await asyncio.sleep(0.01)


async def test_a_ghost_does_not_hold_the_japanese_agent(desk, connect, agent_for, clock):
    aiko = await agent_for("aiko", ["ja"], capacity=1)
    ghost, ghost_started = await queue_up(desk, connect)
    ghost_id = ghost_started["conversation"]["id"]
    (offer,) = await aiko.wait_pushed("offer")
    assert offer["conversation_id"] == ghost_id
    await close_widget(desk, ghost, ghost_id)
    clock.advance(GRACE + 1)
    await asyncio.sleep(TICKS)

    emma = await agent_for("emma", ["en"])
    customer, started = await queue_up(desk, connect)
    conversation_id = started["conversation"]["id"]
    # Aiko's only slot is free again: she is offered the real customer, not the ghost.
    async with asyncio.timeout(5):
        while last_offer_event(aiko, conversation_id) != "offer":
            await asyncio.sleep(0.01)
    assert last_offer_event(aiko, ghost_id) == "offer_withdrawn"
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    (assigned,) = await customer.wait_pushed("assigned")
    assert assigned["language"] == "ja"

    clock.advance(16)  # past the fallback threshold: nothing widens any more
    await asyncio.sleep(TICKS)
    assert not emma.pushed("offer")
    assert all(q["fallback"] is False for q in customer.pushed("queued"))
    fallback = (
        desk.app[SERVICES]
        .catalogs.translator("ja")
        .gettext(FALLBACK_TEXT)
        .format(language=display_name("ja"))
    )
    assert fallback not in [m["text"] for m in customer.pushed("message")]
    assert not any(m["meta"].get("kind") == "fallback" for m in customer.pushed("message"))
    assert "chatserver_fallbacks_total{" not in await metrics_text(desk)


async def test_an_agent_is_told_when_their_customer_left(desk, connect, agent_for, clock):
    aiko = await agent_for("aiko", ["ja"])
    customer, started = await queue_up(desk, connect)
    conversation_id = started["conversation"]["id"]
    await aiko.wait_pushed("offer")
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await customer.wait_pushed("assigned")
    clock.advance(5)
    left_at = clock.now()
    await close_widget(desk, customer, conversation_id)

    clock.advance(GRACE + 1)  # the first reply was due long ago, but nobody was there
    await wait_status(desk, conversation_id, "closed")
    (closed,) = await aiko.wait_pushed("closed")
    assert closed == {"conversation_id": conversation_id, "reason": CUSTOMER_LEFT}
    told = [m for m in aiko.pushed("message") if m["meta"].get("kind") == CUSTOMER_LEFT]
    assert [m["author"] for m in told] == ["system"]  # the console marks the chat ended
    dispatcher = desk.app[SERVICES].dispatcher
    assert dispatcher.router.agent_conversations(aiko.id) == frozenset()  # her slot is free
    applied = await desk.app[SERVICES].store.sla(conversation_id)
    assert applied is not None
    assert applied.first_response.status is ClockStatus.CANCELLED
    assert applied.first_response.stopped_at == left_at
    await asyncio.sleep(TICKS)
    assert not aiko.pushed("sla_breach")

    back = await connect(desk)
    ack = await back.call("start", {"token": started["token"]})
    assert ack["conversation"]["status"] == "closed"
    assert any(m["meta"].get("kind") == CUSTOMER_LEFT for m in ack["messages"])


async def test_a_customer_who_ends_the_chat_is_not_told_they_were_away(desk, connect, agent_for):
    await agent_for("aiko", ["ja"])
    customer, started = await queue_up(desk, connect)
    conversation_id = started["conversation"]["id"]
    assert (await customer.call("end", {}))["ok"] is True
    await wait_status(desk, conversation_id, "abandoned")
    (closed,) = await customer.wait_pushed("closed")
    assert "reason" not in closed
    assert not desk.app[SERVICES].dispatcher.presence.is_away(conversation_id)
    messages = await desk.app[SERVICES].store.messages(conversation_id)
    assert not any(m.meta.get("kind") == CUSTOMER_LEFT for m in messages)


async def test_an_agent_is_told_when_their_customer_ends_the_chat(desk, connect, agent_for):
    """The customer presses "end" while a person has the chat: the agent's console hears it
    (the router has let go of the chat by then, so the notice must be addressed before)."""
    aiko = await agent_for("aiko", ["ja"])
    customer, started = await queue_up(desk, connect)
    conversation_id = started["conversation"]["id"]
    await aiko.wait_pushed("offer")
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await customer.wait_pushed("assigned")
    assert (await customer.call("end", {}))["ok"] is True
    await wait_status(desk, conversation_id, "closed")
    (closed,) = await aiko.wait_pushed("closed")
    assert closed == {"conversation_id": conversation_id}
    dispatcher = desk.app[SERVICES].dispatcher
    assert dispatcher.router.agent_conversations(aiko.id) == frozenset()
