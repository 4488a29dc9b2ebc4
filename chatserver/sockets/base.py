"""What every namespace does the same way: one payload per event, an acknowledgement for
every event, error codes instead of stack traces, and publishing the use cases' output."""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import socketio
from aiohttp import web

from chatserver.events import Audience, Notify
from chatserver.keys import METRICS
from chatserver.models import DomainError
from chatserver.sockets.payloads import BadRequest, error

log = logging.getLogger(__name__)

CUSTOMER_NAMESPACE = "/customer"
AGENT_NAMESPACE = "/agent"
SUPERVISORS_ROOM = "supervisors"

Handler = Callable[[str, Any], Awaitable[dict[str, Any]]]


def conversation_room(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def agent_room(agent_id: str) -> str:
    return f"agent:{agent_id}"


class Namespace(socketio.AsyncNamespace, abc.ABC):  # type: ignore[misc]
    """Dispatches client events to `handlers()`; each is acknowledged with ok or an error."""

    def __init__(self, namespace: str, app: web.Application) -> None:
        super().__init__(namespace)
        self.app = app

    @abc.abstractmethod
    def handlers(self) -> dict[str, Handler]:
        """The client events this namespace answers, by name; others get `unknown_event`."""

    async def trigger_event(self, event: Any, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid, *payload = args
        if not isinstance(event, str):  # JSON allows [42, ...] or [["x"], ...] as a packet
            self._count_error("unknown", "invalid_payload")
            return error("invalid_payload", "the event name must be a string")
        handler = self.handlers().get(event)
        if handler is None:
            self._count_error("unknown", "unknown_event")
            return error("unknown_event", f"this namespace has no event {event!r}")
        if len(payload) > 1:
            self._count_error(event, "invalid_payload")
            return error("invalid_payload", "send a single payload object")
        return await self._guard(event, sid, payload[0] if payload else None, handler)

    async def _guard(self, event: str, sid: str, data: Any, handler: Handler) -> dict[str, Any]:
        """Turn every failure into an error acknowledgement; never leak a stack trace."""
        try:
            return await handler(sid, data)
        except BadRequest as exc:
            self._count_error(event, exc.code)
            return error(exc.code, exc.message)
        except DomainError as exc:
            self._count_error(event, exc.code)
            return error(exc.code, str(exc))
        except Exception:
            log.exception("unhandled error in %s %s", self.namespace, event, extra={"sid": sid})
            self._count_error(event, "internal_error")
            return error("internal_error", "the server could not handle this event; try again")

    def _count_error(self, event: str, code: str) -> None:
        self.app[METRICS].errors.labels(event=event, code=code).inc()

    async def publish(self, notifications: Iterable[Notify]) -> None:
        await publish(self.server, self.app, notifications)


async def publish(server: Any, app: web.Application, notifications: Iterable[Notify]) -> None:
    """Deliver what the use cases returned, each to its audience's room."""
    for notify in notifications:
        if notify.audience is Audience.CUSTOMER:
            room, namespace = conversation_room(notify.target), CUSTOMER_NAMESPACE
        elif notify.audience is Audience.AGENT:
            if not notify.target:
                continue  # nobody has the conversation yet
            room, namespace = agent_room(notify.target), AGENT_NAMESPACE
        else:
            room, namespace = SUPERVISORS_ROOM, AGENT_NAMESPACE
        await server.emit(notify.event, notify.payload, room=room, namespace=namespace)
