// @ts-check
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

/** @param {number} ms */
export const sleep = (ms) =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/* ---------- text people wrote, for display ---------- */

/*
 * What a customer or an agent wrote is shown as text (textContent), each piece in an element
 * that isolates its direction (`dir="auto"`, `unicode-bidi: isolate`, or a <bdi>): the page
 * does that part. `displayText` is the one place that decides which characters are shown:
 *
 * - Explicit bidi formatting characters are removed: the embeddings LRE RLE, the overrides
 *   LRO RLO, their end PDF, and the isolates LRI RLI FSI with their end PDI. An override
 *   reverses the letters after it ("invoice_\u202Etxt.exe" reads "invoice_exe.txt"), and
 *   an embedding or isolate reorders runs; isolation keeps that inside the element, but the
 *   spoof is inside the message itself. Removed, the text shows in the order it is stored
 *   and typed: finding "invoice_txt.exe" on the page finds it. Chat text has no use for
 *   them that `dir="auto"` does not cover, and an unpaired one can no longer leak.
 *   LRM, RLM and ALM (U+200E, U+200F, U+061C) are kept: each acts as one invisible strong
 *   letter, which any Hebrew or Latin letter does too (no new power to mislead), and
 *   Arabic and Hebrew keyboards type them to get numbers and Latin words in place.
 * - Invisible characters with no job in chat text are removed: zero width space, word
 *   joiner, zero width no-break space (BOM), invisible math operators, the deprecated
 *   format characters U+206A-206F, interlinear annotations, the Mongolian vowel separator,
 *   and tag characters outside an emoji flag sequence (they smuggle invisible ASCII).
 *   They make text look like something it is not (a hidden character in "pay\u200Bpal").
 *   ZWNJ and ZWJ (U+200C, U+200D) stay: Persian and Indic spelling and emoji need them.
 * - Combining marks stacked on one character ("Zalgo") are capped at MAX_STACKED_MARKS
 *   nonspacing or enclosing marks (Mn, Me); spacing marks (Mc) do not stack and stay.
 *   No normalisation (NFC would turn CJK compatibility ideographs into other glyphs).
 *
 * The stored text is never changed: this is for display only.
 */

/** Nonspacing or enclosing marks kept on one character. Real text needs up to three:
 * decomposed Vietnamese two, Thai two, Devanagari nukta + vowel sign + anusvara three. */
export const MAX_STACKED_MARKS = 3;

const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/gu;
const INVISIBLES = /[\u180E\u200B\u2060-\u2064\u206A-\u206F\uFEFF\uFFF9-\uFFFB]/gu;
// A subdivision flag (black flag, 1-6 tag letters or digits, cancel tag) is kept whole;
// any other tag character goes.
const TAGS = /(\u{1F3F4}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{1,6}\u{E007F})|[\u{E0000}-\u{E007F}]/gu;
// A run of marks on one character; ZWJ and ZWNJ inside it do not start a new one.
const MARK_RUN = /[\p{M}\u200C\u200D]+/gu;
const STACKING_MARK = /[\p{Mn}\p{Me}]/u;

function capMarks(run) {
  let stacked = 0;
  let kept = "";
  for (const char of run) {
    if (STACKING_MARK.test(char) && ++stacked > MAX_STACKED_MARKS) continue;
    kept += char;
  }
  return kept;
}

/** `text` (what a person wrote) as it should be shown: see above. */
export function displayText(text) {
  return String(text ?? "")
    .replace(BIDI_CONTROLS, "")
    .replace(INVISIBLES, "")
    .replace(TAGS, (_match, flag) => flag ?? "")
    .replace(MARK_RUN, capMarks);
}

const FSI = "\u2068";
const PDI = "\u2069";

/** `text` for a place that holds only a string (an <option>, a title attribute): shown as
 * displayText shows it, between FSI and PDI, the characters that do what <bdi> does. The
 * pair is always balanced: displayText removes any isolate of the text's own. */
export function isolated(text) {
  return FSI + displayText(text) + PDI;
}

/** `template` (a translated string with {name} placeholders) cut into its own text (strings)
 * and the values that fill it ({name, value}), in order, for a page to put each value in an
 * element of its own. A placeholder without a value stays as it is written; a value is never
 * read as a template. */
export function templateParts(template, values) {
  const text = String(template);
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(/\{(\w+)\}/g)) {
    const name = match[1];
    if (!values || !Object.hasOwn(values, name)) continue;
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push({ name, value: String(values[name] ?? "") });
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}
