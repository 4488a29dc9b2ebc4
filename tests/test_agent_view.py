"""A customer's message as an agent serving the chat in another language reads it: with the
FAQ entry it asked about, in the agent's language."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chatserver import protocol
from chatserver.agent_view import message_for_agent
from chatserver.faq import load_faq
from chatserver.i18n import Catalogs
from chatserver.models import Author, Message

ROOT = Path(__file__).resolve().parent.parent
FAQ = load_faq(ROOT / "faq").faq
CATALOGS = Catalogs.load(ROOT / "locales", ("en", "ja", "th"), "en")
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def asked(meta: dict[str, Any]) -> Message:
    return Message("m2", "c1", 2, Author.CUSTOMER, "ลืมรหัสผ่านMT5ต้องทำยังไง", T0, meta=meta)


def shown(message: Message, agent_language: str = "en") -> dict[str, Any]:
    return message_for_agent(
        message,
        conversation_language="th",
        agent_language=agent_language,
        entry=FAQ.entry,
        catalogs=CATALOGS,
    )


@pytest.mark.parametrize(
    "meta", [{"faq_id": "mt-password-reset"}, {"chose": "mt-password-reset", "from_seq": 1}]
)
def test_the_entry_asked_about_comes_in_the_agents_language(meta):
    english = FAQ.entry("mt-password-reset", "en")
    assert english is not None
    assert shown(asked(meta))["faq"] == {
        "id": "mt-password-reset",
        "question": english.question,
        "language": "en",
    }
    japanese = shown(asked(meta), agent_language="ja")["faq"]
    assert japanese["language"] == "ja"
    assert japanese["question"] == FAQ.entry("mt-password-reset", "ja").question  # type: ignore[union-attr]


def test_no_line_when_nothing_was_matched_or_the_entry_is_gone():
    assert "faq" not in shown(asked({}))
    assert "faq" not in shown(asked({"faq_id": "no-such-entry"}))
    assert "faq" not in shown(asked({"faq_id": 7}))


def test_no_line_for_an_agent_who_reads_the_customers_language():
    assert "faq" not in shown(asked({"faq_id": "mt-password-reset"}), agent_language="th")


def test_the_message_itself_is_the_customers():
    message = asked({"faq_id": "mt-password-reset"})
    public = shown(message)
    assert public["text"] == message.text
    assert {k: v for k, v in public.items() if k != "faq"} == protocol.message(message)
