"""A linear classifier over TF-IDF n-grams, learnt at load time from the FAQ's own phrasings.

Every phrasing (question and variants) is a training example of its entry. Two scores come out
of one matrix product per query:

* a linear SVM's decision values rank the entries (on BANKING77 and xSID this beats nearest
  phrasing, per-entry centroid and rapidfuzz re-ranking, alone or blended);
* the cosine to each entry's centroid says whether the question is about any entry at all:
  it separates out-of-scope questions better than the SVM's values, which only compare
  entries with one another.

The SVM weights are a dense float32 matrix (features x entries), so ranking a query is a row
gather and a vector product over the few hundred n-grams it contains. The centroids are 95 %
zeros (an n-gram occurs in few entries' phrasings) and kept by row (`SparseRows`): 5 % of the
dense size (46 of the desk FAQ's 93 MiB), and a query gathers only its rows' non-zeros.

With a sentence encoder (`embedding`), a question also gets an embedding similarity to each
entry: the mean of its cosine to the entry's mean phrasing embedding and its cosine to the
entry's nearest phrasing (the centroid helps with few variants, the nearest phrasing with many;
their mean beat either on BANKING77 and xSID). The ranking score becomes SVM value + `blend` x
that similarity, `blend` being cross-validated on the FAQ's own variants (`calibration`). The
embedding knows that "my card hasn't come" and "card not delivered yet" mean the same with few
n-grams in common.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from chatserver.faq.vectorizer import Floats, TfidfSpace, count_matrix, grams, idf_weights, weigh

# scipy and scikit-learn (~100 MiB of imports) are imported by the functions that train: a
# served desk maps a FAQ built in a child process (`build`) and never loads them.
if TYPE_CHECKING:
    from scipy import sparse

__all__ = [
    "EmbeddedEntries",
    "EntryClassifier",
    "Labels",
    "SparseRows",
    "embedding_centroids",
    "fit_linear",
    "train_classifier",
]

# SVM regularisation: with the char_wb 1-5 grams, C=2 ranked xSID 10-shot best (C=1: -0.4,
# C=4: -0.1 mean top-1), BANKING77 10-shot within 0.3 across 1-4.
SVM_C = 2.0
# liblinear's stopping tolerance: 1e-2 gives the same top-1 as the default 1e-4 on every
# benchmark FAQ, in about two thirds of the time.
SVM_TOL = 1e-2
# liblinear rarely needs more; a cap keeps the build time bounded on odd data.
SVM_MAX_ITER = 2000

Labels = npt.NDArray[np.int64]


def fit_linear(
    features: sparse.csr_matrix, labels: Labels, classes: int, *, tol: float = SVM_TOL
) -> tuple[Floats, Floats]:
    """One-vs-rest linear SVM weights (features x classes) and intercepts (classes,).

    Classes absent from `labels` get weights that never win (zero and a -inf-like intercept).
    With a single class present the SVM is undefined: its centroid stands in.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    coef = np.zeros((features.shape[1], classes), dtype=np.float32)
    intercept = np.full(classes, -1e3, dtype=np.float32)
    present = np.unique(labels)
    if len(present) == 1:
        coef[:, present[0]] = _centroids(features, labels, classes)[:, present[0]]
        intercept[present[0]] = 0.0
        return coef, intercept
    svm = LinearSVC(C=SVM_C, tol=tol, max_iter=SVM_MAX_ITER, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # One phrasing per entry is a valid FAQ; sklearn mistakes it for regression targets.
        warnings.filterwarnings("ignore", "The number of unique classes", UserWarning)
        svm.fit(features, labels)
    weights = np.asarray(svm.coef_, dtype=np.float32)
    bias = np.asarray(svm.intercept_, dtype=np.float32)
    if len(present) == 2:  # liblinear stores one hyperplane for two classes
        weights = np.vstack([-weights, weights])
        bias = np.concatenate([-bias, bias])
    for row, label in enumerate(np.asarray(svm.classes_)):
        coef[:, int(label)] = weights[row]
        intercept[int(label)] = bias[row]
    return coef, intercept


def _centroids(features: sparse.csr_matrix, labels: Labels, classes: int) -> Floats:
    """Unit-length mean vector of each class (features x classes); zero for absent classes."""
    from scipy import sparse

    membership = sparse.csr_matrix(
        (np.ones(len(labels), dtype=np.float32), (labels, np.arange(len(labels)))),
        shape=(classes, len(labels)),
    )
    sums = np.asarray((membership @ features).todense(), dtype=np.float32).T
    norms = np.linalg.norm(sums, axis=0)
    return np.asarray(sums / np.maximum(norms, 1e-12)[np.newaxis, :], dtype=np.float32)


def scores_of(
    matrix: sparse.csr_matrix, coef: Floats, intercept: Floats, centroids: Floats
) -> tuple[Floats, Floats]:
    """SVM decision values and centroid cosines for the rows of `matrix` (batch form)."""
    decision = np.asarray(matrix @ coef, dtype=np.float32) + intercept[np.newaxis, :]
    cosine = np.asarray(matrix @ centroids, dtype=np.float32)
    return decision, cosine


@dataclass(frozen=True, slots=True)
class EntryClassifier:
    """Scores a question against the entries of one language (columns follow `entry_ids`)."""

    entry_ids: tuple[str, ...]
    space: TfidfSpace
    weights: Floats  # features x entries: the SVM's
    centroids: SparseRows  # features x entries: each entry's unit centroid (columns)
    intercept: Floats
    embedded: EmbeddedEntries | None = None
    blend: float = 0.0  # weight of the embedding similarity in the ranking score

    def scores(
        self, normalized: str, embedding: Floats | None = None
    ) -> tuple[Floats, Floats, Floats | None]:
        """(ranking scores, TF-IDF centroid cosines, embedding similarities), one per entry.

        `embedding` is the raw question's sentence embedding; without it (or without
        `embedded`) the ranking score is the SVM value alone and the last item is None.
        """
        index, values = self.space.encode(normalized)
        decision = values @ self.weights[index] + self.intercept
        cosine = self.centroids.product(index, values)
        if embedding is None or self.embedded is None:
            return decision, cosine, None
        similarity = self.embedded.similarity(embedding[np.newaxis, :])[0]
        if self.blend:
            decision += np.float32(self.blend) * similarity
        return decision, cosine, similarity


@dataclass(frozen=True, slots=True)
class SparseRows:
    """A float32 matrix of mostly zeros, kept by row (compressed sparse row arrays): row r's
    non-zeros are `data[indptr[r]:indptr[r + 1]]`, in the columns `indices[...]`."""

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    data: Floats
    columns: int

    @classmethod
    def of(cls, dense: Floats) -> SparseRows:
        rows, columns = np.nonzero(dense)  # row by row, columns ascending
        indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
        return cls(
            indptr,
            columns.astype(np.int32),
            np.ascontiguousarray(dense[rows, columns], dtype=np.float32),
            int(dense.shape[1]),
        )

    def product(self, rows: npt.NDArray[np.int32], values: Floats) -> Floats:
        """`values @ dense[rows]`: the rows' non-zeros weighted by `values`, summed by column
        (in float64, then rounded to float32)."""
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(self.columns, dtype=np.float32)
        # Every non-zero's position: each row's start, then counting up within the row.
        first = np.cumsum(lengths) - lengths
        positions = np.repeat(starts - first, lengths) + np.arange(total)
        weighted = np.repeat(values, lengths) * self.data[positions]
        sums = np.bincount(self.indices[positions], weights=weighted, minlength=self.columns)
        return sums.astype(np.float32)


@dataclass(frozen=True, slots=True)
class EmbeddedEntries:
    """Entry centroids and phrasing embeddings (sorted by entry) stacked in one matrix."""

    matrix: Floats  # (entries + phrasings) x dimension: unit centroids, then phrasings
    entries: int
    starts: npt.NDArray[np.intp]  # first phrasing row of each entry, relative to the phrasings
    present: npt.NDArray[np.bool_]  # entries with at least one phrasing

    @classmethod
    def of(cls, embeddings: Floats, labels: Labels, classes: int) -> EmbeddedEntries:
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=classes)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
        matrix = np.vstack([embedding_centroids(embeddings, labels, classes), embeddings[order]])
        return cls(
            np.ascontiguousarray(matrix, dtype=np.float32),
            classes,
            np.minimum(starts, max(len(labels) - 1, 0)),
            counts > 0,
        )

    def similarity(self, queries: Floats) -> Floats:
        """Mean of centroid cosine and nearest-phrasing cosine (queries x entries)."""
        cosines = queries @ self.matrix.T
        centroid = cosines[:, : self.entries]
        if cosines.shape[1] == self.entries:
            return centroid
        nearest = np.maximum.reduceat(cosines[:, self.entries :], self.starts, axis=1)
        nearest[:, ~self.present] = 0.0
        nearest += centroid
        nearest *= np.float32(0.5)
        return np.asarray(nearest, dtype=np.float32)


def embedding_centroids(embeddings: Floats, labels: Labels, classes: int) -> Floats:
    """Unit mean embedding of each class (classes x dimension); zero for absent classes."""
    sums = np.zeros((classes, embeddings.shape[1]), dtype=np.float32)
    np.add.at(sums, labels, embeddings)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return np.asarray(sums / np.maximum(norms, 1e-12), dtype=np.float32)


def train_classifier(
    phrasings: Sequence[str], labels: Sequence[str]
) -> tuple[EntryClassifier, sparse.csr_matrix, Labels]:
    """Learn from (phrasing, entry id) pairs; also return the raw counts for calibration.

    The result has no embedding part: the matcher adds it once calibration has set `blend`.
    """
    entry_ids = tuple(dict.fromkeys(labels))
    position = {entry_id: i for i, entry_id in enumerate(entry_ids)}
    y = np.asarray([position[label] for label in labels], dtype=np.int64)
    vocabulary, tf = count_matrix([grams(text) for text in phrasings])
    document_frequency = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.int64)
    idf, unknown_idf = idf_weights(document_frequency, tf.shape[0])
    matrix = weigh(tf, idf, np.ones(tf.shape[1], dtype=np.bool_), unknown_idf)
    coef, intercept = fit_linear(matrix, y, len(entry_ids))
    classifier = EntryClassifier(
        entry_ids,
        TfidfSpace(vocabulary, idf, unknown_idf),
        np.ascontiguousarray(coef, dtype=np.float32),
        SparseRows.of(_centroids(matrix, y, len(entry_ids))),
        intercept,
    )
    return classifier, tf, y
