"""Keep the bot's FAQ current: rebuild when the files change (or on SIGHUP) and swap it in.

Building runs in a worker thread, the training itself in a child process whose build is kept
on disk and mapped (`chatserver.faq.build`); the swap is one assignment on the event loop, so
chats in progress never see a half-built FAQ. An invalid edit keeps the FAQ that was serving
and is logged with its file, entry and field.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from pathlib import Path

from chatserver.bot import Bot
from chatserver.faq import FaqError, FaqMatcher, LoadResult
from chatserver.faq.build import built_matcher
from chatserver.runtime import release_free_memory

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def faq_fingerprint(directory: Path) -> Fingerprint:
    """What identifies a FAQ directory's content cheaply: names, sizes and change times."""
    if not directory.is_dir():
        return ()
    return tuple(
        (path.name, stat.st_size, stat.st_mtime_ns)
        for path in sorted(directory.glob("*.y*ml"))
        for stat in (path.stat(),)
    )


# Built matchers, most recent last: one per directory and options, `MATCHERS_KEPT` at most.
MATCHERS_KEPT = 4
_matchers: OrderedDict[tuple[Path, bool, bool], tuple[Fingerprint, LoadResult, FaqMatcher]] = (
    OrderedDict()
)
_matchers_lock = threading.Lock()


def load_matcher(
    directory: Path, fingerprint: Fingerprint, skip_invalid: bool, embeddings: bool = True
) -> tuple[LoadResult, FaqMatcher]:
    """Load once per FAQ content, keyed by `fingerprint`: validated here, trained in a child
    process (seconds for a large FAQ) unless a build of the same content is on disk, mapped.

    A new fingerprint replaces its directory's matcher in the cache: kept (an LRU cache of
    four did), each reload held on to the previous FAQ's, ~200 MiB with embeddings.
    """
    key = (directory, skip_invalid, embeddings)
    with _matchers_lock:
        cached = _matchers.get(key)
        if cached is not None and cached[0] == fingerprint:
            _matchers.move_to_end(key)
            return cached[1], cached[2]
        _matchers.pop(key, None)
    loaded, matcher = built_matcher(directory, skip_invalid=skip_invalid, embeddings=embeddings)
    with _matchers_lock:
        _matchers[key] = (fingerprint, loaded, matcher)
        _matchers.move_to_end(key)
        while len(_matchers) > MATCHERS_KEPT:
            _matchers.popitem(last=False)
    return loaded, matcher


class FaqReloader:
    def __init__(
        self,
        bot: Bot,
        directory: Path,
        *,
        skip_invalid: bool,
        loaded: Fingerprint,
        embeddings: bool = True,
    ):
        self.bot = bot
        self.directory = directory
        self.skip_invalid = skip_invalid
        self.embeddings = embeddings
        self.fingerprint = loaded
        self._lock = asyncio.Lock()

    async def reload(self, *, force: bool = False) -> bool:
        """Rebuild if the files changed (always with `force`); True if a new FAQ serves."""
        async with self._lock:
            fingerprint = faq_fingerprint(self.directory)
            if fingerprint == self.fingerprint and not force:
                return False
            loop = asyncio.get_running_loop()
            try:
                loaded, matcher = await loop.run_in_executor(
                    None,
                    load_matcher,
                    self.directory,
                    fingerprint,
                    self.skip_invalid,
                    self.embeddings,
                )
            except FaqError as exc:
                self.fingerprint = fingerprint  # do not retry the same broken files every tick
                log.error("FAQ not reloaded, the previous one still serves: %s", exc)
                return False
            for problem in loaded.problems:
                log.warning("FAQ entry skipped: %s", problem)
            self.bot.matcher = matcher
            self.fingerprint = fingerprint
            del matcher
            release_free_memory()  # the build's temporaries, and the previous FAQ's matcher
            log.info(
                "FAQ reloaded: %d entries in %s",
                len(loaded.faq.ids),
                ", ".join(loaded.faq.languages),
            )
            return True

    async def watch(self, interval: float) -> None:
        """Poll the directory; cheap (a stat per file) and needs no platform file events."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload()
            except Exception:
                log.exception("FAQ reload failed; the previous FAQ still serves")
