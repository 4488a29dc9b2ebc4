// @ts-check
/*
 * The console's Inbox: messages and callback requests customers left when nobody could chat
 * (the server's `inbox` event, docs/protocol.md), beside the live queue.
 *
 * The pure state functions (rows, countdowns, which actions an item offers, what an
 * acknowledgement means) take no DOM and are tested in Node (tests/js/inbox.test.mjs);
 * `mountInbox` draws them into the console and sends `inbox_take`, `inbox_outcome` and
 * `inbox_reply`. Every string is a gettext msgid written as _("...") so that `make catalogs`
 * extracts it; the console hands in its translate function.
 */

import { element as el } from "../shared/dom.js";
import { AgentRequest } from "../shared/protocol.js";

/**
 * The items to show, each with `deadline` (this clock's ms): the server's
 * `remaining_seconds` counted from when the payload arrived, so this clock need not be right.
 */
export function inboxRows(payload, receivedAtMs) {
  const items = Array.isArray(payload?.items) ? payload.items : [];
  return items
    .filter((item) => item && typeof item === "object" && typeof item.id === "string")
    .map((item) => ({
      ...item,
      deadline: receivedAtMs + Number(item.remaining_seconds || 0) * 1000,
    }));
}

/** Seconds left to an item's target at `nowMs` (negative: overdue). */
export function secondsLeft(row, nowMs) {
  return Math.round((row.deadline - nowMs) / 1000);
}

/** A countdown as 14:59, 1:05:00, or -0:30 when past due. */
export function countdown(seconds) {
  const sign = seconds < 0 ? "-" : "";
  let rest = Math.abs(Math.trunc(seconds));
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const secs = String(rest - minutes * 60).padStart(2, "0");
  if (hours > 0) return `${sign}${hours}:${String(minutes).padStart(2, "0")}:${secs}`;
  return `${sign}${minutes}:${secs}`;
}

/** Whether the item still waits for the desk (its countdown matters). */
export function waiting(row) {
  return row.status === "open" || row.status === "taken";
}

/**
 * What the agent can do with an item: take it; once theirs, reply by email (a message, when
 * mail is on) or record a callback's outcome; resolve it.
 */
export function actionsFor(row, agentId, mailEnabled) {
  if (row.status === "closed") return [];
  if (row.taken_by !== agentId) return row.status === "taken" ? [] : ["take"];
  if (row.kind === "callback") return ["called_back", "no_answer", "resolved"];
  return mailEnabled ? ["reply", "resolved"] : ["resolved"];
}

/** What an acknowledgement of an inbox event means: `ok` with the item, or `error` code. */
export function inboxOutcome(answer) {
  if (answer && typeof answer === "object" && answer.ok === true && answer.item) {
    return { state: "ok", item: answer.item };
  }
  const code = answer?.error?.code;
  return { state: "error", code: typeof code === "string" ? code : "offline" };
}

/* ---------- drawing ---------- */

const TICK_MS = 1000;

/**
 * Draw the inbox into `root` and keep its countdowns running. `options`: `call(event,
 * payload)` resolving to the acknowledgement, `translate(msgid, values)`, `agentId()`.
 * Returns `update(payload)` for each `inbox` event and `render()` for a language change.
 */
export function mountInbox(root, { call, translate, agentId }) {
  const _ = (msgid, values) => translate(msgid, values);
  let rows = [];
  let mailEnabled = true;
  let notice = "";
  const drafts = new Map(); // item id -> reply being written

  function statusLabel(row) {
    switch (row.status) {
      case "open":
        return row.outcome === "no_answer" ? _("No answer: call again") : _("Open");
      case "taken":
        return _("Taken");
      case "answered":
        return row.kind === "callback" ? _("Called back") : _("Answered by email");
      default:
        return _("Closed");
    }
  }

  const ACTION_LABELS = {
    take: () => _("Take"),
    reply: () => _("Send email"),
    called_back: () => _("Called back"),
    no_answer: () => _("No answer"),
    resolved: () => _("Resolved"),
  };

  async function act(row, action, textarea) {
    let answer;
    if (action === "take") {
      answer = await call(AgentRequest.INBOX_TAKE, { item_id: row.id });
    } else if (action === "reply") {
      const text = textarea?.value.trim() || "";
      if (!text) return;
      answer = await call(AgentRequest.INBOX_REPLY, { item_id: row.id, text });
      if (answer?.ok) drafts.delete(row.id);
    } else {
      answer = await call(AgentRequest.INBOX_OUTCOME, { item_id: row.id, outcome: action });
    }
    const outcome = inboxOutcome(answer);
    notice = outcome.state === "ok" ? "" : _("That did not work ({code}).", { code: outcome.code });
    if (outcome.state === "ok") {
      const now = Date.now();
      rows = rows.map((r) => (r.id === row.id ? inboxRows({ items: [outcome.item] }, now)[0] : r));
      rows = rows.filter((r) => r.status !== "closed");
    }
    render();
  }

  function item(row, now) {
    const li = el("li", "inbox-item");
    li.dataset.itemId = row.id;
    li.dataset.status = row.status;
    const head = el("div", "inbox-head");
    head.append(
      el("span", "inbox-kind", row.kind === "callback" ? _("Callback") : _("Message")),
      el("span", "inbox-language", row.language_name || row.language),
      el("span", "inbox-number", row.tracking_number),
    );
    if (waiting(row)) {
      const left = secondsLeft(row, now);
      const clock = el("span", "inbox-countdown", countdown(left));
      clock.dataset.overdue = String(left < 0);
      clock.title = _("Time left to the first-response target");
      head.append(clock);
    }
    li.append(head);
    li.append(el("p", "inbox-contact", row.contact));
    if (row.preferred_time) {
      li.append(el("p", "inbox-preferred", _("Preferred time: {time}", { time: row.preferred_time })));
    }
    if (row.text) li.append(el("p", "inbox-text", row.text));
    for (const entry of Array.isArray(row.thread) ? row.thread : []) {
      const who = entry.direction === "in" ? _("Customer replied") : _("Email sent");
      const line = el("p", "inbox-entry");
      line.dataset.direction = entry.direction;
      line.append(el("strong", "", who + ": "), document.createTextNode(entry.text));
      li.append(line);
    }
    li.append(el("p", "inbox-status", statusLabel(row)));
    const actions = actionsFor(row, agentId(), mailEnabled);
    let textarea = null;
    if (actions.includes("reply")) {
      textarea = el("textarea", "inbox-reply");
      textarea.rows = 3;
      textarea.placeholder = _("Write the email to the customer");
      textarea.setAttribute("aria-label", _("Write the email to the customer"));
      textarea.value = drafts.get(row.id) || "";
      textarea.addEventListener("input", () => drafts.set(row.id, textarea.value));
      li.append(textarea);
    }
    if (actions.length) {
      const bar = el("div", "inbox-actions");
      for (const action of actions) {
        const button = el("button", "button button--small", ACTION_LABELS[action]());
        button.type = "button";
        button.dataset.action = action;
        button.addEventListener("click", () => act(row, action, textarea));
        bar.append(button);
      }
      li.append(bar);
    }
    return li;
  }

  let stale = false; // a snapshot came while the agent was writing: drawn when they are done

  function render() {
    const focused = document.activeElement;
    if (focused && root.contains(focused) && focused.tagName === "TEXTAREA") {
      stale = true;
      return;
    }
    stale = false;
    const now = Date.now();
    root.replaceChildren();
    const heading = el("div", "pane-heading");
    const title = el("h2", "", _("Inbox"));
    title.id = "inbox-title";
    heading.append(title, el("span", "count", String(rows.filter(waiting).length)));
    root.append(heading);
    if (!mailEnabled) root.append(el("p", "inbox-notice", _("Email is off: no mail server is configured.")));
    if (notice) root.append(el("p", "inbox-notice", notice));
    if (!rows.length) {
      root.append(el("p", "empty", _("No messages or callback requests.")));
      return;
    }
    const list = el("ol", "inbox");
    list.setAttribute("aria-labelledby", "inbox-title");
    for (const row of rows) list.append(item(row, now));
    root.append(list);
  }

  function tick() {
    // Never redraw under the agent's hands (a click on a redrawn button would be lost).
    if (stale && !root.contains(document.activeElement)) render();
    const now = Date.now();
    for (const clock of root.querySelectorAll(".inbox-countdown")) {
      const row = rows.find((r) => r.id === clock.closest(".inbox-item")?.dataset.itemId);
      if (!row) continue;
      const left = secondsLeft(row, now);
      clock.textContent = countdown(left);
      clock.dataset.overdue = String(left < 0);
    }
  }
  setInterval(tick, TICK_MS);

  return {
    update(payload) {
      rows = inboxRows(payload, Date.now());
      mailEnabled = payload?.mail_enabled !== false;
      render();
    },
    render,
  };
}
