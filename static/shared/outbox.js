// @ts-check
/*
 * The outbox of the widget and the console (docs/protocol.md, "client_id"): what the person
 * sent and the server has not acknowledged yet, kept in sessionStorage so a reload keeps it,
 * sent in order, one at a time, and sent again after every reconnect. The server stores a
 * client_id once, so a resend never doubles a message.
 *
 * Pure transitions first (tested by tests/js/outbox.test.mjs): the items as arrays, and what
 * to do with the server's answer. Then `createOutbox`, the one driver both pages run: it
 * holds the items, the ones refused for good, and the pump; the page says how to send an
 * item and what to show at each step.
 */

import { sleep as defaultSleep } from "./common.js";

// Backoff between attempts while connected but the server answers internal_error (or
// nothing in time).
export const RETRY_BASE_MS = 1000;
export const RETRY_MAX_MS = 30000;

/**
 * @typedef {Object} OutboxItem
 * @property {string} client_id
 * @property {string} text
 * @property {number} [attempts] failed attempts in a row (internal errors, lost answers)
 */

/**
 * @typedef {{action: "sent"}
 *   | {action: "stop"}
 *   | {action: "retry", attempts: number, delay: number}
 *   | {action: "restart", code: string}
 *   | {action: "refused", code: string}} Step
 * What to do after an answer: sent (drop it); stop (the connection dropped: it is sent again
 * after the reconnect); retry the same item after `delay`; restart the session (the page's
 * `start`) and send after it; refused for good (kept visible with the reason).
 */

/**
 * The stored items that have every one of `fields` as a string (anything else in storage is
 * somebody else's, or an older version's).
 * @param {unknown} value what storage held, parsed
 * @param {readonly string[]} fields
 * @returns {any[]}
 */
export function restoreItems(value, fields) {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (item) => item !== null && typeof item === "object" && fields.every((field) => typeof item[field] === "string"),
  );
}

/**
 * What to store of `items`: `fields` of each (attempts are not worth keeping), or null when
 * there is nothing.
 * @param {readonly object[]} items
 * @param {readonly string[]} fields
 */
export function storedItems(items, fields) {
  if (items.length === 0) return null;
  return items.map((item) =>
    Object.fromEntries(fields.filter((field) => Object.hasOwn(item, field)).map((field) => [field, /** @type {any} */ (item)[field]])),
  );
}

/**
 * `item` at the end, with no failed attempt.
 * @template {OutboxItem} T
 * @param {readonly T[]} items
 * @param {T} item
 * @returns {T[]}
 */
export function appended(items, item) {
  return [...items, { ...item, attempts: 0 }];
}

/**
 * Without the item of `clientId` (acknowledged, pushed back by the server, or refused).
 * @template {OutboxItem} T
 * @param {readonly T[]} items
 * @param {string} clientId
 * @returns {T[]}
 */
export function without(items, clientId) {
  return items.filter((item) => item.client_id !== clientId);
}

/**
 * With `attempts` on the item of `clientId`.
 * @template {OutboxItem} T
 * @param {readonly T[]} items
 * @param {string} clientId
 * @param {number} attempts
 * @returns {T[]}
 */
export function withAttempts(items, clientId, attempts) {
  return items.map((item) => (item.client_id === clientId ? { ...item, attempts } : item));
}

/**
 * The wait before attempt `attempts` + 1: doubling from RETRY_BASE_MS, at most RETRY_MAX_MS.
 * @param {number} attempts
 */
export function backoff(attempts) {
  return Math.min(RETRY_BASE_MS * 2 ** attempts, RETRY_MAX_MS);
}

/**
 * The wait the server asked for with `rate_limited` (seconds), or RETRY_BASE_MS when it did
 * not say; at most RETRY_MAX_MS.
 * @param {unknown} retryAfter
 */
export function rateLimitWait(retryAfter) {
  const wait = Number(retryAfter);
  return Math.min(Number.isFinite(wait) && wait > 0 ? wait * 1000 : RETRY_BASE_MS, RETRY_MAX_MS);
}

/**
 * What to do after `answer` (an acknowledgement, or null when none came) to an item that
 * has failed `attempts` times; `connected` is the socket's state now; `restartOn` the codes
 * that say the session must be started again first.
 * @param {any} answer
 * @param {{connected: boolean, attempts?: number, restartOn?: readonly string[]}} context
 * @returns {Step}
 */
export function afterAnswer(answer, { connected, attempts = 0, restartOn = [] }) {
  if (answer?.ok) return { action: "sent" };
  const code = typeof answer?.error?.code === "string" ? answer.error.code : "internal_error";
  if (code === "internal_error") {
    if (!connected) return { action: "stop" };
    return { action: "retry", attempts: attempts + 1, delay: backoff(attempts + 1) };
  }
  if (code === "rate_limited") {
    // Sent faster than the server takes: the same message again once it says so.
    return { action: "retry", attempts, delay: rateLimitWait(answer.error.retry_after) };
  }
  if (restartOn.includes(code)) return { action: "restart", code };
  return { action: "refused", code };
}

/**
 * @template {OutboxItem} T
 * @typedef {Object} OutboxHooks
 * @property {(item: T) => Promise<any>} send emit the item; its acknowledgement or null
 * @property {() => boolean} ready whether to send now (connected, session started)
 * @property {() => boolean} connected whether the socket is connected
 * @property {(items: T[]) => void} save store the items (sessionStorage)
 * @property {(item: T, answer: any) => void} [sent] acknowledged
 * @property {(item: T) => void} [retrying] sent again after a wait
 * @property {(item: T, code: string) => void} [refused] refused for good
 * @property {(item: T, code: string) => void} [restart] the session must start again (the
 *   pump stops; the page pumps again after its `start`)
 * @property {readonly string[]} [restartOn] the codes that call `restart`
 * @property {(ms: number) => Promise<unknown>} [sleep]
 */

/**
 * The outbox of a page, starting with `items` (restored from storage).
 * @template {OutboxItem} T
 * @param {T[]} items
 * @param {OutboxHooks<T>} hooks
 */
export function createOutbox(items, hooks) {
  const sleep = hooks.sleep ?? defaultSleep;
  /** @type {T[]} */
  let queue = items.map((item) => ({ ...item, attempts: item.attempts ?? 0 }));
  /** @type {Map<string, T>} client_id -> item refused for good */
  const failed = new Map();
  let pumping = false;

  /** @param {T[]} next */
  const replace = (next) => {
    queue = next;
    hooks.save(queue);
  };
  /** @param {string} clientId */
  const drop = (clientId) => {
    if (!queue.some((item) => item.client_id === clientId)) return false;
    replace(without(queue, clientId));
    return true;
  };

  return {
    /** The items not acknowledged yet, in the order they are sent. */
    get items() {
      return /** @type {readonly T[]} */ (queue);
    },
    /** @param {T} item */
    add(item) {
      replace(appended(queue, item));
    },
    drop,
    /**
     * A refused item back at the end of the queue; the item, or null if it was not refused.
     * @param {string} clientId
     */
    retry(clientId) {
      const item = failed.get(clientId);
      if (!item) return null;
      failed.delete(clientId);
      replace(appended(queue, item));
      return item;
    },
    /** Forget everything (the session ended). */
    clear() {
      queue = [];
      failed.clear();
      hooks.save(queue);
    },
    /** Send the items in order, one at a time, while `ready()`. */
    async pump() {
      if (pumping) return;
      pumping = true;
      try {
        while (hooks.ready() && queue.length > 0) {
          const item = queue[0];
          const answer = await hooks.send(item);
          const step = afterAnswer(answer, {
            connected: hooks.connected(),
            attempts: item.attempts,
            restartOn: hooks.restartOn,
          });
          if (step.action === "sent") {
            drop(item.client_id);
            hooks.sent?.(item, answer);
          } else if (step.action === "stop") {
            break; // sent again after the reconnect
          } else if (step.action === "retry") {
            queue = withAttempts(queue, item.client_id, step.attempts);
            hooks.retrying?.(item);
            await sleep(step.delay);
          } else if (step.action === "restart") {
            hooks.restart?.(item, step.code);
            break;
          } else {
            drop(item.client_id);
            failed.set(item.client_id, item);
            hooks.refused?.(item, step.code);
          }
        }
      } finally {
        pumping = false;
      }
    },
  };
}
