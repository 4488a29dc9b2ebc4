"""The assignment room on its own: a handoff queues and starts the clock (or goes offline),
accept and close move the chat on, a customer who left past the grace ends it, and a unit
whose write fails leaves nothing behind."""

from __future__ import annotations

import pytest

from chatserver.hours import parse_hours
from chatserver.human.ledger import NotWaiting, NotYourConversation
from chatserver.models import ConversationStatus
from chatserver.presence import Departure
from tests.faulty import StoreFault, open_faulty
from tests.human_desk import AIKO, EMMA, HANDOFF, Make


async def test_a_handoff_queues_offers_and_starts_the_clock(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    chat = await desk.chat(text="パスワードを忘れました")
    outcome = await desk.assignment.hand_off(chat, HANDOFF)
    row = await desk.row(chat.id)
    assert row.status is ConversationStatus.QUEUED
    assert row.tracking_number is not None
    assert ("agent", "aiko", "offer") in [
        (n.audience, n.target, n.event) for n in outcome.notifications
    ]
    assert desk.ledger.previews[chat.id] == "パスワードを忘れました"
    assert desk.ledger.remaining_seconds(chat.id) == 30.0
    assert desk.names("handoff") == [{"reason": "requested"}]
    with pytest.raises(NotWaiting):
        await desk.assignment.hand_off(row, HANDOFF)


async def test_out_of_hours_and_nobody_online_go_offline_with_a_number(rooms: Make) -> None:
    closed = await rooms(hours=parse_hours("sat 09:00-10:00"))  # the fake clock: a Tuesday
    outcome = await closed.assignment.hand_off(await closed.chat(), HANDOFF)
    assert outcome.result["offline"] is True
    assert outcome.result["tracking_number"]
    nobody = await rooms()
    outcome = await nobody.assignment.hand_off(await nobody.chat(), HANDOFF)
    assert [n.payload.get("reason") for n in outcome.notifications if n.event == "offline"] == [
        "no_agent"
    ]
    assert [labels["reason"] for labels in closed.names("offline") + nobody.names("offline")] == [
        "out_of_hours",
        "no_agent",
    ]


async def test_accept_then_close(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO, EMMA))
    chat = await desk.handed_off()
    await desk.assignment.accept("emma", chat)
    assert (await desk.row(chat)).agent_id == "emma"
    with pytest.raises(NotYourConversation):
        await desk.assignment.close(chat, by_agent="aiko")
    outcome = await desk.assignment.close(chat, by_agent="emma")
    assert (await desk.row(chat)).status is ConversationStatus.CLOSED
    assert desk.ledger.sla_of(chat) is None
    # Addressed to the agent who had the chat, although the router has let go of it.
    assert ("agent", "emma", "closed") in [
        (n.audience, n.target, n.event) for n in outcome.notifications
    ]
    assert desk.ledger.router.agent_conversations("emma") == frozenset()


async def test_a_customer_gone_past_the_grace(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    waiting = await desk.handed_off()
    await desk.assignment.hand_off(await desk.chat(), HANDOFF)
    held = await desk.handed_off()
    await desk.assignment.accept("aiko", held)
    left_at = desk.clock.now()
    desk.clock.advance(90)
    await desk.assignment.customer_gone(Departure(waiting, left_at))
    assert (await desk.row(waiting)).status is ConversationStatus.ABANDONED
    out = await desk.assignment.customer_gone(Departure(held, left_at))
    assert (await desk.row(held)).status is ConversationStatus.CLOSED
    assert ("agent", "aiko", "closed") in [(n.audience, n.target, n.event) for n in out]
    assert await desk.assignment.customer_gone(Departure("bot-chat", left_at)) == []


async def test_a_close_whose_write_fails_changes_nothing(rooms: Make, tmp_path) -> None:
    store = await open_faulty(f"sqlite:///{tmp_path / 'faulty.sqlite3'}")
    desk = await rooms(agents=(AIKO,), store=store)
    chat = await desk.handed_off()
    await desk.assignment.accept("aiko", chat)
    before = (await desk.row(chat), desk.ledger.sla_of(chat), desk.ledger.assignee(chat))
    store.fail_write(2)
    with pytest.raises(StoreFault):
        await desk.assignment.close(chat, by_agent="aiko")
    assert (await desk.row(chat), desk.ledger.sla_of(chat), desk.ledger.assignee(chat)) == before
    await desk.assignment.close(chat, by_agent="aiko")
    assert (await desk.row(chat)).status is ConversationStatus.CLOSED
