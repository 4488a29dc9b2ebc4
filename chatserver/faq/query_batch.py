"""Questions asked at the same moment are embedded in one pass of the sentence encoder.

Alone, a question's pass is mostly fixed cost: its sentence-level layers read ~6 MB of
weights for one row, and every step is a numpy call of its own. A busy desk has several
customers' questions waiting in the same turn of the event loop; one pass for up to
`QUERY_BATCH` of them costs about half as much a question (docs/benchmarks.md). A question
waits for the next turn of the loop at most: on a quiet desk it goes through alone, one
callback later.

Scheduling only (no I/O): the desk awaits `embed`, and the pass itself runs on the loop as
the single-question encoder did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np

from chatserver.faq.embedding import QUERY_BATCH, SentenceEncoder
from chatserver.faq.matcher import MatchResult, PendingMatch

__all__ = ["QueryBatches"]


class QueryBatches:
    """Per encoder, the questions waiting for the next pass."""

    def __init__(
        self,
        largest: int = QUERY_BATCH,
        observe: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        """`observe("encoder_pass", {"questions": n})` after each pass (the metrics')."""
        self.largest = largest
        self._observe = observe
        self._waiting: dict[
            int, tuple[SentenceEncoder, list[tuple[str, asyncio.Future[np.ndarray]]]]
        ] = {}

    async def finish(self, pending: PendingMatch) -> MatchResult:
        """`pending`'s result, its question embedded with the others of this turn."""
        if pending.embed is None or pending.encoder is None:
            return pending.finish()
        return pending.finish(await self.embed(pending.encoder, pending.embed))

    async def embed(self, encoder: SentenceEncoder, text: str) -> np.ndarray:
        loop = asyncio.get_running_loop()
        key = id(encoder)
        group = self._waiting.get(key)
        if group is None:
            group = self._waiting[key] = (encoder, [])
            loop.call_soon(self._pass, key)
        future: asyncio.Future[np.ndarray] = loop.create_future()
        group[1].append((text, future))
        return await future

    def _pass(self, key: int) -> None:
        encoder, waiting = self._waiting.pop(key)
        live = [(text, future) for text, future in waiting if not future.done()]  # not cancelled
        for start in range(0, len(live), self.largest):
            chunk = live[start : start + self.largest]
            if self._observe is not None:
                self._observe("encoder_pass", {"questions": len(chunk)})
            try:
                vectors = encoder.encode_queries([text for text, _ in chunk])
            except Exception as error:  # each waiting question fails as it would alone
                for _, future in chunk:
                    future.set_exception(error)
                continue
            for (_, future), vector in zip(chunk, vectors, strict=True):
                future.set_result(vector)
