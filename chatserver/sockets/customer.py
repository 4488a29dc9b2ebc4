"""The `/customer` namespace: the chat widget's side of the protocol (docs/protocol.md).

Validates each event, runs its use case, publishes the notifications it returns and
acknowledges with the protocol's payloads (chatserver/protocol.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from aiohttp import web

from chatserver import protocol
from chatserver.desk import FeedbackGiven, Received, Started
from chatserver.events import Notify
from chatserver.keys import METRICS, SERVICES, SETTINGS
from chatserver.language import parse_accept_language
from chatserver.models import Message
from chatserver.protocol import (
    ChooseLanguageAck,
    CustomerRequest,
    FaqFeedbackAck,
    LeaveMessageAck,
    MessageAck,
    OkAck,
    RateAck,
    SeenAck,
    ServerEvent,
    StartAck,
)
from chatserver.sockets.base import (
    CUSTOMER_NAMESPACE,
    Handler,
    Namespace,
    conversation_room,
    readers_room,
)
from chatserver.sockets.payloads import (
    BadRequest,
    ChooseLanguageRequest,
    ChooseSuggestionRequest,
    ConversationRequest,
    FaqFeedbackRequest,
    LeaveMessageRequest,
    MessageRequest,
    RateRequest,
    SeenRequest,
    StartRequest,
    TypingRequest,
)

log = logging.getLogger(__name__)
NAMESPACE = CUSTOMER_NAMESPACE


class CustomerNamespace(Namespace):
    def __init__(self, app: web.Application) -> None:
        super().__init__(NAMESPACE, app)

    def handlers(self) -> dict[str, Handler]:
        return {
            CustomerRequest.START: self._start,
            CustomerRequest.MESSAGE: self._message,
            CustomerRequest.CHOOSE_LANGUAGE: self._choose_language,
            CustomerRequest.CHOOSE_SUGGESTION: self._choose_suggestion,
            CustomerRequest.FAQ_FEEDBACK: self._faq_feedback,
            CustomerRequest.REQUEST_AGENT: self._request_agent,
            CustomerRequest.LEAVE_MESSAGE: self._leave_message,
            CustomerRequest.END: self._end,
            CustomerRequest.RATE: self._rate,
            CustomerRequest.TYPING: self._typing,
            CustomerRequest.SEEN: self._seen,
        }

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        hints = parse_accept_language(environ.get("HTTP_ACCEPT_LANGUAGE", ""))
        await self.save_session(sid, {"hints": hints, "conversation_id": None})
        self.app[METRICS].connections.labels(namespace=NAMESPACE).inc()

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.app[METRICS].connections.labels(namespace=NAMESPACE).dec()
        conversation_id = (await self.get_session(sid)).get("conversation_id")
        if conversation_id:  # the last tab of a conversation to go starts its grace
            await self.app[SERVICES].dispatcher.customer_left(conversation_id, sid)

    async def _start(self, sid: str, data: Any) -> StartAck:
        request = StartRequest.parse(data)
        session = await self.get_session(sid)
        started: Started = await self.app[SERVICES].desk.start(
            token=request.token,
            last_seq=request.last_seq,
            identity=request.identity,
            hints=[*request.languages, *session["hints"]],
            choice=request.language,
        )
        conversation = started.conversation
        dispatcher = self.app[SERVICES].dispatcher
        previous = session.get("conversation_id")
        if previous and previous != conversation.id:
            await self.leave_room(sid, conversation_room(previous))
            await dispatcher.customer_left(previous, sid)
        session["conversation_id"] = conversation.id
        await self.save_session(sid, session)
        await self.enter_room(sid, conversation_room(conversation.id))
        await dispatcher.customer_joined(conversation.id, sid)
        await self.publish(started.notifications)
        await self._read_in(sid, conversation.language, always=True)
        if not started.resumed:
            self.app[METRICS].conversations_started.labels(language=conversation.language).inc()
        return protocol.start_ack(
            protocol.conversation(conversation),
            token=started.token,
            resumed=started.resumed,
            messages=[protocol.message(m) for m in started.messages if not m.internal],
            availability=dispatcher.availability(conversation.language),
        )

    async def _conversation_of(self, sid: str, event: CustomerRequest, claimed: str | None) -> str:
        """The conversation this socket started; a payload may name it but not another."""
        session = await self.get_session(sid)
        conversation_id: str | None = session.get("conversation_id")
        if conversation_id is None:
            raise BadRequest("not_started", f"send '{CustomerRequest.START}' before '{event}'")
        if claimed is not None and claimed != conversation_id:
            raise BadRequest("unknown_conversation", "this socket is not in that conversation")
        return conversation_id

    async def _choose_language(self, sid: str, data: Any) -> ChooseLanguageAck:
        request = ChooseLanguageRequest.parse(data)
        conversation_id = await self._conversation_of(
            sid, CustomerRequest.CHOOSE_LANGUAGE, request.conversation_id
        )
        chosen = await self.app[SERVICES].desk.choose_language(conversation_id, request.language)
        self._count(chosen.replies)
        await self.publish(chosen.notifications)
        await self._read_in(sid, chosen.conversation.language)
        return protocol.choose_language_ack(protocol.conversation(chosen.conversation))

    async def _message(self, sid: str, data: Any) -> MessageAck:
        settings = self.app[SETTINGS]
        request = MessageRequest.parse(data, max_chars=settings.max_message_chars)
        conversation_id = await self._conversation_of(
            sid, CustomerRequest.MESSAGE, request.conversation_id
        )
        received = await self.app[SERVICES].desk.receive(
            conversation_id, request.text, request.client_id
        )
        return await self._received(sid, conversation_id, received)

    async def _choose_suggestion(self, sid: str, data: Any) -> MessageAck:
        request = ChooseSuggestionRequest.parse(data)
        conversation_id = await self._conversation_of(
            sid, CustomerRequest.CHOOSE_SUGGESTION, request.conversation_id
        )
        received = await self.app[SERVICES].desk.choose_suggestion(
            conversation_id, request.faq_id, request.client_id
        )
        return await self._received(sid, conversation_id, received)

    async def _faq_feedback(self, sid: str, data: Any) -> FaqFeedbackAck:
        request = FaqFeedbackRequest.parse(data)
        conversation_id = await self._conversation_of(
            sid, CustomerRequest.FAQ_FEEDBACK, request.conversation_id
        )
        given: FeedbackGiven = await self.app[SERVICES].desk.feedback(
            conversation_id, request.seq, request.helpful
        )
        if not given.duplicate:
            feedback = given.feedback
            self.app[METRICS].faq_feedback.labels(
                helpful=str(feedback.helpful).lower(), language=feedback.language
            ).inc()
        self._count(given.replies)
        await self.publish(given.notifications)
        return protocol.faq_feedback_ack(helpful=given.feedback.helpful, duplicate=given.duplicate)

    async def _received(self, sid: str, conversation_id: str, received: Received) -> MessageAck:
        """Acknowledge a stored customer message; show it on the customer's other tabs."""
        notifications: list[Notify] = []
        if not received.duplicate:
            self.app[METRICS].messages.labels(author="customer").inc()
            # Other tabs of the same customer see what this one sent.
            notifications.append(
                Notify.customer(
                    conversation_id,
                    ServerEvent.MESSAGE,
                    protocol.message(received.message),
                    skip=sid,
                )
            )
        self._count(received.replies)
        await self.publish([*notifications, *received.notifications])
        conversation = None
        if received.conversation is not None:
            await self._read_in(sid, received.conversation.language)
            # As of this message, which may have settled its language: the widget follows.
            conversation = protocol.conversation(
                replace(
                    received.conversation,
                    last_seq=max(received.conversation.last_seq, received.message.seq),
                )
            )
        return protocol.message_ack(
            protocol.message(received.message),
            duplicate=received.duplicate,
            conversation=conversation,
        )

    async def _request_agent(self, sid: str, data: Any) -> OkAck:
        body = ConversationRequest.parse(data)
        conversation_id = await self._conversation_of(
            sid, CustomerRequest.REQUEST_AGENT, body.conversation_id
        )
        await self.publish(await self.app[SERVICES].desk.request_agent(conversation_id))
        return protocol.ok_ack()

    async def _leave_message(self, sid: str, data: Any) -> LeaveMessageAck:
        request = LeaveMessageRequest.parse(data, max_chars=self.app[SETTINGS].max_message_chars)
        conversation_id = await self._conversation_of(
            sid, CustomerRequest.LEAVE_MESSAGE, request.conversation_id
        )
        outcome = await self.app[SERVICES].inbox.leave_message(
            conversation_id, request.kind, request.contact, request.text, request.preferred_time
        )
        await self.publish(outcome.notifications)
        return protocol.leave_message_ack(outcome.result["tracking_number"])

    async def _end(self, sid: str, data: Any) -> OkAck:
        body = ConversationRequest.parse(data)
        conversation_id = await self._conversation_of(
            sid, CustomerRequest.END, body.conversation_id
        )
        outcome = await self.app[SERVICES].dispatcher.close(conversation_id)
        await self.publish(outcome.notifications)
        return protocol.ok_ack()

    async def _typing(self, sid: str, data: Any) -> OkAck:
        request = TypingRequest.parse(data)
        conversation_id = await self._conversation_of(
            sid, CustomerRequest.TYPING, request.conversation_id
        )
        dispatcher = self.app[SERVICES].dispatcher
        await self.publish(dispatcher.customer_typing(conversation_id, request.typing))
        return protocol.ok_ack()

    async def _seen(self, sid: str, data: Any) -> SeenAck:
        request = SeenRequest.parse(data)
        conversation_id = await self._conversation_of(
            sid, CustomerRequest.SEEN, request.conversation_id
        )
        dispatcher = self.app[SERVICES].dispatcher
        seq, notifications = await dispatcher.customer_seen(conversation_id, request.seq)
        await self.publish(notifications)
        return protocol.seen_ack(seq)

    async def _read_in(self, sid: str, language: str, *, always: bool = False) -> None:
        """Join the announcements' room of the conversation's language (leaving the last
        one) and show the active announcements in it: on a start or resume (`always`), and
        when the language changes."""
        session = await self.get_session(sid)
        previous = session.get("reads")
        if previous == language and not always:
            return
        if previous and previous != language:
            await self.leave_room(sid, readers_room(previous))
        session["reads"] = language
        await self.save_session(sid, session)
        await self.enter_room(sid, readers_room(language))
        if previous and previous != language:  # people for this language, or not
            availability = self.app[SERVICES].dispatcher.availability(language)
            await self.publish(
                [Notify.customer_socket(sid, ServerEvent.AVAILABILITY, availability)]
            )
        await self.publish(await self.app[SERVICES].announcements.for_customer(sid, language))

    async def _rate(self, sid: str, data: Any) -> RateAck:
        request = RateRequest.parse(data)
        conversation_id = await self._conversation_of(
            sid, CustomerRequest.RATE, request.conversation_id
        )
        rated = await self.app[SERVICES].surveys.rate(
            conversation_id, request.score, request.comment
        )
        if not rated.duplicate:
            self.app[METRICS].count_rating(rated.rating, rated.followup)
        await self.publish(rated.notifications)
        return protocol.rate_ack(score=rated.rating.score, duplicate=rated.duplicate)

    def _count(self, replies: Iterable[Message]) -> None:
        """The bot's messages, in the metrics."""
        metrics = self.app[METRICS]
        for message in replies:
            metrics.messages.labels(author=str(message.author)).inc()
            kind = str(message.meta.get("kind", "")) if message.meta else ""
            if kind:
                metrics.bot_replies.labels(kind=kind, language=message.language or "").inc()
