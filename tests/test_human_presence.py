"""The presence room on a fake clock: agents coming online (and briefed again on what they
hold), going away or offline, the grace after a restart, customers' sockets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatserver.models import AgentStatus, ConversationStatus
from tests.faulty import StoreFault, open_faulty
from tests.human_desk import AIKO, EMMA, Make


async def test_an_agent_coming_online_is_offered_and_briefed_on_what_they_hold(
    rooms: Make,
) -> None:
    desk = await rooms(agents=(AIKO,))
    chat = await desk.handed_off()
    await desk.assignment.accept("aiko", chat)
    outcome = await desk.presence.agent_online(AIKO)  # a second console, a reload
    (briefing,) = [n for n in outcome.notifications if n.event == "conversation"]
    assert briefing.target == "aiko"
    assert briefing.payload["held"] is True
    assert briefing.payload["sla"]["remaining_seconds"] == 30.0
    await desk.presence.agent_online(EMMA)
    assert desk.presence.connected_agents() == ["aiko", "emma"]


async def test_a_console_reconnecting_away_is_offered_nothing_and_keeps_its_chats(
    rooms: Make,
) -> None:
    desk = await rooms(agents=(AIKO,))
    held = await desk.handed_off()
    await desk.assignment.accept("aiko", held)
    waiting = await desk.handed_off()  # offered to Aiko, until she steps away
    await desk.presence.agent_status("aiko", "away")
    assert (await desk.row(waiting)).status is ConversationStatus.QUEUED
    # Her console reconnects in the status she chose: never online on the way.
    outcome = await desk.presence.agent_online(AIKO, status="away")
    assert [n.event for n in outcome.notifications if n.event == "offer"] == []
    assert desk.ledger.router.agent_status("aiko") is AgentStatus.AWAY
    (briefing,) = [n for n in outcome.notifications if n.event == "conversation"]
    assert briefing.payload["conversation"]["id"] == held
    # Back online (she says so), the waiting chat is offered to her.
    outcome = await desk.presence.agent_online(AIKO)
    offers = [n.payload["conversation_id"] for n in outcome.notifications if n.event == "offer"]
    assert offers == [waiting]


async def test_away_keeps_chats_offline_puts_them_back_in_line(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    chat = await desk.handed_off()
    await desk.assignment.accept("aiko", chat)
    await desk.presence.agent_status("aiko", "away")
    assert desk.ledger.assignee(chat) == "aiko"
    await desk.presence.agent_status("aiko", "offline")
    assert desk.ledger.assignee(chat) is None
    assert (await desk.row(chat)).status is ConversationStatus.QUEUED
    assert desk.presence.connected_agents() == []


async def test_an_agent_whose_leaving_cannot_be_stored_is_due_back_at_once(
    rooms: Make, tmp_path
) -> None:
    store = await open_faulty(f"sqlite:///{tmp_path / 'faulty.sqlite3'}")
    desk = await rooms(agents=(AIKO,), store=store)
    chat = await desk.handed_off()
    await desk.assignment.accept("aiko", chat)
    store.fail_write()
    with pytest.raises(StoreFault):
        await desk.presence.agent_status("aiko", "offline")
    assert desk.ledger.router.agent_status("aiko") is AgentStatus.ONLINE
    assert desk.ledger.agents.due == {"aiko": desk.clock.now()}
    async with desk.ledger.exclusive():
        await desk.presence.returning_due(desk.clock.now())
    assert desk.ledger.router.agent_status("aiko") is AgentStatus.OFFLINE
    assert desk.ledger.agents.due == {}


async def test_after_a_restart_an_agent_keeps_their_chats_for_the_grace(rooms: Make) -> None:
    before = await rooms(agents=(AIKO,))
    waiting = await before.handed_off(text="まだですか")
    held = await before.handed_off()
    await before.assignment.accept("aiko", held)

    after = await rooms(store=before.store)  # a new process over the same database
    await after.presence.restore(agent_grace=timedelta(seconds=30))
    assert after.ledger.assignee(held) == "aiko"
    assert after.ledger.assignee(waiting) is None
    assert after.ledger.previews[waiting] == "まだですか"
    assert after.ledger.sla_of(held) is not None
    assert after.ledger.presence.is_away(waiting)  # each customer has the grace to resume
    after.clock.advance(10)
    async with after.ledger.exclusive():
        assert await after.presence.returning_due(after.clock.now()) == []
    after.clock.advance(25)
    async with after.ledger.exclusive():
        await after.presence.returning_due(after.clock.now())
    assert after.ledger.assignee(held) is None  # back in line, at the head
    assert (await after.row(held)).status is ConversationStatus.QUEUED


async def test_a_customer_with_two_tabs_is_away_only_when_both_closed(rooms: Make) -> None:
    desk = await rooms()
    await desk.presence.customer_joined("chat", "tab-1")
    await desk.presence.customer_joined("chat", "tab-2")
    await desk.presence.customer_left("chat", "tab-1")
    assert not desk.ledger.presence.is_away("chat")
    await desk.presence.customer_left("chat", "tab-2")
    assert desk.ledger.presence.away_since("chat") == desk.clock.now()


async def test_an_agent_whose_last_console_closed_keeps_their_chats_for_the_grace(
    rooms: Make,
) -> None:
    desk = await rooms(agents=(AIKO,), agent_grace=timedelta(seconds=30))
    chat = await desk.handed_off()
    await desk.assignment.accept("aiko", chat)
    await desk.presence.console_connected("aiko", "console-1")
    await desk.presence.console_closed("aiko", "console-1")  # a reload, a network blip
    desk.clock.advance(20)
    async with desk.ledger.exclusive():
        assert await desk.presence.returning_due(desk.clock.now()) == []
    await desk.presence.console_connected("aiko", "console-2")  # back in time
    desk.clock.advance(60)
    async with desk.ledger.exclusive():
        assert await desk.presence.returning_due(desk.clock.now()) == []
    assert desk.ledger.assignee(chat) == "aiko"

    await desk.presence.console_closed("aiko", "console-2")
    desk.clock.advance(31)
    async with desk.ledger.exclusive():
        notifications = await desk.presence.returning_due(desk.clock.now())
    assert desk.ledger.assignee(chat) is None  # gone: back in line
    assert desk.ledger.router.agent_status("aiko") is AgentStatus.OFFLINE
    assert (await desk.row(chat)).status is ConversationStatus.QUEUED
    assert [(n.event, n.target) for n in notifications] == [("queued", chat)]  # customer told


async def test_a_console_of_an_agent_the_desk_never_registered_is_let_go(rooms: Make) -> None:
    desk = await rooms()
    await desk.presence.console_connected("ghost", "console-1")
    await desk.presence.console_closed("ghost", "console-1")
    async with desk.ledger.exclusive():
        assert await desk.presence.returning_due(desk.clock.now()) == []
    assert desk.ledger.agents.due == {}
