"""Answer and decline thresholds learnt from the FAQ itself, per language, at load time.

Fixed score thresholds do not transfer: a cosine of 0.3 is a confident match in a FAQ of
one-line questions and noise in one with many long variants, and a Japanese FAQ scores
differently from an English one. So each language's thresholds come from cross-validation
over its own phrasings: hold some variants out, train on the rest, and look at how the held-out
variants (real ways customers ask) score.

* decline: below the `DECLINE_QUANTILE` of held-out in-scope similarity. By construction about
  that share of in-scope questions is declined, whatever the scale of the scores; questions
  about other topics mostly fall below it (they share few n-grams with any entry).
* answer: the lowest SVM margin (best minus runner-up) at which held-out variants above it were
  ranked right at least `ANSWER_PRECISION` of the time (Wilson lower bound, so a handful of
  lucky variants does not set it). Below it we only suggest.

A FAQ without variants (nothing to hold out) gets the `DEFAULT_*` thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from chatserver.faq.classifier import Labels, _centroids, fit_linear, scores_of
from chatserver.faq.vectorizer import Floats, idf_weights, weigh

__all__ = ["Thresholds", "calibrate"]

# Share of in-scope questions we accept to decline (the benchmark target is at most 5% false
# declines); 3% leaves room for real questions being harder than the held-out variants.
DECLINE_QUANTILE = 0.03
# A direct answer should be right at least this often; below it a 3-way suggestion is cheaper
# than a wrong answer.
ANSWER_PRECISION = 0.90
# Confidence that the decline threshold is not above the true DECLINE_QUANTILE: guards small
# FAQs, whose few held-out variants under-sample the tail of real questions.
QUANTILE_CONFIDENCE = 0.9
# Folds: at least this many, more for a big FAQ so that each fold trains on nearly everything.
MIN_FOLDS = 5
# Held-out variants enough to place a 4% quantile and a 90% precision cut; stop folding after.
CALIBRATION_SAMPLES = 1000
# Fewer held-out variants than this and the cuts are noise: blend towards the defaults.
MIN_SAMPLES = 100
# One-sided 90% normal quantile, for the Wilson lower bound on held-out answer precision.
_Z = 1.2816
# Without variants: centroid cosine of a phrasing against an unrelated sentence in the same
# script is typically 0.05-0.2 with these n-grams; 0.2 declines those.
DEFAULT_DECLINE_SIMILARITY = 0.2
# Without variants: SVM margin 1.0 is half-way to an exact repeat of a phrasing (margin ~2).
DEFAULT_ANSWER_MARGIN = 1.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Per-language decision thresholds and the evidence they rest on."""

    decline_similarity: float  # centroid cosine below which we decline
    answer_margin: float  # SVM margin at or above which we answer directly
    samples: int  # held-out variants they were calibrated on (0 = defaults)
    held_out_accuracy: float | None = None  # top-1 of held-out variants, for `faq check`


def calibrate(tf: sparse.csr_matrix, labels: Labels, classes: int) -> Thresholds:
    """Cross-validate over the phrasings in `tf` (sublinear counts, one row per phrasing)."""
    folds = _fold_of(labels, max(MIN_FOLDS, math.ceil(len(labels) / CALIBRATION_SAMPLES)))
    similarity: list[Floats] = []
    margin: list[Floats] = []
    correct: list[np.ndarray] = []
    seen = 0
    for fold in range(int(folds.max()) + 1 if (folds >= 0).any() else 0):
        held = folds == fold
        if not held.any():
            continue
        train = ~held
        document_frequency = np.bincount(tf[train].indices, minlength=tf.shape[1])
        idf, unknown_idf = idf_weights(document_frequency, int(train.sum()))
        known = document_frequency > 0
        train_matrix = weigh(tf[train], idf, known, unknown_idf)
        coef, intercept = fit_linear(train_matrix, labels[train], classes)
        centroids = _centroids(train_matrix, labels[train], classes)
        decision, cosine = scores_of(
            weigh(tf[held], idf, known, unknown_idf), coef, intercept, centroids
        )
        ranked = np.sort(decision, axis=1)
        similarity.append(cosine.max(axis=1))
        margin.append(ranked[:, -1] - ranked[:, -2] if classes > 1 else ranked[:, -1])
        correct.append(decision.argmax(axis=1) == labels[held])
        seen += int(held.sum())
        if seen >= CALIBRATION_SAMPLES:
            break
    if seen == 0:
        return Thresholds(DEFAULT_DECLINE_SIMILARITY, DEFAULT_ANSWER_MARGIN, 0)
    return _thresholds(np.concatenate(similarity), np.concatenate(margin), np.concatenate(correct))


def _fold_of(labels: Labels, folds: int) -> np.ndarray:
    """Fold number per phrasing, -1 = always trained on.

    Round-robin within each entry, so an entry with m >= 2 phrasings always keeps at least one
    in training; an entry with a single phrasing is never held out. Deterministic.
    """
    assignment = np.full(len(labels), -1, dtype=np.int64)
    offset = 0
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        if len(rows) < 2:
            continue
        assignment[rows] = (np.arange(len(rows)) + offset) % folds
        offset += len(rows)  # spread entries across folds instead of starting all at fold 0
    return assignment


def _thresholds(similarity: Floats, margin: Floats, correct: np.ndarray) -> Thresholds:
    samples = len(similarity)
    weight = min(1.0, samples / MIN_SAMPLES)  # trust the data as it grows
    decline = _lower_quantile(similarity, DECLINE_QUANTILE)
    decline = weight * decline + (1.0 - weight) * DEFAULT_DECLINE_SIMILARITY
    kept = similarity >= decline
    answer = _precision_cut(margin[kept], correct[kept])
    answer = weight * answer + (1.0 - weight) * DEFAULT_ANSWER_MARGIN
    return Thresholds(decline, answer, samples, float(correct.mean()))


def _lower_quantile(values: Floats, q: float) -> float:
    """A lower confidence bound for the q-quantile of `values` (distribution-free).

    The r-th smallest of n samples lies below the true q-quantile with probability
    P(Binomial(n, q) >= r); take the largest r for which that is at least
    `QUANTILE_CONFIDENCE`. Few samples give a cautious (low) threshold, many give nearly
    the empirical quantile.
    """
    ordered = np.sort(values)
    n = len(ordered)
    probability = (1.0 - q) ** n  # P(X = 0)
    at_least = 1.0  # P(X >= r), starting at r = 0
    rank = 0
    for r in range(1, n + 1):
        at_least -= probability
        if at_least < QUANTILE_CONFIDENCE:
            break
        rank = r
        probability *= (n - r + 1) / r * q / (1.0 - q)  # P(X = r) from P(X = r - 1)
    if rank == 0:
        return float(ordered[0]) - 1e-6
    return float(ordered[rank - 1])


def _precision_cut(margin: Floats, correct: np.ndarray) -> float:
    """The lowest margin whose held-out variants at or above it reach `ANSWER_PRECISION`."""
    if len(margin) == 0:
        return DEFAULT_ANSWER_MARGIN
    order = np.argsort(-margin, kind="stable")
    hits = np.cumsum(correct[order])
    sizes = np.arange(1, len(order) + 1)
    passing = np.flatnonzero(_wilson_lower(hits, sizes) >= ANSWER_PRECISION)
    if len(passing) == 0:
        return float(margin[order[0]]) + 1e-6  # nothing is reliable enough: answer almost never
    return float(margin[order[passing[-1]]])


def _wilson_lower(hits: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Wilson score lower bound of hits/sizes: a precision we are 90% sure of, not a lucky one."""
    p = hits / sizes
    z2 = _Z * _Z
    centre = p + z2 / (2 * sizes)
    spread = _Z * np.sqrt(p * (1 - p) / sizes + z2 / (4 * sizes * sizes))
    return np.asarray((centre - spread) / (1 + z2 / sizes))
