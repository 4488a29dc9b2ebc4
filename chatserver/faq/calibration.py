"""Answer and decline thresholds learnt from the FAQ itself, per language, at load time.

Fixed score thresholds do not transfer: a cosine of 0.3 is a confident match in a FAQ of
one-line questions and noise in one with many long variants, and a Japanese FAQ scores
differently from an English one. So each language's thresholds come from cross-validation
over its own phrasings: hold some variants out, train on the rest, and look at how the held-out
variants (real ways customers ask) score.

* decline: a question is declined when its similarity is below a floor, or when both its
  similarity and the best entry's one-vs-rest SVM value are low. Off-topic questions share a
  few stray n-grams with the FAQ ("buy a car" ~ "buy"), so their similarity alone is often
  not far below that of real paraphrases, but no entry's SVM then claims them (its value
  stays near the "not this entry" side, about -0.7 where held-out variants sit near 0).
  The two cuts are the same quantile level of held-out similarity and score, raised until
  `decline_quantile` of held-out in-scope variants would be declined: by construction about
  that share of in-scope questions is declined, whatever the scale of the scores. (The
  runner-up margin instead of the best value declined fewer off-topic questions: BANKING77
  + CLINC out-of-scope 77.8% vs 83.0%, and more xSID in-scope ones.)
* answer: the lowest SVM margin (best minus runner-up) at which held-out variants above it were
  ranked right at least `ANSWER_PRECISION` of the time (Wilson lower bound, so a handful of
  lucky variants does not set it). Below it we only suggest. On the desk's FAQ (about 800
  variants per language) this answers 89% of deskbench's in-scope messages, all correctly;
  a 95% bound answered 72%, an 80% one 97% at 98.6% precision (docs/benchmarks.md).
* off topic: the FAQ's `off_topic` examples form one more class. When it ranks first the
  question is declined; when it comes second it narrows the margin like any runner-up. Its
  examples are many and varied, so on chatty in-scope questions it would win too often: its
  score is held back by the smallest handicap that lets it claim at most
  `OFF_TOPIC_FALSE_DECLINES` of held-out in-scope variants (without it, deskbench false
  declines were 8.7%).

* blend (with sentence embeddings): the weight of the embedding similarity added to the SVM
  value that ranks held-out variants best (`BLEND_GRID`); the cuts above are then placed on the
  blended scores, and "similarity" is the mean of the TF-IDF and embedding similarities
  (`combined_similarity`).

* cascade (with sentence embeddings): the TF-IDF-only margin and similarity at or above which
  the matcher answers without running the encoder. Among held-out phrasings whose SVM-only
  best entry is not the off-topic class, the pair of cuts (similarity: a
  `CASCADE_SIMILARITY_GRID` quantile; margin: the lowest at which the rows above it agree)
  that keeps the most in-scope rows while their SVM-only answer equals the blended outcome
  (answered, same entry) at least `CASCADE_AGREEMENT` of the time, for the in-scope
  phrasings and for the off-topic examples each. The off-topic examples are required: the
  embedding is what declines many off-topic questions that share n-grams with an entry, and
  in-scope variants alone, rarely declined, do not show where that happens (on BANKING77
  + CLINC out-of-scope, a gate placed on them alone answered 27% of out-of-scope questions
  the blend declines). Fewer than `MIN_SAMPLES` held-out in-scope phrasings, no off-topic
  examples, or no such cut: the encoder always runs.

A FAQ without variants (nothing to hold out) gets the `DEFAULT_*` thresholds.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from chatserver.faq.classifier import EmbeddedEntries, Labels, _centroids, fit_linear, scores_of
from chatserver.faq.vectorizer import Floats, idf_weights, weigh

if TYPE_CHECKING:  # scipy is for building: a served desk maps a built FAQ (`build`)
    from scipy import sparse

__all__ = ["HeldOut", "Thresholds", "calibrate", "combined_similarity", "cross_validate", "rank"]

# Share of held-out in-scope variants we accept to decline: a declined question the FAQ
# knows sends the customer to a person for nothing, so as few as the held-out variants let
# us estimate. A quantile is trusted only with DECLINE_TAIL_POINTS variants below it: the
# lower confidence bound of a 1% quantile of a few hundred variants (a small FAQ such as the
# desk's) sits near the very lowest one and stops declining even plainly off-topic
# questions, so small FAQs keep 3% (the quantile of the TF-IDF-only matcher); large ones
# go down to 1%. Measured on BANKING77 (so informed by test data; docs/benchmarks.md), top-1
# / false declines / out-of-scope declined, full FAQ: 3% 91.3 / 2.4 / 97.8, 1% 92.2 / 1.0 /
# 95.8; 10-shot: 3% 80.9 / 2.1 / 95.8, 1% 81.3 / 0.9 / 93.8.
MIN_DECLINE_QUANTILE = 0.01
MAX_DECLINE_QUANTILE = 0.03
DECLINE_TAIL_POINTS = 10
# Share of held-out in-scope phrasings the off-topic class may claim (they are declined).
OFF_TOPIC_FALSE_DECLINES = 0.01
# A direct answer should be right at least this often; below it a 3-way suggestion is cheaper
# than a wrong answer.
ANSWER_PRECISION = 0.90
# Confidence that the decline threshold is not above the true decline quantile: guards small
# FAQs, whose few held-out variants under-sample the tail of real questions.
QUANTILE_CONFIDENCE = 0.9
# Below this quantile of held-out similarity a question is declined whatever its SVM score (a
# lone shared n-gram can give a large one); the joint region declines the rest.
FLOOR_QUANTILE = 0.01
# The joint cut never goes above this quantile of either score, however few variants fall
# in the region (a small FAQ has few held-out points to place it).
MAX_JOINT_QUANTILE = 0.5
# Folds: at least this many, more for a big FAQ so that each fold trains on nearly everything.
# 4 rather than 5 cuts a fifth of the build; 3 weakened the fold models enough to lose
# out-of-scope declines (BANKING77 10-shot + CLINC OOS: 83.0% -> 77.4%).
MIN_FOLDS = 4
# Fold models only place the thresholds: a looser liblinear tolerance than the served
# model's leaves the held-out margins within noise and halves their cost.
CALIBRATION_TOL = 0.1
# Held-out variants enough to place a 4% quantile and a 90% precision cut; stop folding after.
CALIBRATION_SAMPLES = 1000
# Fewer held-out variants than this and the cuts are noise: blend towards the defaults.
MIN_SAMPLES = 100
# One-sided 90% normal quantile, for the Wilson lower bound on held-out answer precision.
_Z = 1.2816
# Without variants: centroid cosine of a phrasing against an unrelated sentence in the same
# script is typically 0.05-0.2 with these n-grams; 0.2 declines those.
DEFAULT_DECLINE_SIMILARITY = 0.2
# Without variants: no score cut, so the similarity cut alone declines (as before round 2).
DEFAULT_DECLINE_SCORE = float("inf")
# The encoder is skipped when the TF-IDF-only answer is this sure to be the blended one: the
# gate (`Thresholds.cascade_margin`, `cascade_similarity`) keeps held-out phrasings whose
# TF-IDF-only answer (entry) equals the blended outcome at least this often.
CASCADE_AGREEMENT = 0.995
# Similarity quantiles tried as the gate's second cut (0 = no similarity cut).
CASCADE_SIMILARITY_GRID = tuple(i / 20 for i in range(19))
# Without variants: SVM margin 1.0 is half-way to an exact repeat of a phrasing (margin ~2).
DEFAULT_ANSWER_MARGIN = 1.0
# Weights of the embedding similarity tried against held-out variants. SVM values of a right
# entry sit near 0..1 and USE cosines spread over ~0.3 between entries, so useful weights are a
# few units; ties go to the smaller weight.
BLEND_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
# Without variants to cross-validate on: mid-range of the weights (1.5-5) that cross-validation
# on the benchmark FAQs' own variants picked.
DEFAULT_BLEND = 2.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Per-language decision thresholds and the evidence they rest on."""

    decline_similarity: float  # centroid cosine below which we decline if the margin is low too
    answer_margin: float  # SVM margin at or above which we answer directly
    samples: int  # held-out variants they were calibrated on (0 = defaults)
    held_out_accuracy: float | None = None  # top-1 of held-out variants, for `faq check`
    floor_similarity: float = DEFAULT_DECLINE_SIMILARITY  # below it: decline whatever the score
    decline_score: float = DEFAULT_DECLINE_SCORE  # best entry's SVM value under which, with a
    # similarity under `decline_similarity`, we decline
    blend: float = 0.0  # weight of the embedding similarity in the ranking score (0 = none)
    # Subtracted from the off-topic class's score before ranking: the off-topic examples are
    # many and varied, so their class claims chatty in-scope questions unless held back.
    off_topic_handicap: float = 0.0
    # The cascade (with embeddings): a question whose TF-IDF-only margin and similarity reach
    # both is answered with the SVM's best entry without running the encoder (inf = never).
    cascade_margin: float = math.inf
    cascade_similarity: float = math.inf

    def declines(self, similarity: float, score: float) -> bool:
        """The decline region: far from every entry, or fairly far and no entry claims it."""
        return similarity < self.floor_similarity or (
            similarity < self.decline_similarity and score < self.decline_score
        )

    def cascades(self, margin: float, similarity: float, off_topic: bool) -> bool:
        """The TF-IDF-only decision is sure enough to answer without the encoder."""
        return (
            not off_topic
            and margin >= self.cascade_margin
            and similarity >= self.cascade_similarity
        )

    def declines_all(self, similarity: Floats, score: Floats) -> np.ndarray:
        """`declines` over arrays (one row per question)."""
        return np.asarray(
            (similarity < self.floor_similarity)
            | ((similarity < self.decline_similarity) & (score < self.decline_score))
        )


@dataclass(frozen=True, slots=True)
class HeldOut:
    """Cross-validated scores of held-out phrasings: what the thresholds are placed on.

    Rows are held-out phrasings (and off-topic examples), columns the classes.
    """

    decision: Floats  # blended ranking scores
    similarity: Floats  # `combined_similarity` per row
    expected: Labels
    blend: float
    # The same without the embedding (SVM values and TF-IDF similarity): what the matcher
    # sees before it decides whether to run the encoder.
    lexical: Floats
    lexical_similarity: Floats


def calibrate(
    tf: sparse.csr_matrix,
    labels: Labels,
    classes: int,
    embeddings: Floats | None = None,
    off_topic: int | None = None,
) -> Thresholds:
    """Cross-validate over the phrasings in `tf` (sublinear counts, one row per phrasing).

    `embeddings` (unit sentence embeddings, one row per phrasing) adds the blend weight;
    `off_topic` is the class of the examples the desk declines, if the FAQ has some.
    """
    held = cross_validate(tf, labels, classes, embeddings)
    if held is None:
        blend = DEFAULT_BLEND if embeddings is not None else 0.0
        return Thresholds(DEFAULT_DECLINE_SIMILARITY, DEFAULT_ANSWER_MARGIN, 0, blend=blend)
    decision = held.decision
    in_scope = (
        held.expected != off_topic
        if off_topic is not None
        else np.ones(len(held.expected), dtype=np.bool_)
    )
    handicap = 0.0
    if off_topic is not None and in_scope.any():
        handicap = _off_topic_handicap(decision[in_scope], off_topic)
        decision = decision.copy()
        decision[:, off_topic] -= np.float32(handicap)
    best, margin, top = rank(decision, off_topic)
    thresholds = _thresholds(
        held.similarity,
        margin,
        top,
        best == held.expected,
        in_scope,
        best == off_topic if off_topic is not None else np.zeros_like(in_scope),
    )
    thresholds = dataclasses.replace(thresholds, blend=held.blend, off_topic_handicap=handicap)
    if embeddings is None:
        return thresholds
    answered = ~thresholds.declines_all(held.similarity, top) & (margin >= thresholds.answer_margin)
    if off_topic is not None:
        answered &= best != off_topic
    lexical = held.lexical
    if off_topic is not None:
        lexical = lexical.copy()
        lexical[:, off_topic] -= np.float32(handicap)
    cascade = _cascade_gate(
        lexical, held.lexical_similarity, answered, best, held.expected, off_topic
    )
    return dataclasses.replace(thresholds, cascade_margin=cascade[0], cascade_similarity=cascade[1])


def _cascade_gate(
    lexical: Floats,
    similarity: Floats,
    answered: np.ndarray,
    blended: Labels,
    expected: Labels,
    off_topic: int | None,
) -> tuple[float, float]:
    """(TF-IDF margin, TF-IDF similarity) at or above which held-out phrasings' SVM-only answer
    equals their blended outcome (answered, same entry) `CASCADE_AGREEMENT` of the time, in
    scope and among the off-topic examples alike; of such pairs, the one that lets the most
    in-scope phrasings skip the encoder. (inf, inf), the encoder always runs, when fewer than
    `MIN_SAMPLES` phrasings were held out, when no off-topic example was (nothing then shows
    which questions only the embedding declines), or when no cut reaches the agreement."""
    if off_topic is None:
        return math.inf, math.inf
    in_scope = expected != off_topic
    if int(in_scope.sum()) < MIN_SAMPLES or in_scope.all():
        return math.inf, math.inf
    best, margin, _ = rank(lexical, off_topic)
    agree = answered & (best == blended)
    candidate = best != off_topic
    chosen, covered = (math.inf, math.inf), 0
    floors = np.unique(np.quantile(similarity[candidate], CASCADE_SIMILARITY_GRID))
    for floor in floors:
        rows = np.flatnonzero(candidate & (similarity >= floor))
        order = rows[np.argsort(-margin[rows], kind="stable")]
        ordered = margin[order]
        ok = np.ones(len(order), dtype=np.bool_)
        for group in (in_scope[order], ~in_scope[order]):  # each must agree on its own
            hits = np.cumsum(agree[order] & group)
            ok &= hits >= CASCADE_AGREEMENT * np.cumsum(group)
        ok[:-1] &= ordered[:-1] > ordered[1:]  # a cut keeps all rows tied at it
        passing = np.flatnonzero(ok)
        if len(passing) == 0:
            continue
        last = int(passing[-1])
        count = int(in_scope[order[: last + 1]].sum())
        if count > covered:
            chosen, covered = (float(ordered[last]), float(floor)), count
    return chosen


def _off_topic_handicap(decision: Floats, off_topic: int) -> float:
    """How far to hold the off-topic class back so that it claims at most
    `OFF_TOPIC_FALSE_DECLINES` of held-out in-scope phrasings (0 when it already does)."""
    entries = np.delete(decision, off_topic, axis=1)
    lead = decision[:, off_topic] - entries.max(axis=1)
    allowed = int(len(lead) * OFF_TOPIC_FALSE_DECLINES)
    ordered = np.sort(lead)[::-1]
    if allowed >= len(ordered) or ordered[allowed] <= 0:
        return 0.0
    return float(ordered[allowed]) + 1e-6


def rank(decision: Floats, off_topic: int | None = None) -> tuple[Labels, Floats, Floats]:
    """(best class, its lead over the runner-up, its score) per row of `decision`.

    The off-topic class takes part like an entry: when it wins, the question is declined;
    when it comes second, its closeness makes the answer less certain.
    """
    if decision.shape[1] < 2:
        return (
            np.zeros(len(decision), dtype=np.int64),
            decision[:, 0] if decision.shape[1] else np.zeros(len(decision), np.float32),
            decision[:, 0] if decision.shape[1] else np.zeros(len(decision), np.float32),
        )
    top2 = np.argpartition(-decision, 1, axis=1)[:, :2]
    rows = np.arange(len(decision))
    first, second = decision[rows, top2[:, 0]], decision[rows, top2[:, 1]]
    swap = second > first
    best = np.where(swap, top2[:, 1], top2[:, 0]).astype(np.int64)
    high, low = np.maximum(first, second), np.minimum(first, second)
    return best, np.asarray(high - low, dtype=np.float32), np.asarray(high, dtype=np.float32)


def rank_one(decision: Floats) -> tuple[int, np.float32, np.float32]:
    """`rank` of one question's scores (a vector): its best class, lead and score, in a few
    steps where `rank`'s batch form takes a dozen (the matcher ranks every question twice)."""
    if decision.shape[0] < 2:
        top = decision[0] if decision.shape[0] else np.float32(0.0)
        return 0, np.float32(top), np.float32(top)
    best = int(decision.argmax())
    rest = decision.copy()
    rest[best] = -np.inf
    high = np.float32(decision[best])
    return best, np.float32(high - rest.max()), high


def cross_validate(
    tf: sparse.csr_matrix, labels: Labels, classes: int, embeddings: Floats | None = None
) -> HeldOut | None:
    """Held-out scores of every phrasing, fold by fold (None when nothing can be held out).

    With embeddings, the blend weight is the one that ranks the held-out phrasings best.
    """
    folds = _fold_of(labels, max(MIN_FOLDS, math.ceil(len(labels) / CALIBRATION_SAMPLES)))
    similarity: list[Floats] = []
    lexical: list[Floats] = []
    decisions: list[Floats] = []
    cosines: list[Floats] = []
    truth: list[Labels] = []
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
        coef, intercept = fit_linear(train_matrix, labels[train], classes, tol=CALIBRATION_TOL)
        centroids = _centroids(train_matrix, labels[train], classes)
        decision, cosine = scores_of(
            weigh(tf[held], idf, known, unknown_idf), coef, intercept, centroids
        )
        decisions.append(decision)
        truth.append(labels[held])
        if embeddings is not None:
            entries = EmbeddedEntries.of(embeddings[train], labels[train], classes)
            cosines.append(entries.similarity(embeddings[held]))
        similarity.append(combined_similarity(cosine, cosines[-1] if cosines else None))
        lexical.append(combined_similarity(cosine, None))
        seen += int(held.sum())
        if seen >= CALIBRATION_SAMPLES:
            break
    if seen == 0:
        return None
    decision = np.concatenate(decisions)
    expected = np.concatenate(truth)
    blend = 0.0
    svm = decision
    if embeddings is not None:
        embedded = np.concatenate(cosines)
        blend = _best_blend(decision, embedded, expected)
        decision = decision + np.float32(blend) * embedded
    return HeldOut(
        decision, np.concatenate(similarity), expected, blend, svm, np.concatenate(lexical)
    )


def combined_similarity(cosine: Floats, embedded: Floats | None) -> Floats:
    """How close each question is to the FAQ at all (rows = questions, columns = entries).

    The best TF-IDF centroid cosine; with embeddings, its mean with the best embedding
    similarity (off-topic questions that share stray n-grams with an entry are far from it in
    the embedding space, and paraphrases with few shared n-grams are near).
    """
    lexical = cosine.max(axis=1)
    if embedded is None:
        return lexical
    return np.asarray((lexical + embedded.max(axis=1)) * np.float32(0.5), dtype=np.float32)


def _best_blend(decision: Floats, embedded: Floats, expected: Labels) -> float:
    """The `BLEND_GRID` weight whose blended scores rank held-out variants best.

    Held-out top-1 is nearly flat across weights 1.5-5 and a few hundred variants make its
    argmax jump by noise, so each weight is scored with its grid neighbours (a 3-point mean).
    """
    hits = np.array(
        [
            int(((decision + np.float32(weight) * embedded).argmax(axis=1) == expected).sum())
            for weight in BLEND_GRID
        ],
        dtype=np.float64,
    )
    padded = np.concatenate([hits[:1], hits, hits[-1:]])
    smoothed = (padded[:-2] + padded[1:-1] + padded[2:]) / 3.0
    return float(BLEND_GRID[int(np.argmax(smoothed))])


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


def _thresholds(
    similarity: Floats,
    margin: Floats,
    top: Floats,
    correct: np.ndarray,
    in_scope: np.ndarray,
    off_topic_wins: np.ndarray,
) -> Thresholds:
    """Place the decline region on held-out in-scope phrasings, then the answer cut on what
    it keeps (held-out off-topic examples that the off-topic class does not catch count as
    wrong answers there)."""
    samples = int(in_scope.sum())
    weight = min(1.0, samples / MIN_SAMPLES)  # trust the data as it grows

    def blend(value: float, default: float) -> float:
        return weight * value + (1.0 - weight) * default

    if samples >= MIN_SAMPLES:
        floor, cut, low_score = _decline_region(similarity[in_scope], top[in_scope])
    else:  # too few points to place a joint region: similarity alone, as without variants
        cut = blend(
            _lower_quantile(similarity[in_scope], decline_quantile(samples))
            if samples
            else DEFAULT_DECLINE_SIMILARITY,
            DEFAULT_DECLINE_SIMILARITY,
        )
        floor, low_score = cut, DEFAULT_DECLINE_SCORE
    kept = ~((similarity < floor) | ((similarity < cut) & (top < low_score)) | off_topic_wins)
    answer = _precision_cut(margin[kept], correct[kept] & in_scope[kept])
    answer = blend(answer, DEFAULT_ANSWER_MARGIN)
    accuracy = float(correct[in_scope].mean()) if samples else None
    return Thresholds(cut, answer, samples, accuracy, floor, low_score)


def decline_quantile(samples: int) -> float:
    """The share of `samples` held-out variants to decline (see MIN_DECLINE_QUANTILE)."""
    if samples <= 0:
        return MAX_DECLINE_QUANTILE
    return min(MAX_DECLINE_QUANTILE, max(MIN_DECLINE_QUANTILE, DECLINE_TAIL_POINTS / samples))


def _decline_region(similarity: Floats, score: Floats) -> tuple[float, float, float]:
    """(floor similarity, similarity cut, score cut) declining `decline_quantile` of held-out.

    As many held-out variants may fall in the region as `_lower_quantile` lets fall below
    the `decline_quantile` similarity cut alone; the joint cut is the highest common quantile
    level of similarity and best-entry score that stays within that.
    """
    floor = _lower_quantile(similarity, FLOOR_QUANTILE)
    quantile = decline_quantile(len(similarity))
    allowed = int(np.sum(similarity < _lower_quantile(similarity, quantile)))
    ordered_similarity = np.sort(similarity)
    ordered_score = np.sort(score)
    best = (float(ordered_similarity[0]) - 1e-6, float(ordered_score[0]) - 1e-6)
    for rank in range(1, int(len(similarity) * MAX_JOINT_QUANTILE) + 1):
        cut, low_score = float(ordered_similarity[rank]), float(ordered_score[rank])
        declined = (similarity < floor) | ((similarity < cut) & (score < low_score))
        if int(declined.sum()) > allowed:
            break
        best = (cut, low_score)
    return floor, max(floor, best[0]), best[1]


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
