"""Unicode-script analysis: which writing system carries the language of a chat message.

Script is near-certain evidence (kana is Japanese, hangul is Korean) and costs microseconds, so it
runs
before any statistical model. Only letters that carry language count: URLs, e-mail addresses,
digits,
emoji and product codes such as "MT5" are dropped, and all-caps acronyms (EA, USD) count only when
nothing else is there, so "MT5 パスワード" is Japanese.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import regex  # the stdlib `re` has no Unicode Script property

#: Longest prefix of a message that is analysed; language is settled long before this and it bounds
#: the cost of a pasted log or e-mail.
MAX_ANALYSED_CHARS = 2000

#: Weight of one Han/kana/hangul character against one alphabetic letter: a CJK character is a
#: syllable or morpheme, about as informative as a short Latin word piece.
CJK_WEIGHT = 3


class Script(StrEnum):
    """Writing systems the pipeline can route on (every other letter is OTHER)."""

    LATIN = "latin"
    KANA = "kana"
    HAN = "han"
    HANGUL = "hangul"
    THAI = "thai"
    ARABIC = "arabic"
    CYRILLIC = "cyrillic"
    OTHER = "other"


# Noise is matched with the stdlib `re` (several times faster than `regex` here); product codes and
# acronyms are ASCII in practice (MT5, 2FA, USD100, EA, VPS).
_URL = re.compile(r"(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CODE = re.compile(
    r"(?<![A-Za-z0-9])(?=[\w-]*[0-9])(?=[\w-]*[A-Za-z])[A-Za-z0-9_-]+(?![A-Za-z0-9])"
)
_ACRONYM = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2,6}(?![A-Za-z0-9])")

_SCRIPT_PATTERNS: tuple[tuple[Script, regex.Pattern[str]], ...] = (
    (Script.LATIN, regex.compile(r"\p{Latin}")),
    # The long-vowel mark ー is Common script, but only Japanese writes it.
    (Script.KANA, regex.compile(r"[\p{Hiragana}\p{Katakana}\u30fc\uff70]")),
    (Script.HAN, regex.compile(r"\p{Han}")),
    (Script.HANGUL, regex.compile(r"\p{Hangul}")),
    (Script.THAI, regex.compile(r"\p{Thai}")),
    (Script.ARABIC, regex.compile(r"\p{Arabic}")),
    (Script.CYRILLIC, regex.compile(r"\p{Cyrillic}")),
)
_CJK = frozenset({Script.KANA, Script.HAN, Script.HANGUL})


@dataclass(frozen=True, slots=True)
class ScriptAnalysis:
    """Result of `analyse`: the dominant script and the text statistical models should see."""

    dominant: Script | None  # None: nothing in the message carries language
    evidence: (
        int  # weighted count of language-carrying letters; "how much text" for later decisions
    )
    content: str  # the message without URLs, e-mails and product codes


@lru_cache(maxsize=65536)
def script_of(char: str) -> Script | None:
    """Script of one character, None for non-letters (digits, punctuation, emoji, spaces)."""
    for script, pattern in _SCRIPT_PATTERNS:
        if pattern.match(char):
            return script
    return Script.OTHER if char.isalpha() else None


def _strip_noise(text: str) -> str:
    if "://" in text or "www." in text.lower():
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _EMAIL.sub(" ", text)
    if any(ch.isdigit() for ch in text):
        text = _CODE.sub(" ", text)
    return text


def _weighted(counts: dict[Script, int]) -> dict[Script, int]:
    weighted = {s: n * (CJK_WEIGHT if s in _CJK else 1) for s, n in counts.items()}
    if counts[Script.KANA]:
        # Japanese mixes kanji with kana; any kana in CJK text makes the Han characters Japanese
        # too.
        weighted[Script.KANA] += weighted[Script.HAN]
        weighted[Script.HAN] = 0
    return weighted


@lru_cache(maxsize=64)
def analyse(text: str) -> ScriptAnalysis:
    """Find the script that carries the message's language, ignoring noise and product names.

    Cached for the last few texts: one message is analysed by the desk (how much text), the
    switch bound and the detector in turn, and the result is immutable."""
    prefix = text[:MAX_ANALYSED_CHARS]
    if not prefix.isascii():
        # JSON from the browser can carry lone surrogates ("\udcff"); the Rust model rejects them.
        prefix = prefix.encode("utf-8", "replace").decode("utf-8")
    content = _strip_noise(prefix)
    counts = dict.fromkeys(Script, 0)
    for char, n in Counter(content).items():  # distinct characters only: a C-speed count first
        script = script_of(char)
        if script is not None:
            counts[script] += n
    everything = _weighted(counts)
    acronym_letters = sum(len(a) for a in _ACRONYM.findall(content))
    strong = _weighted({**counts, Script.LATIN: counts[Script.LATIN] - acronym_letters})
    if not any(strong.values()):
        strong = everything  # only acronyms ("USA?", "HELP"): they are all there is
    best = max(strong, key=lambda s: strong[s])  # ties go to the first script in declaration order
    if not strong[best]:
        return ScriptAnalysis(dominant=None, evidence=0, content=content)
    # Acronyms are Latin letters: they only stop counting when another script competes with them.
    evidence = sum(everything.values()) if best is Script.LATIN else sum(strong.values())
    return ScriptAnalysis(dominant=best, evidence=evidence, content=content)


def text_evidence(text: str) -> int:
    """How much text a message carries for detection (`ScriptAnalysis.evidence`)."""
    return analyse(text).evidence
