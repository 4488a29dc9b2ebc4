// Message ordering (static/shared/ordering.js): where a message goes among the stored ones,
// the contiguous seq and gaps, in Node's own test runner (tests/test_js.py runs it).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  advanceContiguous,
  bySeq,
  hasGap,
  skipsAhead,
  stepsBack,
} from "../../static/shared/ordering.js";

describe("stepsBack: a message's place, counted from the newest stored one", () => {
  test("the newest message goes last", () => {
    assert.equal(stepsBack([5, 4, 3], 6), 0);
  });
  test("an older one goes before every newer one", () => {
    assert.equal(stepsBack([9, 7, 5], 6), 2);
    assert.equal(stepsBack([9, 7, 5], 1), 3);
  });
  test("an empty list takes it at once", () => {
    assert.equal(stepsBack([], 1), 0);
  });
  test("a stored message without a seq counts as the newest", () => {
    assert.equal(stepsBack([Infinity, 4], 5), 1);
    assert.equal(stepsBack([Infinity, 4], Infinity), 0);
  });
  test("reads no further than it needs (the DOM walk is lazy)", () => {
    let read = 0;
    function* seqs() {
      for (const seq of [10, 9, 8, 7, 6]) {
        read += 1;
        yield seq;
      }
    }
    assert.equal(stepsBack(seqs(), 8), 2);
    assert.equal(read, 3);
  });
});

describe("advanceContiguous: every seq up to it is known", () => {
  test("walks over known seqs and stops at the first missing one", () => {
    assert.equal(advanceContiguous(0, new Set([1, 2, 3, 5])), 3);
  });
  test("stays when the next one is missing", () => {
    assert.equal(advanceContiguous(3, new Set([5, 6])), 3);
  });
  test("takes a Map keyed by seq (seq -> element)", () => {
    assert.equal(advanceContiguous(1, new Map([[2, "b"], [3, "c"]])), 3);
  });
});

describe("gaps", () => {
  test("a gap is a known seq above the contiguous one", () => {
    assert.equal(hasGap(3, 5), true);
    assert.equal(hasGap(5, 5), false);
    assert.equal(hasGap(6, 5), false);
  });
  test("a pushed message skips ahead when one before it is missing", () => {
    assert.equal(skipsAhead(4, 3), false);
    assert.equal(skipsAhead(5, 3), true);
    assert.equal(skipsAhead(2, 3), false);
  });
});

describe("bySeq", () => {
  test("sorts by seq, messages without one last, stable among them", () => {
    const messages = [{ seq: 3 }, { text: "a" }, { seq: 1 }, { text: "b" }, { seq: 2 }];
    assert.deepEqual(
      [...messages].sort(bySeq),
      [{ seq: 1 }, { seq: 2 }, { seq: 3 }, { text: "a" }, { text: "b" }],
    );
  });
});
