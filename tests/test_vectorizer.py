"""A question's TF-IDF vector, counted word by word from a cache, is the one its n-grams give.

`TfidfSpace.encode` keeps each word's grams; `features` is what the FAQ was trained on. The
reference below counts `features` directly, as encode did before the cache.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chatserver.faq.normalize import features, normalize
from chatserver.faq.vectorizer import WORD_CACHE, TfidfSpace, count_matrix, grams, idf_weights

PHRASINGS = [
    "how do i reset my mt5 password",
    "i forgot my password",
    "my deposit has not arrived",
    "วิธีฝากเงิน",  # Thai: one unspaced token
    "パスワードを忘れました",
    "deposit ของฉัน ยังไม่เข้า",  # spaced and unspaced tokens mixed
]
WORDS = [
    *{w for p in PHRASINGS for w in p.split()},
    "passwort",
    "xyzzy",
    "mt4",
    "депозит",
    "入金",
    "ฝาก",
]


def _space() -> TfidfSpace:
    vocabulary, tf = count_matrix([grams(p) for p in PHRASINGS])
    frequency = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.int64)
    idf, unknown_idf = idf_weights(frequency, tf.shape[0])
    return TfidfSpace(vocabulary, idf, unknown_idf)


def _reference(space: TfidfSpace, normalized: str) -> dict[int, float]:
    """Column -> value, from the whole text's n-gram counts (no cache)."""
    known: dict[int, float] = {}
    unseen = 0.0
    for gram, count in Counter(features(normalized)).items():
        tf = 1.0 + math.log(count) if count > 1 else 1.0
        column = space.vocabulary.get(gram)
        if column is None:
            unseen += tf * tf
        else:
            known[column] = tf * float(space.idf[column])
    norm = math.sqrt(sum(v * v for v in known.values()) + unseen * space.unknown_idf**2)
    return {c: v / norm for c, v in known.items()} if norm > 0 else known


SPACE = _space()


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12))
def test_a_cached_encoding_equals_counting_the_whole_text(words: list[str]) -> None:
    text = normalize(" ".join(words))
    columns, values = SPACE.encode(text)
    assert list(columns) == sorted(set(columns.tolist()))
    got = dict(zip(columns.tolist(), values.tolist(), strict=True))
    expected = _reference(SPACE, text)
    assert got.keys() == expected.keys()
    for column, value in expected.items():
        assert math.isclose(got[column], value, rel_tol=1e-5, abs_tol=1e-7)


def _as_dict(space: TfidfSpace, text: str) -> dict[int, float]:
    columns, values = space.encode(text)
    return dict(zip(columns.tolist(), values.tolist(), strict=True))


def test_a_word_repeated_is_counted_again_not_taken_from_the_cache_once() -> None:
    once = _as_dict(SPACE, "password deposit")
    twice = _as_dict(SPACE, "password password deposit")
    expected = _reference(SPACE, "password password deposit")
    assert twice.keys() == expected.keys()
    assert all(math.isclose(twice[c], v, rel_tol=1e-5) for c, v in expected.items())
    assert twice != once


def test_the_word_cache_stays_bounded() -> None:
    space = _space()
    for n in range(WORD_CACHE + 50):
        space.encode(f"w{n}")
    assert 0 < len(space._words) <= WORD_CACHE
    after = _as_dict(space, "i forgot")
    expected = _reference(space, "i forgot")
    assert after.keys() == expected.keys()
    assert all(math.isclose(after[c], v, rel_tol=1e-5) for c, v in expected.items())
