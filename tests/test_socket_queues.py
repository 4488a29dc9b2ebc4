"""Engine.IO's per-socket queue (chatserver/sockets/queues.py): asyncio's queue behaviour,
in a fraction of its memory."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from chatserver.sockets.queues import EngineServer, LeanQueue


async def test_items_come_out_in_order_and_a_waiting_get_is_woken_by_a_put() -> None:
    queue = LeanQueue()
    queue.put_nowait("a")
    await queue.put("b")
    assert queue.qsize() == 2
    assert [queue.get_nowait(), await queue.get()] == ["a", "b"]
    assert queue.empty()
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    await queue.put("c")
    assert await asyncio.wait_for(waiting, 1) == "c"


async def test_a_cancelled_get_leaves_the_line_and_the_next_one_gets_the_item() -> None:
    queue = LeanQueue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    queue.put_nowait("x")
    assert await asyncio.wait_for(second, 1) == "x"
    assert first.cancelled()
    assert queue.empty()


async def test_join_waits_until_every_item_is_done() -> None:
    queue = LeanQueue()
    for item in range(3):
        queue.put_nowait(item)
    joined = asyncio.create_task(queue.join())
    for _ in range(3):
        queue.get_nowait()
        await asyncio.sleep(0)
        assert not joined.done()
        queue.task_done()
    await asyncio.wait_for(joined, 1)
    with pytest.raises(ValueError, match="too many times"):
        queue.task_done()


def test_an_idle_queue_takes_a_fraction_of_asyncios() -> None:
    def size(make: type[asyncio.Queue]) -> float:  # type: ignore[type-arg]
        tracemalloc.start()
        queues = [make() for _ in range(1000)]
        used = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del queues
        return used / 1000

    assert size(LeanQueue) < size(asyncio.Queue) / 4


def test_the_engine_gives_sockets_a_lean_queue_and_anything_else_asyncios() -> None:
    engine = EngineServer(async_mode="aiohttp")
    assert isinstance(engine.create_queue(), LeanQueue)
    bounded = engine.create_queue(5)
    assert type(bounded) is asyncio.Queue
    assert bounded.maxsize == 5
