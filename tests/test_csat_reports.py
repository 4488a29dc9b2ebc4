"""CSAT by day, language, team and agent, and the monthly service-quality review with the
offline inbox (pure)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chatserver.csat_reports import (
    CsatQuery,
    InvalidQuery,
    MonthQuery,
    csat_csv,
    csat_report,
    monthly_csv,
    monthly_review,
)
from chatserver.inbox import InboxItem, InboxKind
from chatserver.inbox_sla import monthly_inbox
from chatserver.satisfaction import FollowUp, Rating, follow_up

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def rating(rid: str, score: int, *, language="ja", team="account", agent="a1", at=T0) -> Rating:
    return Rating(rid, f"c-{rid}", score, "", language, team, agent, None, at)


RATINGS = [
    rating("1", 5),
    rating("2", 4, language="en", agent="a2"),
    rating("3", 1, team="technical", at=T0 + timedelta(days=1)),
    rating("4", 2, language="en", team=None, agent=None, at=T0 + timedelta(days=1)),
]


def test_csat_by_day_language_team_and_agent():
    by_day = csat_report(RATINGS, group="day", agent_names={})
    assert [(r["key"], r["ratings"], r["average"], r["csat"]) for r in by_day] == [
        ("2026-11-24", 2, 4.5, 1.0),
        ("2026-11-25", 2, 1.5, 0.0),
    ]
    by_language = csat_report(RATINGS, group="language", agent_names={})
    assert [(r["key"], r["distribution"]) for r in by_language] == [
        ("en", {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}),
        ("ja", {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1}),
    ]
    by_team = csat_report(RATINGS, group="team", agent_names={})
    assert [r["key"] for r in by_team] == ["account", "none", "technical"]
    by_agent = csat_report(RATINGS, group="agent", agent_names={"a1": "Aiko", "a2": "Emma"})
    assert [(r["key"], r["agent_name"], r["ratings"]) for r in by_agent] == [
        ("", None, 1),  # the bot closed it alone
        ("a1", "Aiko", 2),
        ("a2", "Emma", 1),
    ]
    rows = list(csv.DictReader(io.StringIO(csat_csv(by_agent, group="agent"))))
    assert rows[1] == {
        "group": "agent",
        "key": "a1",
        "agent_name": "Aiko",
        "ratings": "2",
        "average": "3.0",
        "csat": "0.5",
        "score_1": "1",
        "score_2": "0",
        "score_3": "0",
        "score_4": "0",
        "score_5": "1",
    }


def followup_of(r: Rating, *, handled_after: timedelta | None = None) -> FollowUp:
    opened = follow_up(r, followup_id=f"f{r.id}")
    assert opened is not None
    if handled_after is None:
        return opened
    return opened.handle("done", by="sam", now=r.created_at + handled_after)


def test_the_monthly_review_per_language_and_team():
    sla_rows = [
        {"language": "ja", "team": "account", "frt_status": "hit"},
        {"language": "ja", "team": "account", "frt_status": "missed"},
        {"language": "en", "team": "technical", "frt_status": "hit"},
        {"language": "en", "team": "technical", "frt_status": "pending"},
    ]
    followups = [
        followup_of(RATINGS[2], handled_after=timedelta(hours=2)),  # in time
        followup_of(RATINGS[3]),  # never handled
    ]
    review = monthly_review(
        sla_rows=sla_rows, ratings=RATINGS, followups=followups, now=T0 + timedelta(days=3)
    )
    total = review["total"]
    assert (total["chats"], total["frt_within_target"], total["frt_missed"]) == (4, 2, 1)
    assert total["frt_attainment"] == round(2 / 3, 4)
    assert (total["ratings"], total["average"], total["csat"]) == (4, 3.0, 0.5)
    assert (
        total["followups_opened"],
        total["followups_handled_in_time"],
        total["followups_missed"],
    ) == (2, 1, 1)
    ja = next(r for r in review["by_language"] if r["language"] == "ja")
    assert (ja["chats"], ja["frt_attainment"], ja["ratings"], ja["followups_missed"]) == (
        2,
        0.5,
        2,
        0,
    )
    assert [r["team"] for r in review["by_team"]] == ["account", "none", "technical"]
    rows = list(csv.DictReader(io.StringIO(monthly_csv("2026-11", review))))
    assert [(r["scope"], r["key"]) for r in rows] == [
        ("total", ""),
        ("language", "en"),
        ("language", "ja"),
        ("team", "account"),
        ("team", "none"),
        ("team", "technical"),
    ]
    assert rows[0]["followups_missed"] == "1"
    assert rows[0]["month"] == "2026-11"


def test_the_monthly_inbox_lines_count_each_channel_and_reach_the_csv():
    left = T0
    email = InboxItem(
        "i1", "c1", "K7PX-4QR9-M", InboxKind.MESSAGE, "ja", "k@example.com", "?", "",
        created_at=left, due_at=left + timedelta(hours=1),
    )  # fmt: skip
    late = replace(email, id="i2", responded_at=left + timedelta(hours=2))
    breached = replace(email, id="i3", breached_at=left + timedelta(hours=1, minutes=1))
    waiting = replace(email, id="i4", due_at=left + timedelta(days=9))
    called = replace(
        email,
        id="i5",
        kind=InboxKind.CALLBACK,
        due_at=left + timedelta(minutes=15),
        responded_at=left + timedelta(minutes=5),
    )
    lines = monthly_inbox([late, breached, waiting, called], now=left + timedelta(days=1))
    assert lines == [
        {"channel": "email", "received": 3, "within_target": 0, "breached": 2, "pending": 1,
         "attainment": 0.0},
        {"channel": "callback", "received": 1, "within_target": 1, "breached": 0, "pending": 0,
         "attainment": 1.0},
    ]  # fmt: skip
    review = monthly_review(sla_rows=[], ratings=[], followups=[], now=T0, inbox=lines)
    assert review["inbox"] == lines
    rows = list(csv.DictReader(io.StringIO(monthly_csv("2026-11", review))))
    assert [(r["scope"], r["key"], r["inbox_received"]) for r in rows] == [
        ("total", "", ""),
        ("inbox", "email", "3"),
        ("inbox", "callback", "1"),
    ]
    assert rows[1]["inbox_breached"] == "2"


def test_an_unhandled_follow_up_not_yet_due_is_not_missed():
    review = monthly_review(
        sla_rows=[], ratings=RATINGS[3:], followups=[followup_of(RATINGS[3])], now=T0
    )
    assert review["total"]["followups_missed"] == 0


def test_queries():
    now = T0
    query = CsatQuery.parse({"group": "agent", "format": "csv"}, now=now)
    assert (query.since, query.until) == (now - timedelta(days=30), now)
    month = MonthQuery.parse({"month": "2026-12"}, now=now)
    assert (month.since, month.until) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert MonthQuery.parse({}, now=now).month == "2026-11"
    for bad in ({"group": "week"}, {"since": "yesterday"}, {"format": "xml"}):
        with pytest.raises(InvalidQuery):
            CsatQuery.parse(bad, now=now)
    for bad_month in ("2026-13", "26-11", "2026-1", "0000-01", "9999-12"):
        with pytest.raises(InvalidQuery):
            MonthQuery.parse({"month": bad_month}, now=now)


def test_an_agents_name_is_never_a_formula_in_csv():
    rows = csat_report(RATINGS[:1], group="agent", agent_names={"a1": "=HYPERLINK(1)"})
    (line,) = csv.DictReader(io.StringIO(csat_csv(rows, group="agent")))
    assert line["agent_name"] == "'=HYPERLINK(1)"
