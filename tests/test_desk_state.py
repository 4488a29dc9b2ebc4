"""The desk-state port: the desk's memory written as JSON values and read back decides as
the original does (what a second process sharing the desk relies on), a failed unit puts
the memory back, and the in-process implementation holds the desk for one unit at a time."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest

from chatserver.desk_state import DeskMemory, LocalDeskState
from chatserver.events import Notify
from chatserver.presence import AgentPresence, CustomerPresence
from chatserver.routing import Router, RoutingPolicy
from tests.human_desk import AIKO, EMMA, Make, Rooms

GRACE = timedelta(seconds=60)


def as_json(memory: DeskMemory) -> dict[str, Any]:
    return json.loads(json.dumps(memory.to_state()))


async def tick(desk: Rooms) -> list[tuple[str, str]]:
    now = desk.clock.now()
    async with desk.ledger.exclusive():
        notifications: list[Notify] = await desk.routed.apply(
            desk.ledger.router.tick(now), now, isolate=True
        )
        notifications += await desk.clocks.tick(now)
    return [(str(n.event), n.target) for n in notifications]


async def busy_desk(rooms: Make) -> tuple[Rooms, list[str]]:
    """Aiko holds one chat and is offered another, Emma is away, one chat waits for her, one
    customer has gone away, and an SLA warning is close."""
    desk = await rooms(agents=(AIKO, EMMA))
    await desk.presence.agent_status("emma", "away")
    held = await desk.handed_off(text="振込が反映されません")
    await desk.assignment.accept("aiko", held)
    offered = await desk.handed_off(text="パスワードを忘れました")
    waiting = await desk.handed_off(language="en", text="where is my withdrawal")
    await desk.presence.customer_joined(held, "tab-1")
    await desk.presence.customer_joined(waiting, "tab-2")
    await desk.presence.customer_left(waiting, "tab-2")
    await desk.presence.console_connected("aiko", "console-1")
    # Urgent alerts: one taken down (taken), one up (told to Aiko).
    desk.ledger.urgent.update({held: None, offered: ["aiko"]})
    desk.clock.advance(4)
    return desk, [held, offered, waiting]


async def test_the_memory_read_back_from_json_decides_as_the_original(rooms: Make) -> None:
    first, chats = await busy_desk(rooms)
    state = as_json(first.ledger.state.memory)
    memory = DeskMemory.from_state(
        state, policy=RoutingPolicy(), customer_grace=GRACE, agent_grace=timedelta(0)
    )
    assert memory.to_state() == state
    second = await rooms(store=first.store, state=LocalDeskState(memory))
    second.clock.current = first.clock.now()

    assert second.ledger.assignee(chats[0]) == "aiko"
    assert second.ledger.previews == first.ledger.previews
    assert second.ledger.urgent == {chats[0]: None, chats[1]: ["aiko"]}
    assert second.ledger.remaining_seconds(chats[1]) == first.ledger.remaining_seconds(chats[1])
    assert second.ledger.router.waiting(second.clock.now()) == first.ledger.router.waiting(
        first.clock.now()
    )
    # Offers expire, a queue widens, SLA clocks warn: the same decisions on both.
    told: set[str] = set()
    for seconds in (7, 10, 15):
        first.clock.advance(seconds)
        second.clock.advance(seconds)
        decided = await tick(first)
        assert await tick(second) == decided
        assert as_json(second.ledger.state.memory) == as_json(first.ledger.state.memory)
        told |= {event for event, _ in decided}
    assert {"offer", "sla_warning"} <= told


def test_a_state_of_another_version_is_refused() -> None:
    memory = DeskMemory(Router(), CustomerPresence(GRACE), AgentPresence(GRACE))
    state = {**as_json(memory), "version": 0}
    with pytest.raises(ValueError, match="version"):
        DeskMemory.from_state(
            state, policy=RoutingPolicy(), customer_grace=GRACE, agent_grace=GRACE
        )


def test_the_desk_copy_of_an_account_leaves_the_password_out() -> None:
    memory = DeskMemory(Router(), CustomerPresence(GRACE), AgentPresence(GRACE))
    memory.accounts[AIKO.id] = AIKO
    state = as_json(memory)
    assert "password_hash" not in json.dumps(state)
    again = DeskMemory.from_state(
        state, policy=RoutingPolicy(), customer_grace=GRACE, agent_grace=GRACE
    )
    assert again.accounts["aiko"].name == "Aiko"
    assert again.accounts["aiko"].password_hash == ""


async def test_a_failed_unit_puts_the_memory_back(rooms: Make) -> None:
    desk, chats = await busy_desk(rooms)
    before = as_json(desk.ledger.state.memory)

    async def refused_unit() -> None:
        async with desk.ledger.change():
            desk.ledger.router.agent_offline("aiko", desk.clock.now())
            desk.ledger.previews[chats[0]] = "changed"
            desk.ledger.clocks.pop(chats[1])
            desk.ledger.agents.due_back("emma", by=desk.clock.now())
            desk.ledger.urgent[chats[2]] = ["emma"]
            desk.ledger.urgent.pop(chats[1])
            raise RuntimeError("the store refused")

    with pytest.raises(RuntimeError):
        await refused_unit()
    assert as_json(desk.ledger.state.memory) == before


async def test_the_desk_is_held_by_one_unit_at_a_time_and_again_by_the_same_task() -> None:
    state = LocalDeskState(DeskMemory(Router(), CustomerPresence(GRACE), AgentPresence(GRACE)))
    order: list[str] = []
    entered = asyncio.Event()

    async def first() -> None:
        async with state.hold():
            entered.set()
            async with state.hold():  # a use case that runs another (close -> abandon)
                await asyncio.sleep(0.01)
                order.append("first")

    async def second() -> None:
        await entered.wait()
        async with state.hold():
            order.append("second")

    await asyncio.gather(first(), second())
    assert order == ["first", "second"]
    assert await state.owns_tick() is True
