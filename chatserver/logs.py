"""Logging set-up: readable text for people, one JSON object a line for log collectors."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-request access lines from aiohttp are noise at info level.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


# The loggers the transport libraries report failures on: engine.io and socket.io when a
# packet cannot be decoded or dispatched, aiohttp when a websocket handler raised or a
# request could not be parsed.
TRANSPORT_LOGGERS = ("engineio.server", "socketio.server", "aiohttp.server")
_LIBRARIES = ("engineio", "socketio")
# Our stand-ins for parts of those libraries (the websocket driver, declining compression):
# a failure that passes through one is still the library's.
_LIBRARY_PARTS = frozenset({"chatserver.sockets.websocket"})
_MAX_DETAIL_CHARS = 160


class MalformedTrafficFilter(logging.Filter):
    """One line, at warning level, instead of a traceback when client traffic failed inside
    engine.io or socket.io (garbage on a websocket, a broken polling body, bad JSON), or
    aiohttp could not parse a request (bytes that are not a URL).

    Anyone can send such packets without logging in, so a traceback each would let them
    flood the log. A failure that went through the libraries into our own code (a handler's
    bug) keeps its traceback: that one is ours to fix.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        if not exc_info or exc_info[1] is None:
            return True
        exc = exc_info[1]
        if not isinstance(exc, HttpProcessingError) and not _raised_in_libraries(exc_info[2]):
            return True
        detail = repr(str(exc)[:_MAX_DETAIL_CHARS])  # the client's bytes, escaped
        record.msg = (
            f"malformed client traffic: {record.getMessage()}: {type(exc).__name__} {detail}"
        )
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _raised_in_libraries(tb: TracebackType | None) -> bool:
    """Whether the traceback enters engine.io/socket.io and never comes back to chatserver."""
    inside = False
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        top = module.split(".", 1)[0]
        if top in _LIBRARIES or module in _LIBRARY_PARTS:
            inside = True
        elif inside and top == "chatserver":
            return False
        tb = tb.tb_next
    return inside


def quiet_transport_tracebacks() -> None:
    """Install MalformedTrafficFilter on the transport libraries' loggers (once)."""
    for name in TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MalformedTrafficFilter) for f in logger.filters):
            logger.addFilter(MalformedTrafficFilter())
