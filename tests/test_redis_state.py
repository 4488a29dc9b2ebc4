"""The desk-state port on the real Redis (chatserver/redis_state.py): two states over one
prefix stand for two processes sharing a desk. What one unit changes the other's next unit
sees; units of both never interleave (no lost update); the tick's lease has one holder and
moves when it goes; a desk Redis lost is rebuilt once, and the other process hears of the
new epoch; sockets of a process that stopped beating are found."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from chatserver.desk_state import DeskMemory
from chatserver.presence import (
    AgentPresence,
    CustomerPresence,
    dead_sockets,
    node_socket,
    nodes_of,
)
from chatserver.redis_state import RedisDeskState
from chatserver.routing import Router
from tests.services import require_redis

GRACE = timedelta(seconds=60)


def memory() -> DeskMemory:
    return DeskMemory(Router(), CustomerPresence(GRACE), AgentPresence(GRACE))


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(require_redis())
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test-state-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def pair(redis: Redis, prefix: str) -> AsyncIterator[tuple[RedisDeskState, RedisDeskState]]:
    states = tuple(
        RedisDeskState.sharing(redis, memory(), prefix=prefix, node=name, lease_seconds=0.5)
        for name in ("one", "two")
    )
    yield states[0], states[1]
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)


async def test_what_one_process_changes_the_other_sees_at_its_next_unit(pair) -> None:
    one, two = pair
    async with one.hold() as shared:
        shared.previews["c1"] = "hello"
    assert "c1" not in two.memory.previews  # outside a unit: its own copy
    async with two.hold() as shared:
        assert shared.previews == {"c1": "hello"}
        shared.previews["c2"] = "again"
    async with one.hold() as shared:
        assert shared.previews == {"c1": "hello", "c2": "again"}


async def test_units_of_two_processes_never_interleave(pair) -> None:
    one, two = pair
    inside = 0
    overlaps = 0

    async def add(state: RedisDeskState, n: int) -> None:
        nonlocal inside, overlaps
        async with state.hold() as shared:
            inside += 1
            overlaps += inside > 1
            count = len(shared.previews)
            await asyncio.sleep(0.001)  # a store write in the middle of the unit
            shared.previews[f"c{n}"] = str(count)
            inside -= 1

    await asyncio.gather(*(add(one if n % 2 else two, n) for n in range(40)))
    async with one.hold() as shared:
        assert len(shared.previews) == 40  # no update lost
        assert sorted(int(v) for v in shared.previews.values()) == list(range(40))
    assert overlaps == 0


async def test_a_failed_unit_shares_nothing(pair) -> None:
    one, two = pair
    async with one.hold() as shared:
        shared.previews["c1"] = "kept"

    async def refused() -> None:
        async with one.hold() as shared:
            shared.previews["c2"] = "never shared"  # and not rolled back here
            raise RuntimeError("the store refused")

    with pytest.raises(RuntimeError):
        await refused()
    async with two.hold() as shared:
        assert shared.previews == {"c1": "kept"}
    async with one.hold() as shared:  # its own copy is read again
        assert shared.previews == {"c1": "kept"}


async def test_the_tick_has_one_owner_and_moves_when_it_goes(pair) -> None:
    one, two = pair
    assert await one.owns_tick() is True
    assert await two.owns_tick() is False
    assert await one.owns_tick() is True  # renewed by its holder
    assert await one.tick_owner() == "one"
    await one.leave()  # a stop hands it over at once
    assert await two.owns_tick() is True
    await asyncio.sleep(0.7)  # a holder that stops renewing loses it with the lease
    assert await one.owns_tick() is True
    assert await two.owns_tick() is False


async def test_a_lost_desk_is_rebuilt_once_and_the_other_process_hears_of_it(
    pair, redis: Redis, prefix: str
) -> None:
    one, two = pair
    rebuilt: list[str] = []
    heard: list[str] = []
    for state in pair:

        async def rebuild(name: str = state.node) -> None:
            rebuilt.append(name)
            state_memory = (one if name == "one" else two).memory
            state_memory.previews["restored"] = "from the store"

        async def announce(name: str = state.node) -> None:
            heard.append(name)

        state.rebuild, state.on_new_epoch = rebuild, announce
    async with one.hold():
        pass
    async with two.hold():
        pass
    assert rebuilt == ["one"]
    assert heard == []  # the first start: nothing to announce

    await redis.delete(f"{prefix}:state", f"{prefix}:version")  # Redis restarted, empty
    await two.refresh_if_moved()
    await one.refresh_if_moved()
    await asyncio.sleep(0.05)  # announcements run in tasks of their own
    assert rebuilt == ["one", "two"]
    assert sorted(heard) == ["one", "two"]
    assert one.memory.previews == {"restored": "from the store"}


async def test_the_sockets_of_a_process_that_stopped_beating_are_found(
    redis: Redis, prefix: str
) -> None:
    one, two = (
        RedisDeskState.sharing(redis, memory(), prefix=prefix, node=name, heartbeat_seconds=0.1)
        for name in ("one", "two")
    )
    await one.beat()
    await two.beat()
    named = {"one", "two", "gone"}
    # Missing once is not dead: the key may only have gone with a Redis restart.
    assert await one.dead_nodes(named) == set()
    await asyncio.sleep(1.05)  # a whole heartbeat's life (0.3 s), and past the lookup's cache
    await two.beat()
    assert await one.dead_nodes(named) == {"gone"}
    sockets = {
        "c1": {node_socket("one", "s1"), node_socket("two", "s2")},
        "c2": {node_socket("gone", "s3")},
    }
    assert dead_sockets(sockets, {"gone"}) == [("c2", "gone/s3")]
    assert nodes_of(sockets) == {"one", "two", "gone"}
    assert dead_sockets({"c3": {"s4"}}, {"gone"}) == []  # a single process names no node
