// The socket helpers (static/shared/socket.js) against a stand-in for the vendored Socket.IO
// client (static/vendor, a browser bundle): acknowledged calls, and reconnecting. The real
// client is driven by the browser tests (tests/test_*_browser.py).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ACK_TIMEOUT_MS, ackCall, openSocket, refusedDelay, serverCloseDelay } from "../../static/shared/socket.js";

/** The part of the client's Socket API the helpers use. */
class StandIn {
  constructor() {
    this.connected = true;
    this.active = true;
    this.listeners = new Map();
    this.emitted = [];
    this.connects = 0;
    this.sendBuffer = ["stale"];
    this.io = { listeners: new Map(), on: (event, fn) => this.io.listeners.set(event, fn) };
  }
  on(event, fn) {
    this.listeners.set(event, [...(this.listeners.get(event) || []), fn]);
  }
  off(event, fn) {
    this.listeners.set(event, (this.listeners.get(event) || []).filter((other) => other !== fn));
  }
  fire(event, ...args) {
    for (const fn of this.listeners.get(event) || []) fn(...args);
  }
  timeout(ms) {
    return { emit: (event, payload, ack) => this.emitted.push({ ms, event, payload, ack }) };
  }
  connect() {
    this.connects += 1;
  }
  disconnect() {
    this.connected = false;
  }
  removeAllListeners() {
    this.listeners.clear();
  }
}

describe("ackCall", () => {
  test("resolves to the acknowledgement", async () => {
    const socket = new StandIn();
    const answer = ackCall(socket, "message", { text: "hi" });
    const [sent] = socket.emitted;
    assert.deepEqual([sent.ms, sent.event, sent.payload], [ACK_TIMEOUT_MS, "message", { text: "hi" }]);
    sent.ack(null, { ok: true });
    assert.deepEqual(await answer, { ok: true });
    assert.deepEqual(socket.listeners.get("disconnect"), [], "its disconnect listener is gone");
  });
  test("null without a socket, or when it is not connected", async () => {
    assert.equal(await ackCall(null, "x", {}), null);
    const socket = new StandIn();
    socket.connected = false;
    assert.equal(await ackCall(socket, "x", {}), null);
    assert.equal(socket.emitted.length, 0);
  });
  test("null on a timeout, or on an answer that is not an object", async () => {
    const socket = new StandIn();
    const late = ackCall(socket, "x", {});
    socket.emitted[0].ack(new Error("operation has timed out"));
    assert.equal(await late, null);
    const odd = ackCall(socket, "x", {});
    socket.emitted[1].ack(null, "ok");
    assert.equal(await odd, null);
  });
  test("null at once when the connection drops, and a late answer changes nothing", async () => {
    const socket = new StandIn();
    const answer = ackCall(socket, "x", {});
    socket.fire("disconnect", "transport close");
    assert.equal(await answer, null);
    socket.emitted[0].ack(null, { ok: true });
  });
  test("a call stays with the socket it was made on (a replaced socket's drop is not heard)", async () => {
    const first = new StandIn();
    const second = new StandIn();
    const answer = ackCall(first, "x", {});
    second.fire("disconnect", "io client disconnect");
    first.emitted[0].ack(null, { ok: true, from: "first" });
    assert.deepEqual(await answer, { ok: true, from: "first" });
  });
});

describe("reconnect delays", () => {
  test("jittered within their ranges", () => {
    assert.equal(serverCloseDelay(0), 500);
    assert.equal(serverCloseDelay(0.999999) < 3000, true);
    assert.equal(refusedDelay(0), 5000);
    assert.equal(refusedDelay(0.999999) < 10000, true);
  });
});

describe("openSocket", () => {
  function open(hooks = {}) {
    const socket = new StandIn();
    const timers = [];
    const calls = [];
    const handle = openSocket("/customer", {
      io: (namespace, options) => {
        calls.push({ namespace, options });
        return socket;
      },
      random: () => 0,
      later: (fn, ms) => timers.push({ fn, ms }),
      ...hooks,
    });
    return { socket, timers, calls, handle };
  }

  test("opens the namespace with the shared options, and auth when given", () => {
    const auth = () => {};
    const { calls } = open({ auth });
    assert.equal(calls[0].namespace, "/customer");
    assert.deepEqual(calls[0].options.transports, ["websocket", "polling"]);
    assert.equal(calls[0].options.auth, auth);
    assert.equal("auth" in open().calls[0].options, false);
  });

  test("a disconnect empties the client's buffer and tells the page", () => {
    const reasons = [];
    const { socket, timers } = open({ disconnected: (reason) => reasons.push(reason) });
    socket.fire("disconnect", "transport close");
    assert.deepEqual(socket.sendBuffer, []);
    assert.deepEqual(reasons, ["transport close"]);
    assert.equal(timers.length, 0, "the client reconnects by itself after a transport close");
  });

  test("closed by the server: connects again after the jittered delay", () => {
    const { socket, timers } = open();
    socket.fire("disconnect", "io server disconnect");
    assert.equal(timers[0].ms, serverCloseDelay(0));
    timers[0].fn();
    assert.equal(socket.connects, 1);
  });

  test("refused (not active any more): tries again later; active: the client does", () => {
    const errors = [];
    const { socket, timers } = open({ refused: (error) => errors.push(error) });
    socket.fire("connect_error", new Error("xhr poll error"));
    assert.equal(timers.length, 0);
    socket.active = false;
    socket.fire("connect_error", new Error("refused"));
    assert.equal(timers[0].ms, refusedDelay(0));
    assert.equal(errors.length, 2);
  });

  test("closed by the page: no pending retry brings it back", () => {
    const { socket, timers, handle } = open({
      refused: () => handle.close(),
    });
    socket.fire("disconnect", "io server disconnect");
    socket.active = false;
    handle.close();
    timers[0].fn();
    assert.equal(socket.connects, 0);
    assert.equal(socket.connected, false);
    assert.equal(socket.listeners.size, 0);
  });

  test("connect and reconnect_attempt reach the page", () => {
    const seen = [];
    const { socket } = open({ connected: () => seen.push("connected"), reconnecting: () => seen.push("again") });
    socket.fire("connect");
    socket.io.listeners.get("reconnect_attempt")();
    assert.deepEqual(seen, ["connected", "again"]);
  });
});
