"""The supervisors' dashboard: the desk now (agents, queues, SLA alerts still standing) and
today so far in the desk's time zone (first responses within the 30-second target by
language and by hour, abandonment, CSAT), as one snapshot.

Pure: the handler reads the desk state and the store and passes the values in, so the
figures are tested with a fake clock and no server. "Today" is the desk's calendar day
(`CHATSERVER_TIMEZONE`), not UTC's, because that is the day a supervisor reports on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chatserver.csat_reports import SATISFIED_AT_LEAST
from chatserver.csv_cells import cell as _cell
from chatserver.inbox import InboxItem
from chatserver.routing import QueueKey, WaitingView
from chatserver.satisfaction import Rating
from chatserver.sla import AppliedSla, ClockStatus

STATUSES = ("online", "away", "offline")
CSV_COLUMNS = ("section", "group", "metric", "value")


@dataclass(frozen=True, slots=True)
class AgentLoad:
    """An agent as the dashboard lists them: presence and chats held against capacity."""

    id: str
    name: str
    role: str
    status: str  # online | away | offline
    load: int
    capacity: int


@dataclass(frozen=True, slots=True)
class ChatFacts:
    """What an alert says about its chat (the clocks know only its id)."""

    language: str
    team: str
    priority: str


@dataclass(frozen=True, slots=True)
class Alert:
    """A warning or breach still standing: its clock has not stopped in time since."""

    type: str  # warning | breach
    conversation_id: str
    kind: str  # first_response | resolution
    raised_at: datetime
    due_at: datetime
    remaining_seconds: float
    facts: ChatFacts | None
    item: InboxItem | None = None  # an offline inbox item's first response


def today(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """[start of the desk's calendar day, now), both in UTC."""
    local = now.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(UTC), now


def agents_section(agents: Iterable[AgentLoad]) -> dict[str, Any]:
    """Agents by presence, and their load (online and away agents' chats held and the
    capacity of those online): offline agents are listed last."""
    ordered = sorted(agents, key=lambda a: (STATUSES.index(a.status), a.name.lower(), a.id))
    return {
        "counts": {status: sum(a.status == status for a in ordered) for status in STATUSES},
        "held": sum(a.load for a in ordered),
        "capacity": sum(a.capacity for a in ordered if a.status == "online"),
        "agents": [
            {
                "id": a.id,
                "name": a.name,
                "role": a.role,
                "status": a.status,
                "load": a.load,
                "capacity": a.capacity,
            }
            for a in ordered
        ],
    }


def queues_section(
    lengths: Mapping[QueueKey, int], waiting: Iterable[WaitingView]
) -> list[dict[str, Any]]:
    """Each queue with people in it: its length and its oldest wait, longest wait first."""
    oldest: dict[str, float] = {}
    for view in waiting:
        name = str(view.queue)
        oldest[name] = max(oldest.get(name, 0.0), view.waited)
    rows = [
        {
            "queue": str(key),
            "language": key.language,
            "team": str(key.team),
            "waiting": length,
            "oldest_wait_seconds": round(oldest.get(str(key), 0.0), 1),
        }
        for key, length in lengths.items()
        if length > 0
    ]
    return sorted(rows, key=lambda r: (-r["oldest_wait_seconds"], r["queue"]))


def _share(hit: int, missed: int) -> float | None:
    return round(hit / (hit + missed), 4) if hit + missed else None


def _tally(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    rows = list(rows)
    hit = sum(1 for r in rows if r["frt_status"] == "hit")
    missed = sum(1 for r in rows if r["frt_status"] == "missed")
    return {
        "handoffs": len(rows),
        "within_target": hit,
        "missed": missed,
        "share_within_target": _share(hit, missed),
    }


def within_target(
    rows: Sequence[Mapping[str, Any]], *, now: datetime, timezone: str
) -> dict[str, Any]:
    """First responses within target today: overall, by language (those with a handoff)
    and by the desk's hour, every hour from midnight to now (an empty hour is a gap in the
    chart, not a missing bar). A chat still waiting past its target counts as missed at
    once; one still in time, or abandoned, counts neither way (as `reports.py`)."""
    zone = ZoneInfo(timezone)
    languages: dict[str, list[Mapping[str, Any]]] = {}
    hours: dict[int, list[Mapping[str, Any]]] = {
        h: [] for h in range(now.astimezone(zone).hour + 1)
    }
    for row in rows:
        languages.setdefault(str(row["language"]), []).append(row)
        hour = row["handed_off_at"].astimezone(zone).hour
        hours.setdefault(hour, []).append(row)
    return {
        **_tally(rows),
        "by_language": [
            {"language": language, **_tally(members)}
            for language, members in sorted(languages.items())
        ],
        "by_hour": [{"hour": hour, **_tally(members)} for hour, members in sorted(hours.items())],
    }


def abandonment(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Customers handed to the queue today who left before anyone took their chat."""
    left = sum(1 for r in rows if r.get("status") == "abandoned")
    return {
        "handoffs": len(rows),
        "abandoned": left,
        "share": round(left / len(rows), 4) if rows else None,
    }


def csat(ratings: Sequence[Rating]) -> dict[str, Any]:
    """Today's ratings: how many, their average, and the share of 4 and 5 (CSAT)."""
    count = len(ratings)
    satisfied = sum(1 for r in ratings if r.score >= SATISFIED_AT_LEAST)
    return {
        "ratings": count,
        "average": round(sum(r.score for r in ratings) / count, 2) if count else None,
        "csat": round(satisfied / count, 4) if count else None,
    }


def current_alerts(
    clocks: Iterable[AppliedSla],
    facts: Mapping[str, ChatFacts],
    inbox_items: Iterable[InboxItem],
    *,
    now: datetime,
) -> list[Alert]:
    """The warnings and breaches that still stand, whenever they were raised (before any
    supervisor logged in too): a breached clock of an open chat (answered late or not: the
    chat is still open), a warned clock still running in time; an inbox item breached or
    warned and still waiting for its first answer. Breaches first, oldest first."""
    alerts: list[Alert] = []
    for applied in clocks:
        for clock in applied.clocks:
            if clock.breached:
                kind = "breach"
                raised = clock.due_at
            elif clock.warned and clock.running and clock.status is ClockStatus.ACTIVE:
                kind = "warning"
                raised = clock.warn_at or clock.due_at
            else:
                continue
            alerts.append(
                Alert(
                    type=kind,
                    conversation_id=applied.conversation_id,
                    kind=str(clock.kind),
                    raised_at=raised,
                    due_at=clock.due_at,
                    remaining_seconds=round(clock.remaining(now).total_seconds(), 3),
                    facts=facts.get(applied.conversation_id),
                )
            )
    for item in inbox_items:
        if not item.waiting or item.responded_at is not None:
            continue
        if item.breached_at is not None:
            kind, raised = "breach", item.breached_at
        elif item.warned_at is not None:
            kind, raised = "warning", item.warned_at
        else:
            continue
        alerts.append(
            Alert(
                type=kind,
                conversation_id=item.conversation_id,
                kind="first_response",
                raised_at=raised,
                due_at=item.due_at,
                remaining_seconds=round((item.due_at - now).total_seconds(), 3),
                facts=None,
                item=item,
            )
        )
    return sorted(alerts, key=lambda a: (a.type != "breach", a.raised_at, a.conversation_id))


def snapshot(
    *,
    now: datetime,
    timezone: str,
    agents: Iterable[AgentLoad],
    queue_lengths: Mapping[QueueKey, int],
    waiting: Iterable[WaitingView],
    sla_rows: Sequence[Mapping[str, Any]],
    ratings: Sequence[Rating],
) -> dict[str, Any]:
    """The dashboard's figures (without the alerts, which the handler presents through
    `protocol.sla_alert`)."""
    since, _ = today(now, timezone)
    day = [r for r in sla_rows if since <= r["handed_off_at"] < now + timedelta(microseconds=1)]
    return {
        "generated_at": now.isoformat(),
        "timezone": timezone,
        "day": now.astimezone(ZoneInfo(timezone)).date().isoformat(),
        "since": since.isoformat(),
        "agents": agents_section(agents),
        "queues": queues_section(queue_lengths, waiting),
        "first_response": within_target(day, now=now, timezone=timezone),
        "abandonment": abandonment(day),
        "csat": csat([r for r in ratings if since <= r.created_at <= now]),
    }


def snapshot_csv(figures: Mapping[str, Any]) -> str:
    """The day's figures as one long table (section, group, metric, value), which any
    spreadsheet pivots: summary lines, then by language, by hour, queues, agents."""
    out = io.StringIO()
    table = csv.writer(out, lineterminator="\n")
    table.writerow(CSV_COLUMNS)
    day = figures["day"]
    first = figures["first_response"]

    def line(*cells: Any) -> None:
        table.writerow([_cell(cell) for cell in cells])

    def rows(section: str, group: str, values: Mapping[str, Any], keys: Sequence[str]) -> None:
        for key in keys:
            line(section, group, key, values[key])

    tally = ("handoffs", "within_target", "missed", "share_within_target")
    rows("day", day, first, tally)
    rows("abandonment", day, figures["abandonment"], ("handoffs", "abandoned", "share"))
    rows("csat", day, figures["csat"], ("ratings", "average", "csat"))
    for entry in first["by_language"]:
        rows("language", entry["language"], entry, tally)
    for entry in first["by_hour"]:
        rows("hour", f"{entry['hour']:02d}:00", entry, tally)
    for queue in figures["queues"]:
        rows("queue", queue["queue"], queue, ("waiting", "oldest_wait_seconds"))
    for agent in figures["agents"]["agents"]:
        rows("agent", agent["name"], agent, ("status", "load", "capacity"))
    for alert in figures.get("alerts", []):
        group = alert.get("tracking_number") or alert["conversation_id"]
        line("alert", group, f"{alert['type']}:{alert['kind']}", alert["raised_at"])
    return out.getvalue()
