"""Match a customer's question to FAQ entries: answer, suggest or decline.

Pure and synchronous: built once per FAQ load, then `match()` only reads precomputed data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process

from chatserver.faq.model import FALLBACK_LANGUAGE, Faq, FaqEntry

# Scores are 0-100 (rapidfuzz). Above ANSWER we reply with the entry; between SUGGEST and
# ANSWER we offer the top entries to pick from; below SUGGEST we decline.
ANSWER_SCORE = 82.0
SUGGEST_SCORE = 60.0
# An answer must beat the next entry by this much, or it is only a suggestion.
ANSWER_MARGIN = 4.0
MAX_SUGGESTIONS = 3
# How many phrasings rapidfuzz returns before they are grouped by entry.
_CANDIDATES = 30

_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")
_REPEATS = re.compile(r"(.)\1{2,}")
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")


class Outcome(StrEnum):
    ANSWER = "answer"
    SUGGEST = "suggest"
    DECLINE = "decline"


@dataclass(frozen=True, slots=True)
class MatchResult:
    outcome: Outcome
    language: str
    score: float
    entry: FaqEntry | None  # the answer (outcome ANSWER) or the best candidate otherwise
    suggestions: tuple[FaqEntry, ...] = ()


def normalize(text: str) -> str:
    """NFKC (full/half width), case-folded, punctuation stripped, repeats and spaces squeezed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _PUNCTUATION.sub(" ", text)
    text = _REPEATS.sub(r"\1\1", text)
    return _SPACES.sub(" ", text).strip()


def _score(query: str, choice: str, **_: object) -> float:
    """Word-set overlap for spaced scripts; character alignment for ja/zh/th."""
    if _UNSPACED.search(query) or _UNSPACED.search(choice):
        return max(fuzz.ratio(query, choice), 0.9 * fuzz.partial_ratio(query, choice))
    return float(fuzz.token_set_ratio(query, choice))


class FaqMatcher:
    def __init__(self, faq: Faq) -> None:
        self.faq = faq
        self._choices: dict[str, tuple[list[str], list[str]]] = {}
        for language in faq.languages:
            texts: list[str] = []
            ids: list[str] = []
            for entry in faq.native(language).values():
                for phrasing in entry.phrasings:
                    texts.append(normalize(phrasing))
                    ids.append(entry.id)
            self._choices[language] = (texts, ids)

    def match(self, text: str, language: str) -> MatchResult:
        searched = language if language in self._choices else FALLBACK_LANGUAGE
        query = normalize(text)
        if not query or searched not in self._choices:
            return MatchResult(Outcome.DECLINE, language, 0.0, None)
        texts, ids = self._choices[searched]
        best: dict[str, float] = {}
        for _, score, index in process.extract(
            query, texts, scorer=_score, processor=None, limit=_CANDIDATES, score_cutoff=0
        ):
            entry_id = ids[index]
            best[entry_id] = max(best.get(entry_id, 0.0), float(score))
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        return self._decide(ranked, language)

    def _decide(self, ranked: Sequence[tuple[str, float]], language: str) -> MatchResult:
        if not ranked or ranked[0][1] < SUGGEST_SCORE:
            top = self.faq.entry(ranked[0][0], language) if ranked else None
            return MatchResult(Outcome.DECLINE, language, ranked[0][1] if ranked else 0.0, top)
        entries = [e for e in (self.faq.entry(i, language) for i, _ in ranked) if e is not None]
        top_score = ranked[0][1]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if top_score >= ANSWER_SCORE and top_score - runner_up >= ANSWER_MARGIN:
            return MatchResult(Outcome.ANSWER, language, top_score, entries[0])
        suggestions = tuple(
            e for e, (_, s) in zip(entries, ranked, strict=False) if s >= SUGGEST_SCORE
        )[:MAX_SUGGESTIONS]
        return MatchResult(Outcome.SUGGEST, language, top_score, entries[0], suggestions)
