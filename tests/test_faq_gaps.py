"""FAQ gaps, the pure part: grouping, ordering, the query and the three outputs."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chatserver.faq_gaps import (
    DEFAULT_LIMIT,
    GapsQuery,
    InvalidQuery,
    find_gaps,
    gaps_csv,
    gaps_json,
    gaps_markdown,
    question_key,
    render,
)
from chatserver.models import CHAT_LANGUAGES

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SINCE, UNTIL = T0 - timedelta(days=1), T0 + timedelta(days=1)


def row(kind: str, language: str, query: str, faq_id: str | None, minutes: int = 0) -> dict:
    return {
        "kind": kind,
        "language": language,
        "query": query,
        "faq_id": faq_id,
        "created_at": T0 + timedelta(minutes=minutes),
    }


ROWS = [
    row("declined", "en", "What is the capital of France?", "instrument-specifications", 1),
    row("declined", "en", "what is the capital of france", None, 2),
    row("declined", "en", "WHAT is the capital of France!!", "leverage", 3),
    row("picked", "en", "forgot my pw", "mt-password-reset", 4),
    row("picked", "en", "Forgot my PW", "mt-password-reset", 5),
    row("not_helpful", "en", "forgot my pw", "portal-password-reset", 6),
    row("declined", "ja", "天気は？", None, 7),
    row("not_helpful", "ja", "ＭＴ５が動かない", "mt-login-failed", 8),
    row("not_helpful", "ja", "mt5が動かない", "mt-login-failed", 9),
    row("not_helpful", "ja", "MT5が動かない！", "mt5-install", 10),
    row("picked", "ja", "", "mt5-install", 11),  # a pick whose words were not found
]


def test_the_same_question_is_one_line_per_kind_most_frequent_first():
    report = find_gaps(ROWS, since=SINCE, until=UNTIL)
    assert list(report.languages) == ["en", "ja"]  # the language with most signals first
    english = report.languages["en"]
    assert [(g.kind, g.count) for g in english] == [
        ("declined", 3),
        ("picked", 2),
        ("not_helpful", 1),
    ]
    capital = english[0]
    assert capital.question == "WHAT is the capital of France!!"  # all differ: the latest
    assert capital.entries == (("instrument-specifications", 1), ("leverage", 1))
    assert (capital.first_seen, capital.last_seen) == (
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=3),
    )
    # Width, case and punctuation do not make another question (the matcher's normalisation).
    japanese = report.languages["ja"]
    assert [(g.kind, g.count, g.faq_id) for g in japanese] == [
        ("not_helpful", 3, "mt-login-failed"),
        ("declined", 1, None),
    ]
    assert japanese[0].entries == (("mt-login-failed", 2), ("mt5-install", 1))


def test_the_most_used_spelling_stands_for_the_question():
    rows = [
        row("picked", "en", "Forgot my PW", "x", 1),
        row("picked", "en", "forgot my pw", "x", 2),
        row("picked", "en", "Forgot my PW", "x", 3),
    ]
    (gap,) = find_gaps(rows, since=SINCE, until=UNTIL).languages["en"]
    assert (gap.question, gap.count) == ("Forgot my PW", 3)


def test_ties_go_to_the_most_recent_and_the_limit_keeps_the_top():
    rows = [
        row("declined", "en", "older", None, 1),
        row("declined", "en", "newer", None, 5),
        row("declined", "en", "twice", None, 2),
        row("declined", "en", "twice", None, 3),
    ]
    report = find_gaps(rows, since=SINCE, until=UNTIL, limit=2)
    assert [g.question for g in report.languages["en"]] == ["twice", "newer"]


def test_only_the_kinds_asked_for():
    report = find_gaps(ROWS, since=SINCE, until=UNTIL, kinds=("picked",))
    assert {lang: [g.kind for g in gaps] for lang, gaps in report.languages.items()} == {
        "en": ["picked"]
    }


def test_question_key_follows_the_matcher_and_keeps_what_it_would_erase():
    assert question_key("ＭＴ５が動かない！") == question_key("mt5が動かない")
    assert question_key("🙂🙂") == question_key("🙂🙂")
    assert question_key("🙂🙂")  # emoji only: not empty, so not every such question is one


def test_json_lists_languages_with_their_gaps():
    report = find_gaps(ROWS, since=SINCE, until=UNTIL)
    data = json.loads(gaps_json(report))
    assert (data["since"], data["until"]) == (SINCE.isoformat(), UNTIL.isoformat())
    assert [(lang["language"], lang["total"]) for lang in data["languages"]] == [
        ("en", 6),
        ("ja", 4),
    ]
    first = data["languages"][0]["gaps"][0]
    assert first == {
        "kind": "declined",
        "question": "WHAT is the capital of France!!",
        "count": 3,
        "faq_id": "instrument-specifications",
        "entries": [
            {"faq_id": "instrument-specifications", "count": 1},
            {"faq_id": "leverage", "count": 1},
        ],
        "first_seen": (T0 + timedelta(minutes=1)).isoformat(),
        "last_seen": (T0 + timedelta(minutes=3)).isoformat(),
    }
    assert render(report, "json") == gaps_json(report)


def test_csv_has_a_row_per_gap_and_never_a_formula():
    rows = [
        *ROWS,
        row("declined", "de", '=HYPERLINK("http://x")', None),
        row("declined", "de", "-1+1", None),
    ]
    text = gaps_csv(find_gaps(rows, since=SINCE, until=UNTIL))
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == 3 + 2 + 2
    assert parsed[0] == {
        "language": "en",
        "kind": "declined",
        "count": "3",
        "question": "WHAT is the capital of France!!",
        "faq_id": "instrument-specifications",
        "entries": "instrument-specifications:1 leverage:1",
        "first_seen": (T0 + timedelta(minutes=1)).isoformat(),
        "last_seen": (T0 + timedelta(minutes=3)).isoformat(),
    }
    german = {r["question"] for r in parsed if r["language"] == "de"}
    assert german == {'\'=HYPERLINK("http://x")', "'-1+1"}


def test_markdown_is_a_table_per_language_and_customers_words_stay_text():
    rows = [*ROWS, row("declined", "en", "a | b\n<script>*x*</script>", None, 20)]
    text = gaps_markdown(find_gaps(rows, since=SINCE, until=UNTIL))
    lines = text.splitlines()
    assert lines[0].startswith("# FAQ gaps, ")
    assert "## en" in lines
    assert "## ja" in lines
    assert "| 3 | declined | WHAT is the capital of France\\!\\! |" not in text  # ! is text
    assert (
        "| 3 | declined | WHAT is the capital of France!! | `instrument-specifications` (1), `leverage` (1) |"
        in lines
    )
    assert "| 1 | declined | a \\| b \\<script\\>\\*x\\*\\</script\\> | – |" in lines
    # Every row of a table has the table's four cells.
    for line in lines:
        if line.startswith("| ") and not line.startswith("| count"):
            assert line.replace("\\|", "").count("|") == 5, line
    assert gaps_markdown(find_gaps([], since=SINCE, until=UNTIL)).endswith(
        "No declined, unhelpful or picked questions in this period.\n"
    )


NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def parse(**query: str) -> GapsQuery:
    return GapsQuery.parse(query, now=NOW, languages=CHAT_LANGUAGES)


def test_the_query_defaults_to_the_last_30_days_everything_as_json():
    query = parse()
    assert (query.since, query.until) == (NOW - timedelta(days=30), NOW)
    assert (query.language, query.kinds, query.limit, query.format) == (
        None,
        ("declined", "not_helpful", "picked"),
        DEFAULT_LIMIT,
        "json",
    )


def test_the_query_takes_a_period_a_language_in_any_spelling_kinds_and_a_format():
    query = parse(
        since="2026-11-01", until="2026-11-08T00:00:00+09:00", language="zh-TW",
        kind="declined,picked", limit="5", format="markdown",
    )  # fmt: skip
    assert query.since == datetime(2026, 11, 1, tzinfo=UTC)
    assert query.until == datetime(2026, 11, 7, 15, 0, tzinfo=UTC)
    assert (query.language, query.kinds, query.limit, query.format) == (
        "zh-Hant",
        ("declined", "picked"),
        5,
        "markdown",
    )


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"since": "yesterday"}, "'since'"),
        ({"until": "0001-01-02T00:00:00"}, "'until'"),
        ({"since": "2026-12-06"}, "'since'"),
        ({"since": "2025-01-01"}, "366 days"),
        ({"language": "xx"}, "'language'"),
        ({"language": "\x00"}, "'language'"),
        ({"kind": "helpful"}, "'kind'"),
        ({"kind": ","}, "'kind'"),
        ({"limit": "0"}, "'limit'"),
        ({"limit": "-1"}, "'limit'"),
        ({"limit": "١٢"}, "'limit'"),  # Arabic-Indic digits: isdigit(), not a number we take
        ({"limit": "9" * 40}, "'limit'"),
        ({"format": "xml"}, "'format'"),
    ],
)
def test_a_bad_query_is_refused_naming_the_parameter(query: dict[str, Any], named: str):
    with pytest.raises(InvalidQuery, match=named):
        parse(**query)
