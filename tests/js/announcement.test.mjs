// Announcements' banners: the pure state functions (static/widget/announcement.js), in
// Node's own test runner. tests/test_js.py runs them as part of `make test`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  announcementRole,
  dismissAnnouncement,
  isAnnouncement,
  keepConfirmed,
  receiveAnnouncement,
  shownAnnouncements,
} from "../../static/widget/announcement.js";

const OUTAGE = {
  id: "a1",
  severity: "critical",
  text: "MT5 is down",
  language: "en",
  status: "active",
  updated_at: "2026-11-24T09:00:00+00:00",
};
const at = (minutes) => `2026-11-24T09:${String(minutes).padStart(2, "0")}:00+00:00`;

describe("receiveAnnouncement", () => {
  test("a new one is added, a newer version replaces it in place", () => {
    let notices = receiveAnnouncement([], OUTAGE);
    assert.equal(notices.length, 1);
    assert.equal(notices[0].text, "MT5 is down");
    notices = receiveAnnouncement(notices, { ...OUTAGE, severity: "warning", text: "Recovering", updated_at: at(5) });
    assert.deepEqual(notices, [
      { id: "a1", severity: "warning", text: "Recovering", language: "en", status: "active", updatedAt: at(5) },
    ]);
  });

  test("an older version arriving late is ignored; resolved stays resolved", () => {
    let notices = receiveAnnouncement([], { ...OUTAGE, updated_at: at(5), text: "new" });
    notices = receiveAnnouncement(notices, { ...OUTAGE, updated_at: at(1), text: "old" });
    assert.equal(notices[0].text, "new");
    notices = receiveAnnouncement(notices, { ...OUTAGE, updated_at: at(9), status: "resolved", text: "Fixed" });
    assert.equal(receiveAnnouncement(notices, { ...OUTAGE, updated_at: at(9) })[0].status, "resolved");
  });

  test("the same version in another language replaces the text", () => {
    const notices = receiveAnnouncement(receiveAnnouncement([], OUTAGE), { ...OUTAGE, language: "ja", text: "停止中" });
    assert.deepEqual([notices[0].language, notices[0].text], ["ja", "停止中"]);
  });

  test("malformed payloads change nothing", () => {
    const held = receiveAnnouncement([], OUTAGE);
    for (const bad of [null, "x", {}, { ...OUTAGE, severity: "urgent" }, { ...OUTAGE, id: "" },
      { ...OUTAGE, status: "gone" }, { ...OUTAGE, updated_at: "yesterday" }, { ...OUTAGE, text: 3 }]) {
      assert.equal(isAnnouncement(bad), false);
      assert.equal(receiveAnnouncement(held, bad), held);
    }
  });
});

describe("dismissing and order", () => {
  test("only a resolved announcement can be dismissed", () => {
    const active = receiveAnnouncement([], OUTAGE);
    assert.equal(dismissAnnouncement(active, "a1").length, 1);
    const resolved = receiveAnnouncement(active, { ...OUTAGE, status: "resolved", updated_at: at(3) });
    assert.deepEqual(dismissAnnouncement(resolved, "a1"), []);
  });

  test("active before resolved, gravest first, then newest", () => {
    let notices = [];
    notices = receiveAnnouncement(notices, { ...OUTAGE, id: "info", severity: "info", updated_at: at(8) });
    notices = receiveAnnouncement(notices, { ...OUTAGE, id: "old-critical", updated_at: at(1) });
    notices = receiveAnnouncement(notices, { ...OUTAGE, id: "new-critical", updated_at: at(4) });
    notices = receiveAnnouncement(notices, { ...OUTAGE, id: "done", status: "resolved", updated_at: at(9) });
    assert.deepEqual(shownAnnouncements(notices).map((n) => n.id), ["new-critical", "old-critical", "info", "done"]);
  });

  test("an active critical one is an alert, the rest are polite", () => {
    const [critical] = receiveAnnouncement([], OUTAGE);
    assert.equal(announcementRole(critical), "alert");
    assert.equal(announcementRole({ ...critical, status: "resolved" }), "status");
    assert.equal(announcementRole({ ...critical, severity: "warning" }), "status");
  });
});

describe("keepConfirmed", () => {
  test("after a restart, an active notice the server did not send again is dropped", () => {
    let notices = receiveAnnouncement([], OUTAGE);
    notices = receiveAnnouncement(notices, { ...OUTAGE, id: "a2" });
    notices = receiveAnnouncement(notices, { ...OUTAGE, id: "done", status: "resolved" });
    assert.deepEqual(keepConfirmed(notices, new Set(["a2"])).map((n) => n.id), ["a2", "done"]);
  });
});
