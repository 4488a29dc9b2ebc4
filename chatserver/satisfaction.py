"""Customer satisfaction (CSAT) and the 24-hour promise on negative feedback.

The brief asks for a survey after every support interaction and that negative feedback is
answered within 24 hours. A closed conversation is rated once (1-5, optional comment); a
rating of 1 or 2 opens a follow-up due 24 hours later. A supervisor marks it handled with
a note; one still unhandled at its deadline is missed, a breach like an SLA miss (and can
still be handled, late).

Pure: time is passed in, nothing here reads a clock, a socket or the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from chatserver.models import Author, Conversation, ConversationStatus, DomainError, Message

SCORES = range(1, 6)
NEGATIVE_AT_MOST = 2  # scores of 1 and 2 are negative feedback
FOLLOW_UP_WITHIN = timedelta(hours=24)
MAX_COMMENT_CHARS = 2000
MAX_NOTE_CHARS = 2000


class NotClosed(DomainError):
    """Only a conversation that has ended (closed, with a survey) can be rated."""

    code = "not_closed"


class NothingToRate(DomainError):
    """A chat closed before anyone served the customer (no agent's message, no bot reply
    to their words) asks for no rating: there was no support to judge."""

    code = "nothing_to_rate"


class UnknownFollowUp(DomainError):
    code = "unknown_followup"


class AlreadyHandled(DomainError):
    code = "already_handled"


class FollowUpState(StrEnum):
    OPEN = "open"  # unhandled, before its deadline
    HANDLED = "handled"  # someone answered the customer (in time or late)
    MISSED = "missed"  # unhandled past its deadline: a breach


@dataclass(frozen=True, slots=True)
class Rating:
    """The customer's word on a closed conversation; one per conversation."""

    id: str
    conversation_id: str
    score: int
    comment: str
    language: str
    team: str | None
    agent_id: str | None  # who had the chat last (None: the bot alone)
    tracking_number: str | None
    created_at: datetime

    @property
    def negative(self) -> bool:
        return self.score <= NEGATIVE_AT_MOST


@dataclass(frozen=True, slots=True)
class FollowUp:
    """Negative feedback to answer by `due_at`; its rating says what was said."""

    id: str
    rating: Rating
    due_at: datetime
    breached: bool = False  # counted as missed (once), whether handled later or not
    handled_at: datetime | None = None
    handled_by: str | None = None  # the supervisor's agent id
    note: str = ""

    @property
    def conversation_id(self) -> str:
        return self.rating.conversation_id

    @property
    def opened_at(self) -> datetime:
        return self.rating.created_at

    def state(self, now: datetime) -> FollowUpState:
        if self.handled_at is not None:
            return FollowUpState.HANDLED
        if self.breached or now >= self.due_at:
            return FollowUpState.MISSED
        return FollowUpState.OPEN

    def remaining_seconds(self, now: datetime) -> float:
        """Seconds until the deadline; negative once it has passed."""
        return round((self.due_at - now).total_seconds(), 1)

    @property
    def handled_in_time(self) -> bool:
        return self.handled_at is not None and self.handled_at <= self.due_at

    def handle(self, note: str, *, by: str, now: datetime) -> FollowUp:
        """Marked handled with what was done; a missed one stays counted as missed."""
        if self.handled_at is not None:
            raise AlreadyHandled("this follow-up is handled already")
        return replace(
            self,
            handled_at=now,
            handled_by=by,
            note=note,
            breached=self.breached or now > self.due_at,
        )

    def breach(self, now: datetime) -> FollowUp | None:
        """The follow-up as missed if its deadline passed unhandled and it is not counted
        yet; None otherwise."""
        if self.breached or self.handled_at is not None or now < self.due_at:
            return None
        return replace(self, breached=True)


def rate(
    conversation: Conversation,
    score: int,
    comment: str,
    *,
    rating_id: str,
    now: datetime,
) -> Rating:
    """The rating of a closed conversation (a rated one is the caller's duplicate)."""
    if conversation.status is not ConversationStatus.CLOSED:
        raise NotClosed(f"a {conversation.status} conversation cannot be rated")
    if score not in SCORES:
        raise ValueError(f"a score is 1-5, not {score}")
    return Rating(
        id=rating_id,
        conversation_id=conversation.id,
        score=score,
        comment=comment,
        language=conversation.language,
        team=str(conversation.team) if conversation.team else None,
        agent_id=conversation.agent_id,
        tracking_number=conversation.tracking_number,
        created_at=now,
    )


def had_exchange(messages: Iterable[Message]) -> bool:
    """Whether anyone served the customer: an agent wrote to them (not an internal note),
    or the bot answered something they wrote (its greeting before their first word does
    not count). A closed chat with an exchange may be rated whenever the customer comes
    back to it, even one the desk closed because they left; one without asks nothing."""
    wrote = False
    for message in sorted(messages, key=lambda m: m.seq):
        if message.author is Author.CUSTOMER:
            wrote = True
        elif (message.author is Author.AGENT and not message.internal) or (
            message.author is Author.BOT and wrote
        ):
            return True
    return False


def follow_up(rating: Rating, *, followup_id: str) -> FollowUp | None:
    """Negative feedback opens a follow-up due FOLLOW_UP_WITHIN after the rating."""
    if not rating.negative:
        return None
    return FollowUp(id=followup_id, rating=rating, due_at=rating.created_at + FOLLOW_UP_WITHIN)


def newly_missed(followups: list[FollowUp], now: datetime) -> list[FollowUp]:
    """The follow-ups whose deadline passed unhandled since the last look, as missed."""
    return [missed for f in followups if (missed := f.breach(now)) is not None]
