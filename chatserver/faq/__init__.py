"""The multilingual FAQ: loading with validation, and matching questions to entries."""

from chatserver.faq.loader import FaqError, FaqProblem, LoadResult, coverage, load_faq
from chatserver.faq.matcher import FaqMatcher, MatchResult, Outcome
from chatserver.faq.model import FALLBACK_LANGUAGE, Faq, FaqEntry

__all__ = [
    "FALLBACK_LANGUAGE",
    "Faq",
    "FaqEntry",
    "FaqError",
    "FaqMatcher",
    "FaqProblem",
    "LoadResult",
    "MatchResult",
    "Outcome",
    "coverage",
    "load_faq",
]
