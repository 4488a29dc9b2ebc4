// @ts-check
/*
 * "Email me the transcript" in the widget's menu: a small form for the address (the one the
 * customer left for the inbox, if any, filled in), then POST
 * /api/v1/conversations/{id}/transcript/email (docs/protocol.md). The server mails the
 * customer's copy (no internal notes) in the conversation's language with times in the
 * browser's zone. The item is only shown when the desk's mail is on (a GET on the same
 * path says so). Pure helpers first (tests/js/transcript_email.test.mjs), then the DOM.
 */

import { browserTimeZone } from "../shared/transcript.js";

const FETCH_TIMEOUT_MS = 15000;
// Mirrors the server's check (chatserver/transcript_mail.py): one plain address.
const ADDRESS = /^[^\s@<>()[\],;:"\\]{1,64}@[^\s@<>()[\],;:"\\]+\.[^\s@<>()[\],;:"\\.]+$/u;

/** The endpoint for a conversation's emailed transcript (GET: status, POST: send). */
export function transcriptEmailUrl(conversationId) {
  return `/api/v1/conversations/${encodeURIComponent(conversationId)}/transcript/email`;
}

/** Whether `text` (trimmed) looks like one email address the server would take. */
export function isEmailAddress(text) {
  const address = String(text ?? "").trim();
  if (address.length > 254 || !ADDRESS.test(address)) return false;
  const [local, domain] = [address.slice(0, address.lastIndexOf("@")), address.split("@").pop()];
  return !address.includes("..") && !local.startsWith(".") && !local.endsWith(".") && !domain.startsWith(".");
}

/**
 * What the answer to a send means: `sent`, or why not: `address` (the server refused the
 * address), `off` (the desk's mail is off), `limited` (too many for this conversation),
 * `failed` (anything else, the network included).
 */
export function sendOutcome(status, errorCode) {
  if (status === 200) return "sent";
  if (status === 400 && errorCode === "invalid_payload") return "address";
  if (errorCode === "mail_disabled") return "off";
  if (status === 429 || errorCode === "rate_limited") return "limited";
  return "failed";
}

/** The form's state after an event: {phase, outcome, address}. phase: editing | sending | done. */
export function nextState(state, event) {
  switch (event.type) {
    case "open":
      return { phase: "editing", outcome: null, address: event.address ?? state.address ?? "" };
    case "send":
      if (!isEmailAddress(event.address)) {
        return { phase: "editing", outcome: "address", address: event.address };
      }
      return { phase: "sending", outcome: null, address: event.address.trim() };
    case "answer": {
      const outcome = sendOutcome(event.status, event.code);
      return { phase: outcome === "sent" ? "done" : "editing", outcome, address: state.address };
    }
    default:
      return state;
  }
}

/** The message for an outcome, through the widget's `_` (null: nothing to say). */
export function outcomeText(outcome, _, address) {
  switch (outcome) {
    case null:
      return null;
    case "sent":
      return _("We have sent the transcript to {address}.", { address });
    case "address":
      return _("Please enter a valid email address.");
    case "off":
      return _("Email is not available right now.");
    case "limited":
      return _("Too many transcripts have been sent for this conversation. Please try again later.");
    default:
      return _("The transcript could not be sent. Please try again later.");
  }
}

async function request(url, token, init = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      ...init,
      headers: { ...init.headers, Authorization: "Bearer " + token },
      credentials: "same-origin",
      signal: controller.signal,
    });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    return { status: response.status, body };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Adds "Email me the transcript" to `menu` (after the downloads) and returns {relabel,
 * refresh}, as installTranscript does. `conversation()` gives {token, conversationId}.
 */
export function installTranscriptEmail({ menu, conversation, translate, onDone, after = null }) {
  const _ = translate;
  const item = document.createElement("button");
  item.type = "button";
  item.className = "chat-menu-item chat-menu-item--plain";
  item.setAttribute("role", "menuitem");
  item.dir = "auto";
  item.dataset.transcript = "email";
  item.hidden = true; // until the server says mail is on
  if (after) after.after(item);
  else menu.prepend(item);

  const dialog = document.createElement("dialog");
  dialog.className = "transcript-email";
  dialog.id = "transcript-email";
  dialog.innerHTML = `
    <form novalidate>
      <h2 class="transcript-email-title" id="transcript-email-title" dir="auto"></h2>
      <div class="field">
        <label for="transcript-email-address" dir="auto"></label>
        <input id="transcript-email-address" name="address" type="email" autocomplete="email"
          inputmode="email" dir="ltr" maxlength="254" aria-describedby="transcript-email-status">
      </div>
      <p class="transcript-email-status" id="transcript-email-status" role="status" dir="auto"></p>
      <div class="chat-confirm-buttons">
        <button type="button" class="button button--quiet" data-action="close"></button>
        <button type="submit" class="button" data-action="send"></button>
      </div>
    </form>`;
  dialog.setAttribute("aria-labelledby", "transcript-email-title");
  document.body.append(dialog);
  const form = dialog.querySelector("form");
  const title = dialog.querySelector("h2");
  const label = dialog.querySelector("label");
  const input = dialog.querySelector("input");
  /** @type {HTMLElement} */
  const status = dialog.querySelector(".transcript-email-status");
  const close = dialog.querySelector('[data-action="close"]');
  /** @type {HTMLButtonElement} */
  const send = dialog.querySelector('[data-action="send"]');

  let state = { phase: "editing", outcome: null, address: "" };
  let known = { conversationId: null, enabled: false, address: null };

  item.addEventListener("click", () => {
    onDone();
    state = nextState(state, { type: "open", address: input.value || known.address || "" });
    render();
    dialog.showModal();
    input.focus();
  });
  close.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (state.phase === "sending") return;
    state = nextState(state, { type: "send", address: input.value });
    render();
    if (state.phase !== "sending") return;
    const current = conversation();
    let answer = { status: 0, body: null };
    try {
      answer = await request(transcriptEmailUrl(current.conversationId), current.token, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ address: state.address, tz: browserTimeZone() ?? "" }),
      });
    } catch {
      // the network: "could not be sent"
    }
    state = nextState(state, { type: "answer", status: answer.status, code: answer.body?.error?.code });
    if (state.outcome === "off") {
      known = { ...known, enabled: false };
      item.hidden = true;
    }
    render();
  });

  function render() {
    const invalid = state.outcome === "address";
    input.setAttribute("aria-invalid", String(invalid));
    input.disabled = state.phase !== "editing";
    input.value = state.phase === "editing" && input.value ? input.value : state.address;
    status.textContent = outcomeText(state.outcome, _, state.address) ?? "";
    status.dataset.state = state.outcome ?? "";
    send.hidden = state.phase === "done";
    send.disabled = state.phase === "sending";
    send.textContent = state.phase === "sending" ? _("Sending…") : _("Send");
    close.textContent = state.phase === "done" ? _("Close") : _("Cancel");
  }

  function relabel() {
    item.textContent = _("Email me the transcript");
    title.textContent = _("Email me the transcript");
    label.textContent = _("Email address");
    render();
  }

  /** When the menu opens: ask the server once per conversation whether mail is on. */
  async function refresh() {
    const current = conversation();
    if (!current.token || !current.conversationId) {
      item.hidden = true;
      return;
    }
    if (known.conversationId === current.conversationId) {
      item.hidden = !known.enabled;
      return;
    }
    known = { conversationId: current.conversationId, enabled: false, address: null };
    try {
      const answer = await request(transcriptEmailUrl(current.conversationId), current.token);
      if (answer.status === 200 && known.conversationId === current.conversationId) {
        known = { ...known, enabled: answer.body?.enabled === true, address: answer.body?.address ?? null };
      } else {
        known = { conversationId: null, enabled: false, address: null }; // ask again next time
      }
    } catch {
      known = { conversationId: null, enabled: false, address: null };
    }
    item.hidden = !known.enabled;
    if (known.address && !input.value) input.value = known.address;
  }

  relabel();
  return { relabel, refresh };
}
