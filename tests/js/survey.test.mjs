// The satisfaction survey's pure state (static/widget/survey.js), in Node's own test runner.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  MAX_COMMENT_CHARS,
  canSend,
  noSurvey,
  pickScore,
  ratePayload,
  rateOutcome,
  surveyMemo,
  surveyOnStart,
  surveyAfter,
  typeComment,
} from "../../static/widget/survey.js";

const asking = () => surveyAfter(noSurvey(), { survey: true, tracking_number: null }, "c1");

describe("surveyAfter", () => {
  test("a closed push with survey asks for a rating of that conversation", () => {
    const survey = asking();
    assert.equal(survey.phase, "asking");
    assert.equal(survey.conversationId, "c1");
    assert.equal(canSend(survey), false); // no score yet
  });

  test("no survey: the customer left, a malformed push, no conversation", () => {
    const hidden = noSurvey();
    assert.equal(surveyAfter(hidden, { survey: false, reason: "customer_left" }, "c1"), hidden);
    assert.equal(surveyAfter(hidden, null, "c1"), hidden);
    assert.equal(surveyAfter(hidden, { survey: "yes" }, "c1"), hidden);
    assert.equal(surveyAfter(hidden, { survey: true }, null), hidden);
  });

  test("a second push for the same chat keeps what the customer picked", () => {
    const picked = pickScore(asking(), 4);
    assert.equal(surveyAfter(picked, { survey: true }, "c1"), picked);
    assert.equal(surveyAfter(picked, { survey: true }, "c2").score, null);
  });
});

describe("pickScore and typeComment", () => {
  test("a score 1-5 makes it sendable; anything else changes nothing", () => {
    const survey = asking();
    assert.equal(pickScore(survey, 2).score, 2);
    assert.equal(canSend(pickScore(survey, 2)), true);
    for (const wrong of [0, 6, 2.5, "3", null]) assert.equal(pickScore(survey, wrong), survey);
    assert.equal(pickScore(noSurvey(), 3).score, null);
  });

  test("the comment is optional, trimmed, and cut to what the server takes", () => {
    const picked = pickScore(asking(), 1);
    assert.deepEqual(ratePayload(picked), { score: 1 });
    assert.deepEqual(ratePayload(typeComment(picked, "  too slow ")), { score: 1, comment: "too slow" });
    assert.equal(typeComment(picked, "x".repeat(3000)).comment.length, MAX_COMMENT_CHARS);
  });
});

describe("rateOutcome", () => {
  const sent = { ...pickScore(asking(), 2), phase: "sending" };

  test("stored, or rated before: thanks, with the score the server kept", () => {
    assert.deepEqual(rateOutcome(sent, { ok: true, score: 2, duplicate: false }).phase, "thanked");
    const earlier = rateOutcome(sent, { ok: true, score: 5, duplicate: true });
    assert.equal(earlier.phase, "thanked");
    assert.equal(earlier.score, 5);
  });

  test("no answer or a passing failure: asking again, with an error", () => {
    for (const answer of [null, { ok: false, error: { code: "rate_limited", retry_after: 1 } }]) {
      const again = rateOutcome(sent, answer);
      assert.equal(again.phase, "asking");
      assert.equal(again.error, "retry");
      assert.equal(canSend(again), true);
    }
  });

  test("a conversation that cannot be rated hides the survey", () => {
    for (const code of ["unknown_event", "not_closed", "nothing_to_rate", "unknown_conversation"]) {
      assert.equal(rateOutcome(sent, { ok: false, error: { code } }).phase, "hidden");
    }
  });
});

describe("surveyOnStart and surveyMemo", () => {
  test("a reload of a closed chat whose survey was offered asks again", () => {
    const memo = surveyMemo(pickScore(asking(), 3));
    assert.deepEqual(memo, { conversation_id: "c1" });
    const again = surveyOnStart(noSurvey(), "c1", "closed", memo);
    assert.equal(again.phase, "asking");
    assert.equal(again.conversationId, "c1");
  });

  test("rated, another chat, or never offered: no survey; the same chat's stays", () => {
    const memo = { conversation_id: "c1" };
    assert.equal(surveyOnStart(noSurvey(), "c1", "rated", memo).phase, "hidden");
    assert.equal(surveyOnStart(noSurvey(), "c2", "closed", memo).phase, "hidden");
    assert.equal(surveyOnStart(noSurvey(), "c1", "closed", null).phase, "hidden");
    const current = pickScore(asking(), 4);
    assert.equal(surveyOnStart(current, "c1", "closed", null), current);
    assert.equal(surveyOnStart(current, "c2", "bot", memo).phase, "hidden");
    assert.equal(surveyMemo(rateOutcome(current, { ok: true, score: 4 })), null);
  });
});
