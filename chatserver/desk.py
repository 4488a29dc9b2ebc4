"""The customer's use cases: start or resume a conversation, receive a message, pick a
suggestion, say whether an answer helped, choose a language, ask for a person.

Owns the customer's side of a conversation while the bot has it: the conversation's
language as it follows the customer, the bot's replies as stored messages (`_post`; for a
customer message, written with it in one transaction: `Store.append_exchange`), which FAQ
entry each customer message asks about (`faq_id`), and what the FAQ gaps report learns
(declines, picks, feedback). What it reads back is the recent messages (`_recent`) and pure
functions over them (the bot's replies newest first, the topic, declines in a row, the offer
a pick came from, the question behind an answer).

It combines the pure domain (language, bot, handoff) with the store and returns what
happened and the notifications to publish (`Notify`, payloads made by
chatserver/protocol.py). It hands the conversation to the human side for everything with a
person (queues, assignment, clocks: `Dispatcher` in chatserver/dispatch.py, the rooms of
chatserver/human/ behind it) and knows nothing of the transport (aiohttp, Socket.IO).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import takewhile
from typing import Any

from chatserver import protocol
from chatserver.bot import Bot, BotReply, ReplyKind, offered, topic_of
from chatserver.clock import Clock, IdFactory, hash_token, new_token
from chatserver.dispatch import Dispatcher
from chatserver.events import Notify
from chatserver.faq import FaqEntry, MatchOutcome
from chatserver.faq.query_batch import QueryBatches
from chatserver.handoff import (
    DECLINES_BEFORE_HANDOFF,
    Handoff,
    HandoffReason,
    asks_for_a_person,
    plan,
)
from chatserver.identity import verify as verify_identity
from chatserver.language import (
    SWITCH_MIN_CONFIDENCE,
    DetectionSource,
    LanguageDecision,
    LanguageDetector,
    LanguageState,
    can_change,
    decide,
    negotiate,
    settled_by_text,
    supported_tag,
    text_evidence,
)
from chatserver.models import (
    Author,
    Conversation,
    ConversationStatus,
    DomainError,
    FaqChoice,
    FaqDecline,
    FaqFeedback,
    Message,
    NewMessage,
    NewMessages,
    UnknownConversation,
    UnsupportedLanguage,
    new_conversation,
)
from chatserver.protocol import ServerEvent
from chatserver.store import Answer, StaleConversation, Store

# How many missed messages a resuming client gets in one acknowledgement.
RESUME_LIMIT = 500
# Suggestions further back than this many messages are no longer on the customer's screen.
SUGGESTION_LOOKBACK = 20
# How far back the customer's own words behind an answer or a suggestion are looked for
# (through picks of suggestions and "did not help" replies).
QUESTION_LOOKBACK = 40


class ConversationClosed(DomainError):
    code = "conversation_closed"


class UnknownSuggestion(DomainError):
    code = "unknown_suggestion"


class UnknownMessage(DomainError):
    code = "unknown_message"


class NotAnAnswer(DomainError):
    code = "not_an_answer"


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
    notifications: list[Notify]  # the bot's confirmation (or greeting again)
    replies: list[Message]  # the bot's messages it stored


@dataclass(frozen=True, slots=True)
class FeedbackGiven:
    feedback: FaqFeedback  # as stored: the first word on the answer
    duplicate: bool  # the answer had feedback already; nothing changed
    notifications: list[Notify] = field(default_factory=list)  # "did not help": the reply
    replies: list[Message] = field(default_factory=list)  # the bot's messages it stored


@dataclass(frozen=True, slots=True)
class Received:
    message: Message
    duplicate: bool
    # The bot's replies first, then what the team must hear (a handoff, a forwarded message).
    notifications: list[Notify] = field(default_factory=list)
    replies: list[Message] = field(default_factory=list)  # the bot's messages it stored
    # The conversation as of this message: its language may have just been settled by it.
    conversation: Conversation | None = None


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
        queries: QueryBatches | None = None,
    ) -> None:
        self.store = store
        self.bot = bot
        self.detector = detector
        self.dispatcher = dispatcher
        self.identity_secret = identity_secret
        self.clock = clock
        self.new_id = new_id
        self.new_message = NewMessages(clock, new_id)
        self.queries = queries if queries is not None else QueryBatches()
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
            missed = await self._recent(conversation.id, 0, last=last_seq)  # after last_seq
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
            customer_name=customer.name,
            customer_email=customer.email,
        )
        token = new_token()
        greeting = self._bot_message(conversation, self.bot.greeting(language))
        stored = await self.store.create_conversation(
            conversation, hash_token(token), first=[greeting]
        )
        return Started(conversation, token, resumed=False, messages=stored)

    async def receive(self, conversation_id: str, text: str, client_id: str | None) -> Received:
        kept = self.store.kept_conversation(conversation_id)
        if kept is not None and kept.is_open and kept.status is ConversationStatus.BOT:
            # The bot's path on the copy of the row this process kept (PostgreSQL), without
            # reading it: the exchange is written only if the row is still as kept.
            try:
                return await self._receive(kept, text, client_id, kept=True)
            except StaleConversation:
                pass  # changed since (another process, or another step of this one)
        return await self._receive(await self._conversation(conversation_id), text, client_id)

    async def _receive(
        self, conversation: Conversation, text: str, client_id: str | None, *, kept: bool = False
    ) -> Received:
        """`kept`: `conversation` is the store's kept copy, which the writes must check."""
        message = self.new_message(conversation.id, Author.CUSTOMER, text, client_id=client_id)
        if not conversation.is_open:
            # A resend of a message stored before the chat closed (its acknowledgement was
            # lost, e.g. the message itself handed the chat off and nobody was online):
            # acknowledged as the duplicate it is, not refused.
            resent = await self.store.sent_before(message)
            if resent is None:
                raise ConversationClosed("this conversation is closed")
            return Received(resent, duplicate=True, conversation=conversation)
        if conversation.status is not ConversationStatus.BOT:
            return await self._to_the_team(conversation, message)

        # The bot's side. Everything the message decides is worked out first (pure: the
        # language as it follows the customer, a person asked for, the bot's reply), then
        # stored in one transaction with it (`Store.append_exchange`): the message, the
        # conversation's new language, the FAQ entry it asks about (`faq_id`), a decline
        # for the FAQ gaps report and the bot's replies, all or nothing. A resend whose
        # first copy was answered (or followed by anything) writes nothing.
        followed, decision = self._follow_language(conversation, text)
        changed = followed if followed is not conversation else None
        if asks_for_a_person(text, followed.language):
            asked = self._asked(text, followed.language)
            exchanged = await self.store.append_exchange(
                _asking(message, asked),
                lambda _stored: Answer(),
                conversation=changed,
                last_seq=conversation.last_seq,
                kept=kept,
            )
            if not exchanged.answered:
                return Received(exchanged.message, duplicate=True, conversation=conversation)
            requested = plan(
                HandoffReason.PHRASE, tier=followed.tier, **await self._topic(followed)
            )
            outcome = await self.dispatcher.hand_off(followed, requested)
            return Received(
                exchanged.message,
                not exchanged.created,
                notifications=outcome.notifications,
                conversation=followed,
            )

        matched = await self.queries.finish(self.bot.matcher.pending(text, followed.language))
        reply = self.bot.reply(text, followed.language, matched)
        replies = [reply]
        if decision.ask_confirmation and len(decision.candidates) >= 2:
            replies.append(self.bot.language_question(decision.candidates))

        def answer(stored: Message) -> Answer:
            """Pure: the replies to the stored message (its seq is theirs to refer to)."""
            decline = None
            if reply.kind is ReplyKind.DECLINE:
                decline = FaqDecline(
                    id=self.new_id(),
                    conversation_id=stored.conversation_id,
                    message_seq=stored.seq,
                    language=followed.language,
                    query=text,
                    nearest=reply.nearest.id if reply.nearest is not None else None,
                    score=float(reply.meta.get("score", 0.0)),
                    created_at=self.clock.now(),
                )
            return Answer(
                replies=[self._bot_message(followed, r, in_reply_to=stored.seq) for r in replies],
                decline=decline,
            )

        # The entry it answered or suggested first; for a decline, the urgent topic it names.
        exchanged = await self.store.append_exchange(
            _asking(message, reply.entry or reply.urgent_entry),
            answer,
            conversation=changed,
            last_seq=conversation.last_seq,
            kept=kept,
        )
        if not exchanged.answered:
            return Received(exchanged.message, duplicate=True, conversation=conversation)
        stored, posted = exchanged.message, exchanged.replies
        handoff: Handoff | None = None
        if reply.urgent_entry is not None:
            handoff = plan(
                HandoffReason.URGENT,
                tier=followed.tier,
                team=reply.urgent_entry.category,
                faq_id=reply.urgent_entry.id,
            )
        elif reply.kind is ReplyKind.DECLINE and await self._declined_enough(stored):
            handoff = plan(
                HandoffReason.DECLINED, tier=followed.tier, **await self._topic(followed)
            )
        notifications = _shown(posted)
        if handoff is not None:
            notifications += (await self.dispatcher.hand_off(followed, handoff)).notifications
        return Received(
            stored,
            not exchanged.created,
            notifications=notifications,
            replies=posted,
            conversation=followed,
        )

    async def _to_the_team(self, conversation: Conversation, message: NewMessage) -> Received:
        """A customer message while a person has the conversation, or it waits for one: the
        bot stays out of it. It records the FAQ entry it asks about (`faq_id`), so that an
        agent serving the chat in another language knows what was asked (agent_view.py);
        the language no longer moves."""
        asked = self._asked(message.text, conversation.language)
        appended = await self.store.append_message(_asking(message, asked))
        stored = appended.message
        # A resend is forwarded again only if nothing came after its first copy (the
        # server stopped before forwarding it); otherwise the team has it already.
        if not appended.created and stored.seq != appended.last_seq:
            return Received(stored, duplicate=True, conversation=conversation)
        forwarded = await self.dispatcher.customer_message(conversation, stored)
        return Received(
            stored, not appended.created, notifications=forwarded, conversation=conversation
        )

    async def _declined_enough(self, asked: Message) -> bool:
        """Whether the bot's latest replies, from the SUGGESTION_LOOKBACK messages up to the
        customer's message `asked` on, are DECLINES_BEFORE_HANDOFF declines in a row."""
        recent = await self._recent(asked.conversation_id, SUGGESTION_LOOKBACK, last=asked.seq)
        return _declines_in_a_row(recent) >= DECLINES_BEFORE_HANDOFF

    def _asked(self, text: str, language: str) -> FaqEntry | None:
        """The FAQ entry a customer message asks about, unless the matcher declines it."""
        result = self.bot.matcher.match(text, language)
        return result.entry if result.outcome is not MatchOutcome.DECLINE else None

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
        recent = await self._recent(
            conversation.id, SUGGESTION_LOOKBACK, last=conversation.last_seq
        )
        # An entry the FAQ (reloaded since) no longer has gives way to the one before it.
        found = (self.bot.matcher.faq.entry(i, conversation.language) for i in _topics(recent))
        entry = next((e for e in found if e is not None), None)
        if entry is None:
            return {}
        return {"team": entry.category, "priority": entry.priority, "faq_id": entry.id}

    async def choose_suggestion(
        self, conversation_id: str, faq_id: str, client_id: str | None
    ) -> Received:
        """The customer picked an entry the bot offered (a suggestion, a topic under an
        answer, an alternative to an answer that did not help): show the pick, answer it,
        and record which words led to which entry (a variant the FAQ is missing)."""
        conversation = await self._open_conversation(conversation_id)
        recent = await self._recent(conversation.id, QUESTION_LOOKBACK, last=conversation.last_seq)
        offer = _offer_of(recent[-SUGGESTION_LOOKBACK:], faq_id)
        if offer is None:
            raise UnknownSuggestion("that entry is not among the suggestions on screen")
        choices = offered(offer.meta)
        picked = next(s for s in choices if s.get("faq_id") == faq_id)
        appended = await self.store.append_message(
            self.new_message(
                conversation.id,
                Author.CUSTOMER,
                str(picked.get("question", faq_id)),
                meta={"chose": faq_id, "from_seq": offer.seq},
                client_id=client_id,
            )
        )
        stored = appended.message
        if not appended.created:
            return Received(stored, duplicate=True)
        query = question_behind(recent, offer)
        suggested = [str(s.get("faq_id")) for s in choices]
        await self.store.record_faq_choice(
            FaqChoice(
                id=self.new_id(),
                conversation_id=conversation.id,
                language=conversation.language,
                query=query.text if query is not None else "",
                suggested=tuple(suggested),
                chosen=faq_id,
                created_at=self.clock.now(),
            )
        )
        reply = self.bot.answer_chosen(faq_id, conversation.language, suggested)
        if reply is None:  # the FAQ was reloaded without this entry
            reply = self.bot.reply(stored.text, conversation.language)
        posted = await self._post(conversation, reply, in_reply_to=stored.seq)
        return Received(stored, duplicate=False, notifications=_shown([posted]), replies=[posted])

    async def feedback(self, conversation_id: str, seq: int, helpful: bool) -> FeedbackGiven:
        """The customer said whether the answer at `seq` helped. Kept with the words it
        answered; the first word on an answer stands (a second is acknowledged as a
        duplicate and changes nothing). "Did not help" in a conversation still with the bot
        gets a reply: the topics that were under the answer, and a person."""
        conversation = await self._open_conversation(conversation_id)
        if seq > conversation.last_seq:  # (and no out-of-range number reaches the database)
            raise UnknownMessage(f"this conversation has no message {seq}")
        recent = await self._recent(conversation.id, QUESTION_LOOKBACK, last=seq, newer=False)
        answer = _visible_at(recent, seq)
        if answer is None:
            raise UnknownMessage(f"this conversation has no message {seq}")
        faq_id = answer.meta.get("faq_id")
        if not _by_bot(answer, ReplyKind.ANSWER) or not faq_id:
            raise NotAnAnswer(f"message {seq} is not an answer of the bot")
        query = question_behind(recent, answer)
        stored, created = await self.store.record_faq_feedback(
            FaqFeedback(
                id=self.new_id(),
                conversation_id=conversation.id,
                answer_seq=seq,
                language=answer.language or conversation.language,
                faq_id=str(faq_id),
                query=query.text if query is not None else "",
                helpful=helpful,
                created_at=self.clock.now(),
            )
        )
        posted: list[Message] = []
        if (
            not stored.helpful
            and conversation.status is ConversationStatus.BOT
            and (created or not await self._replied_to_feedback(conversation, seq))
        ):
            alternatives = [str(s.get("faq_id")) for s in offered(answer.meta)]
            reply = self.bot.not_helpful(conversation.language, alternatives)
            posted.append(await self._post(conversation, reply, feedback_on=seq))
        return FeedbackGiven(
            stored, duplicate=not created, notifications=_shown(posted), replies=posted
        )

    async def _replied_to_feedback(self, conversation: Conversation, seq: int) -> bool:
        """Whether the bot's "did not help" reply to the answer at `seq` is stored (a resend
        after a failure between storing the feedback and the reply gets it then)."""
        later = await self._recent(conversation.id, 0, last=seq)  # after seq
        return any(m.meta.get("feedback_on") == seq for m in _bot_replies(later))

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
        posted = await self._post(conversation, await self._greeting_again(conversation, chosen))
        return Chosen(conversation, _shown([posted]), [posted])

    async def _greeting_again(self, conversation: Conversation, language: str) -> BotReply:
        """How the bot takes up a chosen language: with the greeting again in it, standing
        for the earlier one (`replaces`: its seq), while the customer has said nothing yet;
        after that, by saying it will answer in it."""
        said = await self.store.last_customer_messages([conversation.id])
        if not said:
            recent = await self._recent(
                conversation.id, SUGGESTION_LOOKBACK, last=conversation.last_seq
            )
            greeting = next(_bot_replies(recent, ReplyKind.GREETING), None)
            if greeting is not None and greeting.language != language:
                again = self.bot.greeting(language)
                return replace(again, meta={**again.meta, "replaces": greeting.seq})
        return self.bot.language_chosen(language)

    async def _open_conversation(self, conversation_id: str) -> Conversation:
        conversation = await self._conversation(conversation_id)
        if not conversation.is_open:
            raise ConversationClosed("this conversation is closed")
        return conversation

    async def _conversation(self, conversation_id: str) -> Conversation:
        """The conversation as stored (the truth: read each time, never cached here)."""
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:
            raise UnknownConversation("no such conversation", conversation_id=conversation_id)
        return conversation

    def _follow_language(
        self, conversation: Conversation, text: str
    ) -> tuple[Conversation, LanguageDecision]:
        """Fold this message's detection into the conversation's language (language.decide):
        the same conversation if nothing changed, else the changed one, for the caller to
        store."""
        state = LanguageState(
            conversation.language,
            conversation.language_confirmed,
            DetectionSource(conversation.language_source),
        )
        if not can_change(state, text_evidence(text)):
            return conversation, LanguageDecision(state)  # nothing to detect: it cannot move
        if settled_by_text(state) and not self.detector.could_move_from(
            text, state.language, SWITCH_MIN_CONFIDENCE, hints=[conversation.language]
        ):
            return conversation, LanguageDecision(state)  # plainly its own language still
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
        return updated, decision

    async def _post(
        self,
        conversation: Conversation,
        reply: BotReply,
        *,
        in_reply_to: int | None = None,
        feedback_on: int | None = None,
    ) -> Message:
        message = self._bot_message(
            conversation, reply, in_reply_to=in_reply_to, feedback_on=feedback_on
        )
        return (await self.store.append_message(message)).message

    def _bot_message(
        self,
        conversation: Conversation,
        reply: BotReply,
        *,
        in_reply_to: int | None = None,
        feedback_on: int | None = None,
    ) -> NewMessage:
        meta = {
            "kind": str(reply.kind),
            **reply.meta,
            **({"in_reply_to": in_reply_to} if in_reply_to is not None else {}),
            **({"feedback_on": feedback_on} if feedback_on is not None else {}),
        }
        return self.new_message(
            conversation.id, Author.BOT, reply.text, meta=meta, language=reply.language
        )

    async def _recent(
        self, conversation_id: str, lookback: int, *, last: int, newer: bool = True
    ) -> list[Message]:
        """The conversation's messages, oldest first: the `lookback` up to seq `last`, then
        (unless `newer` is false) those stored after it, up to RESUME_LIMIT in all."""
        return await self.store.messages(
            conversation_id,
            after_seq=max(0, last - lookback),
            limit=RESUME_LIMIT if newer else lookback,
        )


def _asking(message: NewMessage, entry: FaqEntry | None) -> NewMessage:
    """A customer message with the FAQ entry it asks about (`faq_id`), if any."""
    if entry is None:
        return message
    return replace(message, meta={**message.meta, "faq_id": entry.id})


def _shown(messages: Sequence[Message]) -> list[Notify]:
    """Messages every participant of their conversation may see (the bot's), to its room."""
    return [
        Notify.customer(m.conversation_id, ServerEvent.MESSAGE, protocol.message(m))
        for m in messages
    ]


# Pure functions over the recent messages (oldest first, as `Desk._recent` reads them).


def _by_bot(message: Message, kind: ReplyKind | None = None) -> bool:
    """Whether the bot wrote `message` (as a reply of `kind`, if given)."""
    return message.author is Author.BOT and (kind is None or message.meta.get("kind") == kind)


def _bot_replies(messages: Sequence[Message], kind: ReplyKind | None = None) -> Iterator[Message]:
    """The bot's messages among `messages` (of one `kind`, if given), newest first."""
    return (m for m in reversed(messages) if _by_bot(m, kind))


def _visible_at(messages: Sequence[Message], seq: int) -> Message | None:
    """The message numbered `seq` among `messages`, unless it is internal (an agent's note)."""
    return next((m for m in messages if m.seq == seq and not m.internal), None)


def _topics(messages: Sequence[Message]) -> Iterator[str]:
    """The FAQ entries the bot answered or suggested first among `messages`, newest first."""
    return (topic for m in _bot_replies(messages) if (topic := topic_of(m.meta)))


def _declines_in_a_row(messages: Sequence[Message]) -> int:
    """How many of the bot's latest replies among `messages` are declines, counting back
    from the newest to the first that is not."""
    declines = takewhile(lambda m: _by_bot(m, ReplyKind.DECLINE), _bot_replies(messages))
    return sum(1 for _ in declines)


def _offer_of(messages: Sequence[Message], faq_id: str) -> Message | None:
    """The newest bot message among `messages` that offers `faq_id` as a button."""
    return next(
        (
            m
            for m in _bot_replies(messages)
            if any(s.get("faq_id") == faq_id for s in offered(m.meta))
        ),
        None,
    )


def question_behind(messages: Sequence[Message], message: Message) -> Message | None:
    """The customer's own words that `message` (a bot reply) ultimately answers: its
    `in_reply_to`, through picked suggestions (`chose`, `from_seq`) and "did not help"
    replies (`feedback_on`), as far as `messages` reaches. A pick's text is the FAQ's
    question, not the customer's words, so it is followed back to what was asked."""
    by_seq = {m.seq: m for m in messages}
    current: Message | None = message
    seen: set[int] = set()
    while current is not None and current.seq not in seen:
        seen.add(current.seq)
        meta = current.meta
        if current.author is Author.CUSTOMER:
            if "chose" not in meta:
                return current
            link = meta.get("from_seq")
        elif current.author is Author.BOT:
            link = meta.get("in_reply_to", meta.get("feedback_on"))
        else:
            return None
        current = by_seq.get(link) if isinstance(link, int) else None
    return None
