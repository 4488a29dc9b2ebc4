"""Text normalisation shared by the FAQ index and the customer's question.

Both sides go through `normalize`, so what matters is that equivalent spellings collapse to one
form: full/half width (NFKC), case, accents a customer often leaves out (é/e, Arabic
vowel marks), punctuation and symbols, letters stretched for emphasis ("pleeease", "มากกกก"),
and runs of whitespace. It must never break a script: Thai vowel and tone marks are
combining characters that a naive `[^\\w\\s]` pattern turns into spaces, so punctuation is
defined by Unicode category instead.

`features` turns normalised text into the sparse bag the matcher scores: character n-grams
inside each space-separated token (they need no word boundaries, so they serve Japanese,
Chinese and Thai, whose whole run of text is one token, and they tolerate typos) plus word
unigrams and bigrams where the script has spaces.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

__all__ = [
    "CHAR_NGRAMS",
    "char_grams",
    "features",
    "is_unspaced",
    "normalize",
    "word_bigrams",
    "word_tokens",
    "word_unigram",
]

# Character n-gram lengths within a token: 1-5 beat 1-4 (and 2-5, 1-6) on xSID 10-shot (mean
# top-1 +1 point, every language but en/ja up) at equal BANKING77 accuracy.
CHAR_NGRAMS = (1, 5)
# Word n-grams for spaced scripts: unigrams and bigrams ("credit card" != "card" + "credit").
WORD_NGRAMS = (1, 2)
# A letter repeated this often is emphasis, not spelling ("heeelp"); digits are never squeezed.
_REPEAT_RUN = 3

_SPACES = re.compile(r"\s+")
_REPEATS = re.compile(rf"([^\W\d_])\1{{{_REPEAT_RUN - 1},}}")
_WORDS = re.compile(r"\S+")
# Scripts written without spaces between words: kana, CJK, Hangul is spaced, Thai, Lao, Khmer,
# Myanmar.
_UNSPACED = re.compile(
    r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)

# Arabic: drop vowel marks and tatweel, unify alef and yeh forms (how IR systems fold Arabic).
_ARABIC_DROP = [*range(0x064B, 0x0660), 0x0670, 0x0640]
_ARABIC_FOLD = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي"}


def _build_table() -> dict[int, str | None]:
    """One str.translate table: punctuation and symbols to spaces, accents off Latin letters.

    Built once over the Basic Multilingual Plane (about 30 ms at import).
    """
    table: dict[int, str | None] = {}
    for code in range(0x10000):
        char = chr(code)
        category = unicodedata.category(char)
        if category[0] in "PS" or category in ("Cc", "Cf", "Zs", "Zl", "Zp"):
            table[code] = " "
        elif 0x0300 <= code <= 0x036F:  # combining marks used by Latin, Greek and Cyrillic
            table[code] = None
        elif 0x00C0 <= code <= 0x024F or 0x1E00 <= code <= 0x1EFF:  # accented Latin letters
            base = "".join(
                c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
            )
            if base and base != char:
                table[code] = base
    for code in _ARABIC_DROP:
        table[code] = None
    for source, target in _ARABIC_FOLD.items():
        table[ord(source)] = target
    return table


_TABLE = _build_table()


def normalize(text: str) -> str:
    """The canonical form of `text` for matching ("ＭＴ５!!" and "mt5" give the same)."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_TABLE)
    if not text.isascii() and max(text) > "\uffff":
        text = "".join(c if c <= "\uffff" or c.isalnum() else " " for c in text)  # emoji
    text = _REPEATS.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def is_unspaced(text: str) -> bool:
    """True when the text is (partly) in a script written without spaces between words."""
    return _UNSPACED.search(text) is not None


def features(normalized: str) -> list[str]:
    """The n-grams of already-normalised text, with repeats (the caller counts them).

    Character n-grams run inside each token padded with one space (scikit-learn's `char_wb`),
    so a word's prefix and suffix grams are marked; grams across a space were worse on xSID,
    where unseen names next to a keyword made its grams look new. Word n-grams are prefixed
    with a control character so they never collide with character grams.
    """
    words = word_tokens(normalized)
    grams: list[str] = []
    for word in words:
        grams.extend(char_grams(word))
    spaced = [word_unigram(w) for w in words if not is_unspaced(w)]
    if spaced:
        grams.extend(spaced)
        grams.extend(word_bigrams(words))
    return grams


def word_tokens(normalized: str) -> list[str]:
    """The space-separated tokens of normalised text."""
    return _WORDS.findall(normalized)


def char_grams(word: str) -> list[str]:
    """One token's character n-grams (they depend on the token alone: a cache can keep them)."""
    low, high = CHAR_NGRAMS
    padded = f" {word} "
    size = len(padded)
    return [padded[i : i + n] for n in range(low, high + 1) for i in range(size - n + 1)]


def word_unigram(word: str) -> str:
    """A token of a spaced script as a word feature."""
    return "\x01" + word


def word_bigrams(words: list[str]) -> list[str]:
    """The word bigrams of `features` (taken when any token's script is spaced)."""
    if WORD_NGRAMS[1] < 2:
        return []
    return [f"\x02{a} {b}" for a, b in itertools.pairwise(words)]
