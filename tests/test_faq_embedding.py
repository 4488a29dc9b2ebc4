"""The sentence encoder: the single-query path matches the package's batch encoder."""

from __future__ import annotations

import os

import numpy as np
import pytest

from chatserver.faq import FaqMatcher
from chatserver.faq.embedding import MAX_QUERY_TOKENS, default_encoder
from chatserver.faq.model import Faq, FaqEntry
from chatserver.models import Priority, Team

# The encoder is a dependency: only switching it off skips these (a missing package fails).
pytestmark = pytest.mark.skipif(
    os.environ.get("CHATSERVER_FAQ_EMBEDDINGS", "").lower() in {"0", "false", "no", "off"},
    reason="CHATSERVER_FAQ_EMBEDDINGS switches the encoder off",
)

TEXTS = [
    "I still haven't received my new card",
    "wekker zetten voor zeven uur",
    "ضبط المنبه على الساعة السابعة",
    "明天会下雨吗",
    "x",
]


def test_single_query_path_matches_batch_encoder() -> None:
    encoder = default_encoder()
    assert encoder is not None
    batch = encoder.encode(TEXTS)
    for _ in range(2):  # cold, then from the token cache
        single = np.stack([encoder.encode_one(text) for text in TEXTS])
        assert np.allclose(np.linalg.norm(single, axis=1), 1.0, atol=1e-5)
        assert (single * batch).sum(axis=1).min() > 0.9999


def test_long_query_is_cut_not_refused() -> None:
    encoder = default_encoder()
    assert encoder is not None
    vector = encoder.encode_one("card " * (3 * MAX_QUERY_TOKENS))
    assert vector.shape == (encoder.dimension,)
    assert np.isfinite(vector).all()


def _faq() -> Faq:
    def entry(entry_id: str, question: str, *variants: str) -> FaqEntry:
        return FaqEntry(
            id=entry_id,
            language="en",
            category=Team.ACCOUNT,
            priority=Priority.LOW,
            question=question,
            variants=variants,
            answer=f"Answer for {entry_id}",
        )

    return Faq(
        {
            "en": {
                "card_arrival": entry(
                    "card_arrival",
                    "My new card has not arrived",
                    "where is my card",
                    "card still not delivered",
                    "when will I get my card",
                ),
                "refund": entry(
                    "refund",
                    "How do I get a refund?",
                    "I want my money back",
                    "refund a purchase",
                    "return an item for a refund",
                ),
            }
        }
    )


def test_matcher_blends_embeddings_and_runs_without_them() -> None:
    with_embeddings = FaqMatcher(_faq())
    without = FaqMatcher(_faq(), encoder=None)
    assert with_embeddings.indexes["en"].classifier.embedded is not None
    assert without.indexes["en"].classifier.embedded is None
    for matcher in (with_embeddings, without):
        result = matcher.match("my card hasn't shown up yet", "en")
        assert result.entry is not None
        assert result.entry.id == "card_arrival"


def test_embeddings_are_kept_on_disk_and_a_broken_file_is_ignored(tmp_path) -> None:
    """A second process (here: a second store on the same file) embeds nothing it has seen;
    a damaged cache file costs a recomputation, not a failed start."""
    from chatserver.faq.embedding import StoredEmbeddings

    encoder = default_encoder()
    assert encoder is not None
    computed: list[list[str]] = []

    def compute(texts: list[str]) -> np.ndarray:
        computed.append(list(texts))
        return np.stack([encoder.encode_one(t) for t in texts])

    path = tmp_path / "cache" / "use.npz"
    first = StoredEmbeddings(path).encode(TEXTS[:3], compute)
    assert computed == [TEXTS[:3]]
    again = StoredEmbeddings(path).encode([TEXTS[1], TEXTS[3], TEXTS[1]], compute)
    assert computed[1:] == [[TEXTS[3]]]  # only the new text, once
    assert np.array_equal(again[0], first[1])
    assert np.array_equal(again[2], first[1])

    path.write_bytes(b"not a zip file")
    StoredEmbeddings(path).encode(TEXTS[:1], compute)
    assert computed[2:] == [[TEXTS[0]]]
    assert len(StoredEmbeddings(path).encode(TEXTS[:1], compute)) == 1
    assert len(computed) == 3  # rewritten whole after the damage
