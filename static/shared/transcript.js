// @ts-check
/*
 * A conversation's transcript, downloaded (GET /api/v1/conversations/{id}/transcript,
 * docs/protocol.md): by the widget with the customer's conversation token, by the console
 * with the agent's log-in token. The token goes in the Authorization header, never in the
 * URL (so no log or history keeps it); the file is fetched, then saved from a Blob.
 *
 * Pure helpers first (tested by tests/js/transcript.test.mjs), then the two that touch the
 * browser: fetchTranscript and saveFile.
 */

export const TRANSCRIPT_FORMATS = Object.freeze(["html", "txt"]);
const FETCH_TIMEOUT_MS = 15000;

/** The transcript's URL for a conversation, a format and an IANA time zone (or none). */
export function transcriptUrl(conversationId, { format = "html", timeZone = null } = {}) {
  if (!TRANSCRIPT_FORMATS.includes(format)) throw new RangeError("unknown format " + format);
  const params = new URLSearchParams({ format });
  if (timeZone) params.set("tz", timeZone);
  return `/api/v1/conversations/${encodeURIComponent(conversationId)}/transcript?${params}`;
}

/** The file name a Content-Disposition header gives, or `fallback`: a bare name, no path. */
export function attachmentName(disposition, fallback) {
  const header = String(disposition || "");
  const match = /filename="([^"]*)"/i.exec(header) || /filename=([^;\s]+)/i.exec(header);
  // eslint-disable-next-line no-control-regex -- control characters are what it removes
  const name = match ? match[1].replace(/[\\/\u0000-\u001f\u007f]/gu, "").trim() : "";
  return name && !name.startsWith(".") ? name : fallback;
}

/** The browser's IANA time zone ("Asia/Tokyo"), or null when it cannot tell. */
export function browserTimeZone(intl = globalThis.Intl) {
  try {
    const zone = intl.DateTimeFormat().resolvedOptions().timeZone;
    return typeof zone === "string" && zone ? zone : null;
  } catch {
    return null;
  }
}

/**
 * What to do with the server's answer: `save` it, ask `again_without_zone` (the server
 * does not know the browser's zone: the desk's is better than nothing), or `fail` with a
 * code.
 */
export function outcome(status, code, { withZone }) {
  if (status === 200) return { action: "save" };
  if (status === 400 && code === "invalid_time_zone" && withZone) {
    return { action: "again_without_zone" };
  }
  return { action: "fail", code: code || "http_" + status };
}

/** The transcript as {blob, filename}; throws an Error whose `code` says why not. */
export async function fetchTranscript(conversationId, token, { format = "html", timeZone = null } = {}) {
  let zone = timeZone;
  for (;;) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(transcriptUrl(conversationId, { format, timeZone: zone }), {
        headers: { Authorization: "Bearer " + token },
        credentials: "same-origin",
        signal: controller.signal,
      });
      const code = response.ok ? null : await errorCode(response);
      const next = outcome(response.status, code, { withZone: Boolean(zone) });
      if (next.action === "again_without_zone") {
        zone = null;
        continue;
      }
      if (next.action === "fail") throw Object.assign(new Error(next.code), { code: next.code });
      const fallback = `transcript.${format}`;
      const filename = attachmentName(response.headers.get("Content-Disposition"), fallback);
      return { blob: await response.blob(), filename };
    } finally {
      clearTimeout(timer);
    }
  }
}

async function errorCode(response) {
  try {
    const body = await response.json();
    return typeof body?.error?.code === "string" ? body.error.code : null;
  } catch {
    return null;
  }
}

/** Save `blob` as a download named `filename`. */
export function saveFile(blob, filename, doc = document) {
  const url = URL.createObjectURL(blob);
  const link = doc.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  doc.body.append(link);
  link.click();
  link.remove();
  // The download has started by now; the URL is only kept long enough for slow browsers.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
