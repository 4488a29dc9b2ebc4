"""TF-IDF over the n-grams of `normalize.features`, written out so that a query costs microseconds.

scikit-learn's `TfidfVectorizer.transform` allocates a sparse matrix per call (about a
millisecond for one sentence); here a query becomes two small numpy arrays. Build time uses
the same `grams` function, so both sides cannot drift apart.

Two details differ from scikit-learn on purpose:

* The l2 norm of a query also counts the n-grams the FAQ has never seen (weighted as if their
  document frequency were zero). A question about something else is mostly made of unseen
  n-grams, so its cosine to every entry drops: that is the signal that declines it. scikit-learn
  drops unseen terms before normalising, which inflates exactly those cosines.
* Cross-validation re-weighs one shared count matrix per fold (`weigh`), instead of re-reading
  the texts, so calibration costs a few sparse operations per fold.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from chatserver.faq.normalize import (
    char_grams,
    features,
    is_unspaced,
    normalize,
    word_bigrams,
    word_tokens,
    word_unigram,
)

if TYPE_CHECKING:  # scipy is for building: a served desk maps a built FAQ (`build`)
    from scipy import sparse

__all__ = ["TfidfSpace", "count_matrix", "grams", "idf_weights", "weigh"]

# How much a never-seen n-gram counts in a query's norm (1 = as much as a rarest known one).
UNSEEN_WEIGHT = 1.0

Floats = npt.NDArray[np.float32]
Indices = npt.NDArray[np.int32]


def grams(text: str) -> Counter[str]:
    """The n-gram counts of raw text (normalised first)."""
    return Counter(features(normalize(text)))


def _sublinear(count: int) -> float:
    """1 + ln(tf): the fifth "card" in a message is not five times the evidence."""
    return 1.0 + math.log(count)


def idf_weights(document_frequency: npt.NDArray[np.int64], documents: int) -> tuple[Floats, float]:
    """Smoothed idf (as scikit-learn's `smooth_idf`), and the idf of a never-seen n-gram."""
    idf = np.log((1.0 + documents) / (1.0 + document_frequency)) + 1.0
    return idf.astype(np.float32), UNSEEN_WEIGHT * float(math.log(1.0 + documents) + 1.0)


def count_matrix(documents: Sequence[Counter[str]]) -> tuple[dict[str, int], sparse.csr_matrix]:
    """The vocabulary of `documents` and their sublinear term frequencies (rows = documents)."""
    from scipy import sparse

    vocabulary: dict[str, int] = {}
    add = vocabulary.setdefault
    indptr = [0]
    indices: list[int] = []
    counts: list[int] = []
    for document in documents:
        indices.extend([add(gram, len(vocabulary)) for gram in document])
        counts.extend(document.values())
        indptr.append(len(indices))
    values = 1.0 + np.log(np.asarray(counts, dtype=np.float32))  # `_sublinear`, vectorised
    matrix = sparse.csr_matrix(
        (np.asarray(values, np.float32), np.asarray(indices, np.int32), np.asarray(indptr)),
        shape=(len(documents), len(vocabulary)),
    )
    return vocabulary, matrix


def weigh(
    tf: sparse.csr_matrix, idf: Floats, known: npt.NDArray[np.bool_], unknown_idf: float
) -> sparse.csr_matrix:
    """Rows of `tf` as unit TF-IDF vectors over the `known` columns.

    Columns outside `known` (n-grams the training fold never saw) are dropped from the
    vector but kept in its norm, exactly as `TfidfSpace.encode` treats unseen n-grams.
    """
    from scipy import sparse

    weights = np.where(known, idf, np.float32(0.0)).astype(np.float32)
    weighted = tf.multiply(weights[np.newaxis, :]).tocsr()
    unseen = tf.multiply((~known).astype(np.float32)[np.newaxis, :]).tocsr()
    squares = np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel()
    squares += (unknown_idf**2) * np.asarray(unseen.multiply(unseen).sum(axis=1)).ravel()
    norms = np.sqrt(np.maximum(squares, 1e-12)).astype(np.float32)
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ weighted, dtype=np.float32)


# Words whose n-grams a language's space keeps (`TfidfSpace.encode`): a chat's vocabulary
# is small and repeats, and a word's character grams are most of a question's encoding.
WORD_CACHE = 4096


@dataclass(frozen=True, slots=True)
class _WordGrams:
    """What one word adds to a question: the columns of its known grams (character grams
    and its word unigram), the grams the space has never seen, and whether it is spaced."""

    columns: Indices
    unseen: tuple[str, ...]
    spaced: bool


@dataclass(frozen=True, slots=True)
class TfidfSpace:
    """The vocabulary and idf of one language's phrasings."""

    vocabulary: Mapping[str, int]
    idf: Floats
    unknown_idf: float
    _words: dict[str, _WordGrams] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def encode(self, normalized: str) -> tuple[Indices, Floats]:
        """The unit TF-IDF vector of already-normalised text as (columns, values), columns
        ascending: the same n-grams `features` gives, counted word by word from a cache."""
        words = word_tokens(normalized)
        parts: list[Indices] = []
        unseen: list[str] = []
        spaced = False
        for word in words:
            grams = self._words.get(word)
            if grams is None:
                grams = self._word_grams(word)
            parts.append(grams.columns)
            unseen.extend(grams.unseen)
            spaced = spaced or grams.spaced
        bigrams: list[int] = []
        if spaced:
            vocabulary = self.vocabulary
            for gram in word_bigrams(words):
                column = vocabulary.get(gram)
                if column is None:
                    unseen.append(gram)
                else:
                    bigrams.append(column)
        if bigrams:
            parts.append(np.asarray(bigrams, dtype=np.int32))
        known = np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)
        index, counts = np.unique(known, return_counts=True)
        tfs = np.where(counts > 1, 1.0 + np.log(counts), 1.0).astype(np.float32)
        values = tfs * self.idf[index]
        unseen_squares = sum(
            (_sublinear(count) if count > 1 else 1.0) ** 2 for count in Counter(unseen).values()
        )
        norm = math.sqrt(float(values @ values) + unseen_squares * self.unknown_idf**2)
        if norm > 0.0:
            values /= np.float32(norm)
        return index, values

    def _word_grams(self, word: str) -> _WordGrams:
        vocabulary = self.vocabulary
        columns: list[int] = []
        unseen: list[str] = []
        spaced = not is_unspaced(word)
        grams = char_grams(word) + ([word_unigram(word)] if spaced else [])
        for gram in grams:
            column = vocabulary.get(gram)
            if column is None:
                unseen.append(gram)
            else:
                columns.append(column)
        counted = _WordGrams(np.asarray(columns, dtype=np.int32), tuple(unseen), spaced)
        if len(self._words) >= WORD_CACHE:
            self._words.clear()  # a flood of new words; the chat's own come back at once
        self._words[word] = counted
        return counted
