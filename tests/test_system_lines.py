"""System lines: stored as the customer read them, reworded for whoever else reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatserver.agent_view import message_for_agent
from chatserver.i18n import Catalogs
from chatserver.models import Author, Message
from chatserver.system_lines import LineKind, SystemLine

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = Catalogs.load(ROOT / "locales", ("en", "ja", "th", "es"), "en")
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def system(text: str, meta: dict[str, object], language: str = "th") -> Message:
    return Message("m1", "c1", 4, Author.SYSTEM, text, T0, language=language, meta=meta)


def test_a_line_names_a_language_in_the_readers_language():
    line = SystemLine(LineKind.FALLBACK, {"language": "th"})
    assert line.render(CATALOGS.translator("en")) == (
        "No colleague who speaks Thai is free right now, so a colleague will answer you in English."
    )
    assert "タイ語" in line.render(CATALOGS.translator("ja"))
    assert "ไทย" in line.render(CATALOGS.translator("th"))
    # Inside a sentence, as Spanish writes it: "español", not "Español".
    assert "español" in SystemLine(LineKind.FALLBACK, {"language": "es"}).render(
        CATALOGS.translator("es")
    )


def test_a_line_round_trips_through_meta():
    line = SystemLine(LineKind.QUEUED, {"position": 3})
    assert line.meta() == {"kind": "queued", "values": {"position": 3}}
    assert SystemLine.from_meta(line.meta()) == line
    assert SystemLine.from_meta({"kind": "customer_left"}) == SystemLine(LineKind.CUSTOMER_LEFT)


@pytest.mark.parametrize(
    "meta",
    [
        {},  # a line stored before lines had kinds
        {"kind": "transfer", "agent_name": "Aiko", "reason": "MT5"},  # a note, not a line
        {"kind": "queued", "values": ["not", "a", "mapping"]},
        {"kind": "queued", "values": {"position": {"nested": 1}}},
    ],
)
def test_what_is_not_a_line_is_shown_as_stored(meta):
    assert SystemLine.from_meta(meta) is None
    stored = system("กำลังเชื่อมต่อ", meta)
    shown = message_for_agent(
        stored, conversation_language="th", agent_language="en", entry=no_faq, catalogs=CATALOGS
    )
    assert (shown["text"], shown["language"]) == ("กำลังเชื่อมต่อ", "th")


def test_a_line_missing_a_value_is_shown_as_stored():
    stored = system("กำลังเชื่อมต่อ", {"kind": "queued", "values": {}})
    shown = message_for_agent(
        stored, conversation_language="th", agent_language="en", entry=no_faq, catalogs=CATALOGS
    )
    assert shown["text"] == "กำลังเชื่อมต่อ"


def test_an_agent_reads_a_line_in_their_language():
    stored = system("...", SystemLine(LineKind.ASSIGNED, {"name": "Emma"}).meta())
    shown = message_for_agent(
        stored, conversation_language="th", agent_language="en", entry=no_faq, catalogs=CATALOGS
    )
    assert (shown["text"], shown["language"]) == ("Emma has joined the conversation.", "en")
    assert stored.text == "..."  # the stored copy is the customer's


def no_faq(faq_id: str, language: str) -> None:
    raise AssertionError("system lines need no FAQ")
