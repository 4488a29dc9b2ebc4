"""Which language a customer writes in: explicit choice, then script, then statistics, then hints.

Pure: the only side effect is langdetect loading its profiles when a detector is built
(callers build it once, off the event loop).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from babel import Locale, UnknownLocaleError

# langdetect's answers on very short text are unreliable; below this many letters we trust
# the browser's languages more than the statistics.
MIN_LETTERS_FOR_STATISTICS = 4
CONFIDENT = 0.80


class DetectionSource(StrEnum):
    CHOICE = "choice"
    SCRIPT = "script"
    STATISTICAL = "statistical"
    HINT = "hint"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Detection:
    language: str
    confidence: float
    runner_up: str | None
    source: DetectionSource


# langdetect's codes for our tags (it has no Malay profile; Indonesian stands in).
_LANGDETECT_CODES = {"zh-Hans": "zh-cn", "zh-Hant": "zh-tw", "ms": "id"}
_REGION_SCRIPT = {
    "TW": "zh-Hant",
    "HK": "zh-Hant",
    "MO": "zh-Hant",
    "CN": "zh-Hans",
    "SG": "zh-Hans",
}


def _to_locale(tag: str) -> Locale | None:
    try:
        return Locale.parse(tag.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def canonical(tag: str, supported: Sequence[str]) -> str | None:
    """Map one BCP 47 tag (any case, region or script) to a supported tag, or None."""
    locale = _to_locale(tag.strip())
    if locale is None:
        return None
    by_lower = {s.lower(): s for s in supported}
    if locale.language == "zh":
        script = locale.script or _REGION_SCRIPT.get(locale.territory or "", "zh-Hans")[3:]
        return by_lower.get(f"zh-{script}".lower())
    language = "id" if locale.language == "in" else locale.language
    return by_lower.get(language)


def negotiate(tags: Sequence[str], supported: Sequence[str]) -> str | None:
    """The first of the customer's preferred tags that we support (Accept-Language order)."""
    for tag in tags:
        found = canonical(tag, supported)
        if found is not None:
            return found
    return None


def parse_accept_language(header: str) -> list[str]:
    """Tags of an Accept-Language header in preference order (q-values honoured)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def text_direction(language: str) -> Literal["ltr", "rtl"]:
    locale = _to_locale(language)
    return "rtl" if locale is not None and locale.text_direction == "rtl" else "ltr"


def display_name(language: str) -> str:
    """The language's name in itself, for the widget's picker (日本語, العربية)."""
    locale = _to_locale(language)
    if locale is None:
        return language
    return locale.get_display_name(locale) or language


def _script_language(text: str) -> str | None:
    """Scripts that name a language on their own. Latin letters are left to statistics."""
    counts: dict[str, int] = {}
    for char in text:
        if not char.isalpha():
            continue
        code = ord(char)
        if 0x3040 <= code <= 0x30FF:
            key = "ja"
        elif 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
            key = "ko"
        elif 0x0E00 <= code <= 0x0E7F:
            key = "th"
        elif 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F:
            key = "ar"
        elif 0x0400 <= code <= 0x04FF:
            key = "ru"
        elif "CJK" in unicodedata.name(char, ""):
            key = "han"
        else:
            continue
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return None
    if "ja" in counts:  # any kana makes it Japanese, even with kanji around it
        return "ja"
    return max(counts, key=lambda k: counts[k])


class LanguageDetector:
    """Deterministic detector restricted to the supported languages."""

    def __init__(
        self,
        supported: Sequence[str],
        *,
        backend: str = "langdetect",
        seed: int = 0,
        default: str = "en",
    ) -> None:
        from langdetect import DetectorFactory, detector_factory

        self.supported = tuple(supported)
        self.default = default if default in self.supported else self.supported[0]
        self.backend = backend
        DetectorFactory.seed = seed
        detector_factory.init_factory()
        self._factory = detector_factory._factory
        wanted = {_LANGDETECT_CODES.get(tag, tag) for tag in self.supported}
        self._codes = wanted
        self._from_code = {_LANGDETECT_CODES.get(tag, tag): tag for tag in self.supported}
        if "ms" in self.supported and "id" in self.supported:
            self._from_code["id"] = "id"

    def detect(
        self, text: str, *, choice: str | None = None, hints: Sequence[str] = ()
    ) -> Detection:
        if choice:
            chosen = canonical(choice, self.supported)
            if chosen is not None:
                return Detection(chosen, 1.0, None, DetectionSource.CHOICE)
        hinted = negotiate(hints, self.supported)
        script = _script_language(text)
        if script == "han":
            script = self._han_variant(text, hinted)
        if script is not None and script in self.supported:
            return Detection(script, 0.99, None, DetectionSource.SCRIPT)
        letters = sum(1 for c in text if c.isalpha())
        if letters >= MIN_LETTERS_FOR_STATISTICS:
            ranked = self._statistics(text)
            if ranked:
                language, probability = ranked[0]
                runner_up = ranked[1][0] if len(ranked) > 1 else None
                if hinted is not None and probability < CONFIDENT and hinted in dict(ranked):
                    return Detection(hinted, probability, language, DetectionSource.HINT)
                return Detection(language, probability, runner_up, DetectionSource.STATISTICAL)
        if hinted is not None:
            return Detection(hinted, 0.5, None, DetectionSource.HINT)
        return Detection(self.default, 0.2, None, DetectionSource.DEFAULT)

    def _han_variant(self, text: str, hinted: str | None) -> str:
        if hinted in ("zh-Hans", "zh-Hant"):
            return hinted
        ranked = self._statistics(text)
        for language, _ in ranked:
            if language in ("zh-Hans", "zh-Hant"):
                return language
        return "zh-Hans"

    def _statistics(self, text: str) -> list[tuple[str, float]]:
        from langdetect.lang_detect_exception import LangDetectException

        detector = self._factory.create()
        detector.append(text)
        try:
            probabilities = detector.get_probabilities()
        except LangDetectException:
            return []
        ranked: list[tuple[str, float]] = []
        for item in probabilities:
            tag = self._from_code.get(item.lang)
            if tag is not None and item.lang in self._codes:
                ranked.append((tag, float(item.prob)))
        total = sum(p for _, p in ranked)
        return [(tag, p / total) for tag, p in ranked] if total else []
