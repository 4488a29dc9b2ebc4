"""The clocks room on a fake clock: started at the handoff, warned and breached by the tick
(not while the customer may be gone), stopped by the first reply or the end."""

from __future__ import annotations

from chatserver.sla import ClockKind
from tests.human_desk import AIKO, SAM, Make


async def test_the_tick_warns_then_breaches_and_the_store_follows(rooms: Make) -> None:
    desk = await rooms(agents=(SAM,))
    chat = await desk.handed_off()
    assert await desk.clocks.tick(desk.clock.now()) == []
    desk.clock.advance(20)  # the warning, 10 s before the 30 s target
    warned = await desk.clocks.tick(desk.clock.now())
    assert [(n.audience, n.target, n.event) for n in warned] == [
        ("agent", "", "sla_warning"),  # nobody has the chat yet
        ("supervisors", "", "sla_warning"),
    ]
    assert warned[0].payload["remaining_seconds"] == 10.0
    assert await desk.clocks.tick(desk.clock.now()) == []  # once
    desk.clock.advance(11)
    breached = await desk.clocks.tick(desk.clock.now())
    assert [n.event for n in breached] == ["sla_breach", "sla_breach"]
    assert await desk.store.sla(chat) == desk.ledger.sla_of(chat)


async def test_no_warning_while_the_customer_may_be_gone(rooms: Make) -> None:
    desk = await rooms(agents=(SAM,))
    chat = await desk.handed_off()
    desk.ledger.presence.join(chat, "tab")
    desk.ledger.presence.leave(chat, "tab", desk.clock.now())
    desk.clock.advance(25)
    assert await desk.clocks.tick(desk.clock.now()) == []
    desk.ledger.presence.join(chat, "tab")  # back: the warning goes out now
    assert [n.event for n in await desk.clocks.tick(desk.clock.now())] == [
        "sla_warning",
        "sla_warning",
    ]


async def test_a_reply_stops_the_first_response_clock_and_is_measured(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    chat = await desk.handed_off()
    await desk.assignment.accept("aiko", chat)
    desk.clock.advance(7)
    async with desk.ledger.change(router=False):
        assert await desk.clocks.replied(await desk.row(chat), "aiko", desk.clock.now()) == []
    applied = desk.ledger.sla_of(chat)
    assert applied is not None
    assert not applied.first_response.running
    (measured,) = desk.names("first_response")
    assert measured["seconds"] == 7.0
    assert measured["answered"] is True
    assert measured["language"] == "ja"
    assert desk.ledger.remaining_seconds(chat) is None


async def test_stopping_removes_the_clock_from_the_desk(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    chat = await desk.handed_off()
    async with desk.ledger.change(router=False):
        await desk.clocks.stop(await desk.row(chat), desk.clock.now(), resolved=False)
    assert desk.ledger.sla_of(chat) is None
    stored = await desk.store.sla(chat)
    assert stored is not None
    assert not stored.first_response.running
    assert stored.first_response.kind is ClockKind.FIRST_RESPONSE
    (measured,) = desk.names("first_response")
    assert measured["answered"] is False
