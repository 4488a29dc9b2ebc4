"""Satisfaction reports: CSAT by day, language, team or agent, and the monthly service-quality
review the brief asks for (chats, first-response attainment, CSAT, follow-ups of negative
feedback), per language and team, with the offline inbox per channel.

Pure aggregation over what the store returns (ratings, follow-ups, the SLA report's rows),
so the figures are the same on SQLite and PostgreSQL and are tested without either.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chatserver.csv_cells import cell as _cell
from chatserver.reports import MAX_RANGE, parse_instant
from chatserver.satisfaction import SCORES, FollowUp, Rating

CSAT_DEFAULT_RANGE = timedelta(days=30)
GROUPS = ("day", "language", "team", "agent")
FORMATS = ("json", "csv")
SATISFIED_AT_LEAST = 4  # CSAT: the share of ratings of 4 and 5
NO_TEAM = "none"  # a chat the bot closed alone has no team (nor agent)
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class InvalidQuery(ValueError):
    """A report's query string is wrong; the message names the parameter."""


@dataclass(frozen=True, slots=True)
class CsatQuery:
    since: datetime
    until: datetime
    group: str
    format: str

    @classmethod
    def parse(cls, query: Mapping[str, str], *, now: datetime) -> CsatQuery:
        """`since`/`until` ISO 8601 (default: the last 30 days), `group`, `format`."""
        try:
            until = parse_instant(query.get("until"), now, "until")
            since = parse_instant(query.get("since"), until - CSAT_DEFAULT_RANGE, "since")
        except (ValueError, OverflowError) as exc:
            raise InvalidQuery(str(exc) or "'since' is out of range") from None
        if not since < until:
            raise InvalidQuery("'since' must be before 'until'")
        if until - since > MAX_RANGE:
            raise InvalidQuery(f"at most {MAX_RANGE.days} days per report")
        group = query.get("group", "day")
        if group not in GROUPS:
            raise InvalidQuery(f"'group' must be one of {', '.join(GROUPS)}")
        return cls(since, until, group, _format(query))


@dataclass(frozen=True, slots=True)
class MonthQuery:
    month: str  # YYYY-MM
    since: datetime
    until: datetime
    format: str

    @classmethod
    def parse(cls, query: Mapping[str, str], *, now: datetime) -> MonthQuery:
        """`month` YYYY-MM (UTC; default: this month), `format`."""
        raw = query.get("month", now.astimezone(UTC).strftime("%Y-%m"))
        match = _MONTH.fullmatch(raw)
        if match is None or not 1 <= int(match[2]) <= 12 or not 1 <= int(match[1]) <= 9998:
            raise InvalidQuery("'month' must be YYYY-MM")
        year, month = int(match[1]), int(match[2])
        since = datetime(year, month, 1, tzinfo=UTC)
        until = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return cls(raw, since, until, _format(query))


def _format(query: Mapping[str, str]) -> str:
    fmt = query.get("format", "json")
    if fmt not in FORMATS:
        raise InvalidQuery("'format' must be json or csv")
    return fmt


def _scores(ratings: Sequence[Rating]) -> dict[str, Any]:
    """Count, average, CSAT (share of 4 and 5) and the distribution of some ratings."""
    count = len(ratings)
    satisfied = sum(1 for r in ratings if r.score >= SATISFIED_AT_LEAST)
    return {
        "ratings": count,
        "average": round(sum(r.score for r in ratings) / count, 2) if count else None,
        "csat": round(satisfied / count, 4) if count else None,
        "distribution": {str(s): sum(1 for r in ratings if r.score == s) for s in SCORES},
    }


def csat_report(
    ratings: Iterable[Rating], *, group: str, agent_names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """CSAT per day (UTC), language, team or agent, in key order."""
    key_of: Callable[[Rating], str] = {
        "day": lambda r: r.created_at.astimezone(UTC).strftime("%Y-%m-%d"),
        "language": lambda r: r.language,
        "team": lambda r: r.team or NO_TEAM,
        "agent": lambda r: r.agent_id or "",
    }[group]
    groups: dict[str, list[Rating]] = {}
    for rating in ratings:
        groups.setdefault(key_of(rating), []).append(rating)
    rows = []
    for key, members in sorted(groups.items()):
        row: dict[str, Any] = {"key": key}
        if group == "agent":
            row["agent_name"] = agent_names.get(key) if key else None
        rows.append({**row, **_scores(members)})
    return rows


def monthly_review(
    *,
    sla_rows: Iterable[Mapping[str, Any]],
    ratings: Iterable[Rating],
    followups: Iterable[FollowUp],
    now: datetime,
    inbox: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The month's service-quality figures, in all and per language and team; `inbox`: the
    offline inbox's lines per channel (`inbox_sla.monthly_inbox`), passed through."""
    sla_list, rating_list, followup_list = list(sla_rows), list(ratings), list(followups)

    def section(dimension: str | None = None, value: str = "") -> dict[str, Any]:
        chats = [r for r in sla_list if dimension is None or _SLA_KEY[dimension](r) == value]
        mine = [r for r in rating_list if dimension is None or _RATING_KEY[dimension](r) == value]
        opened = [
            f
            for f in followup_list
            if dimension is None or _RATING_KEY[dimension](f.rating) == value
        ]
        hit = sum(1 for row in chats if row["frt_status"] == "hit")
        missed = sum(1 for row in chats if row["frt_status"] == "missed")
        return {
            "chats": len(chats),
            "frt_within_target": hit,
            "frt_missed": missed,
            "frt_attainment": round(hit / (hit + missed), 4) if hit + missed else None,
            **_scores(mine),
            "followups_opened": len(opened),
            "followups_handled_in_time": sum(1 for f in opened if f.handled_in_time),
            "followups_missed": sum(1 for f in opened if f.breached or _overdue(f, now)),
        }

    review: dict[str, Any] = {"total": section()}
    for dimension in ("language", "team"):
        values = {_SLA_KEY[dimension](r) for r in sla_list}
        values |= {_RATING_KEY[dimension](r) for r in rating_list}
        review[f"by_{dimension}"] = [
            {dimension: value, **section(dimension, value)} for value in sorted(values)
        ]
    review["inbox"] = [dict(line) for line in inbox]
    return review


_SLA_KEY: Mapping[str, Callable[[Mapping[str, Any]], str]] = {
    "language": lambda row: str(row["language"]),
    "team": lambda row: str(row["team"] or NO_TEAM),
}
_RATING_KEY: Mapping[str, Callable[[Rating], str]] = {
    "language": lambda rating: rating.language,
    "team": lambda rating: rating.team or NO_TEAM,
}


def _overdue(followup: FollowUp, now: datetime) -> bool:
    return followup.handled_at is None and now >= followup.due_at


_SCORE_COLUMNS = tuple(f"score_{s}" for s in SCORES)
CSAT_COLUMNS = ("group", "key", "agent_name", "ratings", "average", "csat", *_SCORE_COLUMNS)
MONTHLY_COLUMNS = (
    "month",
    "scope",
    "key",
    "chats",
    "frt_within_target",
    "frt_missed",
    "frt_attainment",
    "ratings",
    "average",
    "csat",
    *_SCORE_COLUMNS,
    "followups_opened",
    "followups_handled_in_time",
    "followups_missed",
    # The offline inbox's rows (scope "inbox", key the channel) fill these instead.
    "inbox_received",
    "inbox_within_target",
    "inbox_breached",
    "inbox_pending",
    "inbox_attainment",
)


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in row.items() if k != "distribution"}
    flat.update({f"score_{s}": n for s, n in row["distribution"].items()})
    return flat


def csat_csv(rows: Iterable[Mapping[str, Any]], *, group: str) -> str:
    return _csv(CSAT_COLUMNS, ({"group": group, **_flat(row)} for row in rows))


def monthly_csv(month: str, review: Mapping[str, Any]) -> str:
    lines = [{"month": month, "scope": "total", "key": "", **_flat(review["total"])}]
    for scope, key in (("by_language", "language"), ("by_team", "team")):
        for row in review[scope]:
            lines.append({"month": month, "scope": key, "key": row[key], **_flat(row)})
    for line in review.get("inbox", ()):
        figures = {f"inbox_{k}": v for k, v in line.items() if k != "channel"}
        lines.append({"month": month, "scope": "inbox", "key": line["channel"], **figures})
    return _csv(MONTHLY_COLUMNS, lines)


def _csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return out.getvalue()
