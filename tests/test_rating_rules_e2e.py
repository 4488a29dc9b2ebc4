"""Which closed chats take a rating, end to end: a customer who comes back to a chat the
desk closed because they left may still rate it, if someone had answered them; a chat
nobody answered asks nothing (`nothing_to_rate`), however it was closed."""

from __future__ import annotations

from chatserver.keys import SERVICES
from tests.test_abandon_e2e import (  # noqa: F401
    GRACE,
    agent_for,
    clock,
    close_widget,
    desk,
    queue_up,
    wait_status,
)


async def test_a_customer_back_at_a_chat_closed_as_they_left_may_rate_it(
    desk,  # noqa: F811
    connect,
    agent_for,  # noqa: F811
    clock,  # noqa: F811
):
    aiko = await agent_for("aiko", ["ja"])
    customer, started = await queue_up(desk, connect)
    conversation_id = started["conversation"]["id"]
    await aiko.wait_pushed("offer")
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await customer.wait_pushed("assigned")
    assert (await customer.call("message", {"text": "出金が届きません", "client_id": "c1"}))["ok"]
    reply = {"conversation_id": conversation_id, "text": "確認します", "client_id": "a1"}
    assert (await aiko.call("message", reply))["ok"] is True
    await close_widget(desk, customer, conversation_id)
    clock.advance(GRACE + 1)
    await wait_status(desk, conversation_id, "closed")

    back = await connect(desk)
    assert (await back.call("start", {"token": started["token"]}))["conversation"][
        "status"
    ] == "closed"
    rated = await back.call("rate", {"score": 2, "comment": "遅い"})
    assert rated == {"ok": True, "score": 2, "duplicate": False}
    stored = await desk.app[SERVICES].store.rating(conversation_id)
    assert stored is not None
    assert (stored[0].score, stored[0].agent_id, stored[1] is not None) == (2, aiko.id, True)


async def test_a_chat_nobody_answered_takes_no_rating(
    desk,  # noqa: F811
    connect,
    agent_for,  # noqa: F811
    clock,  # noqa: F811
):
    aiko = await agent_for("aiko", ["ja"])
    customer, started = await queue_up(desk, connect)  # asked for a person, wrote nothing
    conversation_id = started["conversation"]["id"]
    await aiko.wait_pushed("offer")
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await customer.wait_pushed("assigned")
    await close_widget(desk, customer, conversation_id)
    clock.advance(GRACE + 1)
    await wait_status(desk, conversation_id, "closed")

    back = await connect(desk)
    await back.call("start", {"token": started["token"]})
    refused = await back.call("rate", {"score": 1})
    assert refused["ok"] is False
    assert refused["error"]["code"] == "nothing_to_rate"
    assert await desk.app[SERVICES].store.rating(conversation_id) is None
    assert (await desk.app[SERVICES].store.get_conversation(conversation_id)).status == "closed"


async def test_an_agent_closing_an_unanswered_chat_asks_for_no_rating(
    desk,  # noqa: F811
    connect,
    agent_for,  # noqa: F811
):
    """The widget shows a survey only when `closed` says so: not for a chat closed before
    anyone answered (the rating would be refused)."""
    aiko = await agent_for("aiko", ["ja"])
    customer, started = await queue_up(desk, connect)
    conversation_id = started["conversation"]["id"]
    await aiko.wait_pushed("offer")
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await customer.wait_pushed("assigned")
    assert (await aiko.call("close", {"conversation_id": conversation_id}))["ok"] is True
    [closed] = await customer.wait_pushed("closed")
    assert closed["survey"] is False

    answered, started = await queue_up(desk, connect)
    conversation_id = started["conversation"]["id"]
    await aiko.wait_pushed("offer", count=2)
    assert (await aiko.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await answered.wait_pushed("assigned")
    reply = {"conversation_id": conversation_id, "text": "こんにちは", "client_id": "a1"}
    assert (await aiko.call("message", reply))["ok"] is True
    assert (await aiko.call("close", {"conversation_id": conversation_id}))["ok"] is True
    [closed] = await answered.wait_pushed("closed")
    assert closed["survey"] is True
