"""The offline inbox: messages and callback requests left when nobody could chat.

A left message (with an email address) is an inquiry on the email channel, a callback
request (phone number, preferred time) one on the callback channel; each gets the
channel's first-response target from the SLA policies (`sla.policy_for`): email 1 h around
the clock, callback 15 min counted only in the callback channel's business hours. Each
channel has its own hours and languages (`ChannelDesk`); a request in a language the
channel does not serve is handled in English, the brief's backup language.

Pure: no I/O, no wall clock. Every change takes `now` and returns a new frozen item;
`InboxError` names a refused step.

Status: open (waiting for an agent) -> taken (an agent works on it) -> answered (replied
by email, or called back) -> closed (resolved). A customer's emailed reply reopens it
with a new deadline; a callback nobody answered goes back to open, still due.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import count

from chatserver.hours import ALWAYS, Hours
from chatserver.models import DomainError
from chatserver.sla import Channel

# The backup language for a request in a language its channel does not serve.
BACKUP_LANGUAGE = "en"


class InboxKind(StrEnum):
    MESSAGE = "message"  # answered by email
    CALLBACK = "callback"  # answered by phone


class InboxStatus(StrEnum):
    OPEN = "open"
    TAKEN = "taken"
    ANSWERED = "answered"
    CLOSED = "closed"


class Outcome(StrEnum):
    CALLED_BACK = "called_back"
    NO_ANSWER = "no_answer"
    RESOLVED = "resolved"


# The widget's `leave_message` kinds, and the channel whose targets apply to each.
KIND_OF_REQUEST = {"email": InboxKind.MESSAGE, "callback": InboxKind.CALLBACK}
CHANNEL_OF = {InboxKind.MESSAGE: Channel.EMAIL, InboxKind.CALLBACK: Channel.CALLBACK}


class InboxError(DomainError):
    """A step the item's state does not allow (the code goes into the error ack)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ChannelDesk:
    """When a channel's clock runs and which languages it serves (None: every language)."""

    channel: Channel
    hours: Hours = ALWAYS
    languages: frozenset[str] | None = None

    def language_for(self, language: str) -> str:
        """The language the request is handled in: its own, or the backup language."""
        if self.languages is None or language in self.languages:
            return language
        return BACKUP_LANGUAGE


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: str
    conversation_id: str
    tracking_number: str
    kind: InboxKind
    language: str
    contact: str
    text: str
    preferred_time: str
    created_at: datetime
    due_at: datetime  # when the current wait for the desk's answer runs out
    status: InboxStatus = InboxStatus.OPEN
    outcome: Outcome | None = None
    taken_by: str | None = None
    responded_at: datetime | None = None  # the first answer (email sent, called back)
    updated_at: datetime | None = None
    policy: str | None = None  # the SLA matrix cell whose target set `due_at`
    target_seconds: float | None = None  # that first-response target
    warned_at: datetime | None = None  # agents were warned the deadline was near
    breached_at: datetime | None = None  # the deadline passed without a first answer

    def overdue(self, now: datetime) -> bool:
        return self.waiting and now > self.due_at

    @property
    def waiting(self) -> bool:
        """Waiting for the desk: open or taken, not yet answered."""
        return self.status in (InboxStatus.OPEN, InboxStatus.TAKEN)


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One message of an item's thread: the customer's (`in`) or the desk's email (`out`)."""

    id: str
    item_id: str
    direction: str  # in | out
    author: str | None  # the agent who wrote an `out` entry
    text: str
    at: datetime


def open_spans(hours: Hours, since: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The schedule's open intervals (UTC) from the week of `since` on, endlessly."""
    local = since.astimezone(hours.zone)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    for week in count():
        base = monday + timedelta(weeks=week)
        for start, end in hours.intervals:
            yield (
                (base + timedelta(minutes=start)).astimezone(UTC),
                (base + timedelta(minutes=end)).astimezone(UTC),
            )


def business_deadline(start: datetime, target: timedelta, hours: Hours) -> datetime:
    """`start` plus `target`, counting only the time the schedule is open: a callback left
    on Friday evening is due 15 minutes after Monday's opening."""
    if hours.always:
        return start + target
    remaining, cursor = target, start
    for span_start, span_end in open_spans(hours, start):
        if span_end <= cursor:
            continue
        begin = max(span_start, cursor)
        if span_end - begin >= remaining:
            return begin + remaining
        remaining -= span_end - begin
        cursor = span_end
    raise AssertionError("unreachable: open_spans is endless")  # pragma: no cover


def new_item(
    *,
    item_id: str,
    conversation_id: str,
    tracking_number: str,
    kind: InboxKind,
    language: str,
    contact: str,
    text: str,
    preferred_time: str,
    now: datetime,
    desk: ChannelDesk,
    target: timedelta,
    policy: str | None = None,
) -> InboxItem:
    """A new open item, due `target` after `now` in the channel's hours (`policy`: the
    SLA cell the target comes from, kept for the reports)."""
    return InboxItem(
        id=item_id,
        conversation_id=conversation_id,
        tracking_number=tracking_number,
        kind=kind,
        language=desk.language_for(language),
        contact=contact,
        text=text,
        preferred_time=preferred_time,
        created_at=now,
        due_at=business_deadline(now, target, desk.hours),
        updated_at=now,
        policy=policy,
        target_seconds=target.total_seconds(),
    )


def take(item: InboxItem, agent_id: str, now: datetime) -> InboxItem:
    """An agent takes the item; another agent's taken item cannot be taken from them."""
    if item.status is InboxStatus.CLOSED:
        raise InboxError("inbox_closed", "this inquiry is closed")
    if item.taken_by not in (None, agent_id) and item.status is InboxStatus.TAKEN:
        raise InboxError("inbox_taken", "another agent has taken this inquiry")
    status = InboxStatus.TAKEN if item.waiting else item.status
    return replace(item, status=status, taken_by=agent_id, updated_at=now)


def _holder(item: InboxItem, agent_id: str) -> None:
    if item.taken_by != agent_id:
        raise InboxError("inbox_not_taken", "take this inquiry first")
    if item.status is InboxStatus.CLOSED:
        raise InboxError("inbox_closed", "this inquiry is closed")


def answered(item: InboxItem, agent_id: str, now: datetime) -> InboxItem:
    """The holder sent the customer an email."""
    _holder(item, agent_id)
    if item.kind is not InboxKind.MESSAGE:
        raise InboxError("invalid_outcome", "a callback request is answered by phone")
    return replace(
        item,
        status=InboxStatus.ANSWERED,
        responded_at=item.responded_at or now,
        updated_at=now,
    )


def record_outcome(item: InboxItem, agent_id: str, outcome: Outcome, now: datetime) -> InboxItem:
    """called_back: answered; no_answer: back in the inbox, still due; resolved: closed."""
    _holder(item, agent_id)
    if outcome is not Outcome.RESOLVED and item.kind is not InboxKind.CALLBACK:
        raise InboxError("invalid_outcome", f"{outcome} is an outcome of a callback")
    if outcome is Outcome.NO_ANSWER:
        return replace(
            item, status=InboxStatus.OPEN, outcome=outcome, taken_by=None, updated_at=now
        )
    if outcome is Outcome.CALLED_BACK:
        return replace(
            item,
            status=InboxStatus.ANSWERED,
            outcome=outcome,
            responded_at=item.responded_at or now,
            updated_at=now,
        )
    return replace(
        item,
        status=InboxStatus.CLOSED,
        outcome=outcome,
        responded_at=item.responded_at or now,
        updated_at=now,
    )


def reopen(item: InboxItem, now: datetime, *, desk: ChannelDesk, target: timedelta) -> InboxItem:
    """The customer wrote back: the item waits for the desk again, with a new deadline. The
    agent who held it keeps it (they know the thread)."""
    status = InboxStatus.TAKEN if item.taken_by else InboxStatus.OPEN
    return replace(
        item,
        status=status,
        outcome=None,
        due_at=business_deadline(now, target, desk.hours),
        updated_at=now,
    )


def visible_to(items: Iterable[InboxItem], languages: Iterable[str] | None) -> list[InboxItem]:
    """Items not closed in one of `languages` (None: all, for supervisors), soonest due first."""
    spoken = None if languages is None else set(languages)
    shown = [
        item
        for item in items
        if item.status is not InboxStatus.CLOSED and (spoken is None or item.language in spoken)
    ]
    return sorted(shown, key=lambda item: (not item.waiting, item.due_at, item.id))


__all__ = [
    "BACKUP_LANGUAGE",
    "CHANNEL_OF",
    "KIND_OF_REQUEST",
    "ChannelDesk",
    "InboxEntry",
    "InboxError",
    "InboxItem",
    "InboxKind",
    "InboxStatus",
    "Outcome",
    "business_deadline",
    "new_item",
    "open_spans",
    "record_outcome",
    "reopen",
    "take",
    "visible_to",
]
