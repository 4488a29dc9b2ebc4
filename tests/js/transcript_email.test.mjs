// "Email me the transcript": the pure helpers of static/widget/transcript_email.js, in
// Node's own test runner. tests/test_js.py runs them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  isEmailAddress,
  nextState,
  outcomeText,
  sendOutcome,
  transcriptEmailUrl,
} from "../../static/widget/transcript_email.js";

describe("transcriptEmailUrl", () => {
  test("names the conversation, escaped", () => {
    assert.equal(transcriptEmailUrl("c/1"), "/api/v1/conversations/c%2F1/transcript/email");
  });
});

describe("isEmailAddress", () => {
  test("takes one plain address, trimmed", () => {
    assert.equal(isEmailAddress(" yuki+chat@mail.example.jp "), true);
  });
  test("refuses lists, names, header tricks and broken shapes", () => {
    for (const text of ["", "a@b", "a b@c.de", "a@b.c, d@e.fg", "Yuki <y@e.jp>", "a@b.c\nBcc: x@y.z", "a..b@c.de", ".a@b.cd", "a@.b.cd", null]) {
      assert.equal(isEmailAddress(text), false, String(text));
    }
  });
});

describe("sendOutcome", () => {
  test("maps the server's answers", () => {
    assert.equal(sendOutcome(200, null), "sent");
    assert.equal(sendOutcome(400, "invalid_payload"), "address");
    assert.equal(sendOutcome(503, "mail_disabled"), "off");
    assert.equal(sendOutcome(429, "rate_limited"), "limited");
    assert.equal(sendOutcome(502, "mail_failed"), "failed");
    assert.equal(sendOutcome(0, undefined), "failed");
  });
});

describe("nextState", () => {
  const start = { phase: "editing", outcome: null, address: "" };
  test("opening prefills the address and clears the last outcome", () => {
    const opened = nextState({ phase: "done", outcome: "sent", address: "x@y.zz" }, { type: "open", address: "me@example.com" });
    assert.deepEqual(opened, { phase: "editing", outcome: null, address: "me@example.com" });
  });
  test("a bad address stays in the form, with the reason", () => {
    assert.deepEqual(nextState(start, { type: "send", address: "nope" }), {
      phase: "editing",
      outcome: "address",
      address: "nope",
    });
  });
  test("a good address is sent, then done or back to editing", () => {
    const sending = nextState(start, { type: "send", address: " me@example.com " });
    assert.deepEqual(sending, { phase: "sending", outcome: null, address: "me@example.com" });
    assert.deepEqual(nextState(sending, { type: "answer", status: 200 }), {
      phase: "done",
      outcome: "sent",
      address: "me@example.com",
    });
    assert.equal(nextState(sending, { type: "answer", status: 429, code: "rate_limited" }).phase, "editing");
  });
});

describe("outcomeText", () => {
  const _ = (msgid, values) => msgid.replace("{address}", values?.address ?? "{address}");
  test("says where it went, or why not", () => {
    assert.equal(outcomeText("sent", _, "me@example.com"), "We have sent the transcript to me@example.com.");
    assert.equal(outcomeText("off", _, ""), "Email is not available right now.");
    assert.equal(outcomeText(null, _, ""), null);
    assert.match(outcomeText("limited", _, ""), /Too many/);
    assert.match(outcomeText("failed", _, ""), /could not be sent/);
  });
});
