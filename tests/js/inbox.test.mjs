// The console's Inbox: its pure state functions (static/console/inbox.js), in Node's own
// test runner. tests/test_js.py runs them as part of `make test`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  actionsFor,
  countdown,
  inboxOutcome,
  inboxRows,
  secondsLeft,
  waiting,
} from "../../static/console/inbox.js";

const MESSAGE = { id: "i1", kind: "message", status: "open", taken_by: null, remaining_seconds: 3600 };
const CALLBACK = { id: "i2", kind: "callback", status: "taken", taken_by: "aiko", remaining_seconds: 900 };

describe("inboxRows", () => {
  test("deadlines count from when the payload arrived", () => {
    const [row] = inboxRows({ items: [MESSAGE] }, 10_000);
    assert.equal(row.deadline, 10_000 + 3_600_000);
    assert.equal(secondsLeft(row, 10_000 + 60_000), 3540);
    assert.equal(secondsLeft(row, 10_000 + 3_630_000), -30);
  });

  test("malformed payloads give no rows", () => {
    assert.deepEqual(inboxRows(null, 0), []);
    assert.deepEqual(inboxRows({ items: "x" }, 0), []);
    assert.deepEqual(inboxRows({ items: [null, 1, { id: 2 }] }, 0), []);
  });
});

describe("countdown", () => {
  test("minutes and seconds, hours when there are, a sign when past due", () => {
    assert.equal(countdown(899), "14:59");
    assert.equal(countdown(3900), "1:05:00");
    assert.equal(countdown(-30), "-0:30");
    assert.equal(countdown(0), "0:00");
  });
});

describe("actionsFor", () => {
  test("an open item can be taken by anyone who sees it", () => {
    assert.deepEqual(actionsFor(MESSAGE, "emma", true), ["take"]);
  });

  test("another agent's taken item offers nothing", () => {
    assert.deepEqual(actionsFor(CALLBACK, "emma", true), []);
  });

  test("a callback's holder records the outcome", () => {
    assert.deepEqual(actionsFor(CALLBACK, "aiko", true), ["called_back", "no_answer", "resolved"]);
  });

  test("a message's holder replies by email, unless mail is off", () => {
    const mine = { ...MESSAGE, status: "taken", taken_by: "aiko" };
    assert.deepEqual(actionsFor(mine, "aiko", true), ["reply", "resolved"]);
    assert.deepEqual(actionsFor(mine, "aiko", false), ["resolved"]);
    assert.deepEqual(actionsFor({ ...mine, status: "closed" }, "aiko", true), []);
  });
});

describe("waiting and inboxOutcome", () => {
  test("only open and taken items wait for the desk", () => {
    assert.equal(waiting(MESSAGE), true);
    assert.equal(waiting({ ...MESSAGE, status: "answered" }), false);
  });

  test("an acknowledgement gives the item, or the error code", () => {
    assert.deepEqual(inboxOutcome({ ok: true, item: MESSAGE }), { state: "ok", item: MESSAGE });
    assert.deepEqual(inboxOutcome({ ok: false, error: { code: "inbox_taken" } }), {
      state: "error",
      code: "inbox_taken",
    });
    assert.deepEqual(inboxOutcome(null), { state: "error", code: "offline" });
  });
});
