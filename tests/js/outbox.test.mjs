// The outbox (static/shared/outbox.js): its pure transitions, what to do with each answer,
// and the pump both pages run, driven with answers as the server gives them. In Node's own
// test runner (tests/test_js.py runs it).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  RETRY_BASE_MS,
  RETRY_MAX_MS,
  afterAnswer,
  appended,
  backoff,
  createOutbox,
  rateLimitWait,
  restoreItems,
  storedItems,
  withAttempts,
  without,
} from "../../static/shared/outbox.js";

const A = { client_id: "a", text: "hello" };
const B = { client_id: "b", text: "again" };
const OK = { ok: true };
const error = (code, extra = {}) => ({ ok: false, error: { code, message: code, ...extra } });

describe("items", () => {
  test("appended goes last with no failed attempt, and leaves the old list alone", () => {
    const before = [{ ...A, attempts: 2 }];
    const after = appended(before, { ...B, attempts: 5 });
    assert.deepEqual(after, [{ ...A, attempts: 2 }, { ...B, attempts: 0 }]);
    assert.equal(before.length, 1);
  });
  test("without drops by client_id only", () => {
    assert.deepEqual(without([A, B], "a"), [B]);
    assert.deepEqual(without([A, B], "zzz"), [A, B]);
  });
  test("withAttempts changes the one item", () => {
    assert.deepEqual(withAttempts([A, B], "b", 3), [A, { ...B, attempts: 3 }]);
  });
  test("restoreItems keeps the items with every field a string", () => {
    const stored = [A, { client_id: "c" }, null, "x", { client_id: 1, text: "n" }, B];
    assert.deepEqual(restoreItems(stored, ["client_id", "text"]), [A, B]);
    assert.deepEqual(restoreItems({ client_id: "a" }, ["client_id"]), []);
    assert.deepEqual(restoreItems(null, ["client_id"]), []);
  });
  test("storedItems keeps the named fields, and null for none", () => {
    assert.deepEqual(storedItems([{ ...A, attempts: 3 }], ["client_id", "text", "kind"]), [A]);
    assert.equal(storedItems([], ["client_id"]), null);
  });
});

describe("waits", () => {
  test("backoff doubles from the base, up to the maximum", () => {
    assert.equal(backoff(1), 2 * RETRY_BASE_MS);
    assert.equal(backoff(2), 4 * RETRY_BASE_MS);
    assert.equal(backoff(20), RETRY_MAX_MS);
  });
  test("rate_limited waits what the server says, in seconds", () => {
    assert.equal(rateLimitWait(2.5), 2500);
    assert.equal(rateLimitWait(undefined), RETRY_BASE_MS);
    assert.equal(rateLimitWait(-1), RETRY_BASE_MS);
    assert.equal(rateLimitWait("soon"), RETRY_BASE_MS);
    assert.equal(rateLimitWait(3600), RETRY_MAX_MS);
  });
});

describe("afterAnswer", () => {
  test("ok: sent", () => {
    assert.deepEqual(afterAnswer(OK, { connected: true }), { action: "sent" });
  });
  test("no answer while still connected: the same item again, after a longer wait", () => {
    assert.deepEqual(afterAnswer(null, { connected: true, attempts: 1 }), {
      action: "retry",
      attempts: 2,
      delay: backoff(2),
    });
    assert.deepEqual(afterAnswer(error("internal_error"), { connected: true }), {
      action: "retry",
      attempts: 1,
      delay: backoff(1),
    });
  });
  test("no answer because the connection dropped: stop, it goes again after the reconnect", () => {
    assert.deepEqual(afterAnswer(null, { connected: false, attempts: 4 }), { action: "stop" });
  });
  test("an answer without a code is treated as an internal error", () => {
    assert.equal(afterAnswer({ ok: false }, { connected: true }).action, "retry");
  });
  test("rate_limited: the same item after retry_after, not counted as a failure", () => {
    assert.deepEqual(afterAnswer(error("rate_limited", { retry_after: 1.5 }), { connected: true, attempts: 2 }), {
      action: "retry",
      attempts: 2,
      delay: 1500,
    });
  });
  test("a restart code asks for the session again", () => {
    const context = { connected: true, restartOn: ["not_started"] };
    assert.deepEqual(afterAnswer(error("not_started"), context), { action: "restart", code: "not_started" });
    assert.deepEqual(afterAnswer(error("not_started"), { connected: true }), {
      action: "refused",
      code: "not_started",
    });
  });
  test("anything else is refused for good", () => {
    assert.deepEqual(afterAnswer(error("text_too_long"), { connected: true }), {
      action: "refused",
      code: "text_too_long",
    });
  });
});

/** An outbox whose `send` answers from `answers` in turn (a function may answer instead). */
function harness(items, answers, { connected = () => true, restartOn = [] } = {}) {
  const log = [];
  const saved = [];
  const waits = [];
  const box = createOutbox(items, {
    ready: connected,
    connected,
    save: (list) => saved.push(list.map((item) => item.client_id)),
    send: async (item) => {
      log.push(["send", item.client_id]);
      const next = answers.shift();
      return typeof next === "function" ? next(item) : next;
    },
    sent: (item) => log.push(["sent", item.client_id]),
    retrying: (item) => log.push(["retrying", item.client_id]),
    refused: (item, code) => log.push(["refused", item.client_id, code]),
    restart: (item, code) => log.push(["restart", item.client_id, code]),
    restartOn,
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  return { box, log, saved, waits };
}

describe("createOutbox: the pump", () => {
  test("sends in order, one at a time, and empties", async () => {
    const { box, log, saved } = harness([A, B], [OK, OK]);
    await box.pump();
    assert.deepEqual(log, [["send", "a"], ["sent", "a"], ["send", "b"], ["sent", "b"]]);
    assert.deepEqual(box.items, []);
    assert.deepEqual(saved.at(-1), []);
  });

  test("rate_limited: the same client_id again after the wait, then on", async () => {
    const { box, log, waits } = harness([A, B], [error("rate_limited", { retry_after: 2 }), OK, OK]);
    await box.pump();
    assert.deepEqual(log, [
      ["send", "a"],
      ["retrying", "a"],
      ["send", "a"],
      ["sent", "a"],
      ["send", "b"],
      ["sent", "b"],
    ]);
    assert.deepEqual(waits, [2000]);
  });

  test("lost answers back off, counting per item; a new item starts from nothing", async () => {
    const { box, waits } = harness([A, B], [null, null, OK, null, OK]);
    await box.pump();
    assert.deepEqual(waits, [backoff(1), backoff(2), backoff(1)]);
  });

  test("the connection drops: the pump stops and keeps the item for the reconnect", async () => {
    let up = true;
    const answers = [
      () => {
        up = false;
        return null;
      },
      OK,
    ];
    const { box, log } = harness([A], answers, { connected: () => up });
    await box.pump();
    assert.deepEqual(log, [["send", "a"]]);
    assert.deepEqual(box.items.map((item) => item.client_id), ["a"]);
    up = true;
    await box.pump();
    assert.deepEqual(log.slice(1), [["send", "a"], ["sent", "a"]]);
  });

  test("refused: kept aside, the next one goes; retry puts it back at the end", async () => {
    const { box, log } = harness([A, B], [error("text_too_long"), OK, OK]);
    await box.pump();
    assert.deepEqual(log, [["send", "a"], ["refused", "a", "text_too_long"], ["send", "b"], ["sent", "b"]]);
    assert.equal(box.retry("zzz"), null);
    assert.equal(box.retry("a")?.client_id, "a");
    assert.equal(box.retry("a"), null, "a retried item is no longer refused");
    assert.deepEqual(box.items, [{ ...A, attempts: 0 }]);
    await box.pump();
    assert.deepEqual(log.slice(4), [["send", "a"], ["sent", "a"]]);
  });

  test("a restart code stops the pump and keeps the item", async () => {
    const { box, log } = harness([A], [error("not_started")], { restartOn: ["not_started"] });
    await box.pump();
    assert.deepEqual(log, [["send", "a"], ["restart", "a", "not_started"]]);
    assert.equal(box.items.length, 1);
  });

  test("one pump at a time: a second call while sending does nothing", async () => {
    let release;
    const gate = new Promise((resolve) => {
      release = resolve;
    });
    const { box, log } = harness([A], [() => gate]);
    const first = box.pump();
    await box.pump();
    release(OK);
    await first;
    assert.deepEqual(log, [["send", "a"], ["sent", "a"]]);
  });

  test("an item dropped while its answer is on its way (its push came first) is sent once", async () => {
    const answers = [
      () => {
        made.box.drop("a"); // the page saw the stored message pushed with this client_id
        return OK;
      },
      OK,
    ];
    const made = harness([A, B], answers);
    await made.box.pump();
    assert.deepEqual(made.log, [["send", "a"], ["sent", "a"], ["send", "b"], ["sent", "b"]]);
  });

  test("add, drop and clear are saved", () => {
    const { box, saved } = harness([], []);
    box.add(A);
    box.add(B);
    assert.equal(box.drop("a"), true);
    assert.equal(box.drop("a"), false);
    box.clear();
    assert.deepEqual(saved, [["a"], ["a", "b"], ["b"], []]);
  });
});
