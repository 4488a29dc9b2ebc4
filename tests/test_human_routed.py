"""Routing events applied on their own, and the wording they bring (telling.py): a queued
customer hears their place in their language, an offer goes to its agent, an assignment
makes the chat assigned and briefs the agent with the time left."""

from __future__ import annotations

from chatserver import routing
from chatserver.models import Author, ConversationStatus, Priority, Team
from chatserver.routing import QueueKey
from chatserver.system_lines import LineKind, SystemLine
from tests.human_desk import AIKO, Make


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
