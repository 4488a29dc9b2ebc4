// The DOM helpers (static/shared/dom.js), in Node's own test runner with a minimal stand-in
// for `document` (Node has none): what they set, and that text is text, never HTML.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { element, withUserText } from "../../static/shared/dom.js";

class StandInElement {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.className = "";
    this.textContent = "";
  }
}

before(() => {
  globalThis.document = { createElement: (tag) => new StandInElement(tag) };
});
after(() => {
  delete globalThis.document;
});

describe("element", () => {
  test("tag, class and text", () => {
    const node = element("span", "msg-author", "<b>Aiko</b>");
    assert.equal(node.tagName, "SPAN");
    assert.equal(node.className, "msg-author");
    assert.equal(node.textContent, "<b>Aiko</b>", "as text: never parsed");
  });
  test("no class, and no text for undefined or null (an empty string is text)", () => {
    assert.equal(element("div").className, "");
    assert.equal(element("div", "", null).textContent, "");
    assert.equal(element("div", "", "").textContent, "");
  });
});

describe("withUserText", () => {
  test("our words as strings, each value in a bdi of its own, shown by displayText", () => {
    const parts = withUserText("Chatting with {name} now", { name: "Ai\u202Eko" });
    assert.equal(parts.length, 3);
    assert.equal(parts[0], "Chatting with ");
    assert.equal(parts[1].tagName, "BDI");
    assert.equal(parts[1].className, "user-text");
    assert.equal(parts[1].textContent, "Aiko", "the override character is not shown");
    assert.equal(parts[2], " now");
  });
  test("a value is never read as a template", () => {
    const parts = withUserText("{a}", { a: "{b}", b: "x" });
    assert.equal(parts[0].textContent, "{b}");
  });
});
