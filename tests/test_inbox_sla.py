"""The offline inbox's first-response SLA on a fake clock: when agents are warned, when an
item is breached (once), how a first response is judged and what the report counts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from chatserver import inbox, inbox_sla
from chatserver.hours import ALWAYS, parse_hours
from chatserver.inbox import ChannelDesk, InboxItem, InboxKind, InboxStatus
from chatserver.inbox_sla import FirstResponse, build_inbox_report, first_response
from chatserver.sla import Channel

# Tuesday 2026-11-24 09:00 UTC = 18:00 in Tokyo, when the callback desk closes.
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CALLBACK_HOURS = parse_hours("mon-fri 09:00-18:00", "Asia/Tokyo")


def left(
    item_id: str = "i1",
    kind: InboxKind = InboxKind.MESSAGE,
    *,
    language: str = "ja",
    now: datetime = T0,
    policy: str | None = "email/-/standard/medium",
) -> InboxItem:
    email = kind is InboxKind.MESSAGE
    return inbox.new_item(
        item_id=item_id,
        conversation_id="c-" + item_id,
        tracking_number="K7PX-4QR9-M",
        kind=kind,
        language=language,
        contact="taro@example.jp" if email else "+81 90 1234 5678",
        text="出金がまだです",
        preferred_time="",
        now=now,
        desk=ChannelDesk(Channel.EMAIL, ALWAYS)
        if email
        else ChannelDesk(Channel.CALLBACK, CALLBACK_HOURS),
        target=timedelta(hours=1) if email else timedelta(minutes=15),
        policy=policy,
    )


def test_the_warning_comes_a_third_of_the_target_before_at_most_an_hour():
    assert inbox_sla.warn_before(left()) == timedelta(minutes=20)
    assert inbox_sla.warn_before(left(kind=InboxKind.CALLBACK)) == timedelta(minutes=5)
    day = dataclasses.replace(left(), target_seconds=86400.0)
    assert inbox_sla.warn_before(day) == timedelta(hours=1)
    # Items from before targets were stored: a third of their wait.
    old = dataclasses.replace(left(), target_seconds=None)
    assert inbox_sla.warn_before(old) == timedelta(minutes=20)


def test_an_item_is_warned_then_breached_each_once():
    item = left()
    assert inbox_sla.tick([item], T0 + 39 * MINUTE) == inbox_sla.Tick([], [])
    warned = inbox_sla.tick([item], T0 + 40 * MINUTE)
    assert [i.warned_at for i in warned.warned] == [T0 + 40 * MINUTE]
    assert warned.breached == []
    item = warned.warned[0]
    assert inbox_sla.tick([item], T0 + 50 * MINUTE) == inbox_sla.Tick([], [])
    assert inbox_sla.tick([item], T0 + 60 * MINUTE) == inbox_sla.Tick([], [])  # due, not past
    breached = inbox_sla.tick([item], T0 + 61 * MINUTE)
    assert breached.warned == []
    assert [i.breached_at for i in breached.breached] == [T0 + 61 * MINUTE]
    assert inbox_sla.tick(breached.breached, T0 + 2 * 60 * MINUTE) == inbox_sla.Tick([], [])


def test_an_item_past_due_at_its_first_look_is_breached_without_a_warning():
    ticked = inbox_sla.tick([left()], T0 + 3 * 60 * MINUTE)
    assert (ticked.warned, [i.id for i in ticked.breached]) == ([], ["i1"])


def test_an_answered_item_is_neither_warned_nor_breached_even_when_reopened():
    item = inbox.take(left(), "aiko", T0 + MINUTE)
    answered = inbox.answered(item, "aiko", T0 + 10 * MINUTE)
    assert inbox_sla.tick([answered], T0 + 5 * 60 * MINUTE) == inbox_sla.Tick([], [])
    reopened = inbox.reopen(
        answered, T0 + 20 * MINUTE, desk=ChannelDesk(Channel.EMAIL), target=timedelta(hours=1)
    )
    assert reopened.waiting
    assert inbox_sla.tick([reopened], T0 + 5 * 60 * MINUTE) == inbox_sla.Tick([], [])


def test_a_callback_left_at_closing_time_is_warned_on_the_next_business_morning():
    callback = left(kind=InboxKind.CALLBACK)
    assert callback.due_at == datetime(2026, 11, 25, 0, 15, tzinfo=UTC)  # 09:15 Tokyo
    assert inbox_sla.tick([callback], T0 + 14 * 60 * MINUTE) == inbox_sla.Tick([], [])
    ticked = inbox_sla.tick([callback], datetime(2026, 11, 25, 0, 10, tzinfo=UTC))
    assert [i.id for i in ticked.warned] == ["i1"]


def test_a_first_response_is_hit_missed_or_pending():
    item = left()
    assert first_response(item, T0 + 30 * MINUTE) is FirstResponse.PENDING
    assert first_response(item, T0 + 61 * MINUTE) is FirstResponse.MISSED
    on_time = inbox.answered(inbox.take(item, "aiko", T0), "aiko", T0 + 59 * MINUTE)
    assert first_response(on_time, T0 + 5 * 60 * MINUTE) is FirstResponse.HIT
    late = inbox.answered(inbox.take(item, "aiko", T0), "aiko", T0 + 61 * MINUTE)
    assert first_response(late, T0 + 61 * MINUTE) is FirstResponse.MISSED
    # Breached, then answered: still a miss.
    breached = dataclasses.replace(on_time, breached_at=T0 + 61 * MINUTE)
    assert first_response(breached, T0 + 5 * 60 * MINUTE) is FirstResponse.MISSED
    assert inbox_sla.first_response_seconds(on_time) == 59 * 60
    assert inbox_sla.first_response_seconds(item) is None


def test_the_report_counts_per_channel_language_and_cell():
    now = T0 + 3 * 60 * MINUTE
    hit = inbox.answered(inbox.take(left("a"), "aiko", T0), "aiko", T0 + 30 * MINUTE)
    missed = left("b")  # still waiting, past due
    pending = left("c", now=now - 10 * MINUTE)
    english = left("d", language="en")
    closed = inbox.record_outcome(
        inbox.take(
            left("e", kind=InboxKind.CALLBACK, policy="callback/-/standard/medium"), "k", T0
        ),
        "k",
        inbox.Outcome.CALLED_BACK,
        T0 + 10 * MINUTE,
    )
    closed = dataclasses.replace(closed, status=InboxStatus.CLOSED)
    unrecorded = dataclasses.replace(left("f"), policy=None)
    report = build_inbox_report([hit, missed, pending, english, closed, unrecorded], now=now)
    rows = {(r["channel"], r["language"], r["cell"]): r for r in report}
    assert list(rows) == [
        ("callback", "ja", "callback/-/standard/medium"),
        ("email", "en", "email/-/standard/medium"),
        ("email", "ja", "-/-/-/-"),
        ("email", "ja", "email/-/standard/medium"),
    ]
    ja = rows[("email", "ja", "email/-/standard/medium")]
    assert ja == {
        "channel": "email",
        "language": "ja",
        "cell": "email/-/standard/medium",
        "frt_target_seconds": 3600.0,
        "items": 3,
        "answered": 1,
        "within_target": 1,
        "missed": 1,
        "pending": 1,
        "share_within_target": 0.5,
        "frt_p50_seconds": 1800.0,
        "frt_p90_seconds": 1800.0,
    }
    callback = rows[("callback", "ja", "callback/-/standard/medium")]
    assert (callback["within_target"], callback["frt_target_seconds"]) == (1, 900.0)
    assert rows[("email", "en", "email/-/standard/medium")]["share_within_target"] == 0.0
    assert list(report[0]) == list(inbox_sla.INBOX_COLUMNS)
