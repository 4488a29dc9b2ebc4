// The widget's callback time (static/widget/callback_time.js), in Node's own test runner.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  MAX_PREFERRED_TIME,
  asksPreferredTime,
  leavePayload,
} from "../../static/widget/callback_time.js";

describe("leavePayload", () => {
  test("a callback carries the preferred time, trimmed", () => {
    assert.deepEqual(leavePayload("callback", "+81 90", "hi", "  明日の午前 "), {
      kind: "callback",
      contact: "+81 90",
      text: "hi",
      preferred_time: "明日の午前",
    });
  });

  test("an email, or an empty time, carries none", () => {
    assert.deepEqual(leavePayload("email", "a@b.jp", "hi", "tomorrow"), {
      kind: "email",
      contact: "a@b.jp",
      text: "hi",
    });
    assert.equal("preferred_time" in leavePayload("callback", "+81", "", "   "), false);
    assert.equal("preferred_time" in leavePayload("callback", "+81", "", undefined), false);
  });

  test("a long time is cut to the server's limit by characters, never inside an emoji", () => {
    const long = "😀".repeat(MAX_PREFERRED_TIME + 5);
    const sent = leavePayload("callback", "+81", "", long).preferred_time;
    assert.equal(Array.from(sent).length, MAX_PREFERRED_TIME);
    assert.equal(sent, "😀".repeat(MAX_PREFERRED_TIME));
  });
});

test("only a callback asks for a time", () => {
  assert.equal(asksPreferredTime("callback"), true);
  assert.equal(asksPreferredTime("email"), false);
});
