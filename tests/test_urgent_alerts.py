"""The urgent alert's rules (chatserver/urgent_alerts.py): when it is raised, who hears it,
what the email and the webhook say. Pure: no server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from chatserver import sla
from chatserver.i18n import Catalogs
from chatserver.models import Priority, Team, Tier, new_conversation
from chatserver.sla_topics import cell_policy, default_matrix
from chatserver.urgent_alerts import (
    Listener,
    alert_for,
    email_text,
    is_due,
    recipients,
    webhook_payload,
)
from tests.conftest import ROOT

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
URL = "https://desk.example.com/console/"


def urgent_chat(faq_id: str | None = "account-hacked"):
    conversation = replace(
        new_conversation("c1", language="ja", language_confirmed=True, now=NOW),
        team=Team.ACCOUNT,
        priority=Priority.URGENT,
        handed_off_at=NOW,
        tracking_number="K7PX-4QR9-M",
    )
    policy = cell_policy(
        default_matrix(),
        sla.Channel.CHAT,
        Priority.URGENT,
        tier=Tier.STANDARD,
        team=Team.ACCOUNT,
        faq_id=faq_id,
    )
    return conversation, sla.apply(policy, conversation.id, NOW)


def test_only_an_urgent_chat_not_alerted_yet_raises_it() -> None:
    conversation, _ = urgent_chat()
    assert is_due(conversation, raised=set())
    assert not is_due(conversation, raised={"c1"})  # re-queued, transferred: once
    assert not is_due(replace(conversation, priority=Priority.HIGH), raised=set())
    assert not is_due(replace(conversation, priority=None), raised=set())


def test_the_alert_carries_the_topic_and_the_clocks_due_times() -> None:
    conversation, applied = urgent_chat()
    alert = alert_for(conversation, applied, now=NOW, faq_id="account-hacked")
    assert (alert.topic, alert.team, alert.faq_id) == ("security", "account", "account-hacked")
    assert alert.first_response_due == datetime(2026, 11, 24, 9, 0, 30, tzinfo=UTC)
    assert alert.resolution_due == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    # No topic of its own: the team stands in; no clocks: no due times.
    bare = alert_for(conversation, None, now=NOW)
    assert (bare.topic, bare.first_response_due, bare.resolution_due) == ("account", None, None)


def test_online_agents_of_the_language_hear_it_else_the_first_fallback_with_someone() -> None:
    aiko = Listener("aiko", ("ja", "en"), online=True, supervises=False)
    ken = Listener("ken", ("ja",), online=True, supervises=False)
    away = Listener("mei", ("ja",), online=False, supervises=False)
    emma = Listener("emma", ("en",), online=True, supervises=False)
    sam = Listener("sam", ("ja", "en"), online=True, supervises=True)
    everyone = [emma, ken, away, aiko, sam]
    # Supervisors hear every alert through their own room, not in this list.
    assert recipients("ja", ("ja", "en"), everyone) == ["aiko", "ken"]
    # Nobody online speaks Japanese: those the router widens it to at once.
    assert recipients("ja", ("ja", "en"), [away, emma, sam]) == ["emma"]
    assert recipients("th", ("th", "en"), [away]) == []


def test_the_email_and_the_webhook_say_it_in_the_desks_language() -> None:
    conversation, applied = urgent_chat()
    alert = alert_for(conversation, applied, now=NOW, faq_id="account-hacked")
    english = Catalogs.load(ROOT / "locales", ("en", "ja"), "en")
    subject, body = email_text(alert, english.translator("en").gettext, console_url=URL)
    assert subject == "Urgent chat waiting: K7PX-4QR9-M"
    assert "Tracking number: K7PX-4QR9-M" in body
    assert "Topic: security" in body
    assert "Resolution due: 2026-11-24 10:00:00 UTC" in body
    assert body.endswith(URL)
    japanese_subject, japanese_body = email_text(
        alert, english.translator("ja").gettext, console_url=URL
    )
    assert japanese_subject == "緊急チャットが待機中: K7PX-4QR9-M"
    assert "問い合わせ番号: K7PX-4QR9-M" in japanese_body

    posted = webhook_payload(alert, english.translator("en").gettext, console_url=URL)
    assert posted == {
        "text": f"Urgent chat waiting: K7PX-4QR9-M (ja, security). Take it: {URL}",
        "conversation_id": "c1",
        "tracking_number": "K7PX-4QR9-M",
        "language": "ja",
        "topic": "security",
        "queued_at": "2026-11-24T09:00:00+00:00",
        "console_url": URL,
    }
