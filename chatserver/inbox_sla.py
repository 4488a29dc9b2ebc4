"""The offline inbox's first-response SLA, measured like the chat's: a warning before the
deadline, a breach once when it passes without a first answer, and attainment per channel,
language and SLA cell for the reports.

Pure: takes items and `now`, returns changed items and rows; the tick in `inbox_desk.py`
stores them and tells the consoles. One first response per item: a customer's emailed
reply moves the deadline of an item not yet answered, but an item answered once (or
breached once) is not measured again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from chatserver.inbox import CHANNEL_OF, InboxItem
from chatserver.sla import default_warn_before


class FirstResponse(StrEnum):
    HIT = "hit"  # answered by the deadline
    MISSED = "missed"  # answered late, or still waiting past it
    PENDING = "pending"  # still waiting, the deadline to come


@dataclass(frozen=True, slots=True)
class Tick:
    """What a tick of the inbox's clock changed: items to warn about and newly breached."""

    warned: list[InboxItem]
    breached: list[InboxItem]


def warn_before(item: InboxItem) -> timedelta:
    """As the chat: a third of the target, at most an hour (email 1 h -> 20 min; callback
    15 min -> 5 min). Items from before targets were stored: a third of the wait left."""
    target = (
        timedelta(seconds=item.target_seconds)
        if item.target_seconds is not None
        else item.due_at - item.created_at
    )
    return default_warn_before(target)


def warn_at(item: InboxItem) -> datetime:
    """When the warning is due; the store keeps it beside `due_at`, so that the tick reads
    only the items whose warning or breach has come (`Store.inbox_items_due`)."""
    return item.due_at - warn_before(item)


def _measured(item: InboxItem) -> bool:
    """Still waiting for its first answer, and not breached yet."""
    return item.waiting and item.responded_at is None and item.breached_at is None


def tick(items: Iterable[InboxItem], now: datetime) -> Tick:
    """Items whose deadline passed (breached, once each) and those it is near (warned,
    once each; an item breached at the same tick is not also warned)."""
    warned, breached = [], []
    for item in items:
        if not _measured(item):
            continue
        if now > item.due_at:
            breached.append(replace(item, breached_at=now))
        elif item.warned_at is None and now >= warn_at(item):
            warned.append(replace(item, warned_at=now))
    return Tick(warned, breached)


def first_response(item: InboxItem, now: datetime) -> FirstResponse:
    if item.breached_at is not None:
        return FirstResponse.MISSED
    if item.responded_at is not None:
        return FirstResponse.HIT if item.responded_at <= item.due_at else FirstResponse.MISSED
    return FirstResponse.MISSED if now > item.due_at else FirstResponse.PENDING


def first_response_seconds(item: InboxItem) -> float | None:
    if item.responded_at is None:
        return None
    return (item.responded_at - item.created_at).total_seconds()


INBOX_COLUMNS = (
    "channel",
    "language",
    "cell",
    "frt_target_seconds",
    "items",
    "answered",
    "within_target",
    "missed",
    "pending",
    "share_within_target",
    "frt_p50_seconds",
    "frt_p90_seconds",
)
# Items left before the inbox stored its SLA cell.
UNRECORDED = "-/-/-/-"


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def build_inbox_report(items: Iterable[InboxItem], *, now: datetime) -> list[dict[str, Any]]:
    """First-response attainment of the items left in a range, one row per channel,
    language, cell and target (in that order); share = hit / (hit + missed)."""
    groups: dict[tuple[str, str, str, float | None], list[InboxItem]] = {}
    for item in items:
        key = (
            str(CHANNEL_OF[item.kind]),
            item.language,
            item.policy or UNRECORDED,
            item.target_seconds,
        )
        groups.setdefault(key, []).append(item)
    report = []
    for (channel, language, cell, target), members in sorted(
        groups.items(), key=lambda g: (g[0][0], g[0][1], g[0][2], g[0][3] or 0)
    ):
        statuses = [first_response(item, now) for item in members]
        seconds = [s for s in map(first_response_seconds, members) if s is not None]
        hit = statuses.count(FirstResponse.HIT)
        missed = statuses.count(FirstResponse.MISSED)
        report.append(
            {
                "channel": channel,
                "language": language,
                "cell": cell,
                "frt_target_seconds": target,
                "items": len(members),
                "answered": len(seconds),
                "within_target": hit,
                "missed": missed,
                "pending": statuses.count(FirstResponse.PENDING),
                "share_within_target": round(hit / (hit + missed), 4) if hit + missed else None,
                "frt_p50_seconds": _quantile(seconds, 0.5),
                "frt_p90_seconds": _quantile(seconds, 0.9),
            }
        )
    return report


def monthly_inbox(items: Iterable[InboxItem], *, now: datetime) -> list[dict[str, Any]]:
    """The monthly review's inbox lines, one per channel (email, callback; both always, so
    months compare): items received, answered within target, breached (answered late or
    still waiting past the deadline), waiting with time left, and the share within target."""
    by_channel: dict[str, list[FirstResponse]] = {str(c): [] for c in CHANNEL_OF.values()}
    for item in items:
        by_channel[str(CHANNEL_OF[item.kind])].append(first_response(item, now))
    lines = []
    for channel, statuses in by_channel.items():
        hit = statuses.count(FirstResponse.HIT)
        missed = statuses.count(FirstResponse.MISSED)
        lines.append(
            {
                "channel": channel,
                "received": len(statuses),
                "within_target": hit,
                "breached": missed,
                "pending": statuses.count(FirstResponse.PENDING),
                "attainment": round(hit / (hit + missed), 4) if hit + missed else None,
            }
        )
    return lines


__all__ = [
    "INBOX_COLUMNS",
    "FirstResponse",
    "Tick",
    "build_inbox_report",
    "first_response",
    "first_response_seconds",
    "monthly_inbox",
    "tick",
    "warn_at",
    "warn_before",
]
