"""Inquiry tracking numbers: short, unambiguous to read aloud or type, with a check character.

This module makes, checks and normalises the numbers; it must not know where they are
stored (the store keeps them unique) nor who may look them up.

Format: 8 random characters and 1 check character, grouped 4-4-1: ``K7PX-4QR9-M``.

Alphabet (31): ``23456789ABCDEFGHJKLMNPQRSTVWXYZ``, digits 2-9 and A-Z without I, O and U.
0/O and 1/I are the classic look-alikes; U goes too, because it is confused with V in
handwriting and some fonts and (as in Crockford's base32) it makes accidental words rarer.
Dropping U also makes the size a prime, which the check character uses.

Check character: Damm's algorithm with the totally anti-symmetric quasigroup
``x * y = 3x + y (mod 31)``. Unrolled, a valid number has ``sum(3**(8 - i) * c[i]) == 0
(mod 31)`` over its nine characters, check character included (an ISO 7064-style pure
system). 31 is prime and 3 is a primitive root modulo 31, so the nine weights are distinct
and non-zero: every single substitution changes the sum by ``w * (a - b) != 0`` and every
transposition of two different characters, adjacent or not, by ``(w_i - w_j) * (a - b)
!= 0``; both are always caught. Luhn mod N was not chosen: it misses some adjacent
transpositions (the pair of code points 0 and N-1, like 09/90 in decimal Luhn).

Collision space: 31**8 = 852,891,037,441 numbers (about 2**39.6). By the birthday bound
two random numbers clash with probability about 1 % after 130,000 inquiries and 50 %
after 1.09 million, so the store keeps them unique and the caller draws again on a clash.
A guessed well-formed number hits one of n live numbers with probability n / 31**8, and
only 1 string in 31 is well-formed; lookups still need a second factor and rate limits.

Normalisation (what a customer or agent may type): NFKC (full-width input), any case,
spaces and dashes anywhere (ASCII and Unicode dashes, the katakana prolonged sound mark an
IME produces for "-"). U is read as V, its only look-alike in the alphabet; that is safe
because a wrong V is a single substitution, which the check catches. 0, O, 1 and I are
rejected rather than mapped: each could stand for several characters (D or Q, L or 7), and
a guess that happened to pass the check would open someone else's inquiry.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTVWXYZ"
BASE = len(ALPHABET)  # 31, prime: the check arithmetic is a field
DATA_LENGTH = 8
GROUPS = (4, 4, 1)  # K7PX-4QR9-M: short groups are easy to read out and to compare
SEPARATOR = "-"
COLLISION_SPACE = BASE**DATA_LENGTH  # 852,891,037,441
MULTIPLIER = 3  # a primitive root modulo 31: all nine weights differ

# Longest text worth normalising (9 characters plus generous spacing); longer is rejected
# before any Unicode work.
MAX_INPUT_CHARS = 64
# Bytes below this are used (byte % 31 is then uniform); the rest are drawn again.
_UNBIASED_LIMIT = 256 - 256 % BASE
# A random source that keeps returning only unusable bytes is broken; do not spin forever.
_MAX_DRAWS = 100

_VALUE = {character: value for value, character in enumerate(ALPHABET)}
_LOOK_ALIKES = {"U": "V"}
_IGNORED = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc")

RandomBytes = Callable[[int], bytes]


def check_character(data: str) -> str:
    """The check character for 8 data characters from ALPHABET (ValueError otherwise)."""
    if len(data) != DATA_LENGTH or any(character not in _VALUE for character in data):
        raise ValueError(f"expected {DATA_LENGTH} characters from {ALPHABET}, got {data!r}")
    # The character c that brings the Damm interim to 0: 3 * interim + c == 0 (mod 31).
    return ALPHABET[(-MULTIPLIER * _interim(data)) % BASE]


def new_tracking_number(random: RandomBytes = secrets.token_bytes) -> str:
    """A fresh number like ``K7PX-4QR9-M``; `random(n)` gives n random bytes (injected)."""
    values: list[int] = []
    for _ in range(_MAX_DRAWS):
        for byte in random(DATA_LENGTH):
            if byte < _UNBIASED_LIMIT:
                values.append(byte % BASE)
                if len(values) == DATA_LENGTH:
                    data = "".join(ALPHABET[value] for value in values)
                    return _format(data + check_character(data))
    raise RuntimeError("the random source returned no usable bytes")


def normalize(text: str) -> str | None:
    """The canonical form (``K7PX-4QR9-M``) of what someone typed, or None if it is not a
    valid tracking number (wrong length, a character outside the alphabet, a failed check)."""
    if len(text) > MAX_INPUT_CHARS:
        return None
    compact = "".join(
        _LOOK_ALIKES.get(character, character)
        for character in unicodedata.normalize("NFKC", text).upper()
        if not character.isspace() and character not in _IGNORED
    )
    if len(compact) != DATA_LENGTH + 1 or any(character not in _VALUE for character in compact):
        return None
    if _interim(compact) != 0:
        return None
    return _format(compact)


def is_valid(text: str) -> bool:
    """Whether `text` is a tracking number, as typed (see normalize for what is tolerated)."""
    return normalize(text) is not None


def _interim(characters: str) -> int:
    interim = 0
    for character in characters:
        interim = (MULTIPLIER * interim + _VALUE[character]) % BASE
    return interim


def _format(compact: str) -> str:
    parts = []
    start = 0
    for size in GROUPS:
        parts.append(compact[start : start + size])
        start += size
    return SEPARATOR.join(parts)
