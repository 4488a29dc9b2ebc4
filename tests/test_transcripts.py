"""Transcripts: what the customer and the desk's staff get, in the reader's language and zone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chatserver.agents import AgentAccount
from chatserver.holdings import Holding, HoldingEnd
from chatserver.i18n import Catalogs
from chatserver.models import Author, Conversation, ConversationStatus, Message, Role, Team
from chatserver.system_lines import LineKind, SystemLine
from chatserver.transcripts import (
    Audience,
    InvalidTimeZone,
    Waiting,
    build,
    may_export,
    parse_zone,
    render,
    render_html,
    render_text,
    transcript_bodies,
)

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = Catalogs.load(ROOT / "locales", ("en", "ja", "ar"), "en")
T0 = datetime(2026, 11, 24, 23, 50, tzinfo=UTC)
TOKYO = ZoneInfo("Asia/Tokyo")


def conversation(language: str = "en", tracking: str | None = "K7PX-4QR9-M") -> Conversation:
    return Conversation(
        id="c1",
        status=ConversationStatus.ACTIVE,
        language=language,
        language_confirmed=True,
        created_at=T0,
        updated_at=T0,
        agent_id="a1",
        tracking_number=tracking,
    )


def message(seq: int, author: Author, text: str, **kwargs: object) -> Message:
    created = T0 + timedelta(minutes=seq * 5)
    return Message(f"m{seq}", "c1", seq, author, text, created, **kwargs)  # type: ignore[arg-type]


MESSAGES = [
    message(1, Author.CUSTOMER, "My withdrawal is missing <b>help</b> & fast"),
    message(2, Author.BOT, "I am connecting you with a person."),
    message(
        3,
        Author.SYSTEM,
        "Aiko Tanaka has joined the conversation.",
        language="en",
        meta=SystemLine(LineKind.ASSIGNED, {"name": "Aiko Tanaka"}).meta(),
    ),
    message(4, Author.AGENT, "Let me check.", meta={"agent_id": "a1", "agent_name": "Aiko Tanaka"}),
    message(
        5,
        Author.AGENT,
        "VIP, check the ledger",
        internal=True,
        meta={"agent_id": "a1", "agent_name": "Aiko Tanaka"},
    ),
]


def text_of(audience: Audience, language: str = "en", zone: ZoneInfo = TOKYO) -> str:
    doc = build(
        conversation(language),
        MESSAGES,
        translator=CATALOGS.translator(language),
        zone=zone,
        audience=audience,
    )
    return render_text(doc)


def test_the_customers_transcript_has_every_line_but_the_notes():
    text = text_of(Audience.CUSTOMER)
    assert "My withdrawal is missing <b>help</b> & fast" in text
    assert "Virtual assistant" in text
    assert "I am connecting you with a person." in text
    assert "Aiko Tanaka:" in text
    assert "Let me check." in text
    assert "has joined the conversation" in text
    assert "You:" in text
    assert "VIP" not in text
    assert "Internal note" not in text
    assert "K7PX-4QR9-M" in text


def test_the_staff_export_has_the_notes_marked():
    text = text_of(Audience.STAFF)
    assert "Aiko Tanaka [Internal note]:" in text
    assert "VIP, check the ledger" in text
    assert "Customer:" in text
    assert "You:" not in text


def test_times_are_in_the_readers_zone_with_a_heading_per_day():
    # 23:55 UTC on the 24th is 08:55 on the 25th in Tokyo; 18:55 on the 24th in New York.
    tokyo = text_of(Audience.CUSTOMER, zone=TOKYO)
    assert "[8:55\u202fAM] You:" in tokyo
    assert "-- Wednesday, November 25, 2026 --" in tokyo
    assert "Time zone: Asia/Tokyo" in tokyo
    new_york = text_of(Audience.CUSTOMER, zone=ZoneInfo("America/New_York"))
    assert "[6:55\u202fPM] You:" in new_york
    assert "-- Tuesday, November 24, 2026 --" in new_york
    # The last message is past midnight UTC: a second day in UTC.
    utc = text_of(Audience.CUSTOMER, zone=ZoneInfo("UTC"))
    assert "Tuesday, November 24, 2026" in utc
    assert "Wednesday, November 25, 2026" in utc


def test_labels_and_times_follow_the_customers_language():
    text = text_of(Audience.CUSTOMER, language="ja")
    assert "会話履歴" in text  # the title
    assert "8:55" in text
    assert "2026年11月25日" in text
    assert "[8:55] バーチャルアシスタント:" not in text  # the bot wrote at 9:00
    assert "[9:00] バーチャルアシスタント:" in text


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.html_attrs: dict[str, str | None] = {}
        self.tags: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "html":
            self.html_attrs = dict(attrs)

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def html_of(language: str, audience: Audience = Audience.CUSTOMER) -> tuple[str, Collector]:
    doc = build(
        conversation(language),
        MESSAGES,
        translator=CATALOGS.translator(language),
        zone=TOKYO,
        audience=audience,
    )
    html = render_html(doc)
    parser = Collector()
    parser.feed(html)
    return html, parser


def test_html_escapes_what_people_wrote():
    html, parser = html_of("en")
    assert "<b>help</b>" not in html
    assert "&lt;b&gt;help&lt;/b&gt; &amp; fast" in html
    assert "b" not in parser.tags
    assert "My withdrawal is missing <b>help</b> & fast" in "".join(parser.data)
    assert '<meta charset="utf-8">' in html
    assert "<style>" in html
    assert "@media print" in html


def test_html_is_right_to_left_for_arabic():
    html, parser = html_of("ar")
    assert parser.html_attrs == {"lang": "ar", "dir": "rtl"}
    assert html_of("en")[1].html_attrs == {"lang": "en", "dir": "ltr"}
    assert "سجل المحادثة" in html  # the title, in Arabic


def test_html_marks_notes_only_for_staff():
    customer, _ = html_of("en")
    staff, _ = html_of("en", Audience.STAFF)
    assert "VIP, check the ledger" not in customer
    assert '<li class="agent note">' in staff
    assert "VIP, check the ledger" in staff


def test_file_names_carry_the_tracking_number_or_the_date():
    doc = build(
        conversation(),
        MESSAGES,
        translator=CATALOGS.translator("en"),
        zone=TOKYO,
        audience=Audience.CUSTOMER,
    )
    assert render(doc, "txt")[1:] == ("text/plain", "transcript-K7PX-4QR9-M.txt")
    assert render(doc, "html")[1:] == ("text/html", "transcript-K7PX-4QR9-M.html")
    untracked = build(
        conversation(tracking=None),
        MESSAGES,
        translator=CATALOGS.translator("en"),
        zone=TOKYO,
        audience=Audience.CUSTOMER,
    )
    # Started 23:50 UTC on the 24th: the 25th in Tokyo.
    assert render(untracked, "txt")[2] == "transcript-2026-11-25.txt"
    assert "Tracking number" not in render_text(untracked)


def test_the_mail_seam_gives_both_bodies_without_notes():
    bodies = transcript_bodies(
        conversation(), MESSAGES, translator=CATALOGS.translator("en"), zone=TOKYO
    )
    assert bodies.subject == "Conversation transcript K7PX-4QR9-M"
    assert "Let me check." in bodies.text
    assert "Let me check." in bodies.html
    assert "VIP" not in bodies.text
    assert "VIP" not in bodies.html


def test_a_system_line_is_reworded_for_a_reader_of_another_language():
    line = SystemLine(LineKind.QUEUED, {"position": 2})
    thai = message(1, Author.SYSTEM, "ข้อความภาษาไทย", language="th", meta=line.meta())
    doc = build(
        conversation("th"),
        [thai],
        translator=CATALOGS.translator("en"),
        zone=TOKYO,
        audience=Audience.STAFF,
    )
    assert "You are number 2 in line." in render_text(doc)


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "../../etc/passwd", "x" * 65, "Asia/Tokyo\n", "Asia", "/etc/zone"]
)
def test_a_zone_that_is_not_an_iana_name_is_refused(name: str):
    if name.strip() == "Asia/Tokyo":
        assert parse_zone(name, "UTC") == TOKYO  # surrounding space is forgiven
        return
    with pytest.raises(InvalidTimeZone, match="IANA name"):
        parse_zone(name, "UTC")


def test_no_zone_is_the_desks():
    assert parse_zone(None, "Asia/Tokyo") == TOKYO
    assert parse_zone("", "UTC") == ZoneInfo("UTC")


def account(agent_id: str, role: Role = Role.AGENT) -> AgentAccount:
    return AgentAccount(agent_id, agent_id, agent_id, ("en",), (Team.ACCOUNT,), 3, role, "", T0)


def test_agents_export_what_they_hold_or_held_supervisors_anything():
    held = conversation()
    assert may_export(account("a1"), held, [])  # holds it
    assert may_export(
        account("a2"), held, [message(1, Author.AGENT, "hi", meta={"agent_id": "a2"})]
    )
    assert not may_export(account("a3"), held, MESSAGES)
    assert may_export(account("s1", Role.SUPERVISOR), held, [])


def test_an_agent_who_ever_held_a_chat_exports_it_without_having_written():
    history = [Holding("c1", "a2", T0, T0 + timedelta(minutes=5), HoldingEnd.TRANSFERRED)]
    assert may_export(account("a2"), conversation(), [], history)
    assert not may_export(account("a3"), conversation(), MESSAGES, history)


def test_a_waiting_chat_is_exported_by_agents_of_its_queue_only():
    waiting = replace(conversation("ja"), status=ConversationStatus.QUEUED, agent_id=None)
    japanese = replace(account("a1"), languages=("ja", "en"))
    in_queue = Waiting(Team.ACCOUNT, ("ja",))
    assert may_export(japanese, waiting, [], waiting=in_queue)
    assert not may_export(account("a2"), waiting, [], waiting=in_queue)  # English only
    # Widened to English: then the English agent sees it in their queue, and may read it.
    assert may_export(account("a2"), waiting, [], waiting=Waiting(Team.ACCOUNT, ("ja", "en")))
    # Another team's queue is not theirs.
    assert not may_export(japanese, waiting, [], waiting=Waiting(Team.TRADING, ("ja",)))
    # Once someone holds it, the queue's rule no longer applies.
    taken = replace(waiting, status=ConversationStatus.ASSIGNED, agent_id="a9")
    assert not may_export(japanese, taken, [], waiting=in_queue)


HISTORY = [
    Holding("c1", "emma", T0, T0 + timedelta(minutes=5), HoldingEnd.TRANSFERRED),
    Holding(
        "c1", "carlos", T0 + timedelta(minutes=5), T0 + timedelta(minutes=18), HoldingEnd.CLOSED
    ),
    Holding("c1", "aiko", T0 + timedelta(minutes=20), None),
]
NAMES = {"emma": "Emma Clarke", "carlos": "Carlos Ruiz"}


def test_the_staff_header_says_who_handled_the_chat_in_the_readers_language():
    doc = build(
        conversation(),
        MESSAGES,
        translator=CATALOGS.translator("en"),
        zone=ZoneInfo("UTC"),
        audience=Audience.STAFF,
        holdings=HISTORY,
        names=NAMES,
    )
    text = render_text(doc)
    # 23:50-23:55, then over midnight (dated), then an agent who holds it now (no name known).
    assert (
        "Handled by: Emma Clarke 11:50\u202fPM–11:55\u202fPM (transferred), "
        "Carlos Ruiz 11/24/26, 11:55\u202fPM–11/25/26, 12:08\u202fAM, and aiko since 12:10\u202fAM"
    ) in text
    assert "<dt>Handled by</dt>" in render_html(doc)
    japanese = build(
        conversation(),
        MESSAGES,
        translator=CATALOGS.translator("ja"),
        zone=TOKYO,
        audience=Audience.STAFF,
        holdings=HISTORY[:2],
        names=NAMES,
    )
    assert "担当者: Emma Clarke 8:50～8:55（転送）、Carlos Ruiz 8:55～9:08" in render_text(japanese)


def test_the_customers_copy_never_names_who_handled_it():
    doc = build(
        conversation(),
        MESSAGES,
        translator=CATALOGS.translator("en"),
        zone=TOKYO,
        audience=Audience.CUSTOMER,
        holdings=HISTORY,
        names=NAMES,
    )
    assert "Handled by" not in render_text(doc)
    assert "Carlos" not in render_html(doc)


def test_the_topics_a_bot_offered_are_listed_and_a_replaced_greeting_left_out():
    offered = {"suggestions": [{"faq_id": "swaps", "question": "What are <swaps>?"}]}
    messages = [
        message(1, Author.BOT, "Hello, how can I help?", language="en"),
        message(2, Author.BOT, "こんにちは。", language="ja", meta={"replaces": 1}),
        message(3, Author.BOT, "Did you mean:", meta=offered),
    ]
    doc = build(
        conversation(),
        messages,
        translator=CATALOGS.translator("en"),
        zone=TOKYO,
        audience=Audience.CUSTOMER,
    )
    text = render_text(doc)
    assert "Hello, how can I help?" not in text
    assert "こんにちは。" in text
    assert "Did you mean:\n  • What are <swaps>?" in text
    assert '<ul class="options"><li dir="auto">What are &lt;swaps&gt;?</li></ul>' in render_html(
        doc
    )
