"""The customer panel (`GET /api/v1/conversations/{id}/customer`) on the real server: the
signed identity's name, email, tier and account manager, the tracking number and language,
the same customer's previous conversations newest first; who may read it; and the
transcripts of those previous conversations for the agent serving the customer now."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from chatserver.identity import sign
from chatserver.keys import SERVICES
from tests.conftest import FakeClock
from tests.test_handoff_e2e import PASSWORD, connect_agent, desk_settings

SECRET = "panel-secret"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def desk(start_server, settings, clock):
    return await start_server(desk_settings(settings, identity_secret=SECRET), clock=clock)


def identity(clock: FakeClock) -> dict[str, Any]:
    fields = {
        "customer_id": "cust-42",
        "name": "Tanaka Hanako",
        "email": "hanako@example.jp",
        "balance_usd": 120_000,
        "manager": "emma",
        "issued_at": clock.now().isoformat(),
    }
    return {**fields, "signature": sign(fields, SECRET)}


async def get(desk: Any, path: str, token: str | None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(desk.make_url(path), headers=headers) as response,
    ):
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def token(desk: Any, username: str) -> str:
    return (await desk.app[SERVICES].accounts.login(username, PASSWORD)).token  # type: ignore[no-any-return]


async def served_chat(desk, connect, agent, start: dict[str, Any]) -> tuple[str, str]:
    """A customer's chat taken by `agent`: the customer's token and the conversation id."""
    customer = await connect(desk)
    started = await customer.call("start", start)
    conversation_id = started["conversation"]["id"]
    assert (await customer.call("message", {"text": "出金について", "client_id": "c1"}))["ok"]
    assert (await customer.call("request_agent", {}))["ok"]
    accepted = await agent.call("accept", {"conversation_id": conversation_id})
    assert accepted["ok"], accepted
    return started["token"], conversation_id


async def test_the_panel_shows_who_the_customer_is_and_their_earlier_chats(desk, connect, clock):
    await desk.app[SERVICES].accounts.add(
        username="emma", name="Emma Clarke", languages=["en"], teams=["account"],
        capacity=3, role="agent", password=PASSWORD,
    )  # fmt: skip
    ken = await connect_agent(desk, "ken", "Ken Mori", ["ja"])
    aiko = await connect_agent(desk, "aiko", "Aiko Sato", ["ja"])
    mei = await connect_agent(desk, "mei", "Mei Ito", ["ja"])
    try:
        # An earlier chat of the same customer, served by Ken and closed.
        _, first = await served_chat(
            desk, connect, ken, {"languages": ["ja"], "identity": identity(clock)}
        )
        assert (await ken.call("close", {"conversation_id": first}))["ok"]
        clock.advance(3600)
        # And today's, with Aiko.
        _, second = await served_chat(
            desk, connect, aiko, {"languages": ["ja"], "identity": identity(clock)}
        )
        (briefing,) = [
            b for b in await aiko.wait_pushed("conversation") if b["conversation"]["id"] == second
        ]
        assert briefing["conversation"]["customer_name"] == "Tanaka Hanako"

        store = desk.app[SERVICES].store
        numbers = {c: (await store.get_conversation(c)).tracking_number for c in (first, second)}
        status, panel = await get(
            desk, f"/api/v1/conversations/{second}/customer", await token(desk, "aiko")
        )
        assert status == 200, panel
        assert panel["conversation_id"] == second
        assert (panel["customer_id"], panel["name"], panel["email"]) == (
            "cust-42", "Tanaka Hanako", "hanako@example.jp",
        )  # fmt: skip
        assert (panel["tier"], panel["manager"], panel["manager_name"]) == (
            "vip",
            "emma",
            "Emma Clarke",
        )
        assert (panel["tracking_number"], panel["language"]) == (numbers[second], "ja")
        assert panel["language_name"] == "日本語"  # its own name
        (earlier,) = panel["previous"]
        assert earlier["conversation_id"] == first
        assert earlier["tracking_number"] == numbers[first]
        assert earlier["status"] == "closed"
        assert earlier["closed_at"] is not None
        assert earlier["created_at"] < clock.now().isoformat()

        # Aiko never held the first chat, but serves its customer now: she may read it.
        status, page = await get(
            desk, f"/api/v1/conversations/{first}/transcript?format=html", await token(desk, "aiko")
        )
        assert status == 200
        assert "出金について" in page
        # Mei serves neither: no panel, no transcript.
        mei_token = await token(desk, "mei")
        status, refused = await get(desk, f"/api/v1/conversations/{second}/customer", mei_token)
        assert (status, refused["error"]["code"]) == (403, "forbidden")
        status, _ = await get(desk, f"/api/v1/conversations/{first}/transcript", mei_token)
        assert status == 403
    finally:
        for agent in (ken, aiko, mei):
            await agent.client.disconnect()


async def test_an_anonymous_customer_has_an_empty_panel_and_bad_callers_are_refused(desk, connect):
    aiko = await connect_agent(desk, "aiko", "Aiko Sato", ["ja"])
    try:
        customer_token, chat = await served_chat(desk, connect, aiko, {"languages": ["ja"]})
        status, panel = await get(
            desk, f"/api/v1/conversations/{chat}/customer", await token(desk, "aiko")
        )
        assert status == 200
        assert (panel["name"], panel["email"], panel["customer_id"], panel["manager"]) == (
            None, None, None, None,
        )  # fmt: skip
        assert (panel["tier"], panel["previous"]) == ("standard", [])
        status, refused = await get(desk, f"/api/v1/conversations/{chat}/customer", None)
        assert (status, refused["error"]["code"]) == (401, "unauthorized")
        status, refused = await get(desk, f"/api/v1/conversations/{chat}/customer", customer_token)
        assert (status, refused["error"]["code"]) == (401, "unauthorized")
        status, refused = await get(
            desk, "/api/v1/conversations/nope/customer", await token(desk, "aiko")
        )
        assert (status, refused["error"]["code"]) == (404, "unknown_conversation")
    finally:
        await aiko.client.disconnect()


async def taken(agent: Any, customer: Any, conversation_id: str) -> None:
    """The customer's current chat handed to a person and taken by `agent`."""
    assert (await customer.call("message", {"text": "出金について", "client_id": "x"}))["ok"]
    assert (await customer.call("request_agent", {}))["ok"]
    accepted = await agent.call("accept", {"conversation_id": conversation_id})
    assert accepted["ok"], accepted


async def test_no_history_without_a_signed_identity_not_even_from_the_same_socket(
    desk, connect, clock
):
    """Earlier conversations are linked by the signed customer_id only: an anonymous
    customer who starts again on the same socket, or one who claims a customer's id with a
    forged signature, is shown none (an agent must not read one customer's history to
    another)."""
    aiko = await connect_agent(desk, "aiko", "Aiko Sato", ["ja"])
    reader = await token(desk, "aiko")
    try:
        _, signed_chat = await served_chat(desk, connect, aiko, {
            "languages": ["ja"], "identity": identity(clock),
        })  # fmt: skip
        assert (await aiko.call("close", {"conversation_id": signed_chat}))["ok"]
        customer = await connect(desk)
        first = await customer.call("start", {"languages": ["ja"]})
        assert (await customer.call("message", {"text": "出金について", "client_id": "a1"}))["ok"]
        assert (await customer.call("request_agent", {}))["ok"]
        assert (await aiko.call("accept", {"conversation_id": first["conversation"]["id"]}))["ok"]
        assert (await aiko.call("close", {"conversation_id": first["conversation"]["id"]}))["ok"]
        # The same socket starts again (the widget's new conversation): a new, unlinked one.
        again = await customer.call("start", {"languages": ["ja"]})
        assert again["conversation"]["id"] != first["conversation"]["id"]
        assert again["token"] != first["token"]
        await taken(aiko, customer, again["conversation"]["id"])
        status, panel = await get(
            desk, f"/api/v1/conversations/{again['conversation']['id']}/customer", reader
        )
        assert status == 200
        assert (panel["customer_id"], panel["previous"]) == (None, [])
        # A forged identity claiming the signed customer's id is anonymous: none of theirs.
        forged = {**identity(clock), "name": "Impostor"}
        impostor = await connect(desk)
        claimed = await impostor.call("start", {"languages": ["ja"], "identity": forged})
        await taken(aiko, impostor, claimed["conversation"]["id"])
        status, panel = await get(
            desk, f"/api/v1/conversations/{claimed['conversation']['id']}/customer", reader
        )
        assert status == 200
        assert (panel["customer_id"], panel["name"], panel["previous"]) == (None, None, [])
    finally:
        await aiko.client.disconnect()
