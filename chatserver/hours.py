"""When the desk takes live chats: a weekly schedule in the desk's time zone.

The brief's chat is open 24/7, but a desk that is not hands off out of hours to "leave a
message / ask for a call back" at once rather than queueing a customer nobody will answer.
A schedule reads like "mon-fri 08:00-20:00; sat 09:00-13:00": days (a range or a comma
list), then a time range; `24:00` ends a day, and a range that ends before it starts runs
past midnight into the next day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["ALWAYS", "Hours", "parse_hours"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_A_DAY = 24 * 60
MINUTES_A_WEEK = 7 * MINUTES_A_DAY


@dataclass(frozen=True, slots=True)
class Hours:
    """Open intervals as minutes since Monday 00:00 local time, [start, end)."""

    intervals: tuple[tuple[int, int], ...]
    zone: ZoneInfo
    always: bool = False

    def is_open(self, now: datetime) -> bool:
        if self.always:
            return True
        local = now.astimezone(self.zone)
        minute = local.weekday() * MINUTES_A_DAY + local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.intervals)


ALWAYS = Hours((), ZoneInfo("UTC"), always=True)


def parse_hours(spec: str, zone: str = "UTC") -> Hours:
    """`24/7`, or `days HH:MM-HH:MM` parts separated by `;`. Raises ValueError naming the
    part that is wrong."""
    try:
        tz = ZoneInfo(zone.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a region, e.g. "Asia"
        raise ValueError(f"unknown time zone {zone!r} (an IANA name such as Asia/Tokyo)") from None
    if spec.strip().lower() in {"24/7", "always"}:
        return Hours((), tz, always=True)
    intervals: list[tuple[int, int]] = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        days, _, span = part.partition(" ")
        if not span.strip():
            raise ValueError(f"expected 'days HH:MM-HH:MM', got {part!r}")
        start, end = _span(span.strip(), part)
        for day in _days(days.lower(), part):
            begin = day * MINUTES_A_DAY + start
            finish = day * MINUTES_A_DAY + (end if end > start else end + MINUTES_A_DAY)
            # Sunday night into Monday wraps to the start of the week.
            if finish > MINUTES_A_WEEK:
                intervals.append((0, finish - MINUTES_A_WEEK))
                finish = MINUTES_A_WEEK
            intervals.append((begin, finish))
    if not intervals:
        raise ValueError("no opening hours given (use 24/7 for always open)")
    return Hours(tuple(sorted(intervals)), tz)


def _days(text: str, part: str) -> list[int]:
    found: list[int] = []
    for piece in text.split(","):
        first, dash, last = piece.partition("-")
        if first not in DAYS or (dash and last not in DAYS):
            raise ValueError(f"days are mon..sun, a range or a comma list, got {part!r}")
        low, high = DAYS.index(first), DAYS.index(last) if dash else DAYS.index(first)
        found += [(low + step) % 7 for step in range((high - low) % 7 + 1)]
    return found


def _span(text: str, part: str) -> tuple[int, int]:
    first, dash, last = text.partition("-")
    if not dash:
        raise ValueError(f"expected a time range HH:MM-HH:MM, got {part!r}")
    return _minute(first, part), _minute(last, part)


def _minute(text: str, part: str) -> int:
    if text.strip() == "24:00":
        return MINUTES_A_DAY
    try:
        parsed = time.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"expected HH:MM, got {text!r} in {part!r}") from None
    return int(timedelta(hours=parsed.hour, minutes=parsed.minute).total_seconds() // 60)
