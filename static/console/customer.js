// @ts-check
/*
 * The customer panel beside a chat: who the customer is (the signed identity's name, email,
 * tier and account manager; nothing for an anonymous one), the tracking number and the
 * language, and the same customer's previous conversations, newest first, each of which
 * downloads its transcript (GET /api/v1/conversations/{id}/customer, docs/protocol.md).
 *
 * Previous conversations are linked only by the signed identity's customer_id (the host
 * site's signature proves it). An anonymous customer has none, and the panel says why: the
 * server issues no link between one browser's conversations (a fresh start gets a new
 * conversation and token), and anything the browser could send to claim one (an id in
 * localStorage, a cookie) an impostor could send too, and be read someone else's history.
 *
 * `customerRows`, `previousRows` and `historyNote` are pure (tests/js/customer.test.mjs);
 * `mountCustomer` builds the panels for console.js, which only attaches each chat.
 */

import { element as make } from "../shared/dom.js";
import { browserTimeZone, fetchTranscript, saveFile } from "../shared/transcript.js";

/** [label, value] rows of the panel's facts, values as text (null: not known, left out). */
export function customerRows(card, _, languageLabel = (tag) => tag) {
  if (!card || typeof card !== "object") return [];
  const rows = [
    [_("Name"), card.name],
    [_("Email"), card.email],
    [_("Tier"), card.tier === "vip" ? _("VIP") : _("Standard")],
    [_("Account manager"), card.manager_name || card.manager],
    [_("Tracking number"), card.tracking_number],
    [_("Language"), card.language ? languageLabel(card.language) : null],
  ];
  return rows.filter(([, value]) => typeof value === "string" && value !== "");
}

/** The previous conversations as shown: newest first, with a date in the browser's zone. */
export function previousRows(card, formatDate = (iso) => iso.slice(0, 10)) {
  const previous = Array.isArray(card?.previous) ? card.previous : [];
  return previous
    .filter((each) => each && typeof each.conversation_id === "string")
    .slice()
    .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))
    .map((each) => ({
      id: each.conversation_id,
      number: each.tracking_number || each.conversation_id.slice(0, 6).toUpperCase(),
      date: each.created_at ? formatDate(each.created_at) : "",
      status: String(each.status || ""),
    }));
}

/** What the panel says under "Previous conversations" when it lists none: "anonymous" (no
 * signed identity: nothing can prove an earlier chat is theirs), "none", or null (it lists
 * some, or the card is still loading). */
export function historyNote(card) {
  if (!card || typeof card !== "object") return null;
  if (previousRows(card).length) return null;
  return typeof card.customer_id === "string" && card.customer_id ? "none" : "anonymous";
}

/** A conversation's status in words. */
export function conversationStatus(status, _) {
  switch (status) {
    case "bot":
      return _("With the bot");
    case "queued":
      return _("Waiting");
    case "assigned":
    case "active":
      return _("Open");
    case "closed":
    case "rated":
      return _("Closed");
    case "abandoned":
      return _("Left the queue");
    case "offline":
      return _("Left a message");
    default:
      return String(status || "");
  }
}

/**
 * `token()` gives the log-in token; `_` translates; `languageLabel(tag)` names a language; `onError(text)` shows a failure; `named(chat,
 * name)` is told the customer's name (the chat's label). Returns { attach(chat), relabel() }.
 */
export function mountCustomer({ token, _, languageLabel, onError, named }) {
  const panels = new Map(); // conversation id -> { chat, aside, card }

  async function load(entry) {
    const current = token();
    if (!current) return;
    let response;
    try {
      response = await fetch(
        `/api/v1/conversations/${encodeURIComponent(entry.chat.id)}/customer`,
        { headers: { Accept: "application/json", Authorization: "Bearer " + current }, cache: "no-store" },
      );
    } catch {
      return;
    }
    if (!response.ok) return;
    entry.card = await response.json();
    if (entry.card?.name) named(entry.chat, entry.card.name);
    render(entry);
  }

  async function openTranscript(id) {
    const current = token();
    if (!current) return;
    try {
      const { blob, filename } = await fetchTranscript(id, current, {
        format: "html",
        timeZone: browserTimeZone(),
      });
      saveFile(blob, filename);
    } catch {
      onError(_("The transcript could not be downloaded."));
    }
  }

  function render(entry) {
    const { aside, card } = entry;
    const title = make("h3", "customer-title", _("Customer"));
    const facts = make("dl", "customer-facts");
    for (const [label, value] of customerRows(card, _, languageLabel)) {
      const dd = make("dd");
      dd.append(make("bdi", "", value)); // text people wrote, isolated
      facts.append(make("dt", "", label), dd);
    }
    const previousTitle = make("h4", "customer-previous-title", _("Previous conversations"));
    const list = make("ol", "customer-previous");
    const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
    for (const row of previousRows(card, (iso) => dateFormat.format(new Date(iso)))) {
      const item = make("li", "customer-previous-item");
      item.dataset.conversationId = row.id;
      const open = make("button", "link-button customer-previous-open", row.number);
      open.type = "button";
      open.title = _("Download the transcript");
      open.addEventListener("click", () => openTranscript(row.id));
      item.append(open, make("span", "customer-previous-date", row.date), make("span", "customer-previous-status", conversationStatus(row.status, _)));
      list.append(item);
    }
    const note = historyNote(card);
    const empty = make("p", "empty customer-previous-empty", card ? _("No previous conversations.") : _("Loading…"));
    empty.hidden = list.children.length > 0 || note === "anonymous";
    const anonymous = make("div", "customer-anonymous");
    anonymous.hidden = note !== "anonymous";
    anonymous.append(
      make("p", "customer-anonymous-title", _("Anonymous customer")),
      make("p", "customer-anonymous-why", _("The website did not identify this customer, so no earlier chat can be proved to be theirs: none are shown.")),
    );
    aside.setAttribute("aria-label", _("Customer"));
    aside.replaceChildren(title, facts, previousTitle, list, empty, anonymous);
  }

  return {
    /** Put the panel beside the chat's transcript and load it. */
    attach(chat) {
      if (panels.has(chat.id)) return;
      const main = make("div", "chat-main");
      main.append(...chat.panel.children);
      const aside = make("aside", "customer-panel");
      chat.panel.append(main, aside);
      chat.panel.classList.add("has-customer");
      const entry = { chat, aside, card: null };
      panels.set(chat.id, entry);
      render(entry);
      load(entry);
    },
    forget(id) {
      panels.delete(id);
    },
    relabel() {
      for (const entry of panels.values()) render(entry);
    },
  };
}
