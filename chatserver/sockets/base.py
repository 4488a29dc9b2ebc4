"""What every namespace does the same way: one payload per event, an acknowledgement for
every event, error codes instead of stack traces, and publishing the use cases' output."""

from __future__ import annotations

import abc
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import socketio
from aiohttp import web
from socketio.exceptions import ConnectionRefusedError as SocketRefused

from chatserver.events import Audience, Notify
from chatserver.keys import LIMITS, METRICS, SETTINGS
from chatserver.limits import client_address, retry_after
from chatserver.models import DomainError
from chatserver.protocol import Ack, ErrorAck
from chatserver.sockets.payloads import BadRequest, error
from chatserver.sockets.queues import EngineServer
from chatserver.sockets.websocket import declining_compression

log = logging.getLogger(__name__)

CUSTOMER_NAMESPACE = "/customer"
AGENT_NAMESPACE = "/agent"
SUPERVISORS_ROOM = "supervisors"

Handler = Callable[[str, Any], Awaitable[Ack]]

# Which rate limit (chatserver.limits, settings CHATSERVER_RATE_*) each client event counts
# against, on both namespaces; any other event, known or not, counts as "events". A new
# event that stores or sends text belongs with "messages".
EVENT_KINDS = {
    "start": "starts",
    "message": "messages",
    "note": "messages",
    "choose_suggestion": "messages",
    "faq_feedback": "messages",
    "choose_language": "messages",
    "leave_message": "messages",
    "rate": "messages",
    "inbox_reply": "messages",
    "typing": "typing",
}
OTHER_EVENTS = "events"
CONNECTIONS = "connections"


# Names python-socketio gives its own connection events: a client that sends one as an
# event would otherwise run the connect or disconnect handler (a customer's conversation
# forgotten, an agent taken offline while still connected).
RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect"})


class JsonPacket(socketio.packet.Packet):  # type: ignore[misc]
    """A Socket.IO packet the desk sends: JSON only. Nothing the desk sends holds bytes
    (chatserver/protocol.py), so python-socketio's walk through every outgoing payload in
    search of them is skipped: about 2.5 % of the server's CPU a bot message. A client's
    binary event is still decoded, and refused by the payload checks like any other."""

    uses_binary_events = False


class SocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server, refusing client events with reserved names, keeping each
    connection's environ with shared keys (`interning_keys`) and its outgoing packets in a
    `LeanQueue` (chatserver/sockets/queues.py), and declining websocket compression
    (chatserver/sockets/websocket.py)."""

    def _engineio_server_class(self) -> type[EngineServer]:
        return EngineServer  # each socket's outgoing queue a `LeanQueue`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        drivers = declining_compression(self.eio._async)  # a copy: no other server touched
        if not inspect.iscoroutinefunction(drivers["translate_request"]):
            drivers = {**drivers, "translate_request": interning_keys(drivers["translate_request"])}
        self.eio._async = drivers

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: list[Any], namespace: str, id: Any
    ) -> None:
        if data and isinstance(data[0], str) and data[0] in RESERVED_EVENTS:
            log.warning("refused reserved event name %r from %s [%s]", data[0], sid, namespace)
            if id is not None:
                refusal = error("unknown_event", f"{data[0]!r} is not an event a client sends")
                await server._send_packet(
                    eio_sid,
                    self.packet_class(
                        socketio.packet.ACK, namespace=namespace, id=id, data=[refusal]
                    ),
                )
            return
        await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)


def interning_keys(translate: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """Engine.IO's `translate_request`, with the environ's keys interned.

    Engine.IO keeps a socket's environ for as long as the socket lives, and builds each
    header's key anew for every request ("HTTP_" + the name in capitals): about 60 bytes a
    header, for every open connection. Interned, every connection shares one copy of each
    key. Nothing is left out: the same keys and values, only the key objects are shared.
    """

    def translate_request(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {sys.intern(key): value for key, value in translate(*args, **kwargs).items()}

    return translate_request


CONVERSATION_ROOM_PREFIX = "conversation:"
AGENT_ROOM_PREFIX = "agent:"


def conversation_room(conversation_id: str) -> str:
    return f"{CONVERSATION_ROOM_PREFIX}{conversation_id}"


def agent_room(agent_id: str) -> str:
    return f"{AGENT_ROOM_PREFIX}{agent_id}"


def readers_room(language: str) -> str:
    """/customer: the widgets whose conversation is in this language (announcements)."""
    return f"lang:{language}"


def consoles_room(language: str) -> str:
    """/agent: the consoles whose agent's first language this is (announcements)."""
    return f"consoles:{language}"


class Namespace(socketio.AsyncNamespace, abc.ABC):  # type: ignore[misc]
    """Dispatches client events to `handlers()`; each is acknowledged with ok or an error."""

    def __init__(self, namespace: str, app: web.Application) -> None:
        super().__init__(namespace)
        self.app = app
        self._addresses: dict[str, str] = {}  # socket id -> client address (rate limits)

    @abc.abstractmethod
    def handlers(self) -> dict[str, Handler]:
        """The client events this namespace answers, by name; others get `unknown_event`."""

    async def trigger_event(self, event: Any, *args: Any) -> Any:
        if event == "connect":
            return await self._connect(*args)
        if event == "disconnect":
            try:
                return await super().trigger_event(event, *args)
            finally:
                self._addresses.pop(args[0], None)
                self.app[LIMITS].forget_connection(args[0])
        sid, *payload = args
        if not isinstance(event, str):  # JSON allows [42, ...] or [["x"], ...] as a packet
            self._count_error("unknown", "invalid_payload")
            return error("invalid_payload", "the event name must be a string")
        refused = await self.admit(sid, event)
        if refused is not None:
            self._count_error(event, refused["error"]["code"])
            return refused
        kind = EVENT_KINDS.get(event, OTHER_EVENTS)
        address = self._addresses.get(sid, "unknown")
        wait = self.app[LIMITS].check(kind, connection=sid, address=address)
        if wait > 0:
            # Refused before the payload is read: nothing is stored, nobody answers.
            self._count_error(event, "rate_limited")
            return rate_limited(f"too many {kind} from this connection or address", wait)
        handler = self.handlers().get(event)
        if handler is None:
            self._count_error("unknown", "unknown_event")
            return error("unknown_event", f"this namespace has no event {event!r}")
        if len(payload) > 1:
            self._count_error(event, "invalid_payload")
            return error("invalid_payload", "send a single payload object")
        return await self._guard(event, sid, payload[0] if payload else None, handler)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> Any:
        """Count the connection against its address's limit before the namespace sees it."""
        address = self.client_address(environ)
        wait = self.app[LIMITS].check(CONNECTIONS, connection=None, address=address)
        if wait > 0:
            self._count_error("connect", "rate_limited")
            refusal = rate_limited("too many connections from this address", wait)["error"]
            raise SocketRefused(refusal["message"], refusal)
        self._addresses[sid] = address
        try:
            return await super().trigger_event("connect", sid, environ, auth)
        except BaseException:
            self._addresses.pop(sid, None)
            raise

    def client_address(self, environ: dict[str, Any]) -> str:
        request = environ.get("aiohttp.request")
        peer = request.remote if isinstance(request, web.BaseRequest) else None
        return client_address(
            peer, environ.get("HTTP_X_FORWARDED_FOR"), self.app[SETTINGS].trusted_proxies
        )

    async def admit(self, sid: str, event: str) -> ErrorAck | None:
        """None to let the event through, or the error acknowledgement that refuses it
        (a namespace whose clients log in checks their session here)."""
        return None

    async def _guard(self, event: str, sid: str, data: Any, handler: Handler) -> Ack:
        """Turn every failure into an error acknowledgement; never leak a stack trace."""
        try:
            return await handler(sid, data)
        except BadRequest as exc:
            self._count_error(event, exc.code)
            return error(exc.code, exc.message)
        except DomainError as exc:
            self._count_error(event, exc.code)
            return error(exc.code, str(exc))
        except Exception as exc:
            if not self.server.manager.is_connected(sid, self.namespace):
                # The client left while its event was handled (a tab closed mid-send): what
                # was stored stays (a resend finds it), and nobody is left to answer.
                log.info(
                    "%s %s: the client left before its answer (%s: %s)",
                    self.namespace,
                    event,
                    type(exc).__name__,
                    exc,
                    extra={"sid": sid},
                )
                return error("internal_error", "the connection closed before the answer")
            log.exception("unhandled error in %s %s", self.namespace, event, extra={"sid": sid})
            self._count_error(event, "internal_error")
            return error("internal_error", "the server could not handle this event; try again")

    def _count_error(self, event: str, code: str) -> None:
        self.app[METRICS].errors.labels(event=event, code=code).inc()

    async def publish(self, notifications: Iterable[Notify]) -> None:
        await publish(self.server, self.app, notifications)


def rate_limited(message: str, wait: float) -> ErrorAck:
    """The refusal of an event over its rate limit; `retry_after` in seconds."""
    refusal = error("rate_limited", message)
    refusal["error"]["retry_after"] = retry_after(wait)
    return refusal


async def publish(server: Any, app: web.Application, notifications: Iterable[Notify]) -> None:
    """Deliver what the use cases returned, each to its audience's room. One that cannot be
    sent (a payload that does not serialise, say) is logged, counted and skipped: the others
    still go out."""
    for notify in notifications:
        if notify.audience is Audience.CUSTOMER:
            room, namespace = conversation_room(notify.target), CUSTOMER_NAMESPACE
        elif notify.audience is Audience.AGENT:
            if not notify.target:
                continue  # nobody has the conversation yet
            room, namespace = agent_room(notify.target), AGENT_NAMESPACE
        elif notify.audience is Audience.CONSOLE:
            room, namespace = notify.target, AGENT_NAMESPACE  # a socket is its own room
        elif notify.audience is Audience.READERS:
            room, namespace = readers_room(notify.target), CUSTOMER_NAMESPACE
        elif notify.audience is Audience.CUSTOMER_SOCKET:
            room, namespace = notify.target, CUSTOMER_NAMESPACE
        elif notify.audience is Audience.CONSOLES:
            room, namespace = consoles_room(notify.target), AGENT_NAMESPACE
        else:
            room, namespace = SUPERVISORS_ROOM, AGENT_NAMESPACE
        try:
            await server.emit(
                notify.event,
                notify.payload,
                room=room,
                skip_sid=notify.skip,
                namespace=namespace,
            )
        except Exception:
            log.exception("could not send %s to %s; the others are sent", notify.event, room)
            app[METRICS].isolated_failures.labels(stage="publish").inc()
