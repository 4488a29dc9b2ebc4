// Typing notices and seen receipts: the pure throttle/expiry decisions and the two timer
// objects (static/shared/typing.js), in Node's own test runner, on a fake clock.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  TYPING_EXPIRE_MS,
  TYPING_IDLE_MS,
  TYPING_INTERVAL_MS,
  initialTyping,
  seenToSend,
  typingFresh,
  typingIdle,
  typingIndicator,
  typingInput,
  typingSender,
  typingStop,
} from "../../static/shared/typing.js";

/** A clock and timers the test moves by hand. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const pending = new Map();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = next++;
      pending.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(id) {
      pending.delete(id);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        pending.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = end;
    },
  };
}

describe("the throttle (pure)", () => {
  test("the first keystroke sends true, the next ones within the interval nothing", () => {
    let step = typingInput(initialTyping(), 1000);
    assert.equal(step.send, true);
    step = typingInput(step.state, 1000 + TYPING_INTERVAL_MS - 1);
    assert.equal(step.send, null);
    step = typingInput(step.state, 1000 + TYPING_INTERVAL_MS);
    assert.equal(step.send, true, "a refresh once the interval has passed");
  });

  test("the interval is 2-3 s and the receiver's expiry outlasts it", () => {
    assert.ok(TYPING_INTERVAL_MS >= 2000 && TYPING_INTERVAL_MS <= 3000);
    assert.ok(TYPING_EXPIRE_MS > TYPING_INTERVAL_MS);
    assert.equal(TYPING_IDLE_MS, 5000);
  });

  test("stop sends false once, and only after a true", () => {
    assert.equal(typingStop(initialTyping()).send, null);
    const typing = typingInput(initialTyping(), 0).state;
    const stopped = typingStop(typing);
    assert.equal(stopped.send, false);
    assert.equal(typingStop(stopped.state).send, null);
    assert.equal(typingInput(stopped.state, 10).send, true, "typing again after a stop says so at once");
  });

  test("idle after 5 s without a keystroke", () => {
    const state = typingInput(initialTyping(), 0).state;
    assert.equal(typingIdle(state, TYPING_IDLE_MS - 1), false);
    assert.equal(typingIdle(state, TYPING_IDLE_MS), true);
    assert.equal(typingIdle(typingStop(state).state, 99999), false);
  });

  test("a notice is fresh for ~6 s", () => {
    assert.equal(typingFresh(0, TYPING_EXPIRE_MS - 1), true);
    assert.equal(typingFresh(0, TYPING_EXPIRE_MS), false);
    assert.equal(typingFresh(Number.NaN, 0), false);
  });

  test("seen: the newest agent message, when visible and new", () => {
    assert.equal(seenToSend(5, 0, true), 5);
    assert.equal(seenToSend(5, 5, true), null);
    assert.equal(seenToSend(4, 5, true), null, "never backwards");
    assert.equal(seenToSend(7, 5, false), null, "not while the page is hidden");
    assert.equal(seenToSend(0, 0, true), null);
  });
});

describe("typingSender", () => {
  test("a burst of keystrokes: one true per interval, false after 5 s idle", () => {
    const timers = fakeTimers();
    const sent = [];
    const sender = typingSender((value) => sent.push([timers.now(), value]), { timers });
    for (let t = 0; t < 6000; t += 200) {
      sender.input();
      timers.advance(200);
    }
    assert.deepEqual(sent.map(([, v]) => v), [true, true, true]);
    assert.deepEqual(sent.map(([t]) => t), [0, 2600, 5200]);
    timers.advance(TYPING_IDLE_MS);
    assert.deepEqual(sent.at(-1), [5800 + TYPING_IDLE_MS, false]);
    assert.equal(sender.typing, false);
  });

  test("send (stop) says false at once, and the idle timer says nothing more", () => {
    const timers = fakeTimers();
    const sent = [];
    const sender = typingSender((value) => sent.push(value), { timers });
    sender.input();
    sender.stop();
    timers.advance(20000);
    assert.deepEqual(sent, [true, false]);
  });

  test("reset forgets without a notice", () => {
    const timers = fakeTimers();
    const sent = [];
    const sender = typingSender((value) => sent.push(value), { timers });
    sender.input();
    sender.reset();
    timers.advance(20000);
    assert.deepEqual(sent, [true]);
  });
});

describe("typingIndicator", () => {
  test("shown on true, gone on false", () => {
    const timers = fakeTimers();
    const changes = [];
    const indicator = typingIndicator((key, shown) => changes.push([key, shown]), { timers });
    indicator.set("c1", true);
    indicator.set("c1", true);
    indicator.set("c1", false);
    assert.deepEqual(changes, [["c1", true], ["c1", false]]);
  });

  test("expires by itself ~6 s after the last refresh", () => {
    const timers = fakeTimers();
    const changes = [];
    const indicator = typingIndicator((key, shown) => changes.push([timers.now(), key, shown]), { timers });
    indicator.set("c1", true);
    timers.advance(TYPING_INTERVAL_MS);
    indicator.set("c1", true); // refreshed at 2.5 s
    timers.advance(TYPING_EXPIRE_MS - 1);
    assert.equal(indicator.has("c1"), true);
    timers.advance(1);
    assert.equal(indicator.has("c1"), false);
    assert.deepEqual(changes, [[0, "c1", true], [TYPING_INTERVAL_MS + TYPING_EXPIRE_MS, "c1", false]]);
  });

  test("keys are independent", () => {
    const timers = fakeTimers();
    const indicator = typingIndicator(() => {}, { timers });
    indicator.set("a", true);
    indicator.set("b", true);
    indicator.set("a", false);
    assert.equal(indicator.has("a"), false);
    assert.equal(indicator.has("b"), true);
  });
});
