"""The server's cache directory: what start-up computes from read-only inputs, kept on disk.

`CHATSERVER_CACHE_DIR` (default `$XDG_CACHE_HOME/chatserver`, `off` to disable). It holds
the FAQ's trained builds (`chatserver.faq.build`), phrasing embeddings and the encoder's
piece table (`chatserver.faq.embedding`) and the language detector's word table
(`chatserver.language.statistical`). Everything in it can be deleted at any time; it is
computed again on the next start.

`load_plain`/`store_plain` keep plain data (dicts, lists, tuples, strings, numbers) in
pickle's format, which loads much faster than it parses as JSON. Loading refuses every
global name a pickle could refer to, so a file in the cache can only ever become plain
data, never run code, whoever wrote it. Writes go to a temporary file renamed into place,
so a reader sees a whole file or none, and two processes writing the same entry at once
both leave a good one.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DISABLED = {"off", "0", "false", "no"}


def cache_directory() -> Path | None:
    """Where to keep computed files, or None when the cache is off."""
    raw = os.environ.get("CHATSERVER_CACHE_DIR", "").strip()
    if raw.lower() in DISABLED:
        return None
    if raw:
        return Path(raw).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "chatserver"


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a cache file may hold plain data only, not {module}.{name}")


def load_plain(name: str) -> Any | None:
    """The plain data stored under `name`, or None (no cache, no such file, or a bad one)."""
    directory = cache_directory()
    if directory is None:
        return None
    path = directory / name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read the cache file %s: %s", path, exc)
        return None
    try:
        return _PlainUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # any damage: the caller computes it again and rewrites it
        log.warning("ignoring the damaged cache file %s: %s", path, exc)
        return None


def store_plain(name: str, value: Any) -> None:
    """Keep `value` under `name` (best effort: a cache that cannot be written is logged)."""
    directory = cache_directory()
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, directory / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("cannot write the cache file %s: %s", directory / name, exc)
