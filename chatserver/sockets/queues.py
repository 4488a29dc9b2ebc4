"""Engine.IO's per-socket outgoing queue, at a seventh of its memory.

Engine.IO gives every socket an `asyncio.Queue` (`create_queue`, its documented hook for
the queue type). An asyncio queue holds four `collections.deque`s: its items, its waiting
getters, its waiting putters and the waiters of its "all done" event. An empty deque
allocates a block of 64 slots, about 0.6 KiB, so an idle socket's queue is about 3.2 KiB,
more than anything the desk itself keeps for a customer (`tracemalloc`, docs/benchmarks.md).

`LeanQueue` is the same `asyncio.Queue`, the same code and the same behaviour, keeping each
of those four in a list (`_Line`): 56 bytes when empty, 0.45 KiB for the whole queue. An
outgoing queue holds a few packets at a time, so taking the first of a list costs nothing
that shows.
"""

from __future__ import annotations

import asyncio
from typing import Any

import engineio


class _Line(list[Any]):
    """A first-in first-out line as a list: `popleft` is all asyncio asks of a deque here
    besides what a list has (append, remove, len, iteration)."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)


class LeanQueue(asyncio.Queue[Any]):
    """An unbounded `asyncio.Queue` whose items and waiters are kept in `_Line`s."""

    def __init__(self) -> None:
        super().__init__()
        self._getters: Any = _Line()
        self._putters: Any = _Line()
        self._finished._waiters = _Line()  # type: ignore[attr-defined]

    def _init(self, maxsize: int) -> None:
        self._queue: Any = _Line()


class EngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """Engine.IO's server, giving each socket a `LeanQueue`."""

    def create_queue(self, *args: Any, **kwargs: Any) -> asyncio.Queue[Any]:
        if args or kwargs:  # a bounded queue, or anything else asked for: asyncio's own
            return super().create_queue(*args, **kwargs)  # type: ignore[no-any-return]
        return LeanQueue()
