"""Routing events applied on their own, and the wording they bring (telling.py): a queued
customer hears their place in their language, an offer goes to its agent, an assignment
makes the chat assigned and briefs the agent with the time left."""

from __future__ import annotations

from chatserver import routing
from chatserver.events import Notify
from chatserver.models import Author, ConversationStatus, Priority, Team
from chatserver.routing import QueueKey
from chatserver.system_lines import LineKind, SystemLine
from tests.human_desk import AIKO, HANDOFF, Make


async def test_a_queued_customer_hears_their_place_in_their_language(rooms: Make) -> None:
    desk = await rooms()  # nobody online: the chat waits, stranded
    conversation = await desk.chat()
    queue = QueueKey("ja", Team.ACCOUNT)
    desk.ledger.router.restore_waiting(
        conversation.id,
        language="ja",
        team=Team.ACCOUNT,
        priority=Priority.MEDIUM,
        handed_off_at=desk.clock.now(),
        now=desk.clock.now(),
    )
    out = await desk.routed.apply(
        [routing.Queued(conversation.id, queue, 1, None)], desk.clock.now(), known=conversation
    )
    assert [(n.audience, n.event) for n in out] == [
        ("customer", "message"),
        ("agent", "message"),  # nobody has it: to no agent
        ("customer", "queued"),
    ]
    assert out[0].payload["author"] == "system"
    assert out[0].payload["meta"]["kind"] == "queued"
    assert out[1].target == ""
    assert out[2].payload["position"] == 1
    (line,) = await desk.store.messages(conversation.id)
    assert line.language == "ja"
    assert desk.ledger.queue_dirty


async def test_an_assignment_is_stored_told_and_briefed(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    chat = await desk.handed_off(text="パスワード")
    desk.clock.advance(4)
    async with desk.ledger.change():
        events = desk.ledger.router.accept(chat, "aiko", desk.clock.now())
        out = await desk.routed.apply(events, desk.clock.now())
    row = await desk.row(chat)
    assert row.status is ConversationStatus.ASSIGNED
    assert row.agent_id == "aiko"
    by_event = {(n.audience, n.event): n for n in out}
    assert by_event["customer", "assigned"].payload["agent"] == {"name": "Aiko"}
    briefing = by_event["agent", "conversation"].payload
    assert briefing["sla"]["remaining_seconds"] == 26.0
    assert briefing["original_text"] == "パスワード"
    # Aiko accepted the offer the handoff made her.
    assert desk.names("assigned") == [{"via": "offer", "widened": "false"}]


async def test_an_event_of_the_tick_that_fails_leaves_the_others(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    queue = QueueKey("ja", Team.ACCOUNT)
    out = await desk.routed.apply(
        [
            routing.Widened("gone", queue, ("ja", "en"), routing.WidenReason.WAIT),
            routing.Offered("x", "aiko", queue, desk.clock.now()),
        ],
        desk.clock.now(),
        isolate=True,
    )
    assert [n.event for n in out] == ["offer"]
    assert desk.names("isolated_failure") == [{"stage": "routing_event"}]


async def test_telling_words_a_line_for_the_customer(rooms: Make) -> None:
    desk = await rooms()
    conversation = await desk.chat()
    await desk.teller.tell(conversation, SystemLine(LineKind.CLOSED, {"number": "K7PX-4QR9-M"}))
    (line,) = await desk.store.messages(conversation.id)
    assert line.author is Author.SYSTEM
    assert "K7PX-4QR9-M" in line.text
    numbered = await desk.teller.with_tracking_number(conversation)
    assert numbered.tracking_number is not None
    assert await desk.teller.with_tracking_number(numbered) == numbered


def positions(out: list[Notify]) -> dict[str, list[int]]:
    """Each customer's `queued` events in `out`: the places they were told."""
    told: dict[str, list[int]] = {}
    for n in out:
        if (n.audience, n.event) == ("customer", "queued"):
            told.setdefault(n.target, []).append(n.payload["position"])
    return told


async def test_customers_who_moved_up_hear_their_place_at_the_flush_once(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    chats = [await desk.handed_off() for _ in range(4)]
    assert desk.ledger.router.view(chats[3], desk.clock.now()).position == 4
    accepted = await desk.assignment.accept("aiko", chats[0])
    assert positions(accepted.notifications) == {}  # the others moved up: not told yet
    async with desk.ledger.exclusive():
        flushed = desk.routed.due_positions(desk.clock.now())
    assert positions(flushed) == {chats[1]: [1], chats[2]: [2], chats[3]: [3]}
    async with desk.ledger.exclusive():
        assert desk.routed.due_positions(desk.clock.now()) == []  # told: nothing owed


async def test_a_burst_of_queue_changes_tells_each_customer_once(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    chats = [await desk.handed_off() for _ in range(6)]
    for chat in chats[:3]:  # three assignments within one flush interval
        assert positions((await desk.assignment.accept("aiko", chat)).notifications) == {}
    async with desk.ledger.exclusive():
        flushed = desk.routed.due_positions(desk.clock.now())
    assert positions(flushed) == {chats[3]: [1], chats[4]: [2], chats[5]: [3]}


async def test_a_customer_who_left_the_line_before_the_flush_hears_nothing(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    chats = [await desk.handed_off() for _ in range(3)]
    await desk.assignment.accept("aiko", chats[0])  # the other two moved up
    await desk.assignment.abandon(chats[1])  # and the first of them left
    async with desk.ledger.exclusive():
        flushed = desk.routed.due_positions(desk.clock.now())
    assert positions(flushed) == {chats[2]: [1]}


async def test_a_newly_queued_customer_hears_their_place_at_once(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    first = await desk.handed_off()
    await desk.assignment.accept("aiko", first)
    waiting = [await desk.handed_off() for _ in range(2)]
    conversation = await desk.chat()
    handed = await desk.assignment.hand_off(conversation, HANDOFF)
    assert positions(handed.notifications) == {conversation.id: [3]}
    assert any(
        n.event == "message" and n.payload["meta"]["kind"] == "queued"
        for n in handed.notifications
        if n.audience == "customer"
    )
    async with desk.ledger.exclusive():
        flushed = desk.routed.due_positions(desk.clock.now())
    assert conversation.id not in positions(flushed)
    assert set(positions(flushed)) <= set(waiting)
