"""The sentence encoder: the single-query path matches the package's batch encoder."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from chatserver.faq import FaqMatcher
from chatserver.faq.embedding import MAX_QUERY_TOKENS, QUERY_BATCH, default_encoder
from chatserver.faq.loader import load_faq
from chatserver.faq.matcher import MatchOutcome
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


def test_questions_embedded_in_one_pass_are_each_as_alone() -> None:
    """Padded to the longest, a short question's vector is the one it gets alone: the
    padding neither reaches its neighbours' windows nor its token sum."""
    encoder = default_encoder()
    assert encoder is not None
    texts = [*TEXTS, "card " * (3 * MAX_QUERY_TOKENS)]  # 1 to MAX_QUERY_TOKENS pieces
    alone = np.stack([encoder.encode_one(text) for text in texts])
    together = encoder.encode_queries(texts)
    assert together.shape == alone.shape
    assert np.abs(together - alone).max() < 1e-5
    reversed_ = encoder.encode_queries(texts[::-1])[::-1]
    assert np.abs(reversed_ - alone).max() < 1e-5
    assert encoder.encode_queries([]).shape == (0, encoder.dimension)
    with pytest.raises(ValueError, match="at most"):
        encoder.encode_queries(["card"] * (QUERY_BATCH + 1))


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


def test_the_stored_file_is_bounded_and_keeps_the_latest_rows(tmp_path, monkeypatch) -> None:
    """The store rewrites its file with the call's rows last and drops the oldest beyond
    `STORED_ROWS`; a digest ending in a NUL byte (numpy's S32 strips it) is found again."""
    from chatserver.faq import embedding

    monkeypatch.setattr(embedding, "STORED_ROWS", 4)
    computed: list[str] = []

    def compute(texts: list[str]) -> np.ndarray:
        computed.extend(texts)
        return np.stack([np.full(8, float(len(t)), dtype=np.float32) for t in texts])

    path = tmp_path / "use.npz"
    store = embedding.StoredEmbeddings(path)
    store.encode(["a", "bb", "ccc"], compute)
    out = store.encode(["dddd", "a", "eeeee"], compute)  # "bb" is the oldest: dropped
    assert computed == ["a", "bb", "ccc", "dddd", "eeeee"]
    assert out[:, 0].tolist() == [4.0, 1.0, 5.0]
    with np.load(path) as stored:
        assert len(stored["keys"]) == 4
    store.encode(["ccc", "a", "eeeee", "dddd"], compute)
    assert len(computed) == 5
    store.encode(["bb"], compute)
    assert computed[5:] == ["bb"]

    nul = "text 405"  # its SHA-256 digest ends in 0x00
    store.encode([nul], compute)
    assert store.encode([nul], compute)[0, 0] == 8.0
    assert computed[6:] == [nul]


def test_the_piece_table_is_mapped_from_the_cache_directory(tmp_path, monkeypatch) -> None:
    """Written once, then mapped (not read) by every encoder: the same vectors either way."""
    import mmap

    from chatserver.faq.embedding import UseEncoder

    monkeypatch.setenv("CHATSERVER_CACHE_DIR", "off")
    in_memory = UseEncoder()
    monkeypatch.setenv("CHATSERVER_CACHE_DIR", str(tmp_path))
    for _ in range(2):  # writes the file, then maps the one there
        mapped = UseEncoder()
        assert isinstance(mapped._table_map, mmap.mmap)
        mapped.encode(["a phrasing no cache holds"])  # then dropped from the RSS: still read
        assert np.array_equal(mapped.encode_one(TEXTS[0]), in_memory.encode_one(TEXTS[0]))
    assert len(list(tmp_path.glob("*-table.npy"))) == 1


class CountingEncoder:
    """The default encoder, counting the questions it embeds: passed in as the matcher's
    `encoder` (its injection point), it shows when `match` runs the network."""

    def __init__(self) -> None:
        inner = default_encoder()
        assert inner is not None
        self._inner = inner
        self.dimension = inner.dimension
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._inner.encode(texts)

    def encode_one(self, text: str) -> np.ndarray:
        self.calls += 1
        return self._inner.encode_one(text)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        return self._inner.encode_queries(texts)


DESK_FAQ = Path(__file__).resolve().parents[1] / "faq"


@pytest.fixture(scope="module")
def english_desk() -> tuple[FaqMatcher, CountingEncoder]:
    """The desk's English FAQ alone: enough held-out variants (~800) to place the cascade."""
    faq = load_faq(DESK_FAQ).faq
    english = Faq({"en": faq.native("en")}, {"en": faq.off_topic.get("en", ())})
    encoder = CountingEncoder()
    return FaqMatcher(english, encoder=encoder), encoder


def test_cascade_gate_is_calibrated(english_desk: tuple[FaqMatcher, CountingEncoder]) -> None:
    matcher, _ = english_desk
    thresholds = matcher.indexes["en"].thresholds
    assert thresholds.samples >= 100
    assert math.isfinite(thresholds.cascade_margin)
    assert math.isfinite(thresholds.cascade_similarity)


def test_without_off_topic_examples_the_encoder_always_runs() -> None:
    """In-scope variants alone do not show which questions only the embedding declines."""
    english = Faq({"en": load_faq(DESK_FAQ).faq.native("en")})
    encoder = CountingEncoder()
    matcher = FaqMatcher(english, encoder=encoder)
    assert matcher.indexes["en"].thresholds.cascade_margin == math.inf
    matcher.match("how do I install MT5 on my computer please", "en")
    assert encoder.calls == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("how do I install MT5 on my computer please", "mt5-install"),
        ("how long does a withdrawal usually take", "withdrawal-processing-time"),
        ("how do I turn on two-factor authentication for my login", "two-factor-auth"),
    ],
)
def test_a_clearly_decided_question_skips_the_encoder(
    english_desk: tuple[FaqMatcher, CountingEncoder], text: str, expected: str
) -> None:
    matcher, encoder = english_desk
    encoder.calls = 0
    result = matcher.match(text, "en")
    assert encoder.calls == 0
    assert result.outcome is MatchOutcome.ANSWER
    assert result.entry is not None
    assert result.entry.id == expected
    thresholds = matcher.indexes["en"].thresholds
    assert result.margin >= thresholds.cascade_margin
    assert result.score >= thresholds.cascade_similarity


@pytest.mark.parametrize(
    "text",
    [
        "my card hasn't shown up",  # few n-grams in common with any entry
        "money account",  # ambiguous
        "what is the weather",  # off topic
    ],
)
def test_an_unsure_question_runs_the_encoder(
    english_desk: tuple[FaqMatcher, CountingEncoder], text: str
) -> None:
    matcher, encoder = english_desk
    encoder.calls = 0
    matcher.match(text, "en")
    assert encoder.calls == 1


def test_exact_phrasing_and_empty_question_skip_the_encoder() -> None:
    encoder = CountingEncoder()
    matcher = FaqMatcher(_faq(), encoder=encoder)
    assert matcher.indexes["en"].thresholds.cascade_margin == math.inf  # too few variants
    for text in ("Where is my card?", "", " ?! "):
        matcher.match(text, "en")
    assert encoder.calls == 0
    result = matcher.match("where is my card", "en")
    assert result.outcome is MatchOutcome.ANSWER
    assert result.entry is not None
    assert result.entry.id == "card_arrival"
    assert [e.id for e in result.related] == ["refund"]
    assert encoder.calls == 0
    matcher.match("my card hasn't shown up yet", "en")
    assert encoder.calls == 1


@pytest.mark.parametrize(
    "text",
    [
        "how do I install MT5 on my computer please",  # decided by TF-IDF: nothing to embed
        "my card hasn't shown up",  # runs the encoder
        "what is the weather",  # off topic, runs the encoder
        "How long does a withdrawal take?",
        "",
    ],
)
def test_a_pending_match_finishes_as_match_does(
    english_desk: tuple[FaqMatcher, CountingEncoder], text: str
) -> None:
    matcher, encoder = english_desk
    encoder.calls = 0
    expected = matcher.match(text, "en")
    ran = encoder.calls
    pending = matcher.pending(text, "en")
    assert (pending.embed is not None) == (ran == 1)
    if pending.embed is None:
        assert pending.finish() == expected
        with pytest.raises(ValueError, match="exactly when"):
            pending.finish(np.zeros(encoder.dimension, dtype=np.float32))
    else:
        assert pending.encoder is encoder
        with pytest.raises(ValueError, match="exactly when"):
            pending.finish()
        # In a pass with another question: the same result, up to float rounding.
        vector = encoder.encode_queries([pending.embed, "an unrelated question"])[0]
        result = pending.finish(vector)
        assert (result.score, result.margin) == pytest.approx(
            (expected.score, expected.margin), abs=1e-5
        )
        assert replace(result, score=expected.score, margin=expected.margin) == expected
