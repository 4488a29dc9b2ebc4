"""Process-level tuning and the two health signals it is judged by: loop lag and GC pauses.

Measured on python-socketio's echo server here: with default GC thresholds, p99 latency
at 1,000 clients spiked to 50-200 ms and ~1 s stalls appeared while 10,000 clients
connected; with a larger first generation and gc.freeze() after start-up it fell to ~3 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from prometheus_client import Histogram
from threadpoolctl import threadpool_info, threadpool_limits

log = logging.getLogger(__name__)

# How often the loop-lag probe wakes: often enough to see a 10 ms stall, cheap enough to ignore.
LAG_PROBE_INTERVAL = 0.25


def install_uvloop(enabled: bool) -> bool:
    """Make uvloop the event loop policy if asked for and installed; report whether it is."""
    if not enabled:
        return False
    try:
        import uvloop
    except ImportError:
        log.info("uvloop is not installed; using asyncio's event loop")
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def tune_gc(threshold: tuple[int, ...]) -> None:
    gc.set_threshold(*threshold)


# The BLAS limit of this process, kept for its lifetime (see `limit_blas_threads`).
_blas_limit: threadpool_limits | None = None


def limit_blas_threads(threads: int = 1) -> list[dict[str, Any]]:
    """Let every BLAS library loaded in this process use `threads` threads, for as long as
    the process lives; returns the libraries as threadpoolctl sees them afterwards.

    The sentence encoder's matrix products are small (one sentence at a time): OpenBLAS's
    second thread only spins and doubled the server's CPU per message. Call it once the
    libraries are loaded (numpy's and scipy's OpenBLAS come with the FAQ matcher): one
    loaded later would keep its default, which `chatserver_blas_threads` on /metrics shows.
    """
    global _blas_limit
    _blas_limit = threadpool_limits(limits=threads, user_api="blas")
    return blas_libraries()


def blas_libraries() -> list[dict[str, Any]]:
    """The BLAS libraries loaded in this process, with their current thread counts."""
    return [info for info in threadpool_info() if info.get("user_api") == "blas"]


def release_free_memory() -> None:
    """Hand glibc's free heap pages back to the OS (Linux; a no-op elsewhere).

    A FAQ build frees hundreds of MB of temporaries in the executor thread's malloc arena,
    which glibc keeps: after start-up, `malloc_trim` lowered the served desk's RSS by ~60 MiB.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def freeze_gc() -> None:
    """Move everything alive after start-up (modules, FAQ, models) out of the GC's reach."""
    gc.collect()
    gc.freeze()


class GcPauseMonitor:
    """Times every collection through gc.callbacks; install once per application."""

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif phase == "stop" and self._started is not None:
            elapsed = time.perf_counter() - self._started
            self._histogram.labels(generation=str(info.get("generation", "?"))).observe(elapsed)
            self._started = None

    @contextlib.contextmanager
    def installed(self) -> Any:
        gc.callbacks.append(self)
        try:
            yield self
        finally:
            with contextlib.suppress(ValueError):
                gc.callbacks.remove(self)


async def watch_loop_lag(histogram: Histogram, interval: float = LAG_PROBE_INTERVAL) -> None:
    """Sleep `interval` over and over; how much later than asked we wake is the loop's lag."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(interval)
        histogram.observe(max(0.0, loop.time() - started - interval))


@contextlib.asynccontextmanager
async def running(work: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    """A background task for as long as the context lasts; cancelled and awaited at its end."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def monitoring(lag: Histogram, gc_pause: Histogram) -> AsyncIterator[None]:
    async with running(watch_loop_lag(lag), "loop-lag-probe"):
        with GcPauseMonitor(gc_pause).installed():
            yield
