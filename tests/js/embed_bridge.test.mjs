// The one-tag embed's message bridge and queued calls (static/embed/bridge.js), in Node's
// own test runner.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  callMessage,
  cleanSettings,
  envelope,
  foldCalls,
  identityPayload,
  nextOpen,
  originAllowed,
  originOf,
  queuedCalls,
  readFrameMessage,
  readHostMessage,
} from "../../static/embed/bridge.js";

const DESK = "https://desk.example";
const HOST = "https://broker.example";
const parent = { name: "parent window" };
const frame = { name: "frame window" };
const hostContext = { parent, selfOrigin: DESK, allowed: [HOST] };
const SIGNED = {
  name: "Somchai",
  email: "somchai@example.com",
  identity: { balance_usd: 120000, manager: "mgr", issued_at: "2026-12-05T10:00:00+00:00" },
  signature: "ab12",
};

describe("origins", () => {
  test("the desk's own origin and the allowed ones, nothing else", () => {
    assert.equal(originAllowed(DESK, DESK, []), true);
    assert.equal(originAllowed(HOST, DESK, [HOST]), true);
    assert.equal(originAllowed("https://evil.example", DESK, [HOST]), false);
    assert.equal(originAllowed("https://broker.example.evil", DESK, [HOST]), false);
    assert.equal(originAllowed("null", DESK, ["*"]), false);
    assert.equal(originAllowed("https://any.example", DESK, ["*"]), true);
    assert.equal(originAllowed(undefined, DESK, ["*"]), false);
  });

  test("originOf takes a script's URL to its origin", () => {
    assert.equal(originOf("https://desk.example:8443/widget.js?x=1"), "https://desk.example:8443");
    assert.equal(originOf("not a url"), null);
    assert.equal(originOf("data:text/javascript,1"), null);
  });
});

describe("the frame believes its parent only", () => {
  const hello = envelope("hello", { locale: "ar", user: null, reset: false, colour: "#123456" });

  test("a hello from the parent at an allowed origin", () => {
    const message = readHostMessage({ source: parent, origin: HOST, data: hello }, hostContext);
    assert.deepEqual(message, {
      type: "hello",
      origin: HOST,
      locale: "ar",
      colour: "#123456",
      user: null,
      reset: false,
    });
  });

  test("not from another window, another origin, or without the marker", () => {
    const from = (source, origin, data = hello) => readHostMessage({ source, origin, data }, hostContext);
    assert.equal(from(frame, HOST), null);
    assert.equal(from(parent, "https://evil.example"), null);
    assert.equal(from(parent, HOST, { ...hello, protocol: "other" }), null);
    assert.equal(from(parent, HOST, { ...hello, type: "eval" }), null);
    assert.equal(from(parent, HOST, "hello"), null);
  });

  test("a bad locale, colour or user is refused or dropped", () => {
    const read = (data) => readHostMessage({ source: parent, origin: HOST, data }, hostContext);
    assert.equal(read(envelope("set_locale", { locale: "<script>" })), null);
    assert.equal(read(envelope("set_user", { user: { id: "" } })), null);
    assert.equal(read(envelope("visibility", { open: "yes" })), null);
    const odd = read(envelope("hello", { locale: "x y", colour: "red;}", user: { id: 5 } }));
    assert.equal(odd.locale, null);
    assert.equal(odd.colour, null);
    assert.equal(odd.user, null);
    assert.equal(read(envelope("set_locale", { locale: "zh_Hant" })).locale, "zh-Hant");
  });
});

describe("the loader believes the desk's frame only", () => {
  const context = { frame, deskOrigin: DESK };
  const labels = { open: "Open", close: "Close", title: "Chat" };

  test("ready, message and closed from the frame at the desk's origin", () => {
    const ready = envelope("ready", { language: "ar", direction: "rtl", labels });
    assert.deepEqual(readFrameMessage({ source: frame, origin: DESK, data: ready }, context), {
      type: "ready",
      language: "ar",
      direction: "rtl",
      labels,
    });
    const bot = { seq: 2, author: "bot", text: "Hello", language: "en", extra: "x" };
    const message = readFrameMessage(
      { source: frame, origin: DESK, data: envelope("message", { message: bot }) },
      context,
    );
    assert.deepEqual(message.message, {
      seq: 2,
      author: "bot",
      text: "Hello",
      language: "en",
      created_at: null,
    });
    const closed = envelope("closed", { tracking_number: "K7PX-4QR9-M" });
    assert.equal(
      readFrameMessage({ source: frame, origin: DESK, data: closed }, context).tracking_number,
      "K7PX-4QR9-M",
    );
  });

  test("nothing from the host page itself, another origin, or malformed", () => {
    const ready = envelope("ready", { language: "en", direction: "ltr", labels });
    assert.equal(readFrameMessage({ source: parent, origin: DESK, data: ready }, context), null);
    assert.equal(readFrameMessage({ source: frame, origin: HOST, data: ready }, context), null);
    const noLabels = envelope("ready", { language: "en", direction: "ltr" });
    assert.equal(readFrameMessage({ source: frame, origin: DESK, data: noLabels }, context), null);
    const noSeq = envelope("message", { message: { author: "bot", text: "x" } });
    assert.equal(readFrameMessage({ source: frame, origin: DESK, data: noSeq }, context), null);
  });
});

describe("setUser's signed identity", () => {
  test("the identity's fields, name, email and the id as customer_id, with the signature", () => {
    assert.deepEqual(identityPayload("C-1001", SIGNED), {
      balance_usd: 120000,
      manager: "mgr",
      issued_at: "2026-12-05T10:00:00+00:00",
      name: "Somchai",
      email: "somchai@example.com",
      customer_id: "C-1001",
      signature: "ab12",
    });
    assert.equal(identityPayload(42, SIGNED).customer_id, "42");
  });

  test("nothing to send without an id or a signature; objects inside are dropped", () => {
    assert.equal(identityPayload("", SIGNED), null);
    assert.equal(identityPayload("C-1", { ...SIGNED, signature: undefined }), null);
    const nested = identityPayload("C-1", { signature: "s", identity: { a: { b: 1 }, c: 2 } });
    assert.deepEqual(nested, { c: 2, customer_id: "C-1", signature: "s" });
  });
});

describe("calls made before load", () => {
  test("only known methods are taken from the queue, in order", () => {
    const queue = [["setUser", "C-1", SIGNED], ["boom"], "setLocale", ["toggle", "open"]];
    assert.deepEqual(
      queuedCalls(queue).map(([method]) => method),
      ["setUser", "toggle"],
    );
    assert.deepEqual(queuedCalls({ q: [["reset"]] }), [["reset", []]]);
    assert.deepEqual(queuedCalls(undefined), []);
  });

  test("fold into the hello: last user and locale win, open only when asked", () => {
    const settings = cleanSettings({ locale: "ja", position: "middle", colour: "blue", open: "yes" });
    assert.deepEqual(settings, { locale: "ja", position: "right", colour: null, open: false });
    const folded = foldCalls(settings, [
      ["setLocale", ["de"]],
      ["setUser", ["C-1", SIGNED]],
      ["setLocale", ["not a locale!"]],
    ]);
    assert.equal(folded.locale, "de");
    assert.equal(folded.open, false);
    assert.equal(folded.user.id, "C-1");
    assert.equal(folded.user.identity.signature, "ab12");
    assert.equal(foldCalls(settings, [["toggle", ["open"]]]).open, true);
    const reset = foldCalls(settings, [["setUser", ["C-1", SIGNED]], ["reset", []]]);
    assert.equal(reset.user, null);
    assert.equal(reset.reset, true);
    assert.equal(cleanSettings({ open: true, position: "left" }).position, "left");
  });

  test("toggle and the messages live calls become", () => {
    assert.equal(nextOpen(false, "open"), true);
    assert.equal(nextOpen(true, "close"), false);
    assert.equal(nextOpen(true, undefined), false);
    assert.equal(callMessage("setLocale", ["ar"]).type, "set_locale");
    assert.equal(callMessage("setLocale", [""]), null);
    assert.equal(callMessage("setUser", ["C-2", SIGNED]).user.identity.customer_id, "C-2");
    assert.equal(callMessage("reset", []).type, "reset");
    assert.equal(callMessage("toggle", ["open"]), null);
  });
});
