"""Failure isolation: a loop over many items (conversations, agents, notifications) goes
on when one of them fails.

The failure is counted (the caller's `count`, a Prometheus counter by stage) and logged
with the item's id: with its traceback the first time the item fails, and at debug level
while it keeps failing (a clock that cannot be saved is retried every tick), until it
works again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

# Items still failing are remembered up to this many (then forgotten and logged afresh).
MAX_REMEMBERED = 10_000


class Isolation:
    def __init__(self, count: Callable[[str], None], log: logging.Logger) -> None:
        self._count = count
        self._log = log
        self._failing: set[tuple[str, str]] = set()

    @contextlib.contextmanager
    def item(self, stage: str, item: str) -> Iterator[None]:
        """Run the block for one item; an exception in it is reported and swallowed."""
        key = (stage, item)
        try:
            yield
        except Exception:
            self._count(stage)
            if key in self._failing:
                self._log.debug("%s still fails for %s", stage, item, exc_info=True)
            else:
                if len(self._failing) >= MAX_REMEMBERED:
                    self._failing.clear()
                self._failing.add(key)
                self._log.exception("%s failed for %s; skipped, the others go on", stage, item)
        else:
            if key in self._failing:
                self._failing.discard(key)
                self._log.info("%s works again for %s", stage, item)
