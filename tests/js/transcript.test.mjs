// Transcript downloads: the pure helpers of static/shared/transcript.js and of the widget's
// and console's transcript modules, in Node's own test runner. tests/test_js.py runs them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { exportError } from "../../static/console/transcript.js";
import {
  attachmentName,
  browserTimeZone,
  outcome,
  transcriptUrl,
} from "../../static/shared/transcript.js";
import { transcriptAvailable } from "../../static/widget/transcript.js";

describe("transcriptUrl", () => {
  test("names the conversation, the format and the zone", () => {
    assert.equal(
      transcriptUrl("c1", { format: "txt", timeZone: "Asia/Tokyo" }),
      "/api/v1/conversations/c1/transcript?format=txt&tz=Asia%2FTokyo",
    );
  });
  test("leaves the zone out when the browser cannot tell, HTML by default", () => {
    assert.equal(transcriptUrl("c1"), "/api/v1/conversations/c1/transcript?format=html");
  });
  test("escapes the id and refuses a format the server does not make", () => {
    assert.equal(
      transcriptUrl("a/../b", { format: "html" }),
      "/api/v1/conversations/a%2F..%2Fb/transcript?format=html",
    );
    assert.throws(() => transcriptUrl("c1", { format: "pdf" }), RangeError);
  });
});

describe("attachmentName", () => {
  test("takes the server's file name", () => {
    assert.equal(
      attachmentName('attachment; filename="transcript-K7PX-4QR9-M.html"', "transcript.html"),
      "transcript-K7PX-4QR9-M.html",
    );
    assert.equal(attachmentName("attachment; filename=t.txt", "x.txt"), "t.txt");
  });
  test("never a path or a hidden file; the fallback without a header", () => {
    assert.equal(attachmentName('attachment; filename="../../evil.html"', "t.html"), "t.html");
    assert.equal(attachmentName('attachment; filename="a/b\\c.html"', "t.html"), "abc.html");
    assert.equal(attachmentName('attachment; filename=".bashrc"', "t.html"), "t.html");
    assert.equal(attachmentName(null, "t.html"), "t.html");
    assert.equal(attachmentName('attachment; filename=""', "t.html"), "t.html");
  });
});

describe("browserTimeZone", () => {
  const intl = (zone) => ({ DateTimeFormat: () => ({ resolvedOptions: () => ({ timeZone: zone }) }) });
  test("the browser's IANA zone", () => {
    assert.equal(browserTimeZone(intl("Asia/Tokyo")), "Asia/Tokyo");
  });
  test("null when the browser cannot tell", () => {
    assert.equal(browserTimeZone(intl(undefined)), null);
    assert.equal(browserTimeZone({ DateTimeFormat: () => { throw new Error("no Intl"); } }), null);
  });
});

describe("outcome", () => {
  test("a 200 is saved", () => {
    assert.deepEqual(outcome(200, null, { withZone: true }), { action: "save" });
  });
  test("a zone the server does not know: asked again in the desk's zone, once", () => {
    assert.deepEqual(outcome(400, "invalid_time_zone", { withZone: true }), {
      action: "again_without_zone",
    });
    assert.deepEqual(outcome(400, "invalid_time_zone", { withZone: false }), {
      action: "fail",
      code: "invalid_time_zone",
    });
  });
  test("anything else fails with its code", () => {
    assert.deepEqual(outcome(403, "forbidden", { withZone: true }), { action: "fail", code: "forbidden" });
    assert.deepEqual(outcome(502, null, { withZone: false }), { action: "fail", code: "http_502" });
  });
});

describe("transcriptAvailable", () => {
  test("only with a conversation and its token", () => {
    assert.equal(transcriptAvailable({ token: "t", conversationId: "c1" }), true);
    assert.equal(transcriptAvailable({ token: null, conversationId: "c1" }), false);
    assert.equal(transcriptAvailable({ token: "t", conversationId: null }), false);
  });
});

describe("exportError", () => {
  const _ = (msgid) => "«" + msgid + "»";
  test("says why an agent may not export", () => {
    assert.equal(exportError("forbidden", _), "«You can only export conversations you hold or held.»");
    assert.equal(exportError("http_500", _), "«The transcript could not be downloaded.»");
  });
});
