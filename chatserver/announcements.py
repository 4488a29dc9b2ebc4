"""Announcements: what the desk tells every customer and agent at once during an incident
(a platform outage, a market emergency), and the progress of its recovery.

The brief's emergency protocol notifies customers and shares recovery progress in real
time: a supervisor posts an announcement with a severity and its text per language
(English required: the desk's emergency backup language), revises it as the recovery goes
on (each revision is a new version customers see in place of the last) and resolves it,
perhaps with a closing text. Pure: values in, values out; the caller brings `now` and ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

ENGLISH = "en"  # the brief: "English is the emergency backup language"
MAX_TEXT_CHARS = 1000


class Severity(StrEnum):
    INFO = "info"  # planned maintenance, a notice
    WARNING = "warning"  # degraded service: slow withdrawals, a delayed feed
    CRITICAL = "critical"  # an outage or a market emergency


class AnnouncementStatus(StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"


class InvalidAnnouncement(ValueError):
    """A request the desk cannot announce; `field` names the part of the body at fault."""

    code = "invalid_payload"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class AnnouncementResolved(ValueError):
    """A resolved announcement is final: post a new one."""

    code = "already_resolved"


@dataclass(frozen=True, slots=True)
class Announcement:
    id: str
    severity: Severity
    texts: Mapping[str, str]  # language -> text; English always present
    created_at: datetime
    updated_at: datetime
    by: str  # the supervisor's agent id
    version: int = 1
    resolved_at: datetime | None = None
    resolution: Mapping[str, str] = field(default_factory=dict)  # closing texts, optional

    @property
    def status(self) -> AnnouncementStatus:
        return (
            AnnouncementStatus.ACTIVE if self.resolved_at is None else AnnouncementStatus.RESOLVED
        )


@dataclass(frozen=True, slots=True)
class Chosen:
    """The text a reader of `asked` gets, and the language it is in."""

    text: str
    language: str


def parse_severity(raw: Any) -> Severity:
    if not isinstance(raw, str) or raw not in set(Severity):
        choices = ", ".join(Severity)
        raise InvalidAnnouncement("severity", f"one of {choices}")
    return Severity(raw)


def check_texts(
    raw: Any, languages: Sequence[str], *, name: str = "texts", required: bool = True
) -> dict[str, str]:
    """`{"en": ..., "ja": ...}`: English required (when `required`), every key one of the
    desk's languages, every text non-blank and at most MAX_TEXT_CHARS."""
    if not isinstance(raw, dict):
        raise InvalidAnnouncement(name, 'an object of texts by language, e.g. {"en": "..."}')
    texts: dict[str, str] = {}
    for language, text in raw.items():
        if language not in languages:
            raise InvalidAnnouncement(
                f"{name}.{language}", f"not a desk language; choose from {', '.join(languages)}"
            )
        if not isinstance(text, str) or not text.strip():
            raise InvalidAnnouncement(f"{name}.{language}", "a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidAnnouncement(f"{name}.{language}", f"at most {MAX_TEXT_CHARS} characters")
        texts[language] = text.strip()
    if required and ENGLISH not in texts:
        raise InvalidAnnouncement(f"{name}.{ENGLISH}", "English is required (the fallback)")
    if texts and ENGLISH not in texts:
        raise InvalidAnnouncement(f"{name}.{ENGLISH}", "English is required with any text")
    return texts


def post(
    announcement_id: str,
    *,
    severity: Severity,
    texts: Mapping[str, str],
    by: str,
    now: datetime,
) -> Announcement:
    return Announcement(
        id=announcement_id,
        severity=severity,
        texts=dict(texts),
        created_at=now,
        updated_at=now,
        by=by,
    )


def revise(
    announcement: Announcement,
    *,
    severity: Severity | None,
    texts: Mapping[str, str] | None,
    now: datetime,
) -> Announcement:
    """A new version: the texts given replace the old ones entirely (a translation left
    out is not left stale)."""
    if announcement.resolved_at is not None:
        raise AnnouncementResolved("this announcement is resolved; post a new one")
    return replace(
        announcement,
        severity=severity or announcement.severity,
        texts=dict(texts) if texts else announcement.texts,
        updated_at=now,
        version=announcement.version + 1,
    )


def resolve(
    announcement: Announcement, *, resolution: Mapping[str, str], now: datetime
) -> Announcement:
    if announcement.resolved_at is not None:
        raise AnnouncementResolved("this announcement is resolved already")
    return replace(
        announcement,
        resolved_at=now,
        resolution=dict(resolution),
        updated_at=now,
        version=announcement.version + 1,
    )


def text_for(
    announcement: Announcement,
    language: str,
    fallbacks: Mapping[str, Sequence[str]] | None = None,
) -> Chosen:
    """The text for a reader of `language`: that language's, else the first of its
    fallbacks (the router's chains: zh-Hant -> zh-Hans -> en) with one, else English. A
    resolved announcement reads its closing text when it has one."""
    texts = announcement.resolution or announcement.texts
    for candidate in (language, *(fallbacks or {}).get(language, ()), ENGLISH):
        if candidate in texts:
            return Chosen(texts[candidate], candidate)
    raise AssertionError("an announcement always has English")  # parse_texts ensures it
