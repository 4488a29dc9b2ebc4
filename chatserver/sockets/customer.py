"""The `/customer` namespace: the chat widget's side of the protocol (docs/protocol.md)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from aiohttp import web

from chatserver.desk import Received, Started
from chatserver.events import MESSAGE, Event, MessagePosted
from chatserver.keys import METRICS, SERVICES, SETTINGS
from chatserver.language import parse_accept_language, text_direction
from chatserver.models import Conversation, DomainError
from chatserver.sockets.payloads import (
    BadRequest,
    ChooseLanguageRequest,
    ChooseSuggestionRequest,
    MessageRequest,
    StartRequest,
    error,
    ok,
)

log = logging.getLogger(__name__)
NAMESPACE = "/customer"
# Client -> server events this namespace answers; anything else gets `unknown_event`.
CLIENT_EVENTS = frozenset({"start", "message", "choose_language", "choose_suggestion"})


def conversation_room(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


class CustomerNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, app: web.Application) -> None:
        super().__init__(NAMESPACE)
        self.app = app

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid, *payload = args
        if event not in CLIENT_EVENTS:
            self._count_error("unknown", "unknown_event")
            return error("unknown_event", f"this namespace has no event {event!r}")
        if len(payload) > 1:
            self._count_error(event, "invalid_payload")
            return error("invalid_payload", "send a single payload object")
        handler = getattr(self, f"on_{event}")
        return await handler(sid, payload[0] if payload else None)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        hints = parse_accept_language(environ.get("HTTP_ACCEPT_LANGUAGE", ""))
        await self.save_session(sid, {"hints": hints, "conversation_id": None})
        self.app[METRICS].connections.labels(namespace=NAMESPACE).inc()

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.app[METRICS].connections.labels(namespace=NAMESPACE).dec()

    async def on_start(self, sid: str, data: Any = None) -> dict[str, Any]:
        return await self._guard("start", sid, data, self._start)

    async def on_message(self, sid: str, data: Any = None) -> dict[str, Any]:
        return await self._guard("message", sid, data, self._message)

    async def on_choose_language(self, sid: str, data: Any = None) -> dict[str, Any]:
        return await self._guard("choose_language", sid, data, self._choose_language)

    async def on_choose_suggestion(self, sid: str, data: Any = None) -> dict[str, Any]:
        return await self._guard("choose_suggestion", sid, data, self._choose_suggestion)

    async def _start(self, sid: str, data: Any) -> dict[str, Any]:
        request = StartRequest.parse(data)
        session = await self.get_session(sid)
        started: Started = await self.app[SERVICES].desk.start(
            token=request.token,
            last_seq=request.last_seq,
            hints=[*request.languages, *session["hints"]],
            choice=request.language,
        )
        conversation = started.conversation
        previous = session.get("conversation_id")
        if previous and previous != conversation.id:
            await self.leave_room(sid, conversation_room(previous))
        session["conversation_id"] = conversation.id
        await self.save_session(sid, session)
        await self.enter_room(sid, conversation_room(conversation.id))
        if not started.resumed:
            self.app[METRICS].conversations_started.labels(language=conversation.language).inc()
        return ok(
            conversation=_public(conversation),
            token=started.token,
            resumed=started.resumed,
            messages=[m.to_public() for m in started.messages if not m.internal],
        )

    async def _conversation_of(self, sid: str, event: str, claimed: str | None) -> str:
        """The conversation this socket started; a payload may name it but not another."""
        session = await self.get_session(sid)
        conversation_id: str | None = session.get("conversation_id")
        if conversation_id is None:
            raise BadRequest("not_started", f"send 'start' before '{event}'")
        if claimed is not None and claimed != conversation_id:
            raise BadRequest("unknown_conversation", "this socket is not in that conversation")
        return conversation_id

    async def _choose_language(self, sid: str, data: Any) -> dict[str, Any]:
        request = ChooseLanguageRequest.parse(data)
        conversation_id = await self._conversation_of(
            sid, "choose_language", request.conversation_id
        )
        chosen = await self.app[SERVICES].desk.choose_language(conversation_id, request.language)
        await self._publish(chosen.events, conversation_room(conversation_id))
        return ok(conversation=_public(chosen.conversation))

    async def _message(self, sid: str, data: Any) -> dict[str, Any]:
        settings = self.app[SETTINGS]
        request = MessageRequest.parse(data, max_chars=settings.max_message_chars)
        conversation_id = await self._conversation_of(sid, "message", request.conversation_id)
        received = await self.app[SERVICES].desk.receive(
            conversation_id, request.text, request.client_id
        )
        return await self._received(sid, conversation_id, received)

    async def _choose_suggestion(self, sid: str, data: Any) -> dict[str, Any]:
        request = ChooseSuggestionRequest.parse(data)
        conversation_id = await self._conversation_of(
            sid, "choose_suggestion", request.conversation_id
        )
        received = await self.app[SERVICES].desk.choose_suggestion(
            conversation_id, request.faq_id, request.client_id
        )
        return await self._received(sid, conversation_id, received)

    async def _received(self, sid: str, conversation_id: str, received: Received) -> dict[str, Any]:
        """Acknowledge a stored customer message; show it on the customer's other tabs."""
        room = conversation_room(conversation_id)
        if not received.duplicate:
            self.app[METRICS].messages.labels(author="customer").inc()
            # Other tabs of the same customer see what this one sent.
            await self.emit(MESSAGE, received.message.to_public(), room=room, skip_sid=sid)
        await self._publish(received.events, room)
        return ok(message=received.message.to_public(), duplicate=received.duplicate)

    async def _publish(self, events: list[Event], room: str) -> None:
        metrics = self.app[METRICS]
        for event in events:
            if isinstance(event, MessagePosted):
                message = event.message
                metrics.messages.labels(author=str(message.author)).inc()
                kind = str(message.meta.get("kind", "")) if message.meta else ""
                if kind:
                    metrics.bot_replies.labels(kind=kind, language=message.language or "").inc()
                await self.emit(MESSAGE, message.to_public(), room=room)

    async def _guard(
        self,
        event: str,
        sid: str,
        data: Any,
        handler: Callable[[str, Any], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
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
            log.exception("unhandled error in %s%s", NAMESPACE, event, extra={"sid": sid})
            self._count_error(event, "internal_error")
            return error("internal_error", "the server could not handle this event; try again")

    def _count_error(self, event: str, code: str) -> None:
        self.app[METRICS].errors.labels(event=event, code=code).inc()


def _public(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "status": str(conversation.status),
        "language": conversation.language,
        "language_confirmed": conversation.language_confirmed,
        "direction": text_direction(conversation.language),
        "last_seq": conversation.last_seq,
    }
