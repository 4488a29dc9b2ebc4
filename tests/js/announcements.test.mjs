// The supervisors' announcements form: its pure functions (static/console/announcements.js).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { announcementBody, answerProblem, formOf } from "../../static/console/announcements.js";

describe("announcementBody", () => {
  test("English is required; a translation is added under its language", () => {
    assert.deepEqual(announcementBody({ severity: "critical", english: "  ", language: "ja", translation: "停止" }), {
      error: "english",
    });
    assert.deepEqual(
      announcementBody({ severity: "critical", english: " MT5 is down ", language: "ja", translation: " 停止中 " }),
      { severity: "critical", texts: { en: "MT5 is down", ja: "停止中" } },
    );
    assert.deepEqual(announcementBody({ severity: "urgent", english: "x" }), { error: "severity" });
  });

  test("editing keeps the translations the form does not show, and a cleared one goes", () => {
    const base = { en: "Down", ja: "停止", th: "ล่ม" };
    assert.deepEqual(announcementBody({ severity: "warning", english: "Recovering", language: "ja", translation: "復旧中" }, base), {
      severity: "warning",
      texts: { en: "Recovering", ja: "復旧中", th: "ล่ม" },
    });
    assert.deepEqual(announcementBody({ severity: "warning", english: "Recovering", language: "th", translation: "" }, base).texts, {
      en: "Recovering",
      ja: "停止",
    });
  });
});

describe("formOf and answerProblem", () => {
  test("an announcement fills the form, the chosen language's translation first", () => {
    const record = { severity: "critical", texts: { en: "Down", ja: "停止", th: "ล่ม" } };
    assert.deepEqual(formOf(record, "th"), { severity: "critical", english: "Down", language: "th", translation: "ล่ม" });
    assert.deepEqual(formOf(record, "ko"), { severity: "critical", english: "Down", language: "ja", translation: "停止" });
    assert.deepEqual(formOf(null, "ko"), { severity: "info", english: "", language: "ko", translation: "" });
  });

  test("answers map to problems", () => {
    assert.equal(answerProblem({ status: 201 }), null);
    assert.equal(answerProblem(null), "network");
    assert.equal(answerProblem({ status: 403 }), "forbidden");
    assert.equal(answerProblem({ status: 409 }), "resolved");
    assert.equal(answerProblem({ status: 400 }), "invalid");
    assert.equal(answerProblem({ status: 500 }), "failed");
  });
});
