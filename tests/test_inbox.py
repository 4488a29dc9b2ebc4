"""The offline inbox's rules on a fake clock: deadlines (business hours included), taking,
outcomes, replies and the languages each agent sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatserver import inbox
from chatserver.hours import parse_hours
from chatserver.inbox import ChannelDesk, InboxError, InboxKind, InboxStatus, Outcome
from chatserver.sla import Channel, policy_for

# Tuesday 2026-11-24 09:00 UTC = 18:00 in Tokyo.
TUESDAY_9 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
EMAIL = ChannelDesk(Channel.EMAIL)
CALLBACK = ChannelDesk(
    Channel.CALLBACK,
    parse_hours("mon-fri 09:00-18:00", "Asia/Tokyo"),
    frozenset({"ja", "en", "zh-Hans", "zh-Hant", "ko", "th", "vi", "id"}),
)
EMAIL_TARGET = policy_for(Channel.EMAIL, "medium").first_response
CALLBACK_TARGET = policy_for(Channel.CALLBACK, "medium").first_response


def item(kind: InboxKind = InboxKind.MESSAGE, *, language: str = "ja", now=TUESDAY_9):
    desk, target = (
        (EMAIL, EMAIL_TARGET)
        if kind is InboxKind.MESSAGE
        else (
            CALLBACK,
            CALLBACK_TARGET,
        )
    )
    return inbox.new_item(
        item_id="i1",
        conversation_id="c1",
        tracking_number="K7PX-4QR9-M",
        kind=kind,
        language=language,
        contact="taro@example.jp" if kind is InboxKind.MESSAGE else "+81 90 1234 5678",
        text="出金がまだ届きません",
        preferred_time="",
        now=now,
        desk=desk,
        target=target,
    )


def test_the_brief_targets_come_from_the_sla_policies():
    assert timedelta(hours=1) == EMAIL_TARGET
    assert timedelta(minutes=15) == CALLBACK_TARGET


def test_a_message_is_due_an_hour_later_at_any_time():
    saturday_night = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)
    assert item(now=saturday_night).due_at == saturday_night + timedelta(hours=1)


def test_a_callback_in_business_hours_is_due_fifteen_minutes_later():
    tokyo_10 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 10:00 in Tokyo
    assert item(InboxKind.CALLBACK, now=tokyo_10).due_at == tokyo_10 + timedelta(minutes=15)


def test_a_callback_near_closing_carries_over_to_the_next_morning():
    # Tuesday 17:55 Tokyo: 5 minutes today, 10 tomorrow from 09:00 (Wednesday 00:10 UTC).
    near_closing = datetime(2026, 11, 24, 8, 55, tzinfo=UTC)
    due = item(InboxKind.CALLBACK, now=near_closing).due_at
    assert due == datetime(2026, 11, 25, 0, 10, tzinfo=UTC)


def test_a_callback_left_on_friday_evening_is_due_after_monday_opening():
    friday_evening = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # Friday 21:00 Tokyo
    due = item(InboxKind.CALLBACK, now=friday_evening).due_at
    assert due == datetime(2026, 11, 30, 0, 15, tzinfo=UTC)  # Monday 09:15 Tokyo


def test_a_callback_in_a_language_the_channel_does_not_serve_is_handled_in_english():
    assert item(InboxKind.CALLBACK, language="ar").language == "en"
    assert item(InboxKind.MESSAGE, language="ar").language == "ar"  # email: every language


def test_overdue_only_while_waiting():
    fresh = item()
    later = TUESDAY_9 + timedelta(hours=1, seconds=1)
    assert not fresh.overdue(TUESDAY_9 + timedelta(hours=1))
    assert fresh.overdue(later)
    taken = inbox.take(fresh, "aiko", TUESDAY_9)
    assert not inbox.answered(taken, "aiko", TUESDAY_9).overdue(later)


def test_take_then_another_agent_cannot_take_it():
    taken = inbox.take(item(), "aiko", TUESDAY_9)
    assert (taken.status, taken.taken_by) == (InboxStatus.TAKEN, "aiko")
    with pytest.raises(InboxError) as refused:
        inbox.take(taken, "emma", TUESDAY_9)
    assert refused.value.code == "inbox_taken"


def test_only_the_holder_answers():
    with pytest.raises(InboxError) as refused:
        inbox.answered(item(), "aiko", TUESDAY_9)
    assert refused.value.code == "inbox_not_taken"


def test_an_email_answer_marks_the_first_response_and_a_reply_reopens_with_a_new_deadline():
    answered = inbox.answered(inbox.take(item(), "aiko", TUESDAY_9), "aiko", TUESDAY_9)
    assert (answered.status, answered.responded_at) == (InboxStatus.ANSWERED, TUESDAY_9)
    later = TUESDAY_9 + timedelta(hours=5)
    reopened = inbox.reopen(answered, later, desk=EMAIL, target=EMAIL_TARGET)
    assert reopened.status is InboxStatus.TAKEN  # still aiko's
    assert reopened.due_at == later + timedelta(hours=1)
    assert reopened.responded_at == TUESDAY_9


def test_callback_outcomes():
    taken = inbox.take(item(InboxKind.CALLBACK), "aiko", TUESDAY_9)
    missed = inbox.record_outcome(taken, "aiko", Outcome.NO_ANSWER, TUESDAY_9)
    assert (missed.status, missed.taken_by, missed.due_at) == (
        InboxStatus.OPEN,
        None,
        taken.due_at,
    )
    again = inbox.take(missed, "mei", TUESDAY_9)
    called = inbox.record_outcome(again, "mei", Outcome.CALLED_BACK, TUESDAY_9)
    assert (called.status, called.outcome) == (InboxStatus.ANSWERED, Outcome.CALLED_BACK)
    closed = inbox.record_outcome(called, "mei", Outcome.RESOLVED, TUESDAY_9)
    assert closed.status is InboxStatus.CLOSED
    with pytest.raises(InboxError):
        inbox.take(closed, "mei", TUESDAY_9)


def test_a_message_has_no_phone_outcomes_and_a_callback_no_email_answer():
    taken = inbox.take(item(), "aiko", TUESDAY_9)
    with pytest.raises(InboxError) as refused:
        inbox.record_outcome(taken, "aiko", Outcome.CALLED_BACK, TUESDAY_9)
    assert refused.value.code == "invalid_outcome"
    callback = inbox.take(item(InboxKind.CALLBACK), "aiko", TUESDAY_9)
    with pytest.raises(InboxError):
        inbox.answered(callback, "aiko", TUESDAY_9)


def test_agents_see_their_languages_soonest_due_first_and_no_closed_items():
    ja = item(language="ja")
    de = item(language="de", now=TUESDAY_9 - timedelta(minutes=10))
    closed = inbox.record_outcome(
        inbox.take(item(language="ja"), "a", TUESDAY_9), "a", Outcome.RESOLVED, TUESDAY_9
    )
    assert inbox.visible_to([ja, de, closed], ["ja", "en"]) == [ja]
    assert inbox.visible_to([ja, de, closed], None) == [de, ja]
