"""chatserver/faq/classifier.py: the centroids kept by row give the dense product."""

from __future__ import annotations

import numpy as np

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
