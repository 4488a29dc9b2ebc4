"""Language of a chat customer: per-message detection, conversation-level state and evaluation.

Pure code: no network and no file I/O beyond the detector libraries loading their models.
"""

from __future__ import annotations

from chatserver.models import CHAT_LANGUAGES

from .conversation import (
    SWITCH_MIN_CONFIDENCE,
    LanguageDecision,
    LanguageState,
    can_change,
    decide,
    settled_by_text,
)
from .detector import Detection, DetectionSource, LanguageDetector
from .evaluation import Case, EvalReport, evaluate, parse_cases
from .script import text_evidence
from .statistical import BACKENDS, DEFAULT_BACKEND
from .tags import (
    base_language,
    canonical_tag,
    display_name,
    is_language_tag,
    negotiate,
    parse_accept_language,
    supported_tag,
    text_direction,
)

__all__ = [
    "BACKENDS",
    "CHAT_LANGUAGES",
    "DEFAULT_BACKEND",
    "SWITCH_MIN_CONFIDENCE",
    "Case",
    "Detection",
    "DetectionSource",
    "EvalReport",
    "LanguageDecision",
    "LanguageDetector",
    "LanguageState",
    "base_language",
    "can_change",
    "canonical_tag",
    "decide",
    "display_name",
    "evaluate",
    "is_language_tag",
    "negotiate",
    "parse_accept_language",
    "parse_cases",
    "settled_by_text",
    "supported_tag",
    "text_direction",
    "text_evidence",
]
