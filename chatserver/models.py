"""Conversations, messages and their lifecycle: the pure core every other layer speaks.

Also the words shared across the domain: teams, priorities, tiers, console roles, agent
presence, and the domain's errors (`DomainError` and its codes; `UnknownConversation` is
the one every layer raises when no conversation answers to an id or a token).

The lifecycle of a conversation::

    bot --handoff--> queued --assignment--> assigned --agent's first message--> active
     |                 |  \\                    |  ^                               |
     |                 |   `--> abandoned      `--+-- transfer (back to a queue) --'
     |                 `--> offline (nobody can take it: leave a message / callback)
     `--> closed <-- (assigned | active | queued | offline) ; closed --survey--> rated

This module knows nothing of sockets, HTTP or storage. Time and ids are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatserver.clock import Clock, IdFactory


class DomainError(Exception):
    """A request the domain refuses; carries a stable machine-readable code."""

    code = "domain_error"


class IllegalTransition(DomainError):
    code = "illegal_transition"

    def __init__(self, current: ConversationStatus, target: ConversationStatus) -> None:
        super().__init__(f"a conversation cannot go from {current} to {target}")
        self.current = current
        self.target = target


class UnsupportedLanguage(DomainError):
    """A client named a language this desk does not serve (`settings.languages`)."""

    code = "unsupported_language"


class UnknownConversation(DomainError):
    """No conversation answers to an id or a customer's token where it was looked up (the
    store, or the router's queues and assignments); `conversation_id` when one was named."""

    code = "unknown_conversation"

    def __init__(self, message: str, *, conversation_id: str | None = None) -> None:
        super().__init__(message)
        self.conversation_id = conversation_id


# The languages the chat serves by default, as product tags (language[-Script]).
CHAT_LANGUAGES: tuple[str, ...] = (
    "en", "ja", "zh-Hans", "zh-Hant", "ko", "th", "vi", "id",
    "ms", "ar", "es", "pt", "fr", "de", "it",
)  # fmt: skip


class Team(StrEnum):
    """The specialist team that owns a topic (the brief's three desks)."""

    TECHNICAL = "technical"
    ACCOUNT = "account"
    TRADING = "trading"


class Role(StrEnum):
    """What a console user may do: agents chat; supervisors also watch and assign; admins
    also manage accounts."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def supervises(self) -> bool:
        return self in (Role.SUPERVISOR, Role.ADMIN)


class Priority(StrEnum):
    """Handling priority; order matters: urgent is served first."""

    URGENT = "urgent"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for urgent ... 3 for low, for sorting queues."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}


class Tier(StrEnum):
    """VIP: a balance of USD 50,000+ or 100+ lots a month, from a signed identity."""

    STANDARD = "standard"
    VIP = "vip"


class ConversationStatus(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    ACTIVE = "active"
    CLOSED = "closed"
    RATED = "rated"
    ABANDONED = "abandoned"
    OFFLINE = "offline"


S = ConversationStatus
TRANSITIONS: Mapping[ConversationStatus, frozenset[ConversationStatus]] = MappingProxyType(
    {
        S.BOT: frozenset({S.QUEUED, S.OFFLINE, S.CLOSED}),
        S.QUEUED: frozenset({S.ASSIGNED, S.ABANDONED, S.OFFLINE, S.CLOSED}),
        # assigned -> queued: not accepted in time, agent lost, or transferred to a queue
        S.ASSIGNED: frozenset({S.ACTIVE, S.QUEUED, S.ASSIGNED, S.CLOSED}),
        # active -> assigned: transferred to another agent; -> queued: to another queue
        S.ACTIVE: frozenset({S.ASSIGNED, S.QUEUED, S.CLOSED}),
        S.OFFLINE: frozenset({S.CLOSED}),
        S.CLOSED: frozenset({S.RATED}),
        S.ABANDONED: frozenset(),
        S.RATED: frozenset(),
    }
)
del S

OPEN_STATUSES = frozenset(
    {
        ConversationStatus.BOT,
        ConversationStatus.QUEUED,
        ConversationStatus.ASSIGNED,
        ConversationStatus.ACTIVE,
    }
)


class Author(StrEnum):
    """Who wrote a message. Bot and system messages never count as a human response."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    status: ConversationStatus
    language: str
    language_confirmed: bool
    created_at: datetime
    updated_at: datetime
    last_seq: int = 0
    # What set the language: choice, script, statistical, hint or default (language.py).
    language_source: str = "default"
    # Who the customer is, from a signed identity (identity.py); anonymous is standard.
    tier: Tier = Tier.STANDARD
    customer_id: str | None = None
    manager: str | None = None  # the VIP's dedicated account manager (agent username)
    # Set at handoff: the queue and priority, then who has it.
    team: Team | None = None
    priority: Priority | None = None
    handed_off_at: datetime | None = None
    agent_id: str | None = None
    tracking_number: str | None = None  # an inquiry: reached a person or left a message
    closed_at: datetime | None = None
    # The signed identity's name and email, for the agent's customer panel.
    customer_name: str | None = None
    customer_email: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def can_become(self, target: ConversationStatus) -> bool:
        return target in TRANSITIONS[self.status]

    def transition(self, target: ConversationStatus, now: datetime) -> Conversation:
        """Return the conversation in `target`, or raise IllegalTransition."""
        if not self.can_become(target):
            raise IllegalTransition(self.status, target)
        return replace(self, status=target, updated_at=now)

    def with_language(
        self, language: str, *, confirmed: bool, source: str, now: datetime
    ) -> Conversation:
        return replace(
            self,
            language=language,
            language_confirmed=confirmed,
            language_source=source,
            updated_at=now,
        )


def new_conversation(
    conversation_id: str,
    *,
    language: str,
    language_confirmed: bool,
    now: datetime,
    language_source: str = "default",
) -> Conversation:
    return Conversation(
        id=conversation_id,
        status=ConversationStatus.BOT,
        language=language,
        language_confirmed=language_confirmed,
        language_source=language_source,
        created_at=now,
        updated_at=now,
    )


@dataclass(frozen=True, slots=True)
class FaqChoice:
    """A customer picked one of the bot's suggestions: which words led to which entry.

    Kept as a learning signal: these pairs are the variants the FAQ is missing.
    """

    id: str
    conversation_id: str
    language: str
    query: str
    suggested: tuple[str, ...]
    chosen: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FaqFeedback:
    """The customer said whether a bot answer helped: kept with what they had asked.

    One per answer (`conversation_id`, `answer_seq`): the first word stands, and a second
    click (another tab, a resend) changes nothing. Not helpful marks a variant the FAQ
    answers wrongly.
    """

    id: str
    conversation_id: str
    answer_seq: int  # the bot's answer message
    language: str
    faq_id: str  # the entry that answered
    query: str  # the customer's own words the answer replied to
    helpful: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FaqDecline:
    """The bot declined a customer's question: the words, and the entry they came nearest to.

    One per customer message (`conversation_id`, `message_seq`); these are the questions the
    FAQ does not cover (or covers in words it does not recognise).
    """

    id: str
    conversation_id: str
    message_seq: int  # the customer's message
    language: str
    query: str
    nearest: str | None  # the entry the question came nearest to, if any
    score: float
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OfflineRequest:
    """Nobody could take the chat: the customer left a message or asked to be called back."""

    id: str
    conversation_id: str
    kind: str  # "email" or "callback"
    contact: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message before the store has given it a sequence number."""

    id: str
    conversation_id: str
    author: Author
    text: str
    created_at: datetime
    language: str | None = None
    client_id: str | None = None
    internal: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)
    author_id: str | None = None  # which agent wrote it (agent messages)

    @property
    def sender(self) -> str:
        """Whose `client_id`s this message's is unique among: the customer's, each agent's
        own (an agent reusing a customer's id, or another agent's, is a new message)."""
        return f"{self.author}:{self.author_id}" if self.author_id else str(self.author)


class NewMessages:
    """The one maker of new messages: each is stamped with a fresh id and the time it is
    written, so the customer's desk and the human side cannot stamp one differently. The
    clock and the ids are injected (this module reads neither)."""

    def __init__(self, clock: Clock, new_id: IdFactory) -> None:
        self.clock = clock
        self.new_id = new_id

    def __call__(
        self,
        conversation_id: str,
        author: Author,
        text: str,
        *,
        language: str | None = None,
        client_id: str | None = None,
        internal: bool = False,
        meta: Mapping[str, Any] | None = None,
        author_id: str | None = None,
    ) -> NewMessage:
        return NewMessage(
            id=self.new_id(),
            conversation_id=conversation_id,
            author=author,
            text=text,
            created_at=self.clock.now(),
            language=language,
            client_id=client_id,
            internal=internal,
            meta=meta or {},
            author_id=author_id,
        )


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    seq: int
    author: Author
    text: str
    created_at: datetime
    language: str | None = None
    client_id: str | None = None
    internal: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def counts_as_response(self) -> bool:
        """Only a human agent's visible message answers the customer (FRT)."""
        return self.author is Author.AGENT and not self.internal


class AgentStatus(StrEnum):
    """An agent's presence: only online agents get new chats; away keeps the ones they have."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"
