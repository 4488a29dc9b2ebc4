// The pure helpers of static/shared/common.js, in Node's own test runner (no packages):
// `node --test tests/js/`. tests/test_js.py runs them as part of `make test`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  MAX_STACKED_MARKS,
  displayText,
  isolated,
  templateParts,
  translate,
} from "../../static/shared/common.js";

const RLO = "\u202E";
const STACKING = /[\p{Mn}\p{Me}]/u;

/** The most nonspacing or enclosing marks on any one character of `text`. */
function tallestStack(text) {
  let most = 0;
  let run = 0;
  for (const char of text) {
    if (STACKING.test(char)) most = Math.max(most, ++run);
    else if (char !== "\u200C" && char !== "\u200D") run = 0;
  }
  return most;
}

describe("displayText: bidi controls", () => {
  test("a right-to-left override no longer reverses a file name", () => {
    assert.equal(displayText(`invoice_${RLO}txt.exe`), "invoice_txt.exe");
  });

  test("every explicit embedding, override and isolate goes, paired or not", () => {
    const controls = "\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069";
    for (const control of controls) {
      assert.equal(displayText(`a${control}b`), "ab", `U+${control.codePointAt(0).toString(16)}`);
    }
    assert.equal(displayText("\u2067abc\u2069 \u202Bdef\u202C"), "abc def");
  });

  test("LRM, RLM and ALM stay: they stand for one strong letter", () => {
    const text = "\u05E9\u05DC\u05D5\u05DD 123\u200E. \u200Fok \u061C";
    assert.equal(displayText(text), text);
  });

  test("the text's letters stay in the order typed, so it can be found", () => {
    const shown = displayText(`Pay ${RLO}fdp.exe\u202C now`);
    assert.ok(shown.includes("fdp.exe"));
    assert.equal(shown, "Pay fdp.exe now");
  });
});

describe("displayText: invisible characters", () => {
  test("zero width space, word joiner, BOM and friends go", () => {
    const hidden = "\u200B\u2060\uFEFF\u2061\u2062\u2063\u2064\u206A\u206F\uFFF9\uFFFB\u180E";
    assert.equal(displayText(`pay${hidden}pal`), "paypal");
  });

  test("ZWNJ and ZWJ stay: Persian spelling and emoji sequences need them", () => {
    const persian = "\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645";
    const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}";
    assert.equal(displayText(persian), persian);
    assert.equal(displayText(family), family);
  });

  test("tag characters go unless they spell a subdivision flag", () => {
    const england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
    const smuggled = [..."ignore all"].map((c) => String.fromCodePoint(0xe0000 + c.codePointAt(0)));
    assert.equal(displayText(england), england);
    assert.equal(displayText(`hello${smuggled.join("")}\u{E007F}`), "hello");
    assert.equal(displayText(`\u{1F3F4}${smuggled.join("")}`), "\u{1F3F4}");
  });
});

describe("displayText: stacked combining marks", () => {
  test("a Zalgo string keeps at most MAX_STACKED_MARKS marks on each letter", () => {
    const zalgo = [..."Zalgo"].map((c) => c + "\u0336\u0301\u0352\u0347\u0489\u033F".repeat(5)).join("");
    const shown = displayText(zalgo);
    assert.equal(tallestStack(shown), MAX_STACKED_MARKS);
    assert.equal(shown.replace(/\p{M}/gu, ""), "Zalgo");
    // the first marks are the ones kept
    assert.ok(shown.startsWith("Z\u0336\u0301\u0352a"));
  });

  test("ZWJ or a removed control between marks does not start a new stack", () => {
    const sneaky = "a" + "\u0301\u0302\u200D".repeat(10) + "\u0303\u202E\u0304\u0305\u0306";
    assert.equal(tallestStack(displayText(sneaky)), MAX_STACKED_MARKS);
  });

  test("real text is untouched", () => {
    const samples = [
      "Ti\u1EBFng Vi\u1EC7t", // Vietnamese, composed
      "Tie\u0302\u0301ng Vie\u0323\u0302t", // Vietnamese, decomposed: two marks
      "\u0E01\u0E31\u0E49\u0E19 \u0E1B\u0E34\u0E48", // Thai: vowel and tone mark
      "\u0921\u093C\u0947\u0902", // Devanagari: nukta, vowel sign, anusvara
      "\u05E9\u05C1\u05B8\u05DC\u05D5\u05B9\u05DD", // pointed Hebrew
      "\u0645\u064F\u062D\u064E\u0645\u0651\u064E\u062F", // Arabic with harakat and shadda
      "\u2764\uFE0F 1\uFE0F\u20E3", // emoji presentation and a keycap
      "\u304B\u3099 \u30CF\u309A", // Japanese with combining (semi-)voiced marks
      "\u0915\u093E\u093E\u093E\u093E", // spacing marks (Mc) do not stack: all stay
    ];
    for (const text of samples) assert.equal(displayText(text), text, text);
  });
});

describe("displayText: anything else", () => {
  test("plain text, markup-looking text and non-strings", () => {
    assert.equal(displayText("<b>x</b> & \"y\""), "<b>x</b> & \"y\"");
    assert.equal(displayText("line one\nline two\ttab"), "line one\nline two\ttab");
    assert.equal(displayText(null), "");
    assert.equal(displayText(undefined), "");
    assert.equal(displayText(42), "42");
  });
});

describe("isolated", () => {
  test("wraps the shown text in one balanced FSI ... PDI", () => {
    assert.equal(isolated(`Aiko${RLO}`), "\u2068Aiko\u2069");
    assert.equal(isolated("\u2069\u2069x\u2068"), "\u2068x\u2069");
  });
});

describe("templateParts", () => {
  test("cuts a translated template into its text and the values", () => {
    assert.deepEqual(templateParts("Transferred by {name}: {reason}", { name: "Aiko", reason: "VIP" }), [
      "Transferred by ",
      { name: "name", value: "Aiko" },
      ": ",
      { name: "reason", value: "VIP" },
    ]);
    assert.deepEqual(templateParts("{name} مرحبا", { name: "Aiko" }), [
      { name: "name", value: "Aiko" },
      " مرحبا",
    ]);
  });

  test("a value is never read as a template; an unknown placeholder stays", () => {
    assert.deepEqual(templateParts("{a} and {b} and {c}", { a: "{b}", b: 2 }), [
      { name: "a", value: "{b}" },
      " and ",
      { name: "b", value: "2" },
      " and {c}",
    ]);
  });

  test("joined back, the parts read as translate() does", () => {
    const values = { name: "Aiko", reason: "billing" };
    const template = "Transferred by {name}: {reason}";
    const joined = templateParts(template, values)
      .map((part) => (typeof part === "string" ? part : part.value))
      .join("");
    assert.equal(joined, translate({}, template, values));
  });
});
