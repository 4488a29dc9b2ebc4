// Urgent chats' banners (static/console/urgent.js), in Node's own test runner.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { applyCleared, applyUrgent, urgentLabel } from "../../static/console/urgent.js";

const _ = (msgid, values) => {
  const text = { "Urgent chat waiting: {number}": "緊急チャット待ち: {number}" }[msgid] ?? msgid;
  return Object.entries(values || {}).reduce((t, [k, v]) => t.split(`{${k}}`).join(v), text);
};
const FIRST = {
  conversation_id: "c1",
  tracking_number: "K7PX-4QR9-M",
  language: "ja",
  language_name: "日本語",
  topic: "security",
  queued_at: "2026-11-24T09:00:00+00:00",
};
const SECOND = { ...FIRST, conversation_id: "c2", queued_at: "2026-11-24T09:01:00+00:00" };

describe("urgent alerts", () => {
  test("are added once per chat, oldest first, and leave when cleared", () => {
    let alerts = applyUrgent([], SECOND);
    alerts = applyUrgent(alerts, FIRST);
    alerts = applyUrgent(alerts, FIRST);
    assert.deepEqual(alerts.map((a) => a.conversation_id), ["c1", "c2"]);
    alerts = applyCleared(alerts, { conversation_id: "c1", reason: "taken" });
    assert.deepEqual(alerts.map((a) => a.conversation_id), ["c2"]);
    assert.equal(applyCleared(alerts, { conversation_id: "c9" }).length, 1);
  });

  test("ignore payloads that name no chat", () => {
    assert.deepEqual(applyUrgent([FIRST], null), [FIRST]);
    assert.deepEqual(applyUrgent([FIRST], { conversation_id: "" }), [FIRST]);
    assert.deepEqual(applyCleared([FIRST], {}), [FIRST]);
  });

  test("are labelled with the tracking number, language and topic, translated", () => {
    assert.equal(urgentLabel(FIRST, _), "緊急チャット待ち: K7PX-4QR9-M · 日本語 · security");
    assert.equal(
      urgentLabel({ ...FIRST, language_name: "", topic: "" }, _, () => "Japanese"),
      "緊急チャット待ち: K7PX-4QR9-M · Japanese",
    );
  });
});
