// @ts-check
/*
 * "Leave us a message" with a callback: when it suits the customer, in their own words
 * ("after 3 pm", "明日の午前"). The widget's pure functions (no DOM, no strings, no
 * socket), tested in Node (tests/js/callback_time.test.mjs).
 */

// The server's limit for `preferred_time` (docs/protocol.md, `leave_message`).
export const MAX_PREFERRED_TIME = 100;

/** Whether the form asks for a preferred time: only for a callback. */
export function asksPreferredTime(kind) {
  return kind === "callback";
}

/**
 * The `leave_message` payload: a callback carries the preferred time (trimmed, cut to the
 * server's limit by characters, never inside a surrogate pair), an email never does.
 */
export function leavePayload(kind, contact, text, preferredTime) {
  const payload = { kind, contact, text };
  const when = asksPreferredTime(kind) ? String(preferredTime ?? "").trim() : "";
  if (when) payload.preferred_time = Array.from(when).slice(0, MAX_PREFERRED_TIME).join("").trim();
  return payload;
}
