"""Who may export a transcript, through the real server: every agent who held the chat
(the holding history: accepted and passed on, or put back in line when they dropped,
without writing a word), agents of the queue a chat waits in, and nobody else; the staff's
copy says who handled it, the customer's never does."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestServer

from chatserver.keys import SERVICES
from tests.conftest import CustomerFactory, FakeClock
from tests.test_handoff_e2e import PASSWORD, Agent, connect_agent
from tests.test_transcript_e2e import clock, desk, get, staff_token

__all__ = ["clock", "desk"]


async def an_account(server: TestServer, username: str, name: str, languages: list[str]) -> str:
    """An agent with no console open: their log-in token."""
    accounts = server.app[SERVICES].accounts
    await accounts.add(
        username=username,
        name=name,
        languages=languages,
        teams=["technical", "account", "trading"],
        capacity=3,
        role="agent",
        password=PASSWORD,
    )
    return (await accounts.login(username, PASSWORD)).token


async def held_by(server: TestServer, conversation_id: str, agent: Agent) -> None:
    """Wait until the store says `agent` holds the conversation."""
    store = server.app[SERVICES].store
    async with asyncio.timeout(5):
        while (await store.get_conversation(conversation_id)).agent_id != agent.id:
            await asyncio.sleep(0.01)


async def test_an_agent_who_took_a_chat_and_passed_it_on_without_writing_exports_it(
    desk, connect: CustomerFactory, clock: FakeClock
):
    emma = await connect_agent(desk, "emma", "Emma Clarke", ["en"])
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["en"]})
    await customer.call("message", {"text": "My withdrawal has not arrived", "client_id": "c1"})
    await customer.call("request_agent", {})
    (offer,) = await emma.wait_pushed("offer")
    conversation_id = offer["conversation_id"]
    assert (await emma.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    clock.advance(5 * 60)
    carlos = await connect_agent(desk, "carlos", "Carlos Ruiz", ["pt", "es", "en"])
    moved = {"conversation_id": conversation_id, "to_agent": carlos.id, "reason": "payments"}
    assert (await emma.call("transfer", moved))["ok"] is True
    await held_by(desk, conversation_id, carlos)
    clock.advance(13 * 60)
    assert (await carlos.call("close", {"conversation_id": conversation_id}))["ok"] is True
    aiko = await an_account(desk, "aiko", "Aiko Tanaka", ["ja"])

    status, _headers, text = await get(desk, conversation_id, await staff_token(desk, "emma"))
    assert status == 200
    assert "My withdrawal has not arrived" in text
    # 09:00 UTC: accepted; 09:05 passed to Carlos, who closed it at 09:18.
    assert (
        "Handled by: Emma Clarke 9:00\u202fAM–9:05\u202fAM (transferred) and "
        "Carlos Ruiz 9:05\u202fAM–9:18\u202fAM\n"
    ) in text
    status, headers, html = await get(
        desk, conversation_id, await staff_token(desk, "emma"), format="html", tz="Asia/Tokyo"
    )
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<dt>Handled by</dt><dd><bdi>Emma Clarke 6:00\u202fPM–6:05\u202fPM (transferred)" in html

    # Carlos reads the header in his own first language.
    _status, _headers, text = await get(desk, conversation_id, await staff_token(desk, "carlos"))
    assert "Atendida por: Emma Clarke" in text
    assert "(transferida)" in text

    # An agent who never saw the chat gets nothing of it.
    status, _headers, body = await get(desk, conversation_id, aiko)
    assert status == 403
    assert '"forbidden"' in body
    assert "withdrawal" not in body

    # The customer's own copy never says who handled it, in any format.
    _status, _headers, mine = await get(desk, conversation_id, started["token"])
    assert "My withdrawal has not arrived" in mine
    assert "Handled by" not in mine
    assert "(transferred)" not in mine
    _status, _headers, mine_html = await get(desk, conversation_id, started["token"], format="html")
    assert "Handled by" not in mine_html
    for agent in (emma, carlos):
        await agent.client.disconnect()


async def test_an_agent_whose_chat_went_back_in_line_when_they_dropped_exports_it(
    desk, connect: CustomerFactory, clock: FakeClock
):
    emma = await connect_agent(desk, "emma", "Emma Clarke", ["en"])
    customer = await connect(desk)
    await customer.call("start", {"languages": ["en"]})
    await customer.call("request_agent", {})
    (offer,) = await emma.wait_pushed("offer")
    conversation_id = offer["conversation_id"]
    assert (await emma.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await held_by(desk, conversation_id, emma)
    carlos = await connect_agent(desk, "carlos", "Carlos Ruiz", ["en"])
    clock.advance(60)
    await emma.client.disconnect()  # grace period 0 in this desk: the chat is re-queued
    (second_offer,) = await carlos.wait_pushed("offer")
    assert second_offer["conversation_id"] == conversation_id
    assert (await carlos.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await held_by(desk, conversation_id, carlos)

    # Emma wrote nothing and holds nothing now, but held it: the history says so.
    status, _headers, text = await get(desk, conversation_id, await staff_token(desk, "emma"))
    assert status == 200
    assert "Emma Clarke 9:00\u202fAM–9:01\u202fAM (back in the queue) and Carlos Ruiz since" in text
    await carlos.client.disconnect()


async def test_a_waiting_chat_is_exported_by_agents_of_its_language_only(
    desk, connect: CustomerFactory
):
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja", "en"])
    customer = await connect(desk)
    await customer.call("start", {"languages": ["ja"]})
    await customer.call("message", {"text": "出金が届きません", "client_id": "c1"})
    await customer.call("request_agent", {})
    (offer,) = await aiko.wait_pushed("offer")  # offered, not yet accepted: it waits
    conversation_id = offer["conversation_id"]
    mei = await an_account(desk, "mei", "Mei Lin", ["ja", "zh-Hans"])
    carlos = await an_account(desk, "carlos", "Carlos Ruiz", ["pt", "es"])

    status, _headers, text = await get(desk, conversation_id, mei)
    assert status == 200
    assert "出金が届きません" in text
    assert "\n担当者: " not in text  # nobody has held it yet: no "Handled by"
    status, _headers, body = await get(desk, conversation_id, carlos)
    assert status == 403
    assert "出金" not in body

    # Once Aiko takes it, it waits in no queue: Mei, who never held it, may not read on.
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await held_by(desk, conversation_id, aiko)
    assert (await get(desk, conversation_id, mei))[0] == 403
    assert (await get(desk, conversation_id, await staff_token(desk, "aiko")))[0] == 200
    await aiko.client.disconnect()
