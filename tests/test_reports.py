"""SLA reports over store rows: a customer who left is counted as abandoned, never as an
answer or a miss."""

from __future__ import annotations

from datetime import UTC, datetime

from chatserver.reports import COLUMNS, build_report, report_csv

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def row(frt_status: str, frt_seconds: float | None, status: str) -> dict[str, object]:
    return {
        "handed_off_at": T0,
        "language": "ja",
        "team": "account",
        "priority": "medium",
        "frt_status": frt_status,
        "frt_seconds": frt_seconds,
        "status": status,
    }


def test_abandoned_chats_are_counted_apart_from_answers_and_misses():
    rows = [
        row("hit", 12.0, "closed"),
        row("missed", 45.0, "active"),
        row("cancelled", None, "abandoned"),  # gone before the target, never answered
        row("missed", None, "abandoned"),  # waited past the target, then left
    ]
    (report,) = build_report(rows, bucket="day")
    assert report["handoffs"] == 4
    assert report["answered"] == 2
    assert (report["within_target"], report["missed"], report["abandoned"]) == (1, 2, 2)
    assert report["share_within_target"] == round(1 / 3, 4)
    assert (report["frt_p50_seconds"], report["frt_max_seconds"]) == (45.0, 45.0)


def test_the_csv_has_an_abandoned_column():
    csv_text = report_csv(build_report([row("cancelled", None, "abandoned")], bucket="hour"))
    header, line = csv_text.splitlines()
    assert header.split(",") == list(COLUMNS)
    assert dict(zip(COLUMNS, line.split(","), strict=True))["abandoned"] == "1"
