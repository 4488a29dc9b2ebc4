"""FAQ gaps: the customer questions the FAQ did not answer well, for its editors.

Three signals are recorded as customers chat (the store's `faq_gap_rows`):

- **declined**: the bot had no answer (the entry the question came nearest to, if any);
- **not_helpful**: the bot answered, and the customer said it did not help (that entry);
- **picked**: the bot was unsure, and the customer picked the right entry from its
  suggestions or the topics under an answer (the entry picked: the one the words belong to).

Pure aggregation over those rows, so the CLI (`chatserver faq gaps`) and the supervisors'
report (`GET /api/v1/reports/faq-gaps`) say the same, on SQLite and PostgreSQL alike, and it
is tested without either: per language, the same question asked again (equal once normalised
as the matcher normalises it: case, width, punctuation, repeats) is one line, most frequent
first, with the entries involved; each line is a variant to add to an entry, or a topic the
FAQ lacks.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chatserver.csv_cells import cell
from chatserver.faq.normalize import normalize
from chatserver.language.tags import supported_tag
from chatserver.reports import parse_instant

KINDS = ("declined", "not_helpful", "picked")
FORMATS = ("json", "csv", "markdown")
DEFAULT_RANGE = timedelta(days=30)
MAX_RANGE = timedelta(days=366)  # a year of questions; the rows are small
DEFAULT_LIMIT = 50  # lines per language
MAX_LIMIT = 1000
CSV_COLUMNS = (
    "language",
    "kind",
    "count",
    "question",
    "faq_id",
    "entries",
    "first_seen",
    "last_seen",
)
_MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>|~#"})


class InvalidQuery(ValueError):
    """A report parameter that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class GapsQuery:
    since: datetime
    until: datetime
    language: str | None  # one of the desk's languages, or None for all
    kinds: tuple[str, ...]
    limit: int  # lines per language
    format: str  # json, csv or markdown

    @classmethod
    def parse(
        cls,
        query: Mapping[str, str],
        *,
        now: datetime,
        languages: Sequence[str],
        formats: Sequence[str] = FORMATS,
    ) -> GapsQuery:
        """`since`/`until` ISO 8601 (default: the last 30 days), `language` (any spelling of
        one of `languages`), `kind` (comma-separated; default all), `limit`, `format`."""
        try:
            until = parse_instant(query.get("until"), now, "until")
            if until - datetime.min.replace(tzinfo=UTC) < DEFAULT_RANGE:
                raise ValueError("'until' is out of range")  # no month before it
            since = parse_instant(query.get("since"), until - DEFAULT_RANGE, "since")
        except ValueError as exc:
            raise InvalidQuery(str(exc)) from None
        if not since < until:
            raise InvalidQuery("'since' must be before 'until'")
        if until - since > MAX_RANGE:
            raise InvalidQuery(f"at most {MAX_RANGE.days} days per report")
        language = None
        if query.get("language"):
            language = supported_tag(query["language"], languages)
            if language is None:
                raise InvalidQuery(f"'language' must be one of {', '.join(languages)}")
        kinds = tuple(k.strip() for k in query.get("kind", ",".join(KINDS)).split(",") if k)
        if not kinds or any(kind not in KINDS for kind in kinds):
            raise InvalidQuery(f"'kind' must be among {', '.join(KINDS)}")
        raw_limit = query.get("limit", str(DEFAULT_LIMIT))
        if not raw_limit.isascii() or not raw_limit.isdigit() or len(raw_limit) > 6:
            raise InvalidQuery(f"'limit' must be a number of 1-{MAX_LIMIT}")
        limit = int(raw_limit)
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQuery(f"'limit' must be a number of 1-{MAX_LIMIT}")
        fmt = query.get("format", formats[0])
        if fmt not in formats:
            raise InvalidQuery(f"'format' must be one of {', '.join(formats)}")
        return cls(since, until, language, tuple(dict.fromkeys(kinds)), limit, fmt)


@dataclass(frozen=True, slots=True)
class Gap:
    """One question (all its spellings), one signal: how often, and the entries involved."""

    language: str
    kind: str
    question: str  # the spelling customers used most (the latest of equals)
    count: int
    entries: tuple[tuple[str, int], ...]  # (faq_id, times), most often first
    first_seen: datetime
    last_seen: datetime

    @property
    def faq_id(self) -> str | None:
        """The entry involved most often: nearest (declined), answered (not helpful),
        picked (picked)."""
        return self.entries[0][0] if self.entries else None

    def to_public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "question": self.question,
            "count": self.count,
            "faq_id": self.faq_id,
            "entries": [{"faq_id": faq_id, "count": n} for faq_id, n in self.entries],
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class GapReport:
    since: datetime
    until: datetime
    languages: dict[str, list[Gap]]  # most gaps first; in each, most frequent first

    def to_public(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "languages": [
                {
                    "language": language,
                    "total": sum(gap.count for gap in gaps),
                    "gaps": [gap.to_public() for gap in gaps],
                }
                for language, gaps in self.languages.items()
            ],
        }


def question_key(text: str) -> str:
    """Questions that are the same once normalised as the matcher normalises them."""
    return normalize(text) or " ".join(text.split()).casefold()


def find_gaps(
    rows: Iterable[Mapping[str, Any]],
    *,
    since: datetime,
    until: datetime,
    kinds: Sequence[str] = KINDS,
    limit: int | None = None,
) -> GapReport:
    """Group `rows` (`kind`, `language`, `query`, `faq_id`, `created_at`) by language, kind
    and normalised question; per language the most frequent first (then the most recent),
    at most `limit` lines. Rows without words (a pick whose question was not found) and
    kinds not asked for are left out."""
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        text = str(row["query"] or "").strip()
        if row["kind"] not in kinds or not text:
            continue
        key = (str(row["language"]), str(row["kind"]), question_key(text))
        groups.setdefault(key, []).append(row)
    per_language: dict[str, list[Gap]] = {}
    for (language, kind, _), members in groups.items():
        per_language.setdefault(language, []).append(_gap(language, kind, members))
    for gaps in per_language.values():
        gaps.sort(key=lambda g: (-g.count, -g.last_seen.timestamp(), g.kind, g.question))
    ordered = sorted(
        per_language.items(), key=lambda item: (-sum(g.count for g in item[1]), item[0])
    )
    return GapReport(since, until, {lang: gaps[:limit] for lang, gaps in ordered})


def _gap(language: str, kind: str, members: list[Mapping[str, Any]]) -> Gap:
    by_time = sorted(members, key=lambda r: r["created_at"])
    spellings = Counter(str(r["query"]).strip() for r in by_time)
    latest = {str(r["query"]).strip(): i for i, r in enumerate(by_time)}
    question = max(spellings, key=lambda s: (spellings[s], latest[s]))
    entries = Counter(str(r["faq_id"]) for r in members if r["faq_id"])
    return Gap(
        language=language,
        kind=kind,
        question=question,
        count=len(members),
        entries=tuple(sorted(entries.items(), key=lambda e: (-e[1], e[0]))),
        first_seen=by_time[0]["created_at"],
        last_seen=by_time[-1]["created_at"],
    )


# --- output --------------------------------------------------------------------------


def gaps_json(report: GapReport) -> str:
    return json.dumps(report.to_public(), ensure_ascii=False, indent=2)


def gaps_csv(report: GapReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for language, gaps in report.languages.items():
        for gap in gaps:
            writer.writerow(
                (
                    language,
                    gap.kind,
                    gap.count,
                    _csv_text(gap.question),
                    gap.faq_id or "",
                    " ".join(f"{faq_id}:{n}" for faq_id, n in gap.entries),
                    gap.first_seen.isoformat(),
                    gap.last_seen.isoformat(),
                )
            )
    return out.getvalue()


def _csv_text(text: str) -> str:
    return str(cell(text))


def gaps_markdown(report: GapReport) -> str:
    period = f"{report.since.isoformat()} to {report.until.isoformat()}"
    lines = [f"# FAQ gaps, {period}", ""]
    if not report.languages:
        lines.append("No declined, unhelpful or picked questions in this period.")
    for language, gaps in report.languages.items():
        lines += [
            f"## {language}",
            "",
            "| count | kind | question | entry |",
            "|---:|---|---|---|",
        ]
        for gap in gaps:
            entry = ", ".join(f"`{faq_id}` ({n})" for faq_id, n in gap.entries) or "–"
            lines.append(f"| {gap.count} | {gap.kind} | {_markdown_text(gap.question)} | {entry} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _markdown_text(text: str) -> str:
    """Customers' words as the text of a table cell: one line, nothing taken as markup."""
    return " ".join(text.split()).translate(_MARKDOWN_SPECIAL)


def render(report: GapReport, fmt: str) -> str:
    if fmt == "csv":
        return gaps_csv(report)
    if fmt == "markdown":
        return gaps_markdown(report)
    return gaps_json(report)
