"""chatserver/faq/classifier.py: the centroids kept by row give the dense product."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chatserver.faq.calibration import rank, rank_one
from chatserver.faq.classifier import SparseRows


def test_sparse_rows_give_the_dense_product_over_any_rows():
    generator = np.random.default_rng(7)
    dense = generator.random((300, 40), dtype=np.float32)
    dense[generator.random((300, 40)) < 0.95] = 0.0
    dense[10] = 0.0  # a row without any non-zero
    rows = SparseRows.of(dense)
    assert len(rows.data) == np.count_nonzero(dense)
    for index in (
        np.array([], dtype=np.int32),
        np.array([10], dtype=np.int32),
        np.array([299, 0, 10, 57], dtype=np.int32),
        generator.choice(300, 120, replace=False).astype(np.int32),
    ):
        values = generator.random(len(index), dtype=np.float32)
        product = rows.product(index, values)
        assert product.dtype == np.float32
        assert product.shape == (40,)
        np.testing.assert_allclose(product, values @ dense[index], rtol=1e-6, atol=1e-7)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.floats(-4, 4, width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=40
    )
)
def test_one_questions_ranking_is_the_batch_rankings(scores: list[float]) -> None:
    """`rank_one` (the matcher's, per question) agrees with `rank` (calibration's, per
    batch): the same lead and score, and the same best class, or another one tied with it."""
    decision = np.asarray(scores, dtype=np.float32)
    (best,), (margin,), (top,) = rank(decision[np.newaxis, :])
    one_best, one_margin, one_top = rank_one(decision)
    assert (one_margin, one_top) == (margin, top)
    assert decision[one_best] == decision[best] == decision.max()
    if np.count_nonzero(decision == decision.max()) == 1:
        assert one_best == best
