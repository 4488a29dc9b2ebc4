// Follow-ups in the supervisor's panel (static/console/followups.js), pure state, in Node.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  applyFollowup,
  countdownLevel,
  formatCountdown,
  handledOutcome,
  listFrom,
  remainingNow,
} from "../../static/console/followups.js";

const item = (id, remaining, state = "open") => ({
  id,
  conversation_id: "c-" + id,
  score: 2,
  language: "ja",
  remaining_seconds: remaining,
  state,
});

describe("applyFollowup", () => {
  test("opened ones are listed soonest deadline first; a push replaces by id", () => {
    let items = applyFollowup([], item("a", 7200), 0);
    items = applyFollowup(items, item("b", 60), 0);
    assert.deepEqual(items.map((each) => each.id), ["b", "a"]);
    items = applyFollowup(items, item("b", 0, "missed"), 0);
    assert.deepEqual(items.map((each) => [each.id, each.state]), [["b", "missed"], ["a", "open"]]);
  });

  test("a handled one leaves the list; malformed pushes change nothing", () => {
    const items = listFrom({ followups: [item("a", 100), item("b", 200)] }, 0);
    assert.deepEqual(applyFollowup(items, item("a", 100, "handled"), 0).map((each) => each.id), ["b"]);
    for (const bad of [null, {}, { id: "x" }, { ...item("x", 1), remaining_seconds: "1" }]) {
      assert.equal(applyFollowup(items, bad, 0), items);
    }
    assert.deepEqual(listFrom({}, 0), []);
  });
});

describe("countdowns", () => {
  test("count down from the server's figure, not this computer's clock", () => {
    const [one] = listFrom({ followups: [item("a", 3600)] }, 1_000_000);
    assert.equal(remainingNow(one, 1_000_000 + 1500), 3598.5);
  });

  test("levels and the format, before and after the deadline", () => {
    assert.equal(countdownLevel(86400), "ok");
    assert.equal(countdownLevel(3599), "soon");
    assert.equal(countdownLevel(0), "missed");
    assert.equal(formatCountdown(86399.6), "23:59:59");
    assert.equal(formatCountdown(65), "0:01:05");
    assert.equal(formatCountdown(-300), "-0:05:00");
  });
});

describe("handledOutcome", () => {
  test("done when stored or handled already; invalid note; otherwise retry", () => {
    assert.equal(handledOutcome({ status: 200, data: { ok: true } }), "done");
    assert.equal(handledOutcome({ status: 409, data: { error: { code: "already_handled" } } }), "done");
    assert.equal(handledOutcome({ status: 400, data: { error: { code: "invalid_payload" } } }), "invalid");
    assert.equal(handledOutcome(null), "retry");
    assert.equal(handledOutcome({ status: 503, data: null }), "retry");
  });
});
