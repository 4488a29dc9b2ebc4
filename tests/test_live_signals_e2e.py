"""Typing notices, seen receipts and availability end to end: real python-socketio
customers and agents against a real server (docs/protocol.md, `typing`, `seen`,
`availability`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatserver.keys import SERVICES
from chatserver.settings import Settings
from tests.conftest import Customer, FakeClock, ServerFactory
from tests.test_handoff_e2e import Agent, connect_agent, desk_settings

AgentFactory = Callable[..., Awaitable[Agent]]


@pytest.fixture
async def desk(start_server: ServerFactory, settings: Settings) -> TestServer:
    """Agents go offline as soon as their last console closes (agent grace 0)."""
    return await start_server(desk_settings(settings), clock=FakeClock())


@pytest.fixture
async def agent_for(desk: TestServer) -> AsyncIterator[AgentFactory]:
    """An agent's account (capacity 3) and console, connected: online from then on."""
    agents: list[Agent] = []

    async def make(username: str, name: str, languages: list[str]) -> Agent:
        agents.append(await connect_agent(desk, username, name, languages))
        return agents[-1]

    yield make
    for agent in agents:
        if agent.client.connected:
            await agent.client.disconnect()


async def held_chat(desk: Any, connect: Any, agent: Agent) -> tuple[Customer, str]:
    """A customer whose chat `agent` has accepted."""
    customer = await connect(desk)
    await customer.call("start", {"languages": ["en"]})
    await customer.call("request_agent")
    offers = await agent.wait_pushed("offer")
    conversation_id = offers[-1]["conversation_id"]
    assert (await agent.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await customer.wait_pushed("assigned")
    return customer, conversation_id


async def availability_becomes(customer: Customer, value: bool, timeout: float = 5) -> None:
    """Wait for the latest `availability` push to say `value` (a push that repeats what
    `start` said may come first: the desk's tick tells every reader of the language)."""
    async with asyncio.timeout(timeout):
        while True:
            pushes = customer.pushed("availability")
            if pushes and pushes[-1] == {"agents_available": value}:
                return
            await asyncio.sleep(0.01)


async def settle() -> None:
    """Long enough for a push that is coming to arrive (a wrong one would show)."""
    await asyncio.sleep(0.3)


async def test_typing_reaches_the_holder_and_nobody_else(desk, connect, agent_for):
    emma = await agent_for("emma", "Emma Clarke", ["en"])
    customer, conversation_id = await held_chat(desk, connect, emma)
    aiko = await agent_for("aiko", "Aiko Tanaka", ["en"])
    other = await connect(desk)
    await other.call("start", {"languages": ["en"]})

    # A client that sends its draft along: the agent is told whether, never what.
    draft = {"typing": True, "text": "my password is hunter2"}
    assert await customer.call("typing", draft) == {"ok": True}
    (notice,) = await emma.wait_pushed("typing")
    assert notice == {"conversation_id": conversation_id, "typing": True}
    assert await customer.call("typing", {"typing": False}) == {"ok": True}
    notices = await emma.wait_pushed("typing", 2)
    assert notices[1] == {"conversation_id": conversation_id, "typing": False}

    typed = await emma.call("typing", {"conversation_id": conversation_id, "typing": True})
    assert typed == {"ok": True}
    (to_customer,) = await customer.wait_pushed("typing")
    assert to_customer == {"typing": True, "agent": {"name": "Emma Clarke"}}

    # Another agent cannot type into a chat that is not theirs.
    refused = await aiko.call("typing", {"conversation_id": conversation_id, "typing": True})
    assert refused["ok"] is False
    assert refused["error"]["code"] == "not_your_conversation"
    await settle()
    assert len(customer.pushed("typing")) == 1
    assert not aiko.pushed("typing")
    assert not other.pushed("typing")
    # Nothing was stored: the transcript has no trace of typing.
    messages = await desk.app[SERVICES].store.messages(conversation_id)
    assert all("hunter2" not in m.text for m in messages)


async def test_typing_in_the_bot_phase_and_while_waiting_goes_nowhere(desk, connect, agent_for):
    emma = await agent_for("emma", "Emma Clarke", ["en"])
    await emma.call("status", {"status": "away"})  # online desk, but nobody takes it yet
    customer = await connect(desk)
    await customer.call("start", {"languages": ["en"]})
    assert await customer.call("typing", {"typing": True}) == {"ok": True}  # bot phase
    await emma.call("status", {"status": "online"})
    await customer.call("request_agent")
    await emma.wait_pushed("offer")  # offered, not accepted: nobody holds it
    assert await customer.call("typing", {"typing": True}) == {"ok": True}
    await settle()
    assert not emma.pushed("typing")


async def test_typing_payloads_are_checked(desk, connect, agent_for):
    customer = await connect(desk)
    not_started = await customer.call("typing", {"typing": True})
    assert not_started["error"]["code"] == "not_started"
    await customer.call("start", {"languages": ["en"]})
    for bad in ({"typing": "yes"}, {}, {"typing": 1}, "typing"):
        answer = await customer.call("typing", bad)
        assert answer["ok"] is False, bad
        assert answer["error"]["code"] == "invalid_payload", bad
    emma = await agent_for("emma", "Emma Clarke", ["en"])
    answer = await emma.call("typing", {"typing": True})
    assert answer["error"]["code"] == "invalid_payload"


async def test_a_flood_of_typing_notices_is_refused_with_an_error_ack(desk, connect):
    customer = await connect(desk)
    await customer.call("start", {"languages": ["en"]})
    answers = [await customer.call("typing", {"typing": True}) for _ in range(30)]
    refused = [a for a in answers if not a["ok"]]
    assert answers[0] == {"ok": True}
    assert refused, "30 notices at once must hit the typing limit (2/s, burst 10)"
    assert {a["error"]["code"] for a in refused} == {"rate_limited"}
    assert all(a["error"]["retry_after"] > 0 for a in refused)
    # The typing bucket is its own: a message still goes through.
    sent = await customer.call("message", {"text": "hello", "client_id": "c1"})
    assert sent["ok"] is True


async def test_seen_moves_only_forward_and_reaches_the_holder(desk, connect, agent_for):
    emma = await agent_for("emma", "Emma Clarke", ["en"])
    # With the bot nobody holds the chat: nothing is kept (the desk would never forget it).
    bot_phase = await connect(desk)
    await bot_phase.call("start", {"languages": ["en"]})
    assert await bot_phase.call("seen", {"seq": 1}) == {"ok": True, "seq": 0}
    customer, conversation_id = await held_chat(desk, connect, emma)
    first = await emma.call(
        "message", {"conversation_id": conversation_id, "text": "Hello", "client_id": "a1"}
    )
    second = await emma.call(
        "message", {"conversation_id": conversation_id, "text": "Still there?", "client_id": "a2"}
    )
    seq1, seq2 = first["message"]["seq"], second["message"]["seq"]

    assert await customer.call("seen", {"seq": seq1}) == {"ok": True, "seq": seq1}
    (receipt,) = await emma.wait_pushed("seen")
    assert receipt == {"conversation_id": conversation_id, "seq": seq1}
    assert await customer.call("seen", {"seq": seq2}) == {"ok": True, "seq": seq2}
    # A resend of an older one (another tab, a reconnect) never moves it back.
    assert await customer.call("seen", {"seq": seq1}) == {"ok": True, "seq": seq2}
    # Beyond the last message: as far as the last message, no further.
    assert await customer.call("seen", {"seq": seq2 + 1000}) == {"ok": True, "seq": seq2}
    await settle()
    assert [r["seq"] for r in emma.pushed("seen")] == [seq1, seq2]
    bad = await customer.call("seen", {"seq": 0})
    assert bad["error"]["code"] == "invalid_payload"


async def test_start_says_whether_people_are_available(desk, connect, agent_for):
    lonely = await connect(desk)
    started = await lonely.call("start", {"languages": ["en"]})
    assert started["availability"] == {"agents_available": False}

    await agent_for("aiko", "Aiko Tanaka", ["ja"])  # Japanese only: nobody for German
    ja = await connect(desk)
    assert (await ja.call("start", {"languages": ["ja"]}))["availability"] == {
        "agents_available": True
    }
    de = await connect(desk)
    assert (await de.call("start", {"languages": ["de"]}))["availability"] == {
        "agents_available": False
    }
    await agent_for("emma", "Emma Clarke", ["en"])  # English is German's fallback
    de_again = await connect(desk)
    assert (await de_again.call("start", {"languages": ["de"]}))["availability"] == {
        "agents_available": True
    }


async def test_availability_flips_when_the_only_agent_goes_offline(desk, connect, agent_for):
    emma = await agent_for("emma", "Emma Clarke", ["en"])
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["en"]})
    assert started["availability"] == {"agents_available": True}
    await settle()  # the desk's tick has seen her online
    before = len(customer.pushed("availability"))
    await emma.client.disconnect()  # the only agent leaves (agent grace 0 here)
    await availability_becomes(customer, False)
    assert customer.pushed("availability")[before:] == [{"agents_available": False}]

    await agent_for("emma2", "Emma Back", ["en"])
    await availability_becomes(customer, True)


async def test_an_away_agent_is_not_available(desk, connect, agent_for):
    emma = await agent_for("emma", "Emma Clarke", ["en"])
    customer = await connect(desk)
    await customer.call("start", {"languages": ["en"]})
    await settle()
    assert await emma.call("status", {"status": "away"}) == {"ok": True, "status": "away"}
    await availability_becomes(customer, False)
    assert await emma.call("status", {"status": "online"}) == {"ok": True, "status": "online"}
    await availability_becomes(customer, True)


async def test_an_agent_with_every_seat_taken_is_not_available(desk, connect, agent_for):
    emma = await agent_for("emma", "Emma Clarke", ["en"])  # capacity 3
    for _ in range(3):
        await held_chat(desk, connect, emma)
    newcomer = await connect(desk)
    started = await newcomer.call("start", {"languages": ["en"]})
    assert started["availability"] == {"agents_available": False}


async def test_out_of_hours_nobody_is_available_even_online(start_server, settings, connect):
    # The fake clock says Tuesday 09:00 UTC; the desk opens one minute a week, on Monday.
    closed = await start_server(
        desk_settings(settings, chat_hours="mon 00:00-00:01"), clock=FakeClock()
    )
    emma = await connect_agent(closed, "emma", "Emma Clarke", ["en"])
    try:
        customer = await connect(closed)
        started = await customer.call("start", {"languages": ["en"]})
        assert started["availability"] == {"agents_available": False}
    finally:
        await emma.client.disconnect()
