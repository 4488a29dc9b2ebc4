"""Pure handoff rules: phrases in every chat language, priorities, the VIP lift."""

from __future__ import annotations

import pytest

from chatserver.handoff import (
    HANDOFF_PHRASES,
    HandoffReason,
    asks_for_a_person,
    lift,
    plan,
)
from chatserver.models import CHAT_LANGUAGES, Priority, Team, Tier


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "agent"),
        ("en", "Can I talk to a human please?"),
        ("ja", "オペレーターと話したい"),
        ("ja", "担当者をお願いします"),
        ("zh-Hans", "人工客服"),
        ("zh-Hans", "转人工"),
        ("zh-Hant", "我要真人客服"),
        ("ko", "상담원 연결해 주세요"),
        ("th", "ขอคุยกับเจ้าหน้าที่"),
        ("vi", "cho tôi gặp nhân viên"),
        ("id", "mau bicara dengan customer service"),
        ("ms", "saya nak cakap dengan ejen"),
        ("ar", "أريد التحدث مع موظف"),
        ("es", "quiero hablar con un agente"),
        ("pt", "quero falar com um atendente"),
        ("fr", "je voudrais parler à un conseiller"),
        ("de", "Ich möchte einen Mitarbeiter sprechen"),
        ("it", "vorrei parlare con un operatore"),
        ("ja", "agent please"),  # English works in any conversation
    ],
)
def test_customers_ask_for_a_person_in_every_language(language, text):
    assert asks_for_a_person(text, language)


def test_every_chat_language_has_phrases():
    assert set(HANDOFF_PHRASES) == set(CHAT_LANGUAGES)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "How do I install MT5?"),
        ("en", "My expert advisor agent settings reset every time I restart the terminal"),
        ("en", "agents"),  # a different word
        ("ja", "MT5のパスワードを忘れました"),
        ("en", ""),
        ("en", "😀"),
    ],
)
def test_questions_are_not_requests_for_a_person(language, text):
    assert not asks_for_a_person(text, language)


def test_vip_lifts_one_step_and_urgent_stays_urgent():
    assert lift(Priority.LOW, Tier.VIP) is Priority.MEDIUM
    assert lift(Priority.HIGH, Tier.VIP) is Priority.URGENT
    assert lift(Priority.URGENT, Tier.VIP) is Priority.URGENT
    assert lift(Priority.LOW, Tier.STANDARD) is Priority.LOW


def test_plan_takes_team_and_priority_from_the_faq_entry():
    handoff = plan(
        HandoffReason.DECLINED,
        tier=Tier.STANDARD,
        team=Team.TRADING,
        priority=Priority.HIGH,
        faq_id="spreads",
    )
    assert (handoff.team, handoff.priority, handoff.faq_id) == (
        Team.TRADING,
        Priority.HIGH,
        "spreads",
    )


def test_plan_without_a_topic_goes_to_the_account_desk_at_medium():
    handoff = plan(HandoffReason.REQUESTED, tier=Tier.STANDARD)
    assert (handoff.team, handoff.priority) == (Team.ACCOUNT, Priority.MEDIUM)


def test_urgent_reason_is_urgent_whatever_the_entry_says():
    assert plan(HandoffReason.URGENT, tier=Tier.STANDARD, priority=Priority.LOW).priority is (
        Priority.URGENT
    )
