"""When the bot hands a conversation to a human, and with which queue and priority.

Pure rules: the customer asked (the widget's button or a phrase such as "agent",
"オペレーター", "人工客服" in any chat language), the bot declined twice in a row, or the
topic is urgent (an FAQ entry with priority urgent: margin call, forced liquidation,
hacked account, missing withdrawal). The queue is `<language>/<team>`; the priority comes
from the FAQ entry and the customer's tier lifts it one step.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from chatserver.models import Priority, Team, Tier

# Declines in a row after which the bot stops guessing and offers a person.
DECLINES_BEFORE_HANDOFF = 2
# A phrase only counts in a short message: "agent" in a long question about an EA
# ("expert advisor agent settings ...") is a topic, not a request.
MAX_WORDS_FOR_PHRASE = 8
MAX_CHARS_FOR_UNSPACED_PHRASE = 24
# Topics without an FAQ entry go to the general account desk.
DEFAULT_TEAM = Team.ACCOUNT
DEFAULT_PRIORITY = Priority.MEDIUM

# Ways to ask for a person, by language; matched on normalised text (case-folded, NFKC).
HANDOFF_PHRASES: dict[str, tuple[str, ...]] = {
    "en": ("agent", "human", "real person", "a person", "operator", "representative",
           "live agent", "support staff", "talk to someone", "speak to someone"),
    "ja": ("オペレーター", "オペレータ", "担当者", "人間", "有人", "スタッフ", "人と話"),
    "zh-Hans": ("人工客服", "人工", "转人工", "真人", "客服人员"),
    "zh-Hant": ("人工客服", "真人客服", "轉人工", "真人", "專員", "客服人員"),
    "ko": ("상담원", "상담사", "사람과", "직원"),
    "th": ("เจ้าหน้าที่", "พนักงาน", "คุยกับคน", "ติดต่อคน"),
    "vi": ("nhân viên", "tư vấn viên", "người thật", "gặp người"),
    "id": ("agen", "customer service", "operator", "manusia", "orang asli", "cs"),
    "ms": ("ejen", "khidmat pelanggan", "operator", "manusia", "orang sebenar"),
    "ar": ("موظف", "وكيل", "خدمة العملاء", "شخص حقيقي", "انسان", "إنسان"),
    "es": ("agente", "humano", "una persona", "asesor", "operador"),
    "pt": ("atendente", "humano", "agente", "uma pessoa", "operador"),
    "fr": ("agent", "conseiller", "humain", "opérateur", "une personne"),
    "de": ("mitarbeiter", "mensch", "agent", "berater", "kundenservice"),
    "it": ("operatore", "una persona", "umano", "agente", "assistenza"),
}  # fmt: skip

_WORD = re.compile(r"\w+", re.UNICODE)
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")


class HandoffReason(StrEnum):
    REQUESTED = "requested"  # the widget's "talk to a person"
    PHRASE = "phrase"  # the customer wrote it
    DECLINED = "declined"  # the bot could not help, twice in a row
    URGENT = "urgent"  # an urgent topic goes to a person at once


@dataclass(frozen=True, slots=True)
class Handoff:
    reason: HandoffReason
    team: Team
    priority: Priority
    faq_id: str | None = None


def normalise_phrase(text: str) -> str:
    """NFKC, case-folded, words joined by single spaces (punctuation gone): how phrases
    customers write are compared."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def asks_for_a_person(text: str, language: str) -> bool:
    """A short message naming a person/agent in the conversation's language (or English)."""
    normalised = normalise_phrase(text)
    if not normalised:
        return False
    unspaced = bool(_UNSPACED.search(normalised))
    if unspaced and len(normalised.replace(" ", "")) > MAX_CHARS_FOR_UNSPACED_PHRASE:
        return False
    if not unspaced and len(normalised.split()) > MAX_WORDS_FOR_PHRASE:
        return False
    padded = f" {normalised} "
    for lang in dict.fromkeys((language, "en")):
        for phrase in HANDOFF_PHRASES.get(lang, ()):
            key = normalise_phrase(phrase)
            if _UNSPACED.search(key) and key in normalised:
                return True
            if f" {key} " in padded:
                return True
    return False


def lift(priority: Priority, tier: Tier) -> Priority:
    """VIPs are served one step sooner (urgent stays urgent)."""
    if tier is not Tier.VIP or priority is Priority.URGENT:
        return priority
    order = sorted(Priority, key=lambda p: p.rank)
    return order[priority.rank - 1]


def plan(
    reason: HandoffReason,
    *,
    tier: Tier,
    team: Team | None = None,
    priority: Priority | None = None,
    faq_id: str | None = None,
) -> Handoff:
    """Queue team and priority for a handoff, from the topic's FAQ entry when there is one."""
    base = Priority.URGENT if reason is HandoffReason.URGENT else priority or DEFAULT_PRIORITY
    return Handoff(reason, team or DEFAULT_TEAM, lift(base, tier), faq_id)
