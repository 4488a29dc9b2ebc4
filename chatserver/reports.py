"""SLA reports: first responses per hour or day, by language, team and priority.

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
        """`since`/`until` ISO 8601 (default: the last day), `by`=hour|day, `format`."""
        until = parse_instant(query.get("until"), now, "until")
        if until - datetime.min.replace(tzinfo=UTC) < DEFAULT_RANGE:
            raise ValueError("'until' is out of range")  # no day before it to default to
        since = parse_instant(query.get("since"), until - DEFAULT_RANGE, "since")
        if not since < until:
            raise ValueError("'since' must be before 'until'")
        if until - since > MAX_RANGE:
            raise ValueError(f"at most {MAX_RANGE.days} days per report")
        bucket = query.get("by", "hour")
        if bucket not in ("hour", "day"):
            raise ValueError("'by' must be hour or day")
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


def report_csv(report: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report:
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return out.getvalue()
