"""The dashboard's snapshot (chatserver/dashboard.py), pure: figures from the rows the store
returns and the clocks the desk holds, on a fake clock, in the desk's time zone."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chatserver import dashboard, sla
from chatserver.inbox import InboxItem, InboxKind, InboxStatus
from chatserver.models import Priority, Team
from chatserver.routing import QueueKey
from chatserver.satisfaction import Rating
from tests.conftest import FakeClock

TOKYO = "Asia/Tokyo"
# 09:00 UTC is 18:00 in Tokyo: the desk's day began at 15:00 UTC the day before.
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def row(
    conversation_id: str,
    handed_off_at: datetime,
    *,
    frt: float | None,
    status: str = "closed",
    language: str = "ja",
    target: float = 30,
) -> dict[str, Any]:
    """One conversation as `Store.sla_rows` returns it."""
    frt_status = "active"
    if frt is not None:
        frt_status = "hit" if frt <= target else "missed"
    if status == "abandoned":
        frt_status = "cancelled"
    return {
        "conversation_id": conversation_id,
        "language": language,
        "team": "technical",
        "priority": "medium",
        "handed_off_at": handed_off_at,
        "frt_status": frt_status,
        "frt_seconds": frt,
        "policy": "chat/technical/standard/medium",
        "frt_target_seconds": target,
        "status": status,
    }


def rating(score: int, at: datetime) -> Rating:
    return Rating(f"r{score}{at:%H%M}", "c", score, "", "ja", "technical", None, None, at)


def figures(rows: list[dict[str, Any]], ratings: list[Rating] | None = None) -> dict[str, Any]:
    return dashboard.snapshot(
        now=NOW,
        timezone=TOKYO,
        agents=[],
        queue_lengths={},
        waiting=[],
        sla_rows=rows,
        ratings=ratings or [],
    )


def test_answers_in_12_and_45_seconds_are_half_within_30_for_their_language_and_hour() -> None:
    at = datetime(2026, 11, 24, 8, 10, tzinfo=UTC)  # 17:10 in Tokyo
    day = figures([row("a", at, frt=12), row("b", at + timedelta(minutes=5), frt=45)])
    first = day["first_response"]
    assert first["share_within_target"] == 0.5
    assert first["by_language"] == [
        {
            "language": "ja",
            "handoffs": 2,
            "within_target": 1,
            "missed": 1,
            "share_within_target": 0.5,
        }
    ]
    hours = {h["hour"]: h for h in first["by_hour"]}
    assert sorted(hours) == list(range(19))  # midnight to 18:00, the desk's hours so far
    assert hours[17]["share_within_target"] == 0.5
    assert hours[16]["share_within_target"] is None  # nothing then: a gap, not 0%
    assert day["day"] == "2026-11-24"


def test_today_is_the_desks_day_not_utcs() -> None:
    start, until = dashboard.today(NOW, TOKYO)
    assert start == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert until == NOW
    yesterday = datetime(2026, 11, 23, 14, 59, tzinfo=UTC)  # 23:59 in Tokyo, the day before
    after_midnight = datetime(2026, 11, 23, 15, 1, tzinfo=UTC)  # 00:01 in Tokyo
    day = figures([row("old", yesterday, frt=5), row("new", after_midnight, frt=50)])
    assert day["first_response"]["within_target"] == 0
    assert day["first_response"]["missed"] == 1
    assert day["first_response"]["by_hour"][0]["missed"] == 1


def test_abandonment_and_csat_of_the_day() -> None:
    at = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    rows = [row("a", at, frt=10), row("b", at, frt=None, status="abandoned")]
    ratings = [rating(5, at), rating(4, at), rating(1, at), rating(5, NOW - timedelta(days=1))]
    day = figures(rows, ratings)
    assert day["abandonment"] == {"handoffs": 2, "abandoned": 1, "share": 0.5}
    # The abandoned chat counts neither way; yesterday's rating is not today's.
    assert day["first_response"]["share_within_target"] == 1.0
    assert day["csat"] == {"ratings": 3, "average": 3.33, "csat": 0.6667}


def test_agents_by_presence_and_load_and_queues_by_oldest_wait() -> None:
    agents = [
        dashboard.AgentLoad("1", "Mei", "agent", "offline", 0, 3),
        dashboard.AgentLoad("2", "Aiko", "agent", "online", 2, 3),
        dashboard.AgentLoad("3", "Emma", "agent", "away", 1, 4),
        dashboard.AgentLoad("4", "Carlos", "agent", "online", 0, 2),
    ]
    section = dashboard.agents_section(agents)
    assert section["counts"] == {"online": 2, "away": 1, "offline": 1}
    assert [a["name"] for a in section["agents"]] == ["Aiko", "Carlos", "Emma", "Mei"]
    assert (section["held"], section["capacity"]) == (3, 5)
    queues = dashboard.queues_section(
        {QueueKey("ja", Team.TECHNICAL): 2, QueueKey("th", Team.ACCOUNT): 1},
        [
            _view("ja", Team.TECHNICAL, 4.0),
            _view("ja", Team.TECHNICAL, 21.5),
            _view("th", Team.ACCOUNT, 8),
        ],
    )
    assert queues == [
        {
            "queue": "ja/technical",
            "language": "ja",
            "team": "technical",
            "waiting": 2,
            "oldest_wait_seconds": 21.5,
        },
        {
            "queue": "th/account",
            "language": "th",
            "team": "account",
            "waiting": 1,
            "oldest_wait_seconds": 8.0,
        },
    ]


def _view(language: str, team: Team, waited: float) -> Any:
    class View:
        queue = QueueKey(language, team)

    view = View()
    view.waited = waited  # type: ignore[attr-defined]
    return view


def test_a_breach_raised_before_anyone_looked_is_listed_with_a_standing_warning() -> None:
    clock = FakeClock(NOW - timedelta(minutes=10))
    policy = sla.policy_for(sla.Channel.CHAT, Priority.MEDIUM)
    late = sla.apply(policy, "late", clock.now())
    clock.advance(31)
    late, events = sla.tick(late, clock.now())  # breached ten minutes ago, nobody logged in
    assert any(isinstance(e, sla.SlaBreached) for e in events)
    answered = sla.apply(policy, "answered", clock.now())
    answered, _ = sla.on_agent_message(
        answered, clock.now() + timedelta(seconds=5), "a1", internal=False
    )
    clock.current = NOW - timedelta(seconds=22)
    warned = sla.apply(policy, "warned", clock.now())
    warned, _ = sla.tick(warned, NOW)  # 22 s in: the 10 s warning went out
    alerts = dashboard.current_alerts(
        [late, answered, warned],
        {"late": dashboard.ChatFacts("ja", "technical", "medium")},
        [],
        now=NOW,
    )
    assert [(a.type, a.conversation_id) for a in alerts] == [
        ("breach", "late"),
        ("warning", "warned"),
    ]
    breach = alerts[0]
    assert breach.raised_at == late.first_response.due_at < NOW - timedelta(minutes=9)
    assert breach.remaining_seconds < 0
    assert breach.facts == dashboard.ChatFacts("ja", "technical", "medium")
    assert alerts[1].remaining_seconds == 8.0


def test_the_csv_has_the_days_figures_by_language_and_hour() -> None:
    at = datetime(2026, 11, 24, 8, 10, tzinfo=UTC)
    day = figures([row("a", at, frt=12), row("b", at, frt=45, language="th")])
    day["alerts"] = []
    table = list(csv.reader(io.StringIO(dashboard.snapshot_csv(day))))
    assert table[0] == ["section", "group", "metric", "value"]
    assert ["day", "2026-11-24", "share_within_target", "0.5"] in table
    assert ["language", "th", "share_within_target", "0.0"] in table
    assert ["hour", "17:00", "within_target", "1"] in table
    assert ["csat", "2026-11-24", "average", ""] in table


def test_the_csv_defuses_names_a_spreadsheet_would_run() -> None:
    day = figures([])
    day["agents"] = dashboard.agents_section(
        [dashboard.AgentLoad("1", "=HYPERLINK(1)", "agent", "online", 0, 3)]
    )
    day["alerts"] = []
    table = list(csv.reader(io.StringIO(dashboard.snapshot_csv(day))))
    assert ["agent", "'=HYPERLINK(1)", "load", "0"] in table


def test_inbox_items_breached_or_warned_stand_until_answered() -> None:
    left = NOW - timedelta(hours=2)

    def item(item_id: str, **changes: Any) -> InboxItem:
        base = InboxItem(
            item_id, f"c-{item_id}", "K7PX-4QR9-M", InboxKind.MESSAGE, "ja", "a@example.jp",
            "text", "", left, left + timedelta(hours=1),
        )  # fmt: skip
        return replace(base, **changes)

    breached = item("late", breached_at=left + timedelta(hours=1, seconds=1))
    warned = item("soon", due_at=NOW + timedelta(minutes=10), warned_at=NOW - timedelta(minutes=5))
    answered = item("done", breached_at=left, responded_at=NOW, status=InboxStatus.ANSWERED)
    quiet = item("quiet", due_at=NOW + timedelta(hours=1))
    alerts = dashboard.current_alerts([], {}, [quiet, answered, warned, breached], now=NOW)
    assert [(a.type, a.item.id if a.item else None) for a in alerts] == [
        ("breach", "late"),
        ("warning", "soon"),
    ]
    assert alerts[0].raised_at == breached.breached_at
    assert alerts[1].remaining_seconds == 600.0
