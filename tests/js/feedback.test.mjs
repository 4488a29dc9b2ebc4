// "Did that help?": the widget's pure state functions (static/widget/feedback.js), in Node's
// own test runner. tests/test_js.py runs them as part of `make test`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  MAX_REMEMBERED,
  asksFeedback,
  feedbackOutcome,
  offeredTopics,
  rememberFeedback,
  rememberedFeedback,
} from "../../static/widget/feedback.js";

const TOPIC = { faq_id: "swaps", question: "What are swaps?" };

describe("offeredTopics", () => {
  test("an answer offers its related topics, a suggestion and a 'did not help' reply theirs", () => {
    assert.deepEqual(offeredTopics({ kind: "answer", related: [TOPIC] }), [TOPIC]);
    assert.deepEqual(offeredTopics({ kind: "suggest", suggestions: [TOPIC] }), [TOPIC]);
    assert.deepEqual(offeredTopics({ kind: "not_helpful", suggestions: [TOPIC] }), [TOPIC]);
  });

  test("nothing else is offered, and malformed items are left out", () => {
    assert.deepEqual(offeredTopics({ kind: "decline", suggestions: [TOPIC] }), []);
    assert.deepEqual(offeredTopics({ kind: "answer", suggestions: [TOPIC] }), []);
    assert.deepEqual(offeredTopics({ kind: "answer", related: "swaps" }), []);
    assert.deepEqual(offeredTopics(null), []);
    const odd = [null, 1, {}, { faq_id: "x" }, { faq_id: "", question: "Q" }, { faq_id: 2, question: "Q" }];
    assert.deepEqual(offeredTopics({ kind: "answer", related: [...odd, TOPIC] }), [TOPIC]);
  });
});

describe("asksFeedback", () => {
  test("an answer that asks, with a seq", () => {
    assert.equal(asksFeedback({ kind: "answer", ask_feedback: true }, 3), true);
  });

  test("not an answer that does not ask (urgent), another kind, or no seq", () => {
    assert.equal(asksFeedback({ kind: "answer" }, 3), false);
    assert.equal(asksFeedback({ kind: "answer", ask_feedback: "yes" }, 3), false);
    assert.equal(asksFeedback({ kind: "suggest", ask_feedback: true }, 3), false);
    assert.equal(asksFeedback({ kind: "answer", ask_feedback: true }, undefined), false);
    assert.equal(asksFeedback({ kind: "answer", ask_feedback: true }, 0), false);
    assert.equal(asksFeedback(null, 3), false);
  });
});

describe("feedbackOutcome", () => {
  test("stored: done with the word the server kept, which may be an earlier one", () => {
    assert.deepEqual(feedbackOutcome({ ok: true, helpful: true, duplicate: false }, true), {
      state: "done",
      helpful: true,
      duplicate: false,
    });
    assert.deepEqual(feedbackOutcome({ ok: true, helpful: false, duplicate: true }, true), {
      state: "done",
      helpful: false,
      duplicate: true,
    });
    assert.equal(feedbackOutcome({ ok: true }, false).helpful, false);
  });

  test("no acknowledgement, a failure or a rate limit: the buttons come back", () => {
    assert.deepEqual(feedbackOutcome(null, true), { state: "retry", wait: 0 });
    assert.deepEqual(feedbackOutcome({ ok: false, error: { code: "internal_error" } }, true), {
      state: "retry",
      wait: 0,
    });
    const limited = { ok: false, error: { code: "rate_limited", retry_after: 0.75 } };
    assert.deepEqual(feedbackOutcome(limited, true), { state: "retry", wait: 750 });
    const odd = { ok: false, error: { code: "rate_limited", retry_after: "soon" } };
    assert.deepEqual(feedbackOutcome(odd, true), { state: "retry", wait: 0 });
  });

  test("a closed chat, an older server, a refusal", () => {
    const closed = { ok: false, error: { code: "conversation_closed" } };
    assert.deepEqual(feedbackOutcome(closed, true), { state: "closed" });
    const old = { ok: false, error: { code: "unknown_event" } };
    assert.deepEqual(feedbackOutcome(old, true), { state: "unsupported" });
    const refused = { ok: false, error: { code: "not_an_answer" } };
    assert.deepEqual(feedbackOutcome(refused, true), { state: "refused", code: "not_an_answer" });
  });
});

describe("remembering the word on each answer", () => {
  test("a word is remembered for its conversation only", () => {
    let memo = rememberFeedback(null, "c1", 3, true);
    memo = rememberFeedback(memo, "c1", 7, false);
    assert.equal(rememberedFeedback(memo, "c1", 3), true);
    assert.equal(rememberedFeedback(memo, "c1", 7), false);
    assert.equal(rememberedFeedback(memo, "c1", 5), undefined);
    assert.equal(rememberedFeedback(memo, "c2", 3), undefined);
    // A new conversation starts a new memo.
    const next = rememberFeedback(memo, "c2", 4, true);
    assert.deepEqual(next, { conversation_id: "c2", given: { 4: true } });
  });

  test("only the newest answers are kept", () => {
    let memo = null;
    for (let seq = 1; seq <= MAX_REMEMBERED + 10; seq += 1) {
      memo = rememberFeedback(memo, "c1", seq, seq % 2 === 0);
    }
    assert.equal(Object.keys(memo.given).length, MAX_REMEMBERED);
    assert.equal(rememberedFeedback(memo, "c1", 10), undefined);
    assert.equal(rememberedFeedback(memo, "c1", MAX_REMEMBERED + 10), true);
  });

  test("a stale or tampered memo is no word at all", () => {
    for (const memo of ["x", 1, [], { conversation_id: "c1", given: "x" }, { conversation_id: "c1", given: { 3: "yes" } }]) {
      assert.equal(rememberedFeedback(memo, "c1", 3), undefined);
    }
    const cleaned = rememberFeedback(
      { conversation_id: "c1", given: { 3: "yes", x: true, "-1": false, 4: true } },
      "c1",
      5,
      false,
    );
    assert.deepEqual(cleaned.given, { 4: true, 5: false });
  });
});
