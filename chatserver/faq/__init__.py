"""The multilingual FAQ: loading with validation, and matching questions to entries."""

from chatserver.faq.loader import FaqError, FaqProblem, LoadResult, coverage, load_faq
from chatserver.faq.matcher import FaqMatcher, MatchOutcome, MatchResult
from chatserver.faq.model import FALLBACK_LANGUAGE, Faq, FaqEntry

__all__ = [
    "FALLBACK_LANGUAGE",
    "Faq",
    "FaqEntry",
    "FaqError",
    "FaqMatcher",
    "FaqProblem",
    "LoadResult",
    "MatchOutcome",
    "MatchResult",
    "coverage",
    "load_faq",
]
