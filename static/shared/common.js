/**
 * Helpers the chat widget and the agent console share: no state, no DOM, no strings of
 * their own (each page keeps its own `_()` so `make catalogs` finds its msgids).
 */

/** `msgid` translated through `strings`, with {name} placeholders filled from `values`. */
export function translate(strings, msgid, values) {
  let text = Object.hasOwn(strings, msgid) ? strings[msgid] : msgid;
  if (values) {
    for (const [name, value] of Object.entries(values)) {
      text = text.split("{" + name + "}").join(String(value));
    }
  }
  return text;
}

/** A client_id for a message: the server stores a resend with the same id once. */
export function newClientId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // randomUUID needs a secure context (https or localhost); plain http gets the same
  // 122 random bits by hand.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)]
    .join("-");
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
