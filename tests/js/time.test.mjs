// Message times (static/shared/time.js), in Node's own test runner.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { instant, timeFormat } from "../../static/shared/time.js";

describe("instant", () => {
  test("an ISO 8601 string is a Date", () => {
    assert.equal(instant("2026-01-02T03:04:05Z")?.toISOString(), "2026-01-02T03:04:05.000Z");
  });
  test("nothing, or not a date, is null", () => {
    for (const value of [undefined, null, "", "yesterday", 12]) assert.equal(instant(value), null);
  });
});

describe("timeFormat", () => {
  test("hours and minutes in the locale, seconds when asked", () => {
    const at = new Date("2026-01-02T15:04:05Z");
    const options = timeFormat("en-GB").resolvedOptions();
    assert.equal(options.locale, "en-GB");
    assert.equal(options.second, undefined);
    assert.equal(timeFormat("en-GB", true).resolvedOptions().second, "2-digit");
    assert.match(timeFormat("en-GB").format(at), /^\d\d:04$/);
  });
  test("a tag Intl refuses falls back to the browser's locale", () => {
    const format = timeFormat("not a tag!");
    assert.equal(typeof format.format(new Date()), "string");
  });
});
