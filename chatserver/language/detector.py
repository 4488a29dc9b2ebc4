"""Per-message language detection: choice, then script, then statistics, with hints as a prior.

The stages run strongest first. An explicit choice ends the search; script is near-certain; the
statistical model answers for Latin-script text; browser languages (hints) tilt close calls but
never
overrule clear text; with nothing to go on the first hint, then the default, is returned with a
confidence low enough that the conversation layer asks the customer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from .han import simplified_probability
from .script import Script, analyse
from .statistical import EnsembleModel, StatisticalModel, build_model
from .tags import base_language, canonical_tag, negotiate

#: Scripts that name one language outright, when that language is supported.
SCRIPT_LANGUAGES: Mapping[Script, str] = {
    Script.KANA: "ja",
    Script.HANGUL: "ko",
    Script.THAI: "th",
    Script.ARABIC: "ar",
    Script.CYRILLIC: "ru",
}

#: Confidence of a script rule: below 1 where other languages share the script (Persian/Urdu write
#: Arabic script, Ukrainian/Bulgarian Cyrillic), so a threshold of 0.99 can still tell them apart.
SCRIPT_CONFIDENCE: Mapping[Script, float] = {
    Script.KANA: 0.99,
    Script.HANGUL: 0.99,
    Script.THAI: 0.99,
    Script.ARABIC: 0.95,
    Script.CYRILLIC: 0.9,
}

#: Han-only text is Chinese unless it is a kanji-only Japanese message; the rest is left unassigned.
HAN_CONFIDENCE = 0.95

#: Odds multiplier of the first browser language minus one: x3 odds settles near-ties (es/pt, id/ms,
#: zh-Hans/zh-Hant on shared characters) but does not beat text evidence of 3:1 or more.
HINT_WEIGHT = 2.0

#: Each later browser language counts half as much as the one before it.
HINT_DECAY = 0.5

#: Confidence when there is no text but the browser names a language: a guess worth confirming.
NO_TEXT_HINT_CONFIDENCE = 0.3

#: Confidence of the default language when nothing at all is known.
NO_TEXT_DEFAULT_CONFIDENCE = 0.1

#: Characters handed to the statistical model; longer messages add time, not accuracy.
MAX_STATISTICAL_CHARS = 300


class DetectionSource(StrEnum):
    """Which pipeline stage decided the language."""

    CHOICE = "choice"
    SCRIPT = "script"
    STATISTICAL = "statistical"
    HINT = "hint"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Detection:
    """The language of one message, how sure we are, and the best alternative for a quick choice."""

    language: str  # one of the supported tags, e.g. "ja", "zh-Hant"
    confidence: float  # 0..1
    runner_up: str | None
    source: DetectionSource
    evidence: int = 0  # weighted count of language-carrying letters (CJK x3); 0 for choice/no text


class LanguageDetector:
    """Detects a message's language among `supported` product tags.

    Models load eagerly in the constructor (hundreds of ms): build it once, off the event loop.
    `detect` is then CPU-only and thread-safe for reading.
    """

    def __init__(
        self, supported: Sequence[str], *, backend: str = "auto", seed: int = 0, default: str = "en"
    ) -> None:
        tags = tuple(dict.fromkeys(canonical_tag(t) for t in supported))
        if not tags:
            raise ValueError("supported must name at least one language")
        default_tag = negotiate([default], tags)
        if default_tag is None:
            raise ValueError(f"default {default!r} is not among supported {tags}")
        self._supported = tags
        self._order = {tag: i for i, tag in enumerate(tags)}
        self._default = default_tag
        self._by_base: dict[str, str] = {}
        for tag in tags:
            self._by_base.setdefault(base_language(tag), tag)
        self._script_tags = {
            s: self._by_base[code] for s, code in SCRIPT_LANGUAGES.items() if code in self._by_base
        }
        self._han_tags = tuple(t for t in tags if base_language(t) == "zh")
        claimed = {base_language(t) for t in self._script_tags.values()} | {"zh"}
        candidates = [code for code in self._by_base if code not in claimed]
        self._model: StatisticalModel | None = None
        self._backend = "none"
        if len(candidates) >= 2:
            self._backend, self._model = build_model(backend, candidates, seed=seed)

    @property
    def supported(self) -> tuple[str, ...]:
        return self._supported

    @property
    def statistical_languages(self) -> tuple[str, ...]:
        """ISO 639-1 codes the statistical model was built for (languages no script rule claims)."""
        return self._model.languages if self._model is not None else ()

    @property
    def backend(self) -> str:
        """The statistical backend actually in use ("none" when script rules cover every language)."""
        return self._backend

    def detect(
        self, text: str, *, choice: str | None = None, hints: Sequence[str] = ()
    ) -> Detection:
        """Detect the language of one message.

        `choice` (the customer's explicit pick, any BCP 47 spelling) wins when it is supported; an
        unsupported choice is ignored rather than trusted. `hints` are browser languages, best
        first.
        """
        if choice is not None:
            chosen = negotiate([choice], self._supported)
            if chosen is not None:
                return Detection(chosen, 1.0, None, DetectionSource.CHOICE)
        hinted = self._hinted(hints)
        analysis = analyse(text)
        evidence: dict[str, float] = {}
        source = DetectionSource.SCRIPT
        if analysis.dominant is Script.HAN and self._han_tags:
            evidence = self._han(analysis.content)
        elif analysis.dominant in self._script_tags:
            script = analysis.dominant
            evidence = {self._script_tags[script]: SCRIPT_CONFIDENCE[script]}
        elif analysis.dominant is not None:
            evidence = self._statistical(analysis.content)
            source = DetectionSource.STATISTICAL
        if not any(evidence.values()):
            return self._without_text(hinted)
        return self._with_prior(evidence, hinted, source, analysis.evidence)

    def could_move_from(
        self, text: str, language: str, confidence: float, *, hints: Sequence[str] = ()
    ) -> bool:
        """Whether `detect(text, hints=hints)` could name another language than `language` with
        `confidence` or more. False only when that is certain without the statistical model:
        the text carries no letters, or its words alone outweigh anything the model could say
        (`EnsembleModel.max_log_odds`). A settled conversation asks this first, because most
        of its messages are plainly in its own language and the model is the detector's cost."""
        analysis = analyse(text)
        if analysis.dominant is None:
            return False
        model = self._model
        if (
            analysis.dominant is Script.HAN
            or analysis.dominant in self._script_tags
            or not isinstance(model, EnsembleModel)
        ):
            return True
        bound = model.max_log_odds(
            analysis.content[:MAX_STATISTICAL_CHARS], base_language(language)
        )
        if bound is None or self._by_base.get(base_language(language)) != language:
            return True
        hinted = self._hinted(hints)
        prior = {tag: 1.0 + HINT_WEIGHT * HINT_DECAY**rank for rank, tag in enumerate(hinted)}
        strongest_other = max((w for tag, w in prior.items() if tag != language), default=1.0)
        odds = math.exp(min(bound, 700.0)) * strongest_other / prior.get(language, 1.0)
        return odds / (1.0 + odds) >= confidence

    def _hinted(self, hints: Sequence[str]) -> tuple[str, ...]:
        matched = (negotiate([hint], self._supported) for hint in hints)
        return tuple(dict.fromkeys(tag for tag in matched if tag is not None))

    def _han(self, content: str) -> dict[str, float]:
        if len(self._han_tags) == 1:
            return {self._han_tags[0]: HAN_CONFIDENCE}
        p_simplified = simplified_probability(content)
        out: dict[str, float] = {}
        for tag in self._han_tags:
            script = tag.split("-")[1] if "-" in tag else "Hans"
            out[tag] = HAN_CONFIDENCE * (p_simplified if script == "Hans" else 1.0 - p_simplified)
        return out

    def _statistical(self, content: str) -> dict[str, float]:
        if self._model is None:
            return {}
        probabilities = self._model.probabilities(content[:MAX_STATISTICAL_CHARS])
        return {
            self._by_base[code]: p for code, p in probabilities.items() if code in self._by_base
        }

    def _without_text(self, hinted: tuple[str, ...]) -> Detection:
        if hinted:
            runner_up = (
                hinted[1]
                if len(hinted) > 1
                else (self._default if self._default != hinted[0] else None)
            )
            return Detection(hinted[0], NO_TEXT_HINT_CONFIDENCE, runner_up, DetectionSource.HINT)
        return Detection(self._default, NO_TEXT_DEFAULT_CONFIDENCE, None, DetectionSource.DEFAULT)

    def _with_prior(
        self,
        evidence: dict[str, float],
        hinted: tuple[str, ...],
        source: DetectionSource,
        letters: int,
    ) -> Detection:
        """Bayes with the hints as prior; mass the evidence left unassigned stays with "something else"."""
        prior = {tag: 1.0 + HINT_WEIGHT * HINT_DECAY**rank for rank, tag in enumerate(hinted)}
        unassigned = max(0.0, 1.0 - sum(evidence.values()))
        posterior = {tag: p * prior.get(tag, 1.0) for tag, p in evidence.items() if p > 0.0}
        total = sum(posterior.values()) + unassigned
        ranked = sorted(posterior, key=lambda t: (-posterior[t], self._order[t]))
        unhinted = min(evidence, key=lambda t: (-evidence[t], self._order[t]))
        return Detection(
            language=ranked[0],
            confidence=posterior[ranked[0]] / total,
            runner_up=ranked[1] if len(ranked) > 1 else None,
            source=DetectionSource.HINT if ranked[0] != unhinted else source,
            evidence=letters,
        )
