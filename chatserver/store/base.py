"""The `Store` port: what the desk needs from persistence, and nothing about how.

A message is durable when `append_message` (or `append_exchange`, the customer's message
with the bot's answer) returns; the transport acknowledges only then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chatserver.agents import AgentAccount, Session
from chatserver.announcements import Announcement
from chatserver.canned import CannedReply
from chatserver.holdings import Holding, HoldingChange
from chatserver.inbox import InboxEntry, InboxItem, InboxKind, InboxStatus
from chatserver.models import (
    Conversation,
    FaqChoice,
    FaqDecline,
    FaqFeedback,
    Message,
    NewMessage,
    OfflineRequest,
)
from chatserver.satisfaction import FollowUp, Rating
from chatserver.sla import AppliedSla


class DuplicateAgent(Exception):
    """An agent with this username exists already."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    message: Message
    created: bool  # False when the same client_id was stored before (a resend)
    # The conversation's last sequence number as of the append (read in its transaction):
    # a resend equal to it is the conversation's latest message, nothing came after it.
    last_seq: int = 0


@dataclass(frozen=True, slots=True)
class Answer:
    """What answers a customer message, written in its transaction (`append_exchange`)."""

    replies: Sequence[NewMessage] = ()  # stored after it, in this order
    decline: FaqDecline | None = None  # the question the bot could not answer (FAQ gaps)


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    message: Message  # the customer's, as stored
    created: bool  # False when the same client_id was stored before (a resend)
    # False: a resend of a message that is not the conversation's latest (it was answered,
    # or others came after it): nothing was written (nor what `answer` returned, if called).
    answered: bool
    replies: list[Message]  # as stored, with their sequence numbers


class StaleConversation(Exception):
    """The conversation's row changed since the copy a write relied on was kept
    (`Store.kept_conversation`); nothing was written. Read it again and start over."""


class Store(Protocol):
    async def create_conversation(
        self, conversation: Conversation, token_hash: str, *, first: Sequence[NewMessage] = ()
    ) -> list[Message]:
        """The conversation and its `first` messages (the greeting), in one transaction:
        numbered after `conversation.last_seq`, returned as stored."""
        ...

    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    def kept_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation as this process last read or wrote it, without reading it, if
        the store keeps such a copy that may be behind the row (PostgreSQL, shared by
        processes). A write that relies on it says so (`append_exchange(kept=True)`) and is
        refused if the row has changed since. None: no copy, read it."""
        ...

    async def conversation_by_token(self, token_hash: str) -> Conversation | None: ...

    async def customer_conversations(self, customer_id: str, limit: int) -> list[Conversation]:
        """The newest `limit` conversations of one signed-in customer, newest first."""
        ...

    async def save_conversation(
        self, conversation: Conversation, *, holdings: Sequence[HoldingChange] = ()
    ) -> None:
        """Persist status and language changes (not last_seq, which only appends move), and
        the steps of its holding history with them, all or nothing."""
        ...

    async def holdings(self, conversation_id: str) -> list[Holding]:
        """Every stretch an agent held the conversation, oldest first."""
        ...

    async def conversation_by_tracking_number(self, number: str) -> Conversation | None: ...

    async def open_handoffs(self) -> list[Conversation]:
        """Queued, assigned and active conversations, oldest handoff first."""
        ...

    async def save_sla(
        self, sla: AppliedSla, conversation: Conversation, *, new: bool = False
    ) -> None: ...

    async def sla(self, conversation_id: str) -> AppliedSla | None: ...

    async def pending_slas(self) -> list[AppliedSla]: ...

    async def sla_rows(self, since: datetime, until: datetime) -> list[dict[str, Any]]: ...

    async def record_offline_request(self, request: OfflineRequest) -> None: ...

    async def save_inbox_item(self, item: InboxItem, *, new: bool = False) -> None: ...

    async def mark_inbox_item(self, item_id: str, mark: str, at: datetime) -> bool:
        """Set `warned_at` or `breached_at` of a waiting, unanswered item once."""
        ...

    async def inbox_item(self, item_id: str) -> InboxItem | None: ...

    async def inbox_items_by_tracking_number(self, number: str) -> list[InboxItem]: ...

    async def open_inbox_items(self) -> list[InboxItem]:
        """Items not closed, soonest due first."""
        ...

    async def inbox_items_due(self, now: datetime) -> list[InboxItem]:
        """Waiting, unanswered, unbreached items past their deadline, or at their warning
        time and not warned: what the tick decides on, soonest due first."""
        ...

    async def inbox_counts(self) -> dict[tuple[InboxKind, InboxStatus], int]:
        """Items not closed, counted by kind and status (pairs without items left out)."""
        ...

    async def inbox_items_left(self, since: datetime, until: datetime) -> list[InboxItem]:
        """Every item (closed too) left in [since, until), for the reports."""
        ...

    async def offline_requests_without_item(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Offline requests left in [since, until] whose inbox item (same id) was never
        saved (a bound left out: none)."""
        ...

    async def add_inbox_entry(self, entry: InboxEntry) -> None: ...

    async def inbox_entries(self, item_id: str) -> list[InboxEntry]:
        """An item's thread, oldest first."""
        ...

    async def inbox_threads(self, item_ids: Sequence[str]) -> dict[str, list[InboxEntry]]:
        """Several items' threads at once (each oldest first; an item without: empty)."""
        ...

    async def append_message(self, message: NewMessage) -> AppendResult:
        """Store with the conversation's next sequence number; idempotent on client_id."""
        ...

    async def append_exchange(
        self,
        message: NewMessage,
        answer: Callable[[Message], Answer],
        *,
        conversation: Conversation | None = None,
        last_seq: int | None = None,
        kept: bool = False,
    ) -> ExchangeResult:
        """A customer message and what answers it, all or nothing, in one transaction:
        the message (idempotent on client_id, like `append_message`), the conversation's
        row changes it caused (`conversation`, as `save_conversation` writes them), and
        `answer(stored)`, a pure function of the stored message (its seq known) called
        inside the transaction. A resend whose first copy is the conversation's latest
        message (never answered) is answered now, its `meta` updated with the resend's;
        any other resend writes nothing (`answered` False).

        `last_seq`: the conversation's last seq as the caller last read it, if it did. While
        it still is, the store can number the message after it without reading it again.
        So `answer` may be called more than once (numbered after a `last_seq` that another
        write has since moved, or for a message that turns out to be a resend); only what
        the call for the stored numbering returned is written.

        `kept`: what the caller worked out came from `kept_conversation`'s copy. If the row
        is no longer as kept, nothing is written and `StaleConversation` is raised."""
        ...

    async def messages(
        self, conversation_id: str, *, after_seq: int = 0, limit: int = 500
    ) -> list[Message]: ...

    async def sent_before(self, message: NewMessage) -> Message | None:
        """The message its sender already stored under the same client_id, if any."""
        ...

    async def set_message_meta(self, message_id: str, meta: Mapping[str, Any]) -> None:
        """Replace a stored message's `meta` (what the desk learnt of it after storing it)."""
        ...

    async def last_customer_messages(self, conversation_ids: Sequence[str]) -> dict[str, Message]:
        """Each conversation's latest customer message, by conversation id (a conversation
        where the customer has not written is left out)."""
        ...

    async def record_faq_choice(self, choice: FaqChoice) -> None: ...

    async def faq_choices(self, *, limit: int = 1000) -> list[FaqChoice]:
        """The most recent picks, newest first."""
        ...

    async def record_faq_feedback(self, feedback: FaqFeedback) -> tuple[FaqFeedback, bool]:
        """Store the customer's word on an answer unless one is stored already (the first
        stands): returns the stored feedback and whether it is this one."""
        ...

    async def faq_feedback(self, conversation_id: str, answer_seq: int) -> FaqFeedback | None: ...

    async def record_faq_decline(self, decline: FaqDecline) -> bool:
        """False when this customer message's decline is stored already."""
        ...

    async def faq_declines(self, *, limit: int = 1000) -> list[FaqDecline]:
        """The most recent declined questions, newest first."""
        ...

    async def faq_gap_rows(
        self, since: datetime, until: datetime, language: str | None = None
    ) -> list[dict[str, Any]]:
        """Declined questions, answers marked not helpful and suggestion picks recorded in
        [since, until): rows of `kind`, `language`, `query`, `faq_id`, `created_at`."""
        ...

    async def record_rating(
        self, rating: Rating, followup: FollowUp | None, rated: Conversation
    ) -> tuple[Rating, FollowUp | None, bool]:
        """Store a rating, its follow-up and the conversation as rated, all or nothing,
        unless the conversation is rated already: then the stored ones and False."""
        ...

    async def rating(self, conversation_id: str) -> tuple[Rating, FollowUp | None] | None: ...

    async def followup(self, followup_id: str) -> FollowUp | None: ...

    async def unhandled_followups(self) -> list[FollowUp]:
        """Open and missed follow-ups, soonest deadline first."""
        ...

    async def followups_due(self, now: datetime) -> list[FollowUp]:
        """Unhandled follow-ups not yet counted as missed whose deadline is at or before
        `now`, soonest first: what the tick decides on, without the others."""
        ...

    async def save_followup(self, followup: FollowUp) -> None: ...

    async def ratings_between(self, since: datetime, until: datetime) -> list[Rating]: ...

    async def followups_between(self, since: datetime, until: datetime) -> list[FollowUp]:
        """Follow-ups opened in [since, until)."""
        ...

    async def create_agent(self, account: AgentAccount) -> None:
        """Raises DuplicateAgent when the username is taken."""
        ...

    async def agent(self, agent_id: str) -> AgentAccount | None: ...

    async def agent_by_username(self, username: str) -> AgentAccount | None: ...

    async def agents(self) -> list[AgentAccount]: ...

    async def set_takes_chats(self, agent_id: str, on: bool) -> None:
        """Store a supervisor's choice to be offered chats."""
        ...

    async def create_session(self, session: Session) -> None: ...

    async def canned_replies(self) -> list[CannedReply]:
        """Every canned reply, by language then title."""
        ...

    async def canned_reply(self, reply_id: str) -> CannedReply | None: ...

    async def save_canned_reply(self, reply: CannedReply) -> None:
        """Insert or replace by id."""
        ...

    async def delete_canned_reply(self, reply_id: str) -> bool:
        """False when there was no such reply."""
        ...

    async def session(self, token_hash: str) -> Session | None: ...

    async def delete_session(self, token_hash: str) -> None: ...

    async def delete_agent_sessions(self, agent_id: str) -> int:
        """End every session of one agent; returns how many there were."""
        ...

    async def save_announcement(self, announcement: Announcement) -> None:
        """Insert a new announcement or store its new version."""
        ...

    async def announcement(self, announcement_id: str) -> Announcement | None: ...

    async def active_announcements(self) -> list[Announcement]:
        """Those not resolved, oldest first."""
        ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached (readiness)."""
        ...

    async def close(self) -> None: ...
