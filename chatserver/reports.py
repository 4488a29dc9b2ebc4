"""SLA reports: first responses per hour or day, by language, team and priority; or, over
the whole range, per cell of the SLA matrix (channel x topic x tier x priority,
`sla_topics.py`) with the cell's target.

Pure aggregation over the rows the store returns (one per handed-off conversation), so
the same numbers come out of SQLite and PostgreSQL and the code is tested without either.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_RANGE = timedelta(days=92)  # a quarter: enough for monthly reviews, bounded for the DB
DEFAULT_RANGE = timedelta(days=1)
COLUMNS = (
    "period",
    "language",
    "team",
    "priority",
    "handoffs",
    "answered",
    "within_target",
    "missed",
    "abandoned",
    "share_within_target",
    "frt_p50_seconds",
    "frt_p90_seconds",
    "frt_max_seconds",
)


@dataclass(frozen=True, slots=True)
class ReportQuery:
    since: datetime
    until: datetime
    bucket: str  # "hour" or "day"
    format: str  # "json" or "csv"

    @classmethod
    def parse(cls, query: Mapping[str, str], *, now: datetime) -> ReportQuery:
        """`since`/`until` ISO 8601 (default: the last day), `by`=hour|day|cell, `format`."""
        until = parse_instant(query.get("until"), now, "until")
        if until - datetime.min.replace(tzinfo=UTC) < DEFAULT_RANGE:
            raise ValueError("'until' is out of range")  # no day before it to default to
        since = parse_instant(query.get("since"), until - DEFAULT_RANGE, "since")
        if not since < until:
            raise ValueError("'since' must be before 'until'")
        if until - since > MAX_RANGE:
            raise ValueError(f"at most {MAX_RANGE.days} days per report")
        bucket = query.get("by", "hour")
        if bucket not in ("hour", "day", "cell"):
            raise ValueError("'by' must be hour, day or cell")
        fmt = query.get("format", "json")
        if fmt not in ("json", "csv"):
            raise ValueError("'format' must be json or csv")
        return cls(since, until, bucket, fmt)


def parse_instant(raw: str | None, default: datetime, name: str) -> datetime:
    if raw is None:
        return default
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"'{name}' must be an ISO 8601 time") from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        value.astimezone(UTC)  # year 1 at +14:00 or year 9999 at -14:00 has no UTC time
    except OverflowError:
        raise ValueError(f"'{name}' is out of range") from None
    return value


def _period(at: datetime, bucket: str) -> str:
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:00Z") if bucket == "hour" else at.strftime("%Y-%m-%d")


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def build_report(rows: Iterable[Mapping[str, Any]], *, bucket: str) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        key = (
            _period(row["handed_off_at"], bucket),
            str(row["language"]),
            str(row["team"]),
            str(row["priority"]),
        )
        groups.setdefault(key, []).append(row)
    report = []
    for (period, language, team, priority), members in sorted(groups.items()):
        answered = [float(r["frt_seconds"]) for r in members if r["frt_seconds"] is not None]
        hit = sum(1 for r in members if r["frt_status"] == "hit")
        missed = sum(1 for r in members if r["frt_status"] == "missed")
        # Customers who left the queue (ended the chat, or were gone past the grace).
        abandoned = sum(1 for r in members if r.get("status") == "abandoned")
        decided = hit + missed
        report.append(
            {
                "period": period,
                "language": language,
                "team": team,
                "priority": priority,
                "handoffs": len(members),
                "answered": len(answered),
                "within_target": hit,
                "missed": missed,
                "abandoned": abandoned,
                "share_within_target": round(hit / decided, 4) if decided else None,
                "frt_p50_seconds": _quantile(answered, 0.5),
                "frt_p90_seconds": _quantile(answered, 0.9),
                "frt_max_seconds": round(max(answered), 1) if answered else None,
            }
        )
    return report


CELL_COLUMNS = (
    "cell",
    "channel",
    "topic",
    "tier",
    "priority",
    "frt_target_seconds",
    "handoffs",
    "answered",
    "within_target",
    "missed",
    "abandoned",
    "share_within_target",
    "frt_p50_seconds",
    "frt_p90_seconds",
)
# Chats handed off before the server recorded cells.
UNRECORDED = "-/-/-/-"


def build_cell_report(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Attainment per cell of the SLA matrix over the whole range, cells in name order. A
    cell whose target changed within the range (a new SLA file) is one line per target."""
    groups: dict[tuple[str, float | None], list[Mapping[str, Any]]] = {}
    for row in rows:
        cell = row.get("policy") or UNRECORDED
        if cell.count("/") != 3:  # a policy made outside the matrix: channel/priority
            cell = UNRECORDED
        groups.setdefault((cell, row.get("frt_target_seconds")), []).append(row)
    report = []
    for (cell, target), members in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or 0)):
        channel, topic, tier, priority = cell.split("/")
        answered = [float(r["frt_seconds"]) for r in members if r["frt_seconds"] is not None]
        hit = sum(1 for r in members if r["frt_status"] == "hit")
        missed = sum(1 for r in members if r["frt_status"] == "missed")
        decided = hit + missed
        report.append(
            {
                "cell": cell,
                "channel": channel,
                "topic": topic,
                "tier": tier,
                "priority": priority,
                "frt_target_seconds": target,
                "handoffs": len(members),
                "answered": len(answered),
                "within_target": hit,
                "missed": missed,
                "abandoned": sum(1 for r in members if r.get("status") == "abandoned"),
                "share_within_target": round(hit / decided, 4) if decided else None,
                "frt_p50_seconds": _quantile(answered, 0.5),
                "frt_p90_seconds": _quantile(answered, 0.9),
            }
        )
    return report


def report_csv(report: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in report:
        writer.writerow({k: "" if row[k] is None else row[k] for k in columns})
    return out.getvalue()
