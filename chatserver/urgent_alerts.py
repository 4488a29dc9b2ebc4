"""Urgent chats (margin call, forced liquidation, a hacked account...) are "started at once,
resolved within 1 hour, notified on every channel": when one is handed off, re-queued or
transferred, the desk raises one alert for it, to consoles, by email and to a webhook.

This module decides, without I/O: whether a conversation raises the alert now (urgent, and
never alerted before: a re-queued or transferred chat does not alert twice), which agents'
consoles hear it (those online who speak its language; when none does, those of the first
fallback language that has someone online, where the router widens it at once; supervisors
always, through their own room), and what the email and the webhook say. Sending is
`urgent_notifier.py`'s; the desk's side (`human/urgent.py`) keeps who was told, so that
the alert can be taken down when someone takes the chat or it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatserver import sla
from chatserver.i18n import N_
from chatserver.models import Conversation, Priority

# What the email and the webhook say, in the desk's default language.
EMAIL_SUBJECT = N_("Urgent chat waiting: {number}")
EMAIL_BODY = N_(
    "An urgent chat is waiting for an agent.\n\n"
    "Tracking number: {number}\n"
    "Language: {language}\n"
    "Topic: {topic}\n"
    "Waiting since: {queued_at}\n"
    "First response due: {first_response_due}\n"
    "Resolution due: {resolution_due}\n\n"
    "Open the console to take it: {console_url}"
)
WEBHOOK_TEXT = N_("Urgent chat waiting: {number} ({language}, {topic}). Take it: {console_url}")
# Shown for a due time the chat has no clock for.
NO_DEADLINE = N_("none")


@dataclass(frozen=True, slots=True)
class UrgentAlert:
    """One urgent chat waiting for a person, as every channel tells it."""

    conversation_id: str
    tracking_number: str
    language: str
    team: str
    topic: str  # the SLA cell's topic (or team), e.g. "security"
    faq_id: str | None  # the FAQ entry it was handed off from, when known
    queued_at: datetime
    first_response_due: datetime | None
    resolution_due: datetime | None


@dataclass(frozen=True, slots=True)
class Listener:
    """An agent on the desk, as far as the alert cares."""

    agent_id: str
    languages: tuple[str, ...]
    online: bool
    supervises: bool


def is_due(conversation: Conversation, raised: Collection[str]) -> bool:
    """Whether the conversation raises its alert now: urgent, and never raised before."""
    return conversation.priority is Priority.URGENT and conversation.id not in raised


def alert_for(
    conversation: Conversation,
    applied: sla.AppliedSla | None,
    *,
    now: datetime,
    faq_id: str | None = None,
) -> UrgentAlert:
    """The alert of an urgent conversation, its due times from its SLA clocks."""
    resolution = applied.resolution if applied is not None else None
    return UrgentAlert(
        conversation_id=conversation.id,
        tracking_number=conversation.tracking_number or "",
        language=conversation.language,
        team=str(conversation.team) if conversation.team is not None else "",
        topic=topic_of(applied, conversation),
        faq_id=faq_id,
        queued_at=conversation.handed_off_at or now,
        first_response_due=applied.first_response.due_at if applied is not None else None,
        resolution_due=resolution.due_at if resolution is not None else None,
    )


def topic_of(applied: sla.AppliedSla | None, conversation: Conversation) -> str:
    """The cell's topic, from its name (`chat/security/standard/urgent`), else the team."""
    if applied is not None:
        parts = applied.policy.name.split("/")
        if len(parts) == 4 and parts[1] != "-":
            return parts[1]
    return str(conversation.team) if conversation.team is not None else ""


def recipients(language: str, chain: Sequence[str], listeners: Iterable[Listener]) -> list[str]:
    """The agents (not supervisors: they have their own room) whose consoles hear the
    alert: online and speaking the chat's language; when nobody online does, those of the
    first language of its fallback chain that has someone online."""
    agents = [one for one in listeners if one.online and not one.supervises]
    for step in (language, *chain):
        told = [one.agent_id for one in agents if step in one.languages]
        if told:
            return sorted(told)
    return []


def email_text(
    alert: UrgentAlert, gettext: Callable[[str], str], *, console_url: str
) -> tuple[str, str]:
    """The subject and body of the alert's email."""
    values = _values(alert, gettext, console_url)
    return gettext(EMAIL_SUBJECT).format(**values), gettext(EMAIL_BODY).format(**values)


def webhook_payload(
    alert: UrgentAlert, gettext: Callable[[str], str], *, console_url: str
) -> dict[str, Any]:
    """The JSON posted to the webhook; `text` is what Slack and Mattermost show."""
    return {
        "text": gettext(WEBHOOK_TEXT).format(**_values(alert, gettext, console_url)),
        "conversation_id": alert.conversation_id,
        "tracking_number": alert.tracking_number,
        "language": alert.language,
        "topic": alert.topic,
        "queued_at": alert.queued_at.isoformat(),
        "console_url": console_url,
    }


def _values(alert: UrgentAlert, gettext: Callable[[str], str], console_url: str) -> dict[str, str]:
    def when(moment: datetime | None) -> str:
        return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if moment else gettext(NO_DEADLINE)

    return {
        "number": alert.tracking_number,
        "language": alert.language,
        "topic": alert.topic or alert.team,
        "queued_at": when(alert.queued_at),
        "first_response_due": when(alert.first_response_due),
        "resolution_due": when(alert.resolution_due),
        "console_url": console_url,
    }
