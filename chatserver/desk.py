"""Use cases of the help desk: start or resume a conversation, receive a customer message.

The desk is the only layer that combines the pure domain (language, bot, lifecycle) with
the store. It returns what happened and the events to publish; the transport decides who
receives them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from chatserver.bot import Bot, BotReply, ReplyKind, topic_of
from chatserver.clock import Clock, IdFactory, new_token
from chatserver.dispatch import Dispatcher
from chatserver.events import Event, MessagePosted, Notify
from chatserver.handoff import (
    DECLINES_BEFORE_HANDOFF,
    Handoff,
    HandoffReason,
    asks_for_a_person,
    plan,
)
from chatserver.identity import verify as verify_identity
from chatserver.language import (
    DetectionSource,
    LanguageDecision,
    LanguageDetector,
    LanguageState,
    decide,
    negotiate,
    supported_tag,
)
from chatserver.models import (
    Author,
    Conversation,
    ConversationStatus,
    DomainError,
    FaqChoice,
    Message,
    NewMessage,
    UnsupportedLanguage,
    new_conversation,
)
from chatserver.store import Store

# How many missed messages a resuming client gets in one acknowledgement.
RESUME_LIMIT = 500
# Suggestions further back than this many messages are no longer on the customer's screen.
SUGGESTION_LOOKBACK = 20


class UnknownConversation(DomainError):
    code = "unknown_conversation"


class ConversationClosed(DomainError):
    code = "conversation_closed"


class UnknownSuggestion(DomainError):
    code = "unknown_suggestion"


def hash_token(token: str) -> str:
    """Tokens are stored hashed: a leaked database does not let anyone resume a chat."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Started:
    conversation: Conversation
    token: str
    resumed: bool
    messages: list[Message]  # the greeting for a new conversation; what was missed on resume
    notifications: list[Notify] = field(default_factory=list)  # e.g. the place in line


@dataclass(frozen=True, slots=True)
class Chosen:
    conversation: Conversation
    events: list[Event]


@dataclass(frozen=True, slots=True)
class Received:
    message: Message
    duplicate: bool
    events: list[Event] = field(default_factory=list)
    notifications: list[Notify] = field(default_factory=list)


class Desk:
    def __init__(
        self,
        *,
        store: Store,
        bot: Bot,
        detector: LanguageDetector,
        dispatcher: Dispatcher,
        identity_secret: str | None = None,
        clock: Clock,
        new_id: IdFactory,
        languages: Sequence[str],
        default_language: str,
    ) -> None:
        self.store = store
        self.bot = bot
        self.detector = detector
        self.dispatcher = dispatcher
        self.identity_secret = identity_secret
        self.clock = clock
        self.new_id = new_id
        self.languages = tuple(languages)
        self.default_language = default_language

    async def start(
        self,
        *,
        token: str | None = None,
        last_seq: int = 0,
        hints: Sequence[str] = (),
        choice: str | None = None,
        identity: Mapping[str, Any] | None = None,
    ) -> Started:
        if token is not None:
            conversation = await self.store.conversation_by_token(hash_token(token))
            if conversation is None:
                raise UnknownConversation("no conversation holds this token")
            missed = await self.store.messages(
                conversation.id, after_seq=last_seq, limit=RESUME_LIMIT
            )
            # The widget shows the place in line only from a `queued` push.
            standing = (
                self.dispatcher.standing(conversation.id)
                if conversation.status is ConversationStatus.QUEUED
                else []
            )
            return Started(
                conversation, token, resumed=True, messages=missed, notifications=standing
            )

        # A choice the desk does not serve (a stale one the widget remembered) counts as none.
        chosen = supported_tag(choice, self.languages) if choice else None
        hinted = negotiate(hints, self.languages)
        if chosen is not None:
            language, source = chosen, DetectionSource.CHOICE
        elif hinted is not None:
            language, source = hinted, DetectionSource.HINT
        else:
            language, source = self.default_language, DetectionSource.DEFAULT
        customer = verify_identity(identity, self.identity_secret, self.clock.now())
        conversation = replace(
            new_conversation(
                self.new_id(),
                language=language,
                language_confirmed=chosen is not None,
                language_source=str(source),
                now=self.clock.now(),
            ),
            tier=customer.tier,
            customer_id=customer.customer_id or None,
            manager=customer.manager,
        )
        token = new_token()
        await self.store.create_conversation(conversation, hash_token(token))
        greeting = await self._post(conversation, self.bot.greeting(language))
        return Started(conversation, token, resumed=False, messages=[greeting])

    async def receive(self, conversation_id: str, text: str, client_id: str | None) -> Received:
        conversation = await self._open_conversation(conversation_id)
        appended = await self.store.append_message(
            NewMessage(
                id=self.new_id(),
                conversation_id=conversation.id,
                author=Author.CUSTOMER,
                text=text,
                created_at=self.clock.now(),
                client_id=client_id,
            )
        )
        stored = appended.message
        # A resend is answered only if the bot never answered the first copy (the server
        # stopped in between); otherwise the client already has, or will resume, the reply.
        if not appended.created and stored.seq != await self._last_seq(conversation.id):
            return Received(stored, duplicate=True)

        if conversation.status is not ConversationStatus.BOT:
            # A person has the conversation, or it waits for one: the bot stays out of it.
            forwarded = await self.dispatcher.customer_message(stored)
            return Received(stored, not appended.created, notifications=forwarded)

        conversation, decision = await self._follow_language(conversation, text)
        if asks_for_a_person(text, conversation.language):
            requested = plan(
                HandoffReason.PHRASE, tier=conversation.tier, **await self._topic(conversation)
            )
            outcome = await self.dispatcher.hand_off(conversation, requested)
            return Received(stored, not appended.created, notifications=outcome.notifications)

        reply = self.bot.reply(text, conversation.language)
        replies = [reply]
        if decision.ask_confirmation and len(decision.candidates) >= 2:
            replies.append(self.bot.language_question(decision.candidates))
        events: list[Event] = []
        for each in replies:
            posted = await self._post(conversation, each, in_reply_to=stored.seq)
            events.append(MessagePosted(posted))
        handoff: Handoff | None = None
        if reply.urgent_entry is not None:
            handoff = plan(
                HandoffReason.URGENT,
                tier=conversation.tier,
                team=reply.urgent_entry.category,
                faq_id=reply.urgent_entry.id,
            )
        elif reply.kind is ReplyKind.DECLINE and await self._declined_in_a_row(conversation) >= (
            DECLINES_BEFORE_HANDOFF
        ):
            handoff = plan(
                HandoffReason.DECLINED, tier=conversation.tier, **await self._topic(conversation)
            )
        notifications: list[Notify] = []
        if handoff is not None:
            notifications = (await self.dispatcher.hand_off(conversation, handoff)).notifications
        return Received(stored, not appended.created, events=events, notifications=notifications)

    async def request_agent(self, conversation_id: str) -> list[Notify]:
        """The customer pressed "talk to a person"."""
        conversation = await self._open_conversation(conversation_id)
        if conversation.status is not ConversationStatus.BOT:
            return []  # already waiting for, or talking to, a person
        handoff = plan(
            HandoffReason.REQUESTED, tier=conversation.tier, **await self._topic(conversation)
        )
        return (await self.dispatcher.hand_off(conversation, handoff)).notifications

    async def _topic(self, conversation: Conversation) -> dict[str, Any]:
        """Team and priority of the FAQ entry the bot last answered or suggested."""
        recent = await self.store.messages(
            conversation.id, after_seq=max(0, conversation.last_seq - SUGGESTION_LOOKBACK)
        )
        for message in reversed(recent):
            faq_id = topic_of(message.meta) if message.author is Author.BOT else None
            if faq_id:
                entry = self.bot.matcher.faq.entry(str(faq_id), conversation.language)
                if entry is not None:
                    return {"team": entry.category, "priority": entry.priority, "faq_id": entry.id}
        return {}

    async def _declined_in_a_row(self, conversation: Conversation) -> int:
        recent = await self.store.messages(
            conversation.id, after_seq=max(0, conversation.last_seq + 1 - SUGGESTION_LOOKBACK)
        )
        count = 0
        for message in reversed(recent):
            if message.author is not Author.BOT:
                continue
            if message.meta.get("kind") != "decline":
                break
            count += 1
        return count

    async def choose_suggestion(
        self, conversation_id: str, faq_id: str, client_id: str | None
    ) -> Received:
        """The customer picked one of the latest suggestions: show the pick, answer it, and
        record which words led to which entry (a variant the FAQ is missing)."""
        conversation = await self._open_conversation(conversation_id)
        offer, query = await self._latest_suggestions(conversation)
        offered = offer.meta.get("suggestions", []) if offer is not None else []
        picked = next((s for s in offered if s.get("faq_id") == faq_id), None)
        if offer is None or picked is None:
            raise UnknownSuggestion("that entry is not among the latest suggestions")
        appended = await self.store.append_message(
            NewMessage(
                id=self.new_id(),
                conversation_id=conversation.id,
                author=Author.CUSTOMER,
                text=str(picked.get("question", faq_id)),
                created_at=self.clock.now(),
                client_id=client_id,
                meta={"chose": faq_id, "from_seq": offer.seq},
            )
        )
        stored = appended.message
        if not appended.created:
            return Received(stored, duplicate=True)
        await self.store.record_faq_choice(
            FaqChoice(
                id=self.new_id(),
                conversation_id=conversation.id,
                language=conversation.language,
                query=query.text if query is not None else "",
                suggested=tuple(str(s.get("faq_id")) for s in offered),
                chosen=faq_id,
                created_at=self.clock.now(),
            )
        )
        reply = self.bot.answer_chosen(faq_id, conversation.language)
        if reply is None:  # the FAQ was reloaded without this entry
            reply = self.bot.reply(stored.text, conversation.language)
        posted = await self._post(conversation, reply, in_reply_to=stored.seq)
        return Received(stored, duplicate=False, events=[MessagePosted(posted)])

    async def _latest_suggestions(
        self, conversation: Conversation
    ) -> tuple[Message | None, Message | None]:
        """The newest bot suggestion still on screen, and the customer message it answered."""
        recent = await self.store.messages(
            conversation.id, after_seq=max(0, conversation.last_seq - SUGGESTION_LOOKBACK)
        )
        for message in reversed(recent):
            if message.author is Author.BOT and message.meta.get("kind") == "suggest":
                asked = message.meta.get("in_reply_to")
                query = next((m for m in recent if m.seq == asked), None)
                return message, query
        return None, None

    async def choose_language(self, conversation_id: str, language: str) -> Chosen:
        """The customer's explicit choice: it sets the language and detection never overrides it."""
        conversation = await self._open_conversation(conversation_id)
        chosen = supported_tag(language, self.languages)
        if chosen is None:
            raise UnsupportedLanguage(f"{language!r} is not one of this desk's languages")
        conversation = conversation.with_language(
            chosen, confirmed=True, source=str(DetectionSource.CHOICE), now=self.clock.now()
        )
        await self.store.save_conversation(conversation)
        posted = await self._post(conversation, self.bot.language_chosen(chosen))
        return Chosen(conversation, [MessagePosted(posted)])

    async def _open_conversation(self, conversation_id: str) -> Conversation:
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:
            raise UnknownConversation("no such conversation")
        if not conversation.is_open:
            raise ConversationClosed("this conversation is closed")
        return conversation

    async def _last_seq(self, conversation_id: str) -> int:
        conversation = await self.store.get_conversation(conversation_id)
        return conversation.last_seq if conversation is not None else 0

    async def _follow_language(
        self, conversation: Conversation, text: str
    ) -> tuple[Conversation, LanguageDecision]:
        """Fold this message's detection into the conversation's language (language.decide)."""
        state = LanguageState(
            conversation.language,
            conversation.language_confirmed,
            DetectionSource(conversation.language_source),
        )
        detection = self.detector.detect(text, hints=[conversation.language])
        decision = decide(state, detection)
        new = decision.state
        if (new.language, new.confirmed, str(new.source)) == (
            conversation.language,
            conversation.language_confirmed,
            conversation.language_source,
        ):
            return conversation, decision
        updated = conversation.with_language(
            new.language, confirmed=new.confirmed, source=str(new.source), now=self.clock.now()
        )
        await self.store.save_conversation(updated)
        return updated, decision

    async def _post(
        self, conversation: Conversation, reply: BotReply, *, in_reply_to: int | None = None
    ) -> Message:
        appended = await self.store.append_message(
            NewMessage(
                id=self.new_id(),
                conversation_id=conversation.id,
                author=Author.BOT,
                text=reply.text,
                created_at=self.clock.now(),
                language=reply.language,
                meta={
                    "kind": str(reply.kind),
                    **reply.meta,
                    **({"in_reply_to": in_reply_to} if in_reply_to is not None else {}),
                },
            )
        )
        return appended.message
