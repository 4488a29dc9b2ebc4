"""Chat hours: a weekly schedule in the desk's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatserver.hours import parse_hours


def at(text: str) -> datetime:
    """2026-11-23 is a Monday."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_always_open():
    hours = parse_hours("24/7")
    assert hours.is_open(at("2026-11-29T03:00"))  # a Sunday night


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        ("2026-11-23T07:59", False),  # Monday before opening
        ("2026-11-23T08:00", True),  # opening minute
        ("2026-11-27T19:59", True),  # Friday
        ("2026-11-27T20:00", False),  # closing minute is closed
        ("2026-11-28T10:00", True),  # Saturday morning
        ("2026-11-28T13:00", False),
        ("2026-11-29T10:00", False),  # Sunday
    ],
)
def test_weekday_and_saturday_hours(moment, open_):
    hours = parse_hours("mon-fri 08:00-20:00; sat 09:00-13:00")
    assert hours.is_open(at(moment)) is open_


def test_hours_are_read_in_the_desks_time_zone():
    hours = parse_hours("mon-fri 09:00-18:00", "Asia/Tokyo")
    assert hours.is_open(at("2026-11-23T00:30"))  # 09:30 in Tokyo
    assert not hours.is_open(at("2026-11-23T09:30"))  # 18:30 in Tokyo


def test_a_range_past_midnight_runs_into_the_next_day_and_the_week_wraps():
    hours = parse_hours("sun 22:00-06:00; mon,wed 00:00-24:00")
    assert hours.is_open(at("2026-11-29T23:00"))  # Sunday night
    assert hours.is_open(at("2026-11-23T05:59"))  # Monday, from the Sunday range
    assert hours.is_open(at("2026-11-25T23:59"))  # all of Wednesday
    assert not hours.is_open(at("2026-11-24T12:00"))  # Tuesday


@pytest.mark.parametrize(
    ("spec", "zone", "message"),
    [
        ("weekdays 08:00-20:00", "UTC", "days are mon..sun"),
        ("mon-fri 8am-8pm", "UTC", "expected HH:MM"),
        ("mon-fri", "UTC", "expected 'days HH:MM-HH:MM'"),
        ("mon-fri 08:00", "UTC", "expected a time range"),
        (" ; ", "UTC", "no opening hours given"),
        ("24/7", "Mars/Olympus", "unknown time zone"),
    ],
)
def test_a_wrong_schedule_says_what_is_wrong(spec, zone, message):
    with pytest.raises(ValueError, match=message):
        parse_hours(spec, zone)
