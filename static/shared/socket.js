// @ts-check
/*
 * The Socket.IO connection as the widget and the console use it (docs/protocol.md): every
 * request is acknowledged, so `call` resolves to the acknowledgement or to null (it did not
 * come in time, or the connection dropped); nothing is buffered inside the client (each
 * page's outbox decides what is sent again); a socket the server closed, or that it refused,
 * comes back by itself after a jittered delay. The delays are pure functions, tested by
 * tests/js/socket.test.mjs with a stand-in for the vendored client.
 */

/** An acknowledgement slower than this is treated as lost (the page may send again). */
export const ACK_TIMEOUT_MS = 10000;

/** The vendored client's options both pages use. */
export const SOCKET_OPTIONS = Object.freeze({
  transports: ["websocket", "polling"],
  tryAllTransports: true,
  reconnectionDelay: 1000,
  reconnectionDelayMax: 10000,
});

/**
 * After the server closed the socket (a restart, a deploy, a revoked session): come back
 * soon, but spread out so that every page does not return in the same instant.
 * @param {number} random in [0, 1)
 */
export function serverCloseDelay(random) {
  return 500 + random * 2500;
}

/**
 * After the server refused the connection (rather than being unreachable, which the client
 * retries by itself): try again, later.
 * @param {number} random in [0, 1)
 */
export function refusedDelay(random) {
  return 5000 + random * 5000;
}

/**
 * Emit `event` on `socket` with an acknowledgement; resolves to the acknowledgement, or
 * null when it did not come (timeout, or the connection dropped: then at once). The socket
 * is the one given: a page that replaces its socket (log-out) never hears a stale one.
 * @param {SocketLike | null | undefined} socket
 * @param {string} event
 * @param {unknown} payload
 * @param {number} [timeoutMs]
 * @returns {Promise<any>} the acknowledgement (an object) or null
 */
export function ackCall(socket, event, payload, timeoutMs = ACK_TIMEOUT_MS) {
  return new Promise((resolve) => {
    if (!socket?.connected) {
      resolve(null);
      return;
    }
    let settled = false;
    /** @param {unknown} value */
    const finish = (value) => {
      if (settled) return;
      settled = true;
      socket.off("disconnect", dropped);
      resolve(value);
    };
    const dropped = () => finish(null);
    socket.on("disconnect", dropped);
    socket.timeout(timeoutMs).emit(event, payload, (/** @type {unknown} */ error, /** @type {unknown} */ answer) => {
      finish(error ? null : answer && typeof answer === "object" ? answer : null);
    });
  });
}

/**
 * @typedef {Object} SocketHooks
 * @property {() => void} [connected] the socket (re)connected
 * @property {(reason: string) => void} [disconnected] the connection dropped
 * @property {(error: any) => void} [refused] a connection attempt failed; may call close()
 * @property {() => void} [reconnecting] the client tries again
 */

/**
 * Open `namespace` with the shared options (and `auth`, if given), wired as described at the
 * top. `close()` ends it for good: listeners removed, and no pending retry reconnects it.
 * @param {string} namespace
 * @param {SocketHooks & {auth?: any, io?: (namespace: string, options: object) => SocketLike,
 *   random?: () => number, later?: (fn: () => void, ms: number) => unknown}} options
 */
export function openSocket(namespace, options) {
  const { auth, connected, disconnected, refused, reconnecting } = options;
  const io = options.io ?? globalThis.io;
  const random = options.random ?? Math.random;
  const later = options.later ?? ((fn, ms) => setTimeout(fn, ms));
  const socket = io(namespace, auth === undefined ? { ...SOCKET_OPTIONS } : { ...SOCKET_OPTIONS, auth });
  let closed = false;
  /** @param {number} ms */
  const reconnectIn = (ms) =>
    later(() => {
      if (!closed) socket.connect();
    }, ms);
  socket.on("connect", () => connected?.());
  socket.on("disconnect", (/** @type {string} */ reason) => {
    // Nothing queued inside the client: the page's outbox decides what is sent again.
    socket.sendBuffer = [];
    disconnected?.(reason);
    if (reason === "io server disconnect" && !closed) reconnectIn(serverCloseDelay(random()));
  });
  socket.on("connect_error", (/** @type {any} */ error) => {
    refused?.(error);
    if (!closed && !socket.active) reconnectIn(refusedDelay(random()));
  });
  socket.io.on("reconnect_attempt", () => reconnecting?.());
  return {
    socket,
    close() {
      closed = true;
      socket.removeAllListeners();
      socket.io.removeAllListeners?.();
      socket.disconnect();
    },
  };
}
