// The alerts a supervisor's console starts with (static/console/sla_alerts.js), in Node.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { alertKey, alertsFrom, mergeAlerts } from "../../static/console/sla_alerts.js";

const _ = (msgid) => msgid;

describe("alertsFrom", () => {
  test("keeps when each alert was raised, its seconds left and an inbox item's label", () => {
    const alerts = alertsFrom(
      {
        alerts: [
          {
            type: "breach",
            conversation_id: "c1",
            kind: "first_response",
            raised_at: "2026-11-24T08:50:31+00:00",
            remaining_seconds: -569,
            language: "ja",
          },
          {
            type: "warning",
            conversation_id: "c2",
            kind: "first_response",
            raised_at: "2026-11-24T08:59:00+00:00",
            remaining_seconds: 300,
            item_id: "i1",
            channel: "callback",
            tracking_number: "K7PX-4QR9-M",
          },
          { type: "nonsense", conversation_id: "c3" },
          null,
        ],
      },
      _,
    );
    assert.equal(alerts.length, 2);
    assert.equal(alerts[0].at.toISOString(), "2026-11-24T08:50:31.000Z");
    assert.equal(alerts[0].remaining, -569);
    assert.equal(alerts[0].label, null);
    assert.equal(alerts[1].label, "Callback · K7PX-4QR9-M");
    assert.equal(alerts[1].item_id, "i1");
    assert.deepEqual(alertsFrom({}, _), []);
  });
});

describe("mergeAlerts", () => {
  const at = (minute) => new Date(Date.UTC(2026, 10, 24, 9, minute));
  const alert = (type, id, minute, extra = {}) => ({ type, conversation_id: id, kind: "first_response", at: at(minute), ...extra });

  test("a standing alert the console already has is not listed twice", () => {
    const pushed = [alert("breach", "c1", 5)];
    const merged = mergeAlerts(pushed, [alert("breach", "c1", 1), alert("breach", "c2", 2)]);
    assert.deepEqual(merged.map(alertKey), ["breach|c1|first_response", "breach|c2|first_response"]);
    assert.equal(merged[0].at.getTime(), at(5).getTime()); // the push stands
  });

  test("a warning whose breach is listed is not brought back; newest first, at most max", () => {
    const merged = mergeAlerts([alert("breach", "c1", 3)], [alert("warning", "c1", 2), alert("warning", "c3", 4)], 2);
    assert.deepEqual(merged.map(alertKey), ["warning|c3|first_response", "breach|c1|first_response"]);
    assert.equal(mergeAlerts(merged, [alert("breach", "c9", 9)], 2).length, 2);
  });

  test("inbox items are told apart by item, not by their conversation", () => {
    const merged = mergeAlerts([alert("breach", "c1", 1, { item_id: "i1" })], [alert("breach", "c1", 1, { item_id: "i2" })]);
    assert.equal(merged.length, 2);
  });
});
