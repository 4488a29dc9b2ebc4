"""A restart loses nobody: chats waiting for, or with, an agent are back on the desk when
a new process opens the same database. Real servers, real Socket.IO clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatserver.keys import SERVICES, SETTINGS
from chatserver.settings import Settings
from tests.conftest import Customer, CustomerFactory, FakeClock, ServerFactory
from tests.test_handoff_e2e import PASSWORD, Agent, open_console

GRACE = 30
AgentFactory = Callable[[TestServer, str], Awaitable[Agent]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def restart(
    start_server: ServerFactory, settings: Settings, clock: FakeClock
) -> Callable[[], Awaitable[TestServer]]:
    """A new server on the same SQLite file and clock, as after a restart."""
    fields = {name: getattr(settings, name) for name in settings.__slots__}
    grace = Settings.defaults(**{**fields, "agent_grace_seconds": GRACE})

    async def start() -> TestServer:
        return await start_server(grace, clock=clock)

    return start


@pytest.fixture
async def console() -> AsyncIterator[AgentFactory]:
    """An agent console logged in with a token, connected to a given server."""
    agents: list[Agent] = []

    async def make(server: TestServer, token: str) -> Agent:
        agents.append(await open_console(server, token))
        return agents[-1]

    yield make
    for agent in agents:
        if agent.client.connected:
            await agent.client.disconnect()


async def log_in(server: TestServer, username: str, name: str) -> str:
    """A Japanese-speaking agent's account; the token outlives the process (it is stored)."""
    accounts = server.app[SERVICES].accounts
    await accounts.add(
        username=username,
        name=name,
        languages=["ja", "en"],
        teams=["technical", "account", "trading"],
        capacity=3,
        role="agent",
        password=PASSWORD,
    )
    return (await accounts.login(username, PASSWORD)).token


async def hand_off(server: TestServer, connect: CustomerFactory) -> tuple[Customer, dict[str, Any]]:
    customer = await connect(server)
    started = await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    await customer.wait_pushed("queued")
    return customer, started


async def resume(server: TestServer, connect: CustomerFactory, started: dict[str, Any]) -> Any:
    customer = await connect(server)
    ack = await customer.call(
        "start", {"token": started["token"], "last_seq": started["conversation"]["last_seq"]}
    )
    assert ack["ok"] is True
    return customer, ack


async def stop(server: TestServer, *clients: Customer | Agent) -> None:
    """Stop the server; its clients leave first (closing their sockets from the server's
    side makes the shutdown wait for them, seconds for nothing here)."""
    for each in clients:
        await each.client.disconnect()
    await server.close()


async def test_a_waiting_chat_is_offered_after_a_restart(restart, connect, console, clock):
    first = await restart()
    token = await log_in(first, "aiko", "Aiko Tanaka")
    aiko = await console(first, token)
    customer, started = await hand_off(first, connect)
    (offer,) = await aiko.wait_pushed("offer")  # not accepted before the server stops
    conversation_id = offer["conversation_id"]
    await stop(first, customer, aiko)

    clock.advance(5)
    second = await restart()
    # The customer comes back before any agent: still in line, and told so again.
    customer, ack = await resume(second, connect, started)
    assert ack["conversation"]["status"] == "queued"
    (queued,) = await customer.wait_pushed("queued")
    assert (queued["position"], queued["fallback"]) == (1, False)

    aiko = await console(second, token)
    snapshot = (await aiko.wait_pushed("queue"))[0]  # on connecting
    assert [w["conversation_id"] for w in snapshot["waiting"]] == [conversation_id]
    assert snapshot["waiting"][0]["waited_seconds"] == 5.0  # the original handoff time
    (offer,) = await aiko.wait_pushed("offer")
    assert offer["conversation_id"] == conversation_id
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    (assigned,) = await customer.wait_pushed("assigned")
    assert assigned["agent"]["name"] == "Aiko Tanaka"
    (briefing,) = await aiko.wait_pushed("conversation")
    assert briefing["sla"]["remaining_seconds"] == 25.0  # the clock ran on from the handoff


async def test_an_agent_who_comes_back_keeps_their_chat(restart, connect, console, clock):
    first = await restart()
    aiko_token = await log_in(first, "aiko", "Aiko Tanaka")
    mei_token = await log_in(first, "mei", "Mei Lin")
    aiko = await console(first, aiko_token)
    customer, started = await hand_off(first, connect)
    (offer,) = await aiko.wait_pushed("offer")
    conversation_id = offer["conversation_id"]
    await aiko.call("accept", {"conversation_id": conversation_id})
    await customer.wait_pushed("assigned")
    await stop(first, customer, aiko)

    clock.advance(3)
    second = await restart()
    mei = await console(second, mei_token)  # online, idle, and not offered Aiko's chat
    customer, ack = await resume(second, connect, started)
    assert ack["conversation"]["status"] == "assigned"
    assert any("Aiko Tanaka" in m["text"] for m in ack["messages"] if m["author"] == "system")

    clock.advance(GRACE - 5)
    aiko = await console(second, aiko_token)
    (briefing,) = await aiko.wait_pushed("conversation")  # the chat is back on her console
    assert briefing["conversation"]["id"] == conversation_id
    assert briefing["agent_language"] == "ja"
    clock.advance(10)  # past the grace: she is back, so nothing moves
    dispatcher = second.app[SERVICES].dispatcher
    await dispatcher.tick()  # the ticker's work, now that the grace is over
    assert dispatcher.router.assignee(conversation_id) == aiko.id
    sent = await aiko.call(
        "message",
        {"conversation_id": conversation_id, "text": "お待たせしました。", "client_id": "a1"},
    )
    assert sent["ok"] is True
    async with asyncio.timeout(5):
        while not any(m["author"] == "agent" for m in customer.pushed("message")):
            await asyncio.sleep(0.01)
    assert not mei.pushed("offer")
    assert not customer.pushed("queued")
    assert (await mei.call("accept", {"conversation_id": conversation_id}))["error"][
        "code"
    ] == "already_taken"


async def test_a_chat_whose_agent_does_not_come_back_goes_to_another(
    restart, connect, console, clock
):
    first = await restart()
    aiko_token = await log_in(first, "aiko", "Aiko Tanaka")
    mei_token = await log_in(first, "mei", "Mei Lin")
    aiko = await console(first, aiko_token)
    customer, started = await hand_off(first, connect)
    (offer,) = await aiko.wait_pushed("offer")
    conversation_id = offer["conversation_id"]
    await aiko.call("accept", {"conversation_id": conversation_id})
    await customer.wait_pushed("assigned")
    await stop(first, customer, aiko)

    second = await restart()
    mei = await console(second, mei_token)
    customer, _ = await resume(second, connect, started)
    snapshot = (await mei.wait_pushed("queue"))[0]
    assert snapshot["waiting"] == []  # still Aiko's
    clock.advance(GRACE)  # Aiko never came back
    (offer,) = await mei.wait_pushed("offer")
    assert offer["conversation_id"] == conversation_id
    (queued,) = await customer.wait_pushed("queued")
    assert queued["position"] == 1
    assert (await mei.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    (assigned,) = await customer.wait_pushed("assigned")
    assert assigned["agent"]["name"] == "Mei Lin"
    stored = await second.app[SERVICES].store.get_conversation(conversation_id)
    assert stored is not None
    assert stored.agent_id == mei.id


async def test_a_console_that_reconnects_gets_its_chats_back(restart, connect, console, clock):
    server = await restart()
    token = await log_in(server, "aiko", "Aiko Tanaka")
    aiko = await console(server, token)
    customer, _ = await hand_off(server, connect)
    (offer,) = await aiko.wait_pushed("offer")
    conversation_id = offer["conversation_id"]
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    (briefing,) = await aiko.wait_pushed("conversation")
    assert "held" not in briefing

    await aiko.client.disconnect()  # a page reload: a new console, inside the grace period
    clock.advance(GRACE / 2)
    reloaded = await console(server, token)
    (again,) = await reloaded.wait_pushed("conversation")
    assert again["held"] is True
    assert again["conversation"]["id"] == conversation_id
    assert [m["seq"] for m in again["messages"]] == [m["seq"] for m in briefing["messages"]]
    sent = await reloaded.call("message", {"conversation_id": conversation_id, "text": "はい"})
    assert sent["ok"] is True
    await stop(server, customer, reloaded)


async def test_a_chat_transferred_to_another_team_stays_there_after_a_restart(
    restart, connect, console, clock
):
    first = await restart()
    token = await log_in(first, "aiko", "Aiko Tanaka")
    aiko = await console(first, token)
    customer, _ = await hand_off(first, connect)  # no topic: the account team
    (offer,) = await aiko.wait_pushed("offer")
    conversation_id = offer["conversation_id"]
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    moved = await aiko.call(
        "transfer",
        {
            "conversation_id": conversation_id,
            "to_queue": {"language": "ja", "team": "trading"},
            "reason": "a margin question",
        },
    )
    assert moved["ok"] is True
    await aiko.wait_pushed("released")
    await stop(first, customer, aiko)

    second = await restart()
    aiko = await console(second, token)
    snapshot = (await aiko.wait_pushed("queue"))[0]
    assert [(w["conversation_id"], w["queue"]) for w in snapshot["waiting"]] == [
        (conversation_id, "ja/trading")
    ]


async def test_after_a_restart_waiting_customers_get_the_grace_from_the_restart(
    restart, connect, console, clock
):
    first = await restart()
    token = await log_in(first, "aiko", "Aiko Tanaka")
    aiko = await console(first, token)
    gone, gone_started = await hand_off(first, connect)  # first in line
    clock.advance(1)
    returning, returning_started = await hand_off(first, connect)
    await aiko.wait_pushed("offer")
    await stop(first, returning, gone, aiko)

    clock.advance(600)  # a long outage: longer than the grace, but nobody could come back
    second = await restart()
    dispatcher = second.app[SERVICES].dispatcher
    store = second.app[SERVICES].store
    gone_id = gone_started["conversation"]["id"]
    returning_id = returning_started["conversation"]["id"]
    await asyncio.sleep(0.6)  # the ticker runs: nobody is abandoned on boot
    for conversation_id in (gone_id, returning_id):
        stored = await store.get_conversation(conversation_id)
        assert stored is not None
        assert str(stored.status) == "queued"
        assert dispatcher.presence.grace_ends(conversation_id) == clock.now() + timedelta(
            seconds=second.app[SETTINGS].customer_grace_seconds
        )

    clock.advance(30)
    customer, ack = await resume(second, connect, returning_started)  # back within the grace
    assert ack["conversation"]["status"] == "queued"
    assert (await customer.wait_pushed("queued"))[0]["position"] == 2
    clock.advance(31)
    async with asyncio.timeout(5):
        while True:
            stored = await store.get_conversation(gone_id)
            assert stored is not None
            if str(stored.status) == "abandoned":
                break
            await asyncio.sleep(0.01)
    async with asyncio.timeout(5):
        while not customer.pushed("queued") or customer.pushed("queued")[-1]["position"] != 1:
            await asyncio.sleep(0.01)
    stored = await store.get_conversation(returning_id)
    assert stored is not None
    assert str(stored.status) == "queued"
    await stop(second, customer)


async def test_a_waiting_chat_keeps_its_preview_after_a_restart(restart, connect, console):
    first = await restart()
    token = await log_in(first, "aiko", "Aiko Tanaka")
    aiko = await console(first, token)
    customer = await connect(first)
    await customer.call("start", {"languages": ["ja"]})
    await customer.call("message", {"text": "MT5のパスワードを忘れました", "client_id": "m1"})
    await customer.call("request_agent", {})
    await customer.wait_pushed("queued")
    await stop(first, customer, aiko)

    second = await restart()  # nothing said since: the preview comes from the store
    aiko = await console(second, token)
    snapshot = (await aiko.wait_pushed("queue"))[0]
    assert [w["preview"] for w in snapshot["waiting"]] == ["MT5のパスワードを忘れました"]
