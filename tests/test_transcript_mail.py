"""The transcript email, composed without a server: which addresses pass, and what the
message holds (text body, HTML alternative, subject with the tracking number)."""

from __future__ import annotations

import email
import email.policy

import pytest

from chatserver.mail import SmtpConfig
from chatserver.transcript_mail import compose_transcript, is_email_address
from chatserver.transcripts import TranscriptBodies

CONFIG = SmtpConfig(host="127.0.0.1", sender="support@desk.example")


@pytest.mark.parametrize(
    "text", ["yuki@example.jp", "first.last+chat@mail.example.co.uk", "a1@b2.io"]
)
def test_plain_addresses_pass(text: str) -> None:
    assert is_email_address(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yuki",
        "yuki@localhost",
        "yuki@@example.jp",
        "Yuki <yuki@example.jp>",
        "a@example.jp, b@example.jp",
        "a@example.jp;b@example.jp",
        "a@example.jp\r\nBcc: b@example.jp",
        "a b@example.jp",
        "a..b@example.jp",
        ".a@example.jp",
        "a.@example.jp",
        "a@.example.jp",
        "a@example.",
        "x" * 65 + "@example.jp",
        "a@" + "b" * 250 + ".jp",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    assert not is_email_address(text)


def test_the_email_has_the_text_and_the_html_as_alternatives() -> None:
    bodies = TranscriptBodies(
        "会話履歴 K7PX-4QR9-M", "会話履歴\n本文\n", "<!doctype html><p>本文</p>\n"
    )
    message = compose_transcript(CONFIG, to="yuki@example.jp", bodies=bodies, number="K7PX-4QR9-M")
    parsed = email.message_from_bytes(bytes(message), policy=email.policy.default)
    assert parsed["Subject"] == "会話履歴 K7PX-4QR9-M"
    assert parsed["To"] == "yuki@example.jp"
    assert parsed["From"] == "support@desk.example"
    assert parsed["X-Tracking-Number"] == "K7PX-4QR9-M"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content() == "会話履歴\n本文\n"
    assert html.get_content() == "<!doctype html><p>本文</p>\n"


def test_without_a_tracking_number_there_is_no_header() -> None:
    bodies = TranscriptBodies("Conversation transcript", "text\n", "<p>html</p>\n")
    message = compose_transcript(CONFIG, to="a@example.com", bodies=bodies, number=None)
    assert message["X-Tracking-Number"] is None
    assert message["Subject"] == "Conversation transcript"
