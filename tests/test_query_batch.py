"""Questions asked in the same turn of the loop go through the sentence encoder together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from chatserver.faq.embedding import SentenceEncoder, default_encoder
from chatserver.faq.query_batch import QueryBatches
from tests.test_faq_embedding import pytestmark as encoder_tests_mark

# Skipped, as the encoder's own tests, only when CHATSERVER_FAQ_EMBEDDINGS switches it off.
pytestmark = encoder_tests_mark

QUESTIONS = [
    "my card hasn't shown up",
    "wann kommt mein Geld an",
    "出金にはどのくらい時間がかかりますか",
    "ยืนยันตัวตนยังไง",
    "x",
]


class PassLog:
    """The default encoder, keeping the questions of each pass it is asked for."""

    def __init__(self, fail_on: str | None = None) -> None:
        inner = default_encoder()
        assert inner is not None
        self._inner: SentenceEncoder = inner
        self.dimension = inner.dimension
        self.passes: list[list[str]] = []
        self.fail_on = fail_on

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._inner.encode(texts)

    def encode_one(self, text: str) -> np.ndarray:
        return self._inner.encode_one(text)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.passes.append(list(texts))
        if self.fail_on in texts:
            raise RuntimeError("the encoder failed")
        return self._inner.encode_queries(texts)


async def test_questions_of_one_turn_share_a_pass() -> None:
    encoder = PassLog()
    batches = QueryBatches()
    vectors = await asyncio.gather(*(batches.embed(encoder, q) for q in QUESTIONS))
    assert encoder.passes == [QUESTIONS]
    for question, vector in zip(QUESTIONS, vectors, strict=True):
        assert np.abs(vector - encoder.encode_one(question)).max() < 1e-5
    # Alone on a quiet desk: its own pass, at the next turn.
    await batches.embed(encoder, QUESTIONS[0])
    assert encoder.passes[1:] == [[QUESTIONS[0]]]


async def test_a_pass_holds_at_most_the_largest_batch_and_each_is_observed() -> None:
    encoder = PassLog()
    observed: list[tuple[str, dict[str, object]]] = []
    batches = QueryBatches(largest=2, observe=lambda name, labels: observed.append((name, labels)))
    vectors = await asyncio.gather(*(batches.embed(encoder, q) for q in QUESTIONS))
    assert encoder.passes == [QUESTIONS[0:2], QUESTIONS[2:4], QUESTIONS[4:]]
    assert len(vectors) == len(QUESTIONS)
    assert observed == [("encoder_pass", {"questions": n}) for n in (2, 2, 1)]


async def test_a_question_given_up_is_left_out_and_a_failure_reaches_its_pass_only() -> None:
    encoder = PassLog(fail_on="x")
    batches = QueryBatches(largest=2)
    tasks = [asyncio.create_task(batches.embed(encoder, q)) for q in QUESTIONS]
    await asyncio.sleep(0)  # every task waits for the pass
    tasks[1].cancel()  # its customer left
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert encoder.passes == [[QUESTIONS[0], QUESTIONS[2]], [QUESTIONS[3], "x"]]
    assert isinstance(results[0], np.ndarray)
    assert isinstance(results[1], asyncio.CancelledError)
    assert isinstance(results[2], np.ndarray)
    assert isinstance(results[3], RuntimeError)
    assert isinstance(results[4], RuntimeError)
