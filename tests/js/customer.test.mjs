// The customer panel's pure parts (static/console/customer.js), in Node's own test runner.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { conversationStatus, customerRows, historyNote, previousRows } from "../../static/console/customer.js";

const _ = (msgid) => ({ Name: "名前", VIP: "VIP", Standard: "標準", Closed: "終了" })[msgid] ?? msgid;
const CARD = {
  conversation_id: "c2",
  customer_id: "cust-42",
  name: "Tanaka Hanako",
  email: "hanako@example.jp",
  tier: "vip",
  manager: "emma",
  manager_name: "Emma Clarke",
  tracking_number: "K7PX-4QR9-M",
  language: "ja",
  language_name: "日本語",
  previous: [
    { conversation_id: "old1", tracking_number: "AAAA-BBBB-C", created_at: "2026-10-01T09:00:00+00:00", status: "closed" },
    { conversation_id: "old2", tracking_number: null, created_at: "2026-11-05T09:00:00+00:00", status: "abandoned" },
  ],
};

describe("customerRows", () => {
  test("every known fact, translated labels, the tier in words", () => {
    assert.deepEqual(customerRows(CARD, _, (tag) => `Japanese (${tag})`), [
      ["名前", "Tanaka Hanako"],
      ["Email", "hanako@example.jp"],
      ["Tier", "VIP"],
      ["Account manager", "Emma Clarke"],
      ["Tracking number", "K7PX-4QR9-M"],
      ["Language", "Japanese (ja)"],
    ]);
  });
  test("an anonymous customer: only what is known; nothing for no card", () => {
    const anonymous = { ...CARD, name: null, email: null, tier: "standard", manager: null, manager_name: null };
    assert.deepEqual(customerRows(anonymous, _).map(([label]) => label), ["Tier", "Tracking number", "Language"]);
    assert.equal(customerRows(anonymous, _)[0][1], "標準");
    assert.deepEqual(customerRows(null, _), []);
    // The manager's username when their name is not known.
    assert.deepEqual(customerRows({ ...CARD, manager_name: null }, _)[3], ["Account manager", "emma"]);
  });
});

describe("previousRows", () => {
  test("newest first, the tracking number or a short id, the date and status", () => {
    assert.deepEqual(previousRows(CARD), [
      { id: "old2", number: "OLD2", date: "2026-11-05", status: "abandoned" },
      { id: "old1", number: "AAAA-BBBB-C", date: "2026-10-01", status: "closed" },
    ]);
  });
  test("malformed entries are skipped", () => {
    assert.deepEqual(previousRows({ previous: [null, { tracking_number: "X" }] }), []);
    assert.deepEqual(previousRows({}), []);
  });
  test("statuses in words", () => {
    assert.equal(conversationStatus("rated", _), "終了");
    assert.equal(conversationStatus("offline", _), "Left a message");
  });
});

describe("historyNote", () => {
  test("an anonymous customer: said so, whatever else the card holds", () => {
    assert.equal(historyNote({ ...CARD, customer_id: null, previous: [] }), "anonymous");
    assert.equal(historyNote({ ...CARD, customer_id: "", previous: [] }), "anonymous");
  });
  test("a signed customer without earlier chats: none; with some, or still loading: nothing", () => {
    assert.equal(historyNote({ ...CARD, previous: [] }), "none");
    assert.equal(historyNote(CARD), null);
    assert.equal(historyNote(null), null);
  });
});
