"""The ledger on its own: units of change put the desk's memory and the rows they saved
back when they fail, count observations only when they succeed, and run one at a time;
the lookups every room shares."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from chatserver.human.ledger import NotYourConversation
from chatserver.models import ConversationStatus, UnknownConversation
from chatserver.sla import ClockKind
from tests.human_desk import AIKO, EMMA, SAM, Make, account


class Boom(RuntimeError):
    pass


async def test_a_failed_unit_puts_memory_and_saved_rows_back(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    ledger = desk.ledger
    chat = await desk.handed_off(text="パスワードを忘れました")
    row = await desk.row(chat)
    memory = (
        ledger.router.assignee(chat),
        dict(ledger.clocks),
        dict(ledger.accounts),
        ledger.agents.due,
        dict(ledger.previews),
    )

    async def failing_unit() -> None:
        async with ledger.change():
            ledger.router.accept(chat, "aiko", desk.clock.now())
            ledger.clocks.clear()
            ledger.accounts["emma"] = EMMA
            ledger.agents.due_back("aiko", by=desk.clock.now())
            ledger.previews.clear()
            await ledger.save(replace(row, status=ConversationStatus.CLOSED), was=row)
            ledger.record("test", {})
            raise Boom

    with pytest.raises(Boom):
        await failing_unit()
    assert (
        ledger.router.assignee(chat),
        dict(ledger.clocks),
        dict(ledger.accounts),
        ledger.agents.due,
        dict(ledger.previews),
    ) == memory
    assert await desk.row(chat) == row
    assert desk.names("test") == []
    assert ledger.queue_dirty


async def test_what_a_unit_does_outside_the_desk_waits_for_its_success(rooms: Make) -> None:
    """An urgent chat's email and webhook start only once the unit that raised the alert
    has succeeded: a failed handoff never alerts anyone."""
    desk = await rooms(agents=(AIKO,))
    ledger = desk.ledger
    done: list[str] = []

    async def failing_unit() -> None:
        async with ledger.change():
            async with ledger.savepoint():
                ledger.after(lambda: done.append("inner"))
            ledger.after(lambda: done.append("outer"))
            assert done == []
            raise Boom

    with pytest.raises(Boom):
        await failing_unit()
    assert done == []
    async with ledger.change():
        async with ledger.savepoint():
            ledger.after(lambda: done.append("inner"))
        ledger.after(lambda: done.append("outer"))
        assert done == []
    assert done == ["inner", "outer"]


async def test_a_nested_unit_that_succeeds_is_undone_with_its_outer_unit(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO,))
    ledger = desk.ledger
    chat = await desk.handed_off()
    row = await desk.row(chat)
    before = len(desk.observed)

    async def failing_outer_unit() -> None:
        async with ledger.change():
            async with ledger.savepoint():
                await ledger.save(replace(row, status=ConversationStatus.ABANDONED), was=row)
                ledger.record("inner", {})
            raise Boom

    with pytest.raises(Boom):
        await failing_outer_unit()
    assert await desk.row(chat) == row
    assert len(desk.observed) == before  # the inner observation went with the outer unit

    async with ledger.change():
        async with ledger.savepoint():
            ledger.record("inner", {})
        assert desk.names("inner") == []  # counted when the outermost unit succeeds
    assert desk.names("inner") == [{}]


async def test_units_run_one_at_a_time_and_nest_in_their_own_task(rooms: Make) -> None:
    desk = await rooms()
    ledger = desk.ledger
    order: list[str] = []

    async def unit(name: str) -> None:
        async with ledger.change(router=False):
            order.append(f"{name} in")
            async with ledger.change(router=False):  # re-entrant: no deadlock
                await asyncio.sleep(0)
            order.append(f"{name} out")

    await asyncio.gather(unit("a"), unit("b"))
    assert order == ["a in", "a out", "b in", "b out"]


async def test_lookups(rooms: Make) -> None:
    english = account("olivia", "Olivia", languages=("en",))
    desk = await rooms(agents=(AIKO, SAM, english))
    ledger = desk.ledger
    with pytest.raises(UnknownConversation):
        await ledger.conversation("nobody")
    chat = await desk.handed_off(language="th")
    assert ledger.assignee(chat) is None
    with pytest.raises(NotYourConversation):
        await ledger.owned("aiko", chat)
    thai = await desk.row(chat)
    assert ledger.serving_language("olivia", thai) == "en"  # through the fallback
    assert ledger.serving_language("aiko", thai) == "en"
    assert ledger.serving_language("nobody", thai) == "th"
    assert ledger.widened_for("en", thai)
    assert not ledger.widened_for("th", thai)
    assert ledger.name("aiko") == "Aiko"
    assert ledger.name("gone") == "gone"
    assert ledger.supervises("sam")
    assert not ledger.supervises("aiko")
    assert await ledger.manager_id("olivia") == "olivia"
    assert await ledger.manager_id(None) is None
    assert ledger.remaining_seconds(chat) == 30.0
    desk.clock.advance(12)
    assert ledger.remaining_seconds(chat) == 18.0
    applied = ledger.sla_of(chat)
    assert applied is not None
    assert applied.first_response.kind is ClockKind.FIRST_RESPONSE
    assert ledger.remaining_seconds("nobody") is None
