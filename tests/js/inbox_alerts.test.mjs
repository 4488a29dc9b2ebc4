// SLA alerts about inbox items (static/console/inbox_alerts.js), in Node's own test runner.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { inboxAlertLabel, isInboxAlert } from "../../static/console/inbox_alerts.js";

const _ = (msgid) => ({ Message: "メッセージ", Callback: "折り返し電話" })[msgid] ?? msgid;
const BREACH = {
  conversation_id: "c1",
  kind: "first_response",
  due_at: "2026-11-24T10:00:00+00:00",
  item_id: "i1",
  channel: "email",
  tracking_number: "K7PX-4QR9-M",
};

describe("inboxAlertLabel", () => {
  test("names the item by kind, translated, and tracking number", () => {
    assert.equal(inboxAlertLabel(BREACH, _), "メッセージ · K7PX-4QR9-M");
    assert.equal(inboxAlertLabel({ ...BREACH, channel: "callback" }, _), "折り返し電話 · K7PX-4QR9-M");
    assert.equal(inboxAlertLabel({ ...BREACH, tracking_number: 7 }, _), "メッセージ");
  });

  test("a chat's alert is none of the inbox's", () => {
    const chat = { conversation_id: "c1", kind: "first_response", due_at: BREACH.due_at };
    assert.equal(isInboxAlert(chat), false);
    assert.equal(inboxAlertLabel(chat, _), null);
    assert.equal(inboxAlertLabel(null, _), null);
    assert.equal(isInboxAlert({ item_id: "" }), false);
    assert.equal(isInboxAlert(BREACH), true);
  });
});
