// @ts-check
/*
 * Follow-ups of negative feedback, in the supervisor's panel: every rating of 1 or 2 must be
 * answered within 24 hours (the brief). The list comes from GET /api/v1/followups and is
 * kept current by `followup` pushes; each item counts down to its deadline and has a form
 * to mark it handled with a note (POST /api/v1/followups/{id}/handled).
 *
 * The pure functions (`applyFollowup`, `remainingNow`, `countdownLevel`, `formatCountdown`,
 * `handledOutcome`) are tested in Node (tests/js/followups.test.mjs); `mountFollowups`
 * builds the section for console.js, which only wires the socket and the HTTP calls.
 */

// Below an hour left the countdown turns amber; at the deadline, red (missed).
export const SOON_BELOW_S = 3600;
// The console's countdown styles (console.css) for each level.
const STYLE_OF_LEVEL = { ok: "ok", soon: "urgent", missed: "overdue" };

/** A payload that names a follow-up well enough to show it, or null. */
export function followupOf(payload) {
  if (!payload || typeof payload !== "object") return null;
  if (typeof payload.id !== "string" || !payload.id) return null;
  if (typeof payload.conversation_id !== "string" || !Number.isFinite(payload.remaining_seconds)) {
    return null;
  }
  return payload;
}

/**
 * The list after a follow-up is received at `receivedAt` (ms): added or replaced by id; a
 * handled one leaves the list. Soonest deadline first. Each item keeps when it arrived, so
 * that its countdown does not depend on this computer's clock.
 */
export function applyFollowup(items, payload, receivedAt) {
  const item = followupOf(payload);
  if (item === null) return items;
  const others = items.filter((each) => each.id !== item.id);
  if (item.state === "handled") return others;
  const next = [...others, { ...item, receivedAt }];
  next.sort((a, b) => remainingNow(a, receivedAt) - remainingNow(b, receivedAt) || (a.id < b.id ? -1 : 1));
  return next;
}

/** The list from GET /api/v1/followups, received at `receivedAt` (ms). */
export function listFrom(data, receivedAt) {
  const list = Array.isArray(data?.followups) ? data.followups : [];
  return list.reduce((items, payload) => applyFollowup(items, payload, receivedAt), []);
}

/** Seconds left at `now` (ms), counted from the server's figure when the item arrived. */
export function remainingNow(item, now) {
  return item.remaining_seconds - (now - item.receivedAt) / 1000;
}

/** ok, soon (under an hour) or missed (the deadline has passed). */
export function countdownLevel(seconds) {
  if (seconds <= 0) return "missed";
  return seconds < SOON_BELOW_S ? "soon" : "ok";
}

/** 23:59:59 left, or -0:05:00 past the deadline: the same in every language. */
export function formatCountdown(seconds) {
  const sign = seconds < 0 ? "-" : "";
  const whole = Math.floor(Math.abs(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = String(Math.floor((whole % 3600) / 60)).padStart(2, "0");
  const secs = String(whole % 60).padStart(2, "0");
  return `${sign}${hours}:${minutes}:${secs}`;
}

/**
 * What the answer to POST .../handled means (null: none came): done (handled now or by
 * someone else before), invalid (the note is missing or too long), or retry.
 */
export function handledOutcome(answer) {
  if (answer?.status === 200) return "done";
  const code = answer?.data?.error?.code;
  if (answer?.status === 409 || answer?.status === 404 || code === "already_handled") {
    return "done";
  }
  if (answer?.status === 400) return "invalid";
  return "retry";
}

/* ---------- the section (browser only) ---------- */

/**
 * The follow-ups section, placed before `anchor` in the supervisor's panel. `_` translates;
 * `list()` resolves to the answer of GET /api/v1/followups and `handle(id, note)` to that of
 * the POST ({status, data}, or null). Returns `{load, pushed, relabel, clear}`.
 */
export function mountFollowups(anchor, { _, list, handle, languageName = (tag) => tag }) {
  let items = [];
  let loading = 0;
  const section = node("section", "panel-section", { id: "followups-section" });
  const heading = node("div", "pane-heading");
  const title = node("h2", "", { id: "followups-title" });
  const count = node("span", "count", { id: "followups-count" });
  heading.append(title, count);
  const hint = node("p", "hint", { dir: "auto" });
  const listing = node("ol", "followups", { id: "followups", "aria-labelledby": "followups-title" });
  const empty = node("p", "empty");
  const failed = node("p", "form-error", { role: "alert" });
  failed.hidden = true;
  section.append(heading, hint, failed, listing, empty);
  anchor.before(section);
  setInterval(tick, 1000);

  async function load() {
    const request = ++loading;
    let answer = null;
    try {
      answer = await list();
    } catch {
      answer = null;
    }
    if (request !== loading) return;
    failed.hidden = answer?.status === 200;
    failed.textContent = failed.hidden ? "" : _("The follow-ups could not be loaded.");
    if (answer?.status === 200) {
      items = listFrom(answer.data, Date.now());
      render();
    }
  }

  function pushed(payload) {
    items = applyFollowup(items, payload, Date.now());
    render();
  }

  function render() {
    const open = new Set(items.map((item) => item.id));
    for (const row of listing.querySelectorAll(".followup")) {
      if (!open.has(row.dataset.id)) row.remove();
    }
    for (const item of items) {
      let row = listing.querySelector(`.followup[data-id="${CSS.escape(item.id)}"]`);
      if (!row) row = makeRow(item);
      fillRow(row, item);
      listing.append(row); // in order, soonest first
    }
    count.textContent = String(items.length);
    count.dataset.level = items.some((item) => remainingNow(item, Date.now()) <= 0) ? "bad" : "";
    empty.hidden = items.length > 0;
    tick();
  }

  function makeRow(item) {
    const row = node("li", "followup", { "data-id": item.id });
    const top = node("div", "followup-top");
    top.append(
      node("span", "followup-score"),
      node("span", "lang-tag lang-tag--small followup-language"),
      node("span", "followup-tracking"),
      node("span", "countdown followup-countdown"),
    );
    const who = node("p", "followup-who", { dir: "auto" });
    const comment = node("p", "followup-comment user-text", { dir: "auto" });
    const form = node("form", "followup-form", { novalidate: "" });
    const noteId = "followup-note-" + item.id;
    const label = node("label", "field-label followup-note-label", { for: noteId });
    const note = node("textarea", "field followup-note", { id: noteId, rows: "2", maxlength: "2000", dir: "auto" });
    const error = node("p", "form-error followup-error", { role: "alert" });
    error.hidden = true;
    const submit = node("button", "button button--primary followup-submit", { type: "submit" });
    form.append(label, note, error, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = note.value.trim();
      if (!text) {
        error.textContent = _("Write what was done for the customer.");
        error.hidden = false;
        note.focus();
        return;
      }
      submit.disabled = true;
      let answer = null;
      try {
        answer = await handle(item.id, text);
      } catch {
        answer = null;
      }
      submit.disabled = false;
      const outcome = handledOutcome(answer);
      if (outcome === "done") {
        items = items.filter((each) => each.id !== item.id);
        render();
        return;
      }
      error.textContent =
        outcome === "invalid"
          ? _("Write what was done for the customer.")
          : _("Something went wrong. Please try again.");
      error.hidden = false;
    });
    row.append(top, who, comment, form);
    labelRow(row);
    return row;
  }

  function fillRow(row, item) {
    row.querySelector(".followup-score").textContent = _("{score} out of 5", { score: item.score });
    const language = row.querySelector(".followup-language");
    language.textContent = item.language;
    language.title = languageName(item.language);
    row.querySelector(".followup-tracking").textContent = item.tracking_number || item.conversation_id;
    row.dataset.conversationId = item.conversation_id;
    const who = row.querySelector(".followup-who");
    who.textContent = item.agent_name ? _("Chat with {name}", { name: item.agent_name }) : "";
    who.hidden = !item.agent_name;
    const comment = row.querySelector(".followup-comment");
    comment.textContent = item.comment || "";
    comment.hidden = !item.comment;
  }

  function labelRow(row) {
    row.querySelector(".followup-note-label").textContent = _("What was done (note)");
    row.querySelector(".followup-submit").textContent = _("Mark handled");
  }

  function tick() {
    const now = Date.now();
    for (const item of items) {
      const row = listing.querySelector(`.followup[data-id="${CSS.escape(item.id)}"]`);
      if (!row) continue;
      const seconds = remainingNow(item, now);
      const countdown = row.querySelector(".followup-countdown");
      countdown.textContent = formatCountdown(seconds);
      countdown.dataset.level = STYLE_OF_LEVEL[countdownLevel(seconds)];
      countdown.title = seconds > 0 ? _("Time left to answer") : _("Missed: not answered within 24 hours");
      row.dataset.state = seconds > 0 ? "open" : "missed";
    }
  }

  function relabel() {
    title.textContent = _("Follow-ups");
    hint.textContent = _("Ratings of 1 or 2: answer the customer within 24 hours.");
    empty.textContent = _("No follow-ups open.");
    for (const row of listing.querySelectorAll(".followup")) labelRow(row);
    const byId = new Map(items.map((item) => [item.id, item]));
    for (const row of listing.querySelectorAll(".followup")) {
      const item = byId.get(row.dataset.id);
      if (item) fillRow(row, item);
    }
    tick();
  }

  function clear() {
    items = [];
    loading++;
    render();
  }

  relabel();
  render();
  return { load, pushed, relabel, clear };
}

function node(tag, className, attributes = {}) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  return made;
}
