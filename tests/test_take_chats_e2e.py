"""Supervisors are offered chats only when they switch it on (`take_chats`), on the real
server with Socket.IO clients; they may still pull a chat from the queue and assign by hand."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.test_handoff_e2e import PASSWORD, clock, desk  # noqa: F401
from tests.test_handoff_e2e import agent_for as agent_for


async def login(desk, username: str):  # noqa: F811
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            desk.make_url("/api/v1/login"), json={"username": username, "password": PASSWORD}
        ) as response,
    ):
        assert response.status == 200
        return (await response.json())["agent"]


async def waiting_customer(desk, connect):  # noqa: F811
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["ja"]})
    assert (await customer.call("request_agent", {}))["ok"]
    return started["conversation"]["id"]


async def test_a_supervisor_is_offered_nothing_until_they_switch_it_on(
    desk,  # noqa: F811
    connect,
    agent_for,
):
    aiko = await agent_for("aiko", "Aiko Sato", ["ja"])
    sam = await agent_for("sam", "Sam Okafor", ["ja", "en"], role="supervisor")
    assert (await login(desk, "sam"))["take_chats"] is False
    assert (await login(desk, "aiko"))["take_chats"] is True

    first = await waiting_customer(desk, connect)
    (offer,) = await aiko.wait_pushed("offer")
    assert offer["conversation_id"] == first
    # Aiko steps away: her offer is withdrawn, and the chat waits rather than go to Sam.
    assert (await aiko.call("status", {"status": "away"}))["ok"]
    await aiko.wait_pushed("offer_withdrawn")
    await asyncio.sleep(0.3)
    assert sam.pushed("offer") == []

    # Sam switches it on: the waiting chat is offered to him at once; and off: withdrawn.
    assert await sam.call("take_chats", {"on": True}) == {"ok": True, "take_chats": True}
    (offered,) = await sam.wait_pushed("offer")
    assert offered["conversation_id"] == first
    assert (await login(desk, "sam"))["take_chats"] is True  # stored with the account
    assert await sam.call("take_chats", {"on": False}) == {"ok": True, "take_chats": False}
    (withdrawn,) = await sam.wait_pushed("offer_withdrawn")
    assert withdrawn["conversation_id"] == first
    assert (await login(desk, "sam"))["take_chats"] is False

    # Not offered, he may still take it from the queue himself.
    assert (await sam.call("accept", {"conversation_id": first}))["ok"] is True
    # And assign the next one by hand to an agent.
    assert (await aiko.call("status", {"status": "online"}))["ok"]
    second = await waiting_customer(desk, connect)
    await aiko.wait_pushed("offer", 2)
    assigned = await sam.call("assign", {"conversation_id": second, "agent_id": aiko.id})
    assert assigned["ok"] is True, assigned
    assert len(sam.pushed("offer")) == 1


async def test_only_supervisors_choose_and_the_payload_is_checked(
    desk,  # noqa: F811
    agent_for,
):
    aiko = await agent_for("aiko", "Aiko Sato", ["ja"])
    sam = await agent_for("sam", "Sam Okafor", ["ja", "en"], role="supervisor")
    refused = await aiko.call("take_chats", {"on": False})
    assert refused["ok"] is False
    assert refused["error"]["code"] == "not_permitted"
    for bad in ({}, {"on": "yes"}, None, {"on": 1}):
        answer = await sam.call("take_chats", bad)
        assert answer["ok"] is False, bad
        assert answer["error"]["code"] == "invalid_payload"
    assert (await login(desk, "sam"))["take_chats"] is False
