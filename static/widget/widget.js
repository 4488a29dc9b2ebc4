// @ts-check
/*
 * The customer chat widget: the browser side of the /customer protocol (docs/protocol.md).
 *
 * No build step. The vendored Socket.IO client (static/vendor) defines the global `io`.
 *
 * - Message text is only ever set with textContent: it is plain text, never HTML. What people
 *   wrote (messages, the agent's name) goes through displayText (static/shared/common.js)
 *   and sits in an element of its own that isolates its direction (dir="auto", or a <bdi>
 *   inside a sentence of ours): it cannot reorder itself or the text around it.
 * - Every user-facing string is a gettext msgid written as _("...") so that `make catalogs`
 *   extracts it; the translations come from /api/v1/widget/strings.
 * - Sending: each message gets a client_id and goes into an outbox (kept in sessionStorage,
 *   so a reload keeps it) until the server acknowledges it. The outbox is sent in order,
 *   one message at a time, and resent after every reconnect; the server stores a client_id
 *   once, so a resend never doubles a message.
 * - Receiving: messages are placed by seq and kept once per seq. After a reconnect the
 *   widget resumes with its token (localStorage, shared by the customer's tabs) and the
 *   highest seq it holds; after a reload it holds none, so the whole history comes back.
 * - Answers: the topics under an answer are buttons like suggestions (`choose_suggestion`);
 *   "Did that help? Yes / No / Talk to a person" sends `faq_feedback` (the server keeps the
 *   first word; "No" is answered by the bot with the alternatives) or `request_agent`. Which
 *   answers had a word is remembered per conversation (localStorage), so a reload keeps
 *   their buttons done (static/widget/feedback.js).
 * - Handoff: "Talk to a person" sends `request_agent`; the server answers with `queued`
 *   (the queue strip), `assigned` (the agent's name in the header), `offline` (the form to
 *   leave an email address or a phone number) and `closed` pushes. What a reload cannot ask
 *   the server again (the agent's name, a message left) is remembered per conversation.
 */

import { displayText, newClientId, translate } from "/static/shared/common.js";
import { element, withUserText } from "/static/shared/dom.js";
import { RETRY_BASE_MS, createOutbox, restoreItems, storedItems } from "/static/shared/outbox.js";
import { advanceContiguous, hasGap, insertBySeq, skipsAhead } from "/static/shared/ordering.js";
import { CustomerRequest } from "/static/shared/protocol.js";
import { ackCall, openSocket } from "/static/shared/socket.js";
import { setTime, timeFormat } from "/static/shared/time.js";
import { mountAnnouncements } from "/static/widget/announcement.js";
import {
  asksFeedback,
  feedbackOutcome,
  offeredTopics,
  rememberFeedback,
  rememberedFeedback,
} from "/static/widget/feedback.js";
import { mountLive } from "/static/widget/live.js";
import { installTranscript } from "/static/widget/transcript.js";
import { mountSurvey } from "/static/widget/survey.js";
import { MAX_PREFERRED_TIME, asksPreferredTime, leavePayload } from "/static/widget/callback_time.js";
import { installEmbed } from "/static/widget/embed.js";

const TOKEN_KEY = "chatserver.widget.token";
const CHOICE_KEY = "chatserver.widget.language";
const OUTBOX_KEY = "chatserver.widget.outbox";
const HANDOFF_KEY = "chatserver.widget.handoff";
const FEEDBACK_KEY = "chatserver.widget.feedback";

// What the outbox keeps of a message in sessionStorage.
const OUTBOX_FIELDS = ["client_id", "text"];
// The bot's reply is pushed just before the acknowledgement of the message it answers, so
// a missing seq is normal for a moment; only a gap that outlives this is fetched.
const GAP_GRACE_MS = 1500;
// The server returns at most this many messages on resume (docs/protocol.md).
const RESUME_LIMIT = 500;
const FETCH_TIMEOUT_MS = 5000;
// Codes for which sending the same message again cannot succeed.
const PERMANENT_ERRORS = new Set(["invalid_payload", "text_too_long", "conversation_closed"]);
const AUTHORS = new Set(["customer", "bot", "agent", "system"]);
// Conversation statuses (start's reply) and what the widget shows for each.
const HANDOFF_OF_STATUS = {
  bot: "bot",
  queued: "queued",
  assigned: "assigned",
  active: "assigned",
  offline: "offline",
  closed: "closed",
  rated: "closed",
  abandoned: "closed",
};
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/u;
const PHONE = /^\+?[\p{Nd}\s()./-]+$/u;
const COPIED_MS = 2000;

/* ---------- strings ---------- */

let strings = {};

/** The translation of `msgid`, with {name} placeholders filled from `values`. */
function _(msgid, values) {
  return translate(strings, msgid, values);
}

function errorText(code) {
  switch (code) {
    case "text_too_long":
      return _("This message is too long. Please shorten it and send it again.");
    case "conversation_closed":
      return _("This conversation has ended.");
    case "invalid_payload":
      return _("This message could not be sent.");
    default:
      return _("Something went wrong. Please try again.");
  }
}

function authorName(author, agentName) {
  switch (author) {
    case "customer":
      return _("You");
    case "bot":
      return _("Virtual assistant");
    case "agent":
      return agentName ? displayText(agentName) : _("Support agent");
    default:
      return "";
  }
}

/* ---------- storage (may be blocked, e.g. third-party frames: then nothing persists) ---------- */

function loadItem(area, key) {
  try {
    return globalThis[area].getItem(key);
  } catch {
    return null;
  }
}

function saveItem(area, key, value) {
  try {
    if (value === null || value === undefined) {
      globalThis[area].removeItem(key);
    } else {
      globalThis[area].setItem(key, value);
    }
  } catch {
    // Storage is unavailable: the conversation still works, it just cannot be resumed.
  }
}

function loadOutbox() {
  try {
    return restoreItems(JSON.parse(loadItem("sessionStorage", OUTBOX_KEY) || "[]"), OUTBOX_FIELDS);
  } catch {
    return [];
  }
}

/* ---------- state ---------- */

const state = {
  token: loadItem("localStorage", TOKEN_KEY),
  choice: loadItem("localStorage", CHOICE_KEY), // the customer's explicit language choice
  languages: [], // [{tag, name, direction}] from the server
  uiLanguage: "en",
  loadingLanguage: null, // strings being fetched for this language
  conversationId: null,
  language: null, // the conversation's language
  languageSeq: -1, // seq at which `language` was learnt (a newer message wins)
  started: false, // `start` acknowledged on the current connection
  closed: false,
  connection: "connecting", // connecting | online | reconnecting | offline
  bySeq: new Map(), // seq -> element
  replaced: new Set(), // seqs of greetings a later one stands for (a language was picked)
  pending: new Map(), // client_id -> element (optimistic, no seq yet)
  contiguousSeq: 0, // every seq up to this one is known (shown, or never meant for us)
  maxSeq: 0,
  customerMessages: 0,
  inFlight: null, // client_id of the message whose acknowledgement is awaited
  held: [], // pushed while that acknowledgement is on its way (see onPushed)
  handoff: newHandoff(),
};

/**
 * Where the conversation stands with the team: `status` is bot (the bot answers), queued,
 * assigned (a person has it), offline (nobody can chat: leave a message), left (a message
 * was left) or closed.
 */
function newHandoff() {
  return {
    status: "bot",
    position: null, // place in the queue, once the server said
    wait: null, // the estimated wait, worded by the server in the customer's language
    fallback: false, // widened to colleagues who speak another language
    agentName: null,
    trackingNumber: null,
    requesting: false, // request_agent on its way
    away: false, // ended because the customer was away too long: offer to queue again
  };
}

let socket = null;
let gapTimer = null;
let heldTimer = null;
let stringsRequest = 0;
let transcriptMenu = null; // "Download transcript" in the menu (static/widget/transcript.js)

/* ---------- DOM ---------- */

const byId = (id) => document.getElementById(id);
const els = {
  root: byId("chat"),
  title: byId("title"),
  status: byId("status"),
  statusText: byId("status-text"),
  language: /** @type {HTMLSelectElement} */ (byId("language")),
  languageLabel: byId("language-label"),
  banner: byId("banner"),
  messages: byId("messages"),
  notice: byId("notice"),
  noticeText: byId("notice-text"),
  noticeAction: byId("notice-action"),
  composer: /** @type {HTMLFormElement} */ (byId("composer")),
  input: /** @type {HTMLTextAreaElement} */ (byId("input")),
  inputLabel: byId("input-label"),
  sendLabel: byId("send-label"),
  hint: byId("hint"),
  send: /** @type {HTMLButtonElement} */ (byId("send")),
  avatarInitial: byId("avatar-initial"),
  avatarIcon: byId("avatar-icon"),
  menuButton: byId("menu-button"),
  menuLabel: byId("menu-label"),
  menu: byId("menu"),
  endChat: /** @type {HTMLButtonElement} */ (byId("end-chat")),
  noticeTracking: byId("notice-tracking"),
  actions: byId("actions"),
  talk: /** @type {HTMLButtonElement} */ (byId("talk")),
  talkLabel: byId("talk-label"),
  queue: byId("queue"),
  queuePosition: byId("queue-position"),
  queueWait: byId("queue-wait"),
  queueNote: byId("queue-note"),
  confirmEnd: byId("confirm-end"),
  confirmEndText: byId("confirm-end-text"),
  confirmEndYes: /** @type {HTMLButtonElement} */ (byId("confirm-end-yes")),
  confirmEndNo: byId("confirm-end-no"),
  leave: byId("leave"),
  leaveForm: /** @type {HTMLFormElement} */ (byId("leave-form")),
  leaveTitle: byId("leave-title"),
  leaveKindLabel: byId("leave-kind-label"),
  leaveKindEmail: byId("leave-kind-email"),
  leaveKindCallback: byId("leave-kind-callback"),
  leaveContact: /** @type {HTMLInputElement} */ (byId("leave-contact")),
  leaveContactLabel: byId("leave-contact-label"),
  leaveContactError: byId("leave-contact-error"),
  leaveText: /** @type {HTMLTextAreaElement} */ (byId("leave-text")),
  leaveWhenField: byId("leave-when-field"),
  leaveWhen: /** @type {HTMLInputElement} */ (byId("leave-when")),
  leaveWhenLabel: byId("leave-when-label"),
  leaveTextLabel: byId("leave-text-label"),
  leaveTextError: byId("leave-text-error"),
  leaveError: byId("leave-error"),
  leaveSubmit: /** @type {HTMLButtonElement} */ (byId("leave-submit")),
  leaveDone: byId("leave-done"),
  leaveDoneTitle: byId("leave-done-title"),
  leaveTracking: byId("leave-tracking"),
  leaveNew: byId("leave-new"),
};
// The satisfaction survey after a closed chat (static/widget/survey.js).
const survey = mountSurvey(els.notice, { _, rate: (payload) => call(CustomerRequest.RATE, payload) });
// Typing notices, seen receipts, people available (static/widget/live.js).
const live = mountLive(els.messages, {
  _,
  withUserText,
  emit: call,
  ready: () => state.started,
  held: () => state.handoff.status === "assigned",
});

function directionOf(language) {
  const known = state.languages.find((entry) => entry.tag === language);
  if (known) return known.direction;
  return ["ar", "fa", "he", "ur"].includes(String(language).split("-")[0]) ? "rtl" : "ltr";
}

// Incident notices at the top (static/widget/announcement.js).
const announcements = mountAnnouncements(document.getElementById("announcements"), _);
// Framed by the one-tag loader (static/widget/embed.js): the host page's orders and events.
const embed = installEmbed({
  _,
  setLocale: (language) => chooseLanguage(language),
  reset: () => resetConversation(),
  // Opened: ready to type (not on a touch screen, where focus pops the keyboard up).
  visible: (open) => open && !matchMedia("(pointer: coarse)").matches && els.input.focus(),
});

/** Every static string of the page, and the localised parts of the messages shown. */
function applyStrings() {
  announcements.redraw();
  document.title = _("Support chat");
  els.title.textContent = _("Customer support");
  els.languageLabel.textContent = _("Language");
  els.language.title = _("Language");
  els.messages.setAttribute("aria-label", _("Conversation"));
  els.inputLabel.textContent = _("Message");
  els.input.placeholder = _("Type your message…");
  els.sendLabel.textContent = _("Send");
  els.hint.textContent = _("Press Enter to send, Shift+Enter for a new line.");
  els.menuLabel.textContent = _("More options");
  els.endChat.textContent = _("End chat");
  transcriptMenu?.relabel();
  els.talkLabel.textContent = _("Talk to a person");
  els.confirmEndText.textContent = _("Do you want to end this chat?");
  els.confirmEndYes.textContent = _("End chat");
  els.confirmEndNo.textContent = _("Keep chatting");
  els.leaveTitle.textContent = _("Leave us a message");
  els.leaveKindLabel.textContent = _("How should we contact you?");
  els.leaveKindEmail.textContent = _("Email");
  els.leaveKindCallback.textContent = _("Call me back");
  els.leaveTextLabel.textContent = _("Your message");
  els.leaveWhenLabel.textContent = _("When suits you? (optional)");
  els.leaveSubmit.textContent = _("Send message");
  els.leaveDoneTitle.textContent = _("Thank you. We will contact you soon.");
  els.leaveNew.textContent = _("Start a new conversation");
  embed.strings();
  renderConnection();
  renderHandoff();
  renderLeaveKind();
  const format = timeFormat(state.uiLanguage);
  for (const button of els.messages.querySelectorAll(".msg-choices[data-kind=agent] .choice")) {
    button.textContent = _("Talk to a person");
  }
  for (const group of els.messages.querySelectorAll(".msg-feedback")) labelFeedback(group);
  survey.relabel();
  live.relabel();
  for (const item of /** @type {NodeListOf<HTMLElement>} */ (els.messages.querySelectorAll(".msg"))) {
    const label = item.querySelector(".msg-author");
    if (label) label.textContent = authorName(item.dataset.author, item.dataset.agentName);
    const time = item.querySelector("time");
    if (time?.dateTime) time.textContent = format.format(new Date(time.dateTime));
    renderDelivery(item);
    for (const group of /** @type {NodeListOf<HTMLElement>} */ (item.querySelectorAll(".msg-choices"))) {
      group.setAttribute("aria-label", choicesLabel(group.dataset.kind));
    }
  }
}

/* ---------- HTTP ---------- */

async function fetchJson(url) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const response = await fetch(url, { signal: controller.signal, credentials: "same-origin" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return await response.json();
  } finally {
    clearTimeout(timer);
  }
}

/** Load the widget's strings for the first of `tags` the server supports. */
async function loadStrings(tags) {
  const request = ++stringsRequest;
  state.loadingLanguage = tags[0];
  try {
    const answer = await fetchJson(
      "/api/v1/widget/strings?lang=" + encodeURIComponent(tags.join(",")),
    );
    if (request !== stringsRequest) return; // a newer choice won
    strings = answer.strings || {};
    state.uiLanguage = answer.language;
    if (state.language === null) setDocumentLanguage(answer.language, answer.direction);
  } catch {
    // The source strings (English) stand in; the chat itself still works.
    if (request !== stringsRequest) return;
  }
  state.loadingLanguage = null;
  applyStrings();
}

async function loadLanguages() {
  try {
    const list = await fetchJson("/api/v1/languages");
    state.languages = Array.isArray(list) ? list : [];
  } catch {
    state.languages = [];
  }
  els.language.replaceChildren(
    ...state.languages.map((entry) => {
      const option = element("option", "", entry.name);
      option.value = entry.tag;
      option.lang = entry.tag;
      option.dir = entry.direction;
      return option;
    }),
  );
  els.language.disabled = state.languages.length === 0;
  els.language.value = state.language || state.uiLanguage;
}

function browserLanguages() {
  const tags = navigator.languages?.length ? navigator.languages : [navigator.language || "en"];
  return tags.filter((tag) => typeof tag === "string" && tag).slice(0, 10);
}

/* ---------- language and direction ---------- */

function setDocumentLanguage(language, direction) {
  document.documentElement.lang = language;
  document.documentElement.dir = direction === "rtl" ? "rtl" : "ltr";
}

/** The conversation speaks `language` as of message `seq`: follow it, strings included. */
function followLanguage(language, direction, seq) {
  if (!language || seq < state.languageSeq) return;
  state.languageSeq = seq;
  state.language = language;
  setDocumentLanguage(language, direction || directionOf(language));
  if (state.languages.some((entry) => entry.tag === language)) els.language.value = language;
  if (language === state.uiLanguage) {
    // Back to the strings shown (an earlier message spoke another language): a load of
    // that other language still on its way must not win.
    if (state.loadingLanguage !== null) {
      stringsRequest += 1;
      state.loadingLanguage = null;
    }
  } else if (language !== state.loadingLanguage) {
    loadStrings([language]);
  }
}

/** The customer chose: that wins over whatever the conversation said before. */
function useChosenLanguage(language) {
  followLanguage(language, directionOf(language), Math.max(state.languageSeq, state.maxSeq));
}

async function chooseLanguage(language) {
  state.choice = language;
  saveItem("localStorage", CHOICE_KEY, language);
  if (!state.started || state.closed) {
    // No conversation to switch yet: the next `start` carries the choice.
    useChosenLanguage(language);
    return;
  }
  const answer = await call(CustomerRequest.CHOOSE_LANGUAGE, { language });
  if (answer?.ok) {
    acceptReply(answer);
    if (!answer.conversation) useChosenLanguage(language);
    return;
  }
  if (answer && answer.error?.code !== "unknown_event") {
    showTransientError(errorText(answer.error?.code));
    els.language.value = state.language || state.uiLanguage;
    return;
  }
  if (answer && state.customerMessages === 0 && outbox.items.length === 0) {
    // The server cannot switch a conversation, and nothing has been said in this one yet:
    // a new conversation greets the customer in the chosen language.
    await startConversation({ fresh: true, language });
    return;
  }
  // Otherwise the widget speaks the chosen language, and the conversation stays as it is.
  useChosenLanguage(language);
}

/* ---------- connection ---------- */

function renderConnection() {
  const labels = {
    connecting: _("Connecting…"),
    online: _("Online"),
    agents: _("Agents available"),
    bot: _("Our assistant will help you; agents are away"),
    reconnecting: _("Reconnecting…"),
    offline: _("Offline"),
  };
  const banners = {
    connecting: _("Connecting to support…"),
    reconnecting: _("Connection lost. Reconnecting…"),
    offline: _("You are offline. Your messages will be sent when you are back online."),
  };
  els.status.dataset.state = state.connection;
  // Connected: say whether people can chat now (the server's word), not just "Online".
  // A person holding this chat is there, whatever their load says about newcomers.
  let label = state.connection;
  if (label === "online" && state.handoff.status === "assigned") label = "agents";
  else if (label === "online" && live.available !== null) label = live.available ? "agents" : "bot";
  els.status.dataset.agents = label === "bot" ? "away" : "";
  els.statusText.textContent = labels[label];
  const banner = banners[state.connection];
  els.banner.hidden = !banner;
  els.banner.dataset.state = state.connection;
  els.banner.textContent = banner || "";
}

function setConnection(connection) {
  if (connection !== "online" && navigator.onLine === false) connection = "offline";
  if (state.connection === connection) return;
  state.connection = connection;
  renderConnection();
}

function connect() {
  // The outbox is sent after `start` on each connection (static/shared/socket.js).
  ({ socket } = openSocket("/customer", {
    connected: () => {
      state.started = false;
      startConversation({});
    },
    disconnected: () => {
      state.started = false;
      setConnection("reconnecting");
    },
    refused: () => setConnection(state.connection === "connecting" ? "connecting" : "reconnecting"),
    reconnecting: () => setConnection("reconnecting"),
  }));
  socket.on("message", onPushed);
  socket.on("queued", onQueued);
  socket.on("assigned", onAssigned);
  socket.on("offline", onOffline);
  socket.on("closed", onClosed);
  socket.on("announcement", announcements.show);
  socket.on("typing", live.typing);
  socket.on("availability", (payload) => {
    live.availability(payload);
    renderConnection();
  });
  addEventListener("offline", () => setConnection("offline"));
  addEventListener("online", () => {
    if (socket.connected) {
      setConnection("online");
      return;
    }
    setConnection("reconnecting");
    // The network is back: try now rather than when the reconnection backoff says (which
    // may be seconds away); disconnect() cancels that pending attempt.
    socket.disconnect();
    socket.connect();
  });
}

/**
 * Emit `event` with an acknowledgement; resolves to the acknowledgement, or null when it
 * did not come (timeout, or the connection dropped: then it resolves at once).
 * @param {string} event
 * @param {unknown} payload
 */
function call(event, payload) {
  return ackCall(socket, event, payload);
}

/**
 * `start`: resume the stored conversation, or begin a new one (`fresh`), in `language`
 * (an explicit choice) or preferably in `hint`.
 */
async function startConversation({ fresh = false, language = null, hint = null }) {
  const languages = browserLanguages();
  const payload = { languages: hint ? [hint, ...languages].slice(0, 10) : languages };
  if (state.token && !fresh) {
    payload.token = state.token;
    payload.last_seq = state.contiguousSeq;
  } else if (language || state.choice) {
    payload.language = language || state.choice;
  }
  if (!payload.token && embed.identity()) payload.identity = embed.identity();
  announcements.expectAgain();
  const answer = await call(CustomerRequest.START, payload);
  if (answer === null) {
    if (socket.connected) {
      setTimeout(() => startConversation({ fresh, language, hint }), RETRY_BASE_MS);
    }
    return;
  }
  if (!answer.ok) {
    const code = answer.error?.code;
    if (payload.token && (code === "unknown_conversation" || code === "invalid_payload")) {
      forgetConversation(); // the stored token is no good any more: begin again
      await startConversation({ fresh: true });
    } else if (socket.connected) {
      setTimeout(() => startConversation({ fresh, language, hint }), RETRY_BASE_MS * 3);
    }
    return;
  }
  const conversation = answer.conversation;
  announcements.settle(); // every active announcement came before this acknowledgement
  if (state.conversationId && conversation.id !== state.conversationId) clearConversation();
  state.conversationId = conversation.id;
  state.token = answer.token;
  state.closed = false;
  saveItem("localStorage", TOKEN_KEY, answer.token);
  const messages = (answer.messages || []).filter(isMessage);
  renderMessages(messages);
  resumeHandoff(conversation.status);
  survey.start(conversation.id, conversation.status);
  // Everything up to the conversation's last seq has now been given to us, except what
  // is not meant for customers; a full page means there may be more to fetch.
  const complete = messages.length < RESUME_LIMIT;
  markKnown(complete ? conversation.last_seq : state.maxSeq);
  followLanguage(conversation.language, conversation.direction, conversation.last_seq);
  state.started = true;
  live.availability(answer.availability);
  setConnection("online");
  renderConnection(); // the availability may have changed while the connection did not
  live.started();
  outbox.pump();
}

/** The host page's reset() or another user: forget this conversation, begin a new one. */
function resetConversation() {
  forgetConversation();
  clearConversation();
  state.conversationId = null;
  els.notice.hidden = true;
  els.leave.hidden = true;
  if (state.started) {
    state.started = false;
    startConversation({ fresh: true });
  }
}

function forgetConversation() {
  state.token = null;
  saveItem("localStorage", TOKEN_KEY, null);
}

function clearConversation() {
  state.bySeq.clear();
  state.replaced.clear();
  for (const item of els.messages.querySelectorAll(".msg:not(.is-pending)")) item.remove();
  state.contiguousSeq = 0;
  state.maxSeq = 0;
  state.languageSeq = -1;
  state.customerMessages = 0;
  state.handoff = newHandoff();
  live.reset();
  renderHandoff();
}

/* ---------- receiving ---------- */

/**
 * A message pushed by the server. The bot's answer to the customer's message is pushed just
 * before that message's acknowledgement arrives; it waits for it a moment, so the question
 * never shows up below its answer.
 * @param {import("../shared/protocol.js").MessagePayload} message
 */
function onPushed(message) {
  if (!isMessage(message)) return;
  if (state.conversationId && message.conversation_id !== state.conversationId) return;
  embed.message(message);
  if (state.inFlight && skipsAhead(message.seq, state.contiguousSeq)) {
    state.held.push(message);
    heldTimer ??= setTimeout(flushHeld, GAP_GRACE_MS);
    return;
  }
  renderMessages([message]);
}

function flushHeld() {
  clearTimeout(heldTimer);
  heldTimer = null;
  const held = state.held;
  state.held = [];
  renderMessages(held);
}

function isMessage(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    Number.isInteger(value.seq) &&
    typeof value.text === "string" &&
    typeof value.author === "string"
  );
}

function nearBottom() {
  const list = els.messages;
  return list.scrollHeight - list.scrollTop - list.clientHeight < 96;
}

function scrollToBottom() {
  els.messages.scrollTop = els.messages.scrollHeight;
}

function renderMessages(messages) {
  if (messages.length === 0) return;
  const follow = nearBottom() || messages.length > 1;
  if (messages.length > 1) els.messages.setAttribute("aria-busy", "true");
  for (const message of [...messages].sort((a, b) => a.seq - b.seq)) renderMessage(message);
  els.messages.setAttribute("aria-busy", "false");
  if (follow) scrollToBottom();
  checkGaps();
}

function renderMessage(message) {
  const pending = message.client_id ? state.pending.get(message.client_id) : undefined;
  if (message.client_id) outbox.drop(message.client_id);
  if (state.bySeq.has(message.seq)) {
    // Seen already; an optimistic copy of it is no longer needed.
    if (pending) {
      pending.remove();
      state.pending.delete(message.client_id);
    }
    return;
  }
  let item;
  if (pending) {
    item = pending;
    state.pending.delete(message.client_id);
    item.classList.remove("is-pending");
    delete item.dataset.delivery;
  } else {
    item = buildMessage(message.author, message.text, agentNameOf(message));
  }
  item.dataset.seq = String(message.seq);
  if (message.language) item.lang = message.language;
  setTime(item, message.created_at, timeFormat(state.uiLanguage));
  renderDelivery(item);
  if (message.author === "bot") addChoices(item, message.meta, message.seq);
  if (message.author === "agent") {
    noteAgent(agentNameOf(message));
    live.agentMessage(message.seq, agentNameOf(message));
  }
  if (message.author === "system" && message.meta?.kind === "customer_left") {
    state.handoff.away = true;
    if (state.handoff.status === "closed") renderHandoff();
  }
  const replaces = message.author === "bot" ? message.meta?.replaces : undefined;
  if (Number.isInteger(replaces)) {
    // The greeting again, in the language the customer picked: it stands for the earlier one.
    state.replaced.add(replaces);
    state.bySeq.get(replaces)?.remove();
  }
  if (!state.replaced.has(message.seq)) insertBySeq(els.messages, item, message.seq);
  state.bySeq.set(message.seq, item);
  state.maxSeq = Math.max(state.maxSeq, message.seq);
  if (message.author === "customer") state.customerMessages += 1;
  if (message.author === "bot" && message.language) {
    followLanguage(message.language, directionOf(message.language), message.seq);
  }
}

function agentNameOf(message) {
  const name = message.meta?.agent_name;
  return typeof name === "string" && name.trim() ? name.trim() : null;
}

function buildMessage(author, text, agentName = null) {
  const kind = AUTHORS.has(author) ? author : "system";
  const item = element("div", "msg msg--" + kind);
  item.dataset.author = kind;
  if (kind === "agent" && agentName) item.dataset.agentName = agentName;
  if (kind !== "system") {
    // An agent's name, or our word: either way its own direction (the page may be
    // right-to-left while its strings are still English).
    const label = element("span", "msg-author user-text", authorName(kind, agentName));
    label.dir = "auto";
    item.append(label);
  }
  const bubble = element("div", "msg-bubble user-text", displayText(text)); // text, never HTML
  bubble.dir = "auto";
  item.append(bubble);
  if (kind !== "system") {
    const meta = element("div", "msg-meta");
    const delivery = element("span", "msg-delivery");
    delivery.dir = "auto";
    meta.append(element("time", "msg-time"), delivery);
    item.append(meta);
  }
  return item;
}

function markKnown(seq) {
  state.contiguousSeq = Math.max(state.contiguousSeq, seq || 0);
  checkGaps();
}

/** Advance the contiguous seq; fetch what is missing if a gap lasts. */
function checkGaps() {
  state.contiguousSeq = advanceContiguous(state.contiguousSeq, state.bySeq);
  if (!hasGap(state.contiguousSeq, state.maxSeq) || gapTimer !== null) return;
  gapTimer = setTimeout(() => {
    gapTimer = null;
    state.contiguousSeq = advanceContiguous(state.contiguousSeq, state.bySeq);
    if (hasGap(state.contiguousSeq, state.maxSeq) && state.started && state.token) {
      startConversation({}); // resumes from the contiguous seq: returns what is missing
    }
  }, GAP_GRACE_MS);
}

/* ---------- quick choices ---------- */

function choicesLabel(kind) {
  if (kind === "agent") return _("Talk to a person");
  if (kind === "related") return _("Related topics");
  return kind === "language_confirm" ? _("Choose a language") : _("Suggested questions");
}

function addChoices(item, meta, seq) {
  if (!meta || typeof meta !== "object") return;
  addChoiceGroup(item, meta.kind === "answer" ? "related" : meta.kind, choicesOf(meta));
  if (asksFeedback(meta, seq)) addFeedback(item, seq);
  if (meta.offer_agent === true || meta.kind === "decline") {
    // The bot could not help: offer the way to a person right under its message.
    addChoiceGroup(item, "agent", [
      { label: _("Talk to a person"), event: CustomerRequest.REQUEST_AGENT, payload: {} },
    ]);
  }
}

function choicesOf(meta) {
  // Suggestions, the topics under an answer, the alternatives to one that did not help.
  let choices = offeredTopics(meta).map((s) => ({
    label: s.question,
    event: CustomerRequest.CHOOSE_SUGGESTION,
    payload: { faq_id: s.faq_id },
  }));
  if (meta.kind === "language_confirm" && Array.isArray(meta.choices)) {
    choices = meta.choices
      .filter((c) => c && typeof c.language === "string" && typeof c.name === "string")
      .map((c) => ({
        label: c.name,
        lang: c.language,
        event: CustomerRequest.CHOOSE_LANGUAGE,
        payload: { language: c.language },
      }));
  }
  return choices;
}

function addChoiceGroup(item, kind, choices) {
  if (choices.length === 0) return;
  const group = element("div", "msg-choices");
  group.setAttribute("role", "group");
  group.dataset.kind = kind;
  group.setAttribute("aria-label", choicesLabel(kind));
  for (const choice of choices) {
    const button = element("button", "choice user-text", displayText(choice.label));
    button.type = "button";
    button.dir = "auto";
    if (choice.lang) button.lang = choice.lang;
    button.addEventListener("click", () => pickChoice(group, button, choice));
    group.append(button);
  }
  item.querySelector(".msg-meta")?.before(group);
}

async function pickChoice(group, button, choice) {
  if (group.dataset.busy) return;
  if (!state.started) {
    showTransientError(_("You are offline. Your messages will be sent when you are back online."));
    return;
  }
  group.dataset.busy = "1";
  const buttons = group.querySelectorAll("button");
  for (const other of buttons) other.disabled = true;
  button.setAttribute("aria-pressed", "true");
  const answer =
    choice.event === CustomerRequest.REQUEST_AGENT
      ? await requestAgent()
      : await call(choice.event, choice.payload);
  delete group.dataset.busy;
  if (answer?.ok) {
    group.classList.add("is-done");
    if (choice.event === CustomerRequest.REQUEST_AGENT) return;
    acceptReply(answer);
    if (choice.event === CustomerRequest.CHOOSE_LANGUAGE && !answer.conversation) {
      useChosenLanguage(choice.payload.language);
    }
    return;
  }
  if (answer?.error?.code === "unknown_event") {
    // This server does not know the quick choice: say it in words instead.
    group.classList.add("is-done");
    send(choice.label);
    return;
  }
  for (const other of buttons) other.disabled = false;
  button.removeAttribute("aria-pressed");
  showTransientError(errorText(answer?.error?.code));
}

/** The acknowledgement of a quick choice may carry messages and the conversation. */
function acceptReply(answer) {
  const messages = [answer.message, ...(Array.isArray(answer.messages) ? answer.messages : [])];
  renderMessages(messages.filter(isMessage));
  const conversation = answer.conversation;
  if (conversation && typeof conversation.language === "string") {
    const seq = Number.isInteger(conversation.last_seq) ? conversation.last_seq : state.maxSeq;
    followLanguage(conversation.language, conversation.direction, seq);
  }
}

/* ---------- did that help? ---------- */

function loadFeedbackMemo() {
  try {
    return JSON.parse(loadItem("localStorage", FEEDBACK_KEY) || "null");
  } catch {
    return null;
  }
}

/** "Did that help? [Yes] [No] [Talk to a person]" under the answer at `seq`. */
function addFeedback(item, seq) {
  const group = element("div", "msg-feedback");
  group.setAttribute("role", "group");
  group.dataset.seq = String(seq);
  const question = element("span", "msg-feedback-question");
  question.dir = "auto";
  question.id = "feedback-question-" + seq;
  group.setAttribute("aria-labelledby", question.id);
  const buttons = element("div", "msg-feedback-buttons");
  /** @type {Array<[string, boolean | null]>} */
  const actions = [["yes", true], ["no", false], ["agent", null]];
  for (const [action, helpful] of actions) {
    const button = element("button", "choice choice--small");
    button.type = "button";
    button.dir = "auto";
    button.dataset.action = action;
    button.addEventListener("click", () =>
      helpful === null ? feedbackAgent(group, button) : giveFeedback(group, button, helpful),
    );
    buttons.append(button);
  }
  const thanks = element("p", "msg-feedback-thanks");
  thanks.dir = "auto";
  thanks.setAttribute("role", "status");
  thanks.tabIndex = -1;
  thanks.hidden = true;
  group.append(question, buttons, thanks);
  labelFeedback(group);
  const given = rememberedFeedback(loadFeedbackMemo(), state.conversationId, seq);
  if (given !== undefined) feedbackDone(group, given);
  item.querySelector(".msg-meta")?.before(group);
}

function labelFeedback(group) {
  group.querySelector(".msg-feedback-question").textContent = _("Did that help?");
  const labels = { yes: _("Yes"), no: _("No"), agent: _("Talk to a person") };
  for (const button of group.querySelectorAll("button")) {
    button.textContent = labels[button.dataset.action];
  }
  group.querySelector(".msg-feedback-thanks").textContent = _("Thanks for your feedback!");
}

function setFeedbackBusy(group, busy) {
  for (const button of group.querySelectorAll("button")) button.disabled = busy;
  if (busy) group.dataset.busy = "1";
  else delete group.dataset.busy;
}

/** The word on this answer is stored (`helpful`): buttons done, the kept word pressed. */
function feedbackDone(group, helpful) {
  setFeedbackBusy(group, true);
  delete group.dataset.busy;
  group.classList.add("is-done");
  group.dataset.helpful = String(helpful);
  for (const button of group.querySelectorAll("button")) {
    const pressed = button.dataset.action === (helpful ? "yes" : "no");
    if (pressed) button.setAttribute("aria-pressed", "true");
    else button.removeAttribute("aria-pressed");
  }
  group.querySelector(".msg-feedback-thanks").hidden = false;
}

async function giveFeedback(group, button, helpful) {
  if (group.dataset.busy || group.classList.contains("is-done")) return;
  if (!state.started) {
    showTransientError(_("You are offline. Your messages will be sent when you are back online."));
    return;
  }
  const hadFocus = group.contains(document.activeElement);
  setFeedbackBusy(group, true);
  button.setAttribute("aria-pressed", "true");
  const seq = Number(group.dataset.seq);
  const answer = await call(CustomerRequest.FAQ_FEEDBACK, { seq, helpful });
  const outcome = feedbackOutcome(answer, helpful);
  if (outcome.state === "done") {
    saveItem(
      "localStorage",
      FEEDBACK_KEY,
      JSON.stringify(rememberFeedback(loadFeedbackMemo(), state.conversationId, seq, outcome.helpful)),
    );
  }
  if (outcome.state === "done" || outcome.state === "unsupported") {
    feedbackDone(group, outcome.state === "done" ? outcome.helpful : helpful);
    // Focus was on a button that is now disabled: the thanks (a status) takes it.
    if (hadFocus) group.querySelector(".msg-feedback-thanks").focus();
    return;
  }
  button.removeAttribute("aria-pressed");
  if (outcome.state === "closed") {
    setClosed(state.handoff.trackingNumber);
    return;
  }
  if (outcome.state === "refused") {
    group.classList.add("is-done");
    delete group.dataset.busy;
    showTransientError(errorText(outcome.code));
    return;
  }
  setFeedbackBusy(group, false);
  if (hadFocus) button.focus();
  showTransientError(errorText("internal_error"));
}

/** "Talk to a person" under an answer: the same request as every other such button. */
async function feedbackAgent(group, button) {
  if (group.dataset.busy || group.classList.contains("is-done")) return;
  setFeedbackBusy(group, true);
  const answer = await requestAgent();
  const unknown = answer?.error?.code === "unknown_event";
  if (answer?.ok || unknown) {
    button.setAttribute("aria-pressed", "true");
    group.classList.add("is-done");
    delete group.dataset.busy;
    // A server without handoff events: ask in words, its phrase matching may hand off.
    if (unknown) send(_("Talk to a person"));
    return;
  }
  setFeedbackBusy(group, false);
}

/* ---------- sending ---------- */

/** @typedef {{client_id: string, text: string, attempts?: number}} WidgetItem */

/** The customer's messages not yet acknowledged, in order (static/shared/outbox.js). */
const outbox = createOutbox(/** @type {WidgetItem[]} */ (loadOutbox()), {
  ready: () => state.started && Boolean(socket?.connected),
  connected: () => Boolean(socket?.connected),
  save: (items) => {
    const stored = storedItems(items, OUTBOX_FIELDS);
    saveItem("sessionStorage", OUTBOX_KEY, stored ? JSON.stringify(stored) : null);
  },
  send: async (item) => {
    /** @type {{text: string, client_id: string, conversation_id?: string}} */
    const payload = { text: item.text, client_id: item.client_id };
    if (state.conversationId) payload.conversation_id = state.conversationId;
    state.inFlight = item.client_id;
    const answer = await call(CustomerRequest.MESSAGE, payload);
    state.inFlight = null;
    if (!answer?.ok) flushHeld();
    return answer;
  },
  /** @param {import("../shared/protocol.js").MessageAck} answer */
  sent: (_item, answer) => {
    if (isMessage(answer.message)) {
      renderMessages([answer.message]);
      // The message may have settled the conversation's language (and no bot reply may
      // follow to say so, e.g. it asked for a person): the widget's strings follow it.
      const conversation = answer.conversation;
      if (typeof conversation?.language === "string") {
        followLanguage(conversation.language, conversation.direction, answer.message.seq);
      }
    }
    flushHeld();
  },
  retrying: (item) => setDelivery(item.client_id, "retrying"),
  restartOn: ["not_started", "unknown_conversation"],
  restart: () => {
    state.started = false;
    queueMicrotask(() => startConversation({}));
  },
  refused: (item, code) => {
    // Refused for good (too long, malformed, conversation closed): keep it visible.
    if (!PERMANENT_ERRORS.has(code)) console.warn("message refused:", code);
    setDelivery(item.client_id, "failed", code);
    if (code === "conversation_closed") setClosed(state.handoff.trackingNumber);
  },
});

/** @param {string} text */
function send(text) {
  const item = { client_id: newClientId(), text };
  outbox.add(item);
  showPending(item);
  scrollToBottom();
  outbox.pump();
}

/** @param {WidgetItem} item */
function showPending(item) {
  const node = buildMessage("customer", item.text);
  node.classList.add("is-pending");
  node.dataset.clientId = item.client_id;
  node.dataset.delivery = "sending";
  renderDelivery(node);
  els.messages.append(node);
  state.pending.set(item.client_id, node);
}

/** @param {HTMLElement} node */
function renderDelivery(node) {
  const delivery = node.querySelector(".msg-delivery");
  if (!delivery) return;
  const status = node.dataset.delivery;
  delivery.replaceChildren();
  node.classList.toggle("is-failed", status === "failed");
  if (status === "sending") {
    delivery.textContent = _("Sending…");
  } else if (status === "retrying") {
    delivery.textContent = _("Not sent yet. Retrying…");
  } else if (status === "failed") {
    delivery.append(element("span", "msg-error", errorText(node.dataset.error)));
    if (node.dataset.error !== "text_too_long" && node.dataset.error !== "invalid_payload") {
      const retry = element("button", "link-button", _("Retry"));
      retry.type = "button";
      retry.addEventListener("click", () => retryFailed(node.dataset.clientId));
      delivery.append(" ", retry);
    }
  }
}

/**
 * @param {string} clientId
 * @param {string} status
 * @param {string} [code]
 */
function setDelivery(clientId, status, code) {
  const node = state.pending.get(clientId);
  if (!node) return;
  node.dataset.delivery = status;
  if (code) node.dataset.error = code;
  renderDelivery(node);
}

/** @param {string} clientId */
function retryFailed(clientId) {
  if (!outbox.retry(clientId)) return;
  const node = state.pending.get(clientId);
  if (node) {
    node.remove();
    els.messages.append(node); // it is sent after what is already queued
    delete node.dataset.error;
  }
  setDelivery(clientId, "sending");
  outbox.pump();
}

/* ---------- notices ---------- */

/** "Tracking number: XXXX-XXXX-X [Copy]" into `container`, or nothing without a number. */
function renderTracking(container, number) {
  container.hidden = !number;
  if (!number) {
    container.replaceChildren();
    return;
  }
  const code = container.querySelector(".tracking-number");
  if (code?.textContent === number) {
    // Same number: only the words change (a new language), not a running "Copied".
    container.querySelector(".tracking-label").textContent = _("Tracking number");
    const copy = container.querySelector(".tracking-copy");
    if (!copy.dataset.copied) copy.textContent = _("Copy");
    return;
  }
  const label = element("span", "tracking-label", _("Tracking number"));
  label.dir = "auto";
  const value = element("code", "tracking-number", number);
  value.dir = "ltr";
  const copy = element("button", "link-button tracking-copy", _("Copy"));
  copy.type = "button";
  copy.addEventListener("click", () => copyText(value, copy));
  container.replaceChildren(label, " ", value, " ", copy);
}

async function copyText(source, button) {
  const text = source.textContent;
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch {
    // No clipboard API here (plain http, or a frame without the permission): copy the
    // selection the old way, and leave the number selected for the customer either way.
    const selection = getSelection();
    selection.removeAllRanges();
    const range = document.createRange();
    range.selectNodeContents(source);
    selection.addRange(range);
    try {
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
  }
  if (!copied) return;
  button.dataset.copied = "1";
  button.textContent = _("Copied");
  setTimeout(() => {
    delete button.dataset.copied;
    button.textContent = _("Copy");
  }, COPIED_MS);
}

let transientTimer = null;
function showTransientError(text) {
  els.banner.hidden = false;
  els.banner.dataset.state = "error";
  els.banner.textContent = text;
  clearTimeout(transientTimer);
  transientTimer = setTimeout(renderConnection, 6000);
}

/* ---------- handoff: a person, the queue, a message left, the end ---------- */

/** What a reload cannot ask the server again, for the current conversation only. */
function loadMemo() {
  try {
    const memo = JSON.parse(loadItem("localStorage", HANDOFF_KEY) || "null");
    return memo && memo.conversation_id === state.conversationId ? memo : {};
  } catch {
    return {};
  }
}

function saveMemo() {
  const h = state.handoff;
  if (!state.conversationId) return;
  saveItem(
    "localStorage",
    HANDOFF_KEY,
    JSON.stringify({
      conversation_id: state.conversationId,
      agent_name: h.agentName,
      tracking_number: h.trackingNumber,
      left: h.status === "left",
    }),
  );
}

/** After `start`: the conversation's status says where it stands with the team. */
function resumeHandoff(status) {
  const h = state.handoff;
  const memo = loadMemo();
  if (typeof memo.agent_name === "string" && !h.agentName) h.agentName = memo.agent_name;
  if (typeof memo.tracking_number === "string" && !h.trackingNumber) {
    h.trackingNumber = memo.tracking_number;
  }
  let next = HANDOFF_OF_STATUS[status] ?? h.status;
  if (next === "offline" && (memo.left || h.status === "left")) next = "left";
  if (next !== "queued" || h.status !== "queued") {
    // The position is known again at the next `queued` push; until then, "waiting".
    h.position = null;
    h.wait = null;
    h.fallback = false;
  }
  h.status = next;
  state.closed = next === "closed";
  renderHandoff();
}

/** @param {import("../shared/protocol.js").QueuedPayload} payload */
function onQueued(payload) {
  if (!payload || typeof payload !== "object" || state.closed) return;
  const h = state.handoff;
  h.status = "queued";
  h.position = Number.isInteger(payload.position) && payload.position > 0 ? payload.position : null;
  h.wait = typeof payload.wait === "string" && payload.wait.trim() ? payload.wait.trim() : null;
  h.fallback = payload.fallback === true;
  renderHandoff();
}

/** @param {import("../shared/protocol.js").AssignedPayload} payload */
function onAssigned(payload) {
  if (!payload || typeof payload !== "object" || state.closed) return;
  const h = state.handoff;
  const name = payload.agent?.name;
  if (typeof name === "string" && name.trim()) h.agentName = name.trim();
  h.status = "assigned";
  h.position = null;
  h.wait = null;
  h.fallback = false;
  saveMemo();
  renderHandoff();
}

/** @param {import("../shared/protocol.js").OfflinePayload} payload */
function onOffline(payload) {
  if (state.closed) return;
  const h = state.handoff;
  const number = payload?.tracking_number;
  if (typeof number === "string" && number) h.trackingNumber = number;
  if (h.status !== "left") h.status = "offline";
  saveMemo();
  renderHandoff();
  scrollToBottom();
}

/** @param {import("../shared/protocol.js").CustomerClosedPayload} payload */
function onClosed(payload) {
  if (payload?.reason === "customer_left") state.handoff.away = true;
  const number = payload?.tracking_number;
  setClosed(typeof number === "string" && number ? number : state.handoff.trackingNumber);
  embed.closed(state.handoff.trackingNumber);
  survey.offer(payload, state.conversationId);
}

function setClosed(trackingNumber) {
  const h = state.handoff;
  h.status = "closed";
  h.trackingNumber = trackingNumber || null;
  state.closed = true;
  saveMemo();
  renderHandoff();
}

/** An agent's message names the agent: the header follows whoever wrote last. */
function noteAgent(name) {
  if (!name) return;
  state.handoff.agentName = name;
  if (state.handoff.status === "assigned") renderHandoff();
}

function initialOf(name) {
  const text = String(name).trim();
  let first = Array.from(text)[0] || "";
  if (typeof Intl.Segmenter === "function") {
    const segment = new Intl.Segmenter().segment(text)[Symbol.iterator]().next();
    if (!segment.done) first = segment.value.segment;
  }
  return first.toLocaleUpperCase();
}

function setText(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

/**
 * The "Talk to a person" chip under the conversation, while the bot has it. Not while the
 * newest message offers the same button itself (a decline, or "Did that help?" not yet
 * answered): one button says it; two, one above the other, look like two different things.
 */
function renderActions() {
  const last = els.messages.lastElementChild;
  const inline = last?.querySelector(
    ".msg-feedback:not(.is-done) [data-action=agent], .msg-choices[data-kind=agent]:not(.is-done)",
  );
  els.actions.hidden = !(state.handoff.status === "bot" && state.conversationId) || Boolean(inline);
}

/** Everything that depends on where the conversation stands with the team. */
function renderHandoff() {
  const h = state.handoff;
  const status = h.status;
  els.root.dataset.handoff = status;
  renderConnection(); // the header's word on people follows the handoff

  const agent = status === "assigned" && h.agentName ? h.agentName : null;
  if (agent) els.title.replaceChildren(...withUserText(_("Chatting with {name}"), { name: agent }));
  else els.title.textContent = _("Customer support");
  els.avatarInitial.textContent = agent ? initialOf(displayText(agent)) : "";
  els.avatarInitial.hidden = !agent;
  els.avatarIcon.toggleAttribute("hidden", Boolean(agent));

  renderActions();
  els.talk.disabled = h.requesting;

  els.queue.hidden = status !== "queued";
  if (status === "queued") {
    els.queuePosition.textContent = h.position
      ? _("You are number {position} in line", { position: h.position })
      : _("Waiting for a member of our team…");
    setText(els.queueWait, h.wait ? _("Estimated wait: {wait}", { wait: h.wait }) : "");
    setText(els.queueNote, h.fallback ? _("An English-speaking colleague may answer.") : "");
  }

  const leaving = status === "offline" || status === "left";
  els.leave.hidden = !leaving;
  els.leaveForm.hidden = status !== "offline";
  els.leaveDone.hidden = status !== "left";
  renderTracking(els.leaveTracking, status === "left" ? h.trackingNumber : null);

  const closed = status === "closed";
  els.composer.hidden = leaving;
  els.hint.hidden = leaving || closed;
  els.input.disabled = closed;
  els.send.disabled = closed;
  els.notice.hidden = !closed;
  if (closed) {
    els.noticeText.textContent = _("This conversation has ended.");
    // Ended because the customer was away: the way back is straight to the queue.
    els.noticeAction.textContent = h.away
      ? _("Talk to a person")
      : _("Start a new conversation");
    renderTracking(els.noticeTracking, h.trackingNumber);
    closeEndConfirm();
  }
  els.endChat.disabled = closed || !state.conversationId;
}

/** `request_agent`; resolves to its acknowledgement (null when none came). */
async function requestAgent() {
  const h = state.handoff;
  if (h.requesting) return null;
  if (!state.started) {
    showTransientError(_("You are offline. Your messages will be sent when you are back online."));
    return null;
  }
  h.requesting = true;
  renderHandoff();
  const answer = await call(CustomerRequest.REQUEST_AGENT, {});
  h.requesting = false;
  const code = answer?.error?.code;
  if (answer?.ok) {
    // The `queued` or `offline` push came just before this acknowledgement. Without one
    // (another tab asked first), the chat is with the team already: it waits.
    if (state.handoff === h && h.status === "bot") h.status = "queued";
  } else if (code === "conversation_closed") {
    setClosed(h.trackingNumber);
  } else if (code !== "unknown_event") {
    showTransientError(errorText(code));
  }
  renderHandoff();
  return answer;
}

async function talkToAPerson() {
  const answer = await requestAgent();
  // A server without handoff events: ask in words, its phrase matching may hand off.
  if (answer?.error?.code === "unknown_event") send(_("Talk to a person"));
}

/* leave a message */

function leaveKind() {
  const kind = /** @type {RadioNodeList} */ (els.leaveForm.elements.namedItem("kind"));
  return kind.value === "callback" ? "callback" : "email";
}

function renderLeaveKind() {
  const email = leaveKind() === "email";
  els.leaveContactLabel.textContent = email ? _("Email address") : _("Phone number");
  els.leaveContact.type = email ? "email" : "tel";
  els.leaveContact.autocomplete = email ? "email" : "tel";
  els.leaveContact.inputMode = email ? "email" : "tel";
  els.leaveWhenField.hidden = !asksPreferredTime(leaveKind());
  els.leaveWhen.maxLength = MAX_PREFERRED_TIME;
}

function fieldError(input, node, text) {
  setText(node, text);
  if (text) {
    input.setAttribute("aria-invalid", "true");
  } else {
    input.removeAttribute("aria-invalid");
  }
}

function contactProblem(kind, contact) {
  if (kind === "email") {
    return EMAIL.test(contact) ? null : _("Please enter a valid email address.");
  }
  const digits = contact.match(/\p{Nd}/gu)?.length ?? 0;
  return PHONE.test(contact) && digits >= 6 ? null : _("Please enter a phone number we can call.");
}

function clearLeaveErrors() {
  fieldError(els.leaveContact, els.leaveContactError, "");
  fieldError(els.leaveText, els.leaveTextError, "");
  setText(els.leaveError, "");
}

async function submitLeave(event) {
  event.preventDefault();
  if (els.leaveForm.dataset.busy) return;
  clearLeaveErrors();
  const kind = leaveKind();
  const contact = els.leaveContact.value.trim();
  const text = els.leaveText.value.trim();
  const problem = contactProblem(kind, contact);
  if (problem) {
    fieldError(els.leaveContact, els.leaveContactError, problem);
    els.leaveContact.focus();
    return;
  }
  if (!state.started) {
    const offline = _("You are offline. Your messages will be sent when you are back online.");
    setText(els.leaveError, offline);
    return;
  }
  els.leaveForm.dataset.busy = "1";
  els.leaveSubmit.disabled = true;
  els.leaveSubmit.textContent = _("Sending…");
  const payload = leavePayload(kind, contact, text, els.leaveWhen.value);
  const answer = await call(CustomerRequest.LEAVE_MESSAGE, payload);
  delete els.leaveForm.dataset.busy;
  els.leaveSubmit.disabled = false;
  els.leaveSubmit.textContent = _("Send message");
  if (answer?.ok) {
    const h = state.handoff;
    if (typeof answer.tracking_number === "string" && answer.tracking_number) {
      h.trackingNumber = answer.tracking_number;
    }
    h.status = "left";
    saveMemo();
    els.leaveForm.reset();
    renderLeaveKind();
    renderHandoff();
    return;
  }
  const code = answer?.error?.code;
  if (code === "invalid_payload") {
    // The acknowledgement's message (English, for developers) names the field.
    if (String(answer.error.message || "").includes("'text'")) {
      fieldError(els.leaveText, els.leaveTextError, _("Your message is too long."));
      els.leaveText.focus();
    } else {
      const wording =
        kind === "email"
          ? _("Please enter a valid email address.")
          : _("Please enter a phone number we can call.");
      fieldError(els.leaveContact, els.leaveContactError, wording);
      els.leaveContact.focus();
    }
  } else if (code === "conversation_closed") {
    setClosed(state.handoff.trackingNumber);
  } else {
    setText(els.leaveError, errorText(code));
  }
}

/* the header menu, and ending the chat */

function setMenu(open) {
  els.menu.hidden = !open;
  els.menuButton.setAttribute("aria-expanded", String(open));
  if (open) transcriptMenu?.refresh();
  if (open && !els.endChat.disabled) els.endChat.focus();
}

function showEndConfirm() {
  els.confirmEnd.hidden = false;
  els.confirmEndNo.focus();
}

function closeEndConfirm() {
  els.confirmEnd.hidden = true;
}

async function endChat() {
  if (!state.started) {
    showTransientError(_("You are offline. Your messages will be sent when you are back online."));
    return;
  }
  els.confirmEndYes.disabled = true;
  const answer = await call(CustomerRequest.END, {});
  els.confirmEndYes.disabled = false;
  closeEndConfirm();
  if (answer?.ok || answer?.error?.code === "conversation_closed") {
    // A chat still waiting in the queue ends without a `closed` push: end it here.
    setClosed(state.handoff.trackingNumber);
    embed.closed(state.handoff.trackingNumber);
    return;
  }
  showTransientError(errorText(answer?.error?.code));
}

async function startNewConversation() {
  // A customer who lost their place by being away queues again at once, in the language
  // the ended conversation spoke (a hint: detection may still change it).
  const queueAgain = state.handoff.away;
  const hint = queueAgain ? state.language : null;
  els.notice.hidden = true;
  els.leave.hidden = true;
  forgetConversation();
  await startConversation({ fresh: true, hint });
  if (queueAgain && state.started && !state.closed) await requestAgent();
}

/* ---------- input ---------- */

function resizeInput() {
  const input = els.input;
  input.style.height = "auto";
  input.style.height = Math.min(input.scrollHeight, 132) + "px";
}

function bindUi() {
  transcriptMenu = installTranscript({
    menu: els.menu,
    conversation: () => ({ token: state.token, conversationId: state.conversationId }),
    translate: _,
    onError: showTransientError,
    onDone: () => setMenu(false),
  });
  els.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = els.input.value.trim();
    if (!text) return;
    els.input.value = "";
    resizeInput();
    live.stop();
    send(text);
  });
  els.input.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; Enter that confirms an IME conversion (kana
    // to kanji) must not send.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
      return;
    }
    event.preventDefault();
    els.composer.requestSubmit();
  });
  els.input.addEventListener("input", () => {
    resizeInput();
    live.input();
  });
  els.input.addEventListener("blur", () => live.stop());
  els.language.addEventListener("change", () => chooseLanguage(els.language.value));
  els.noticeAction.addEventListener("click", startNewConversation);
  els.leaveNew.addEventListener("click", startNewConversation);
  els.talk.addEventListener("click", talkToAPerson);
  // Messages come, go and get answered in many places: the chip follows what is shown.
  new MutationObserver(renderActions).observe(els.messages, {
    childList: true,
    subtree: true,
    attributeFilter: ["class"],
  });
  els.leaveForm.addEventListener("submit", submitLeave);
  els.leaveForm.addEventListener("change", (event) => {
    if (/** @type {HTMLInputElement} */ (event.target).name !== "kind") return;
    renderLeaveKind();
    fieldError(els.leaveContact, els.leaveContactError, "");
  });
  els.menuButton.addEventListener("click", () => setMenu(els.menu.hidden));
  els.menu.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    setMenu(false);
    els.menuButton.focus();
  });
  document.addEventListener("click", (event) => {
    const target = /** @type {Node} */ (event.target);
    if (els.menu.hidden || els.menu.contains(target)) return;
    if (els.menuButton.contains(target)) return;
    setMenu(false);
  });
  els.endChat.addEventListener("click", () => {
    setMenu(false);
    showEndConfirm();
  });
  els.confirmEndNo.addEventListener("click", () => {
    closeEndConfirm();
    els.input.focus();
  });
  els.confirmEndYes.addEventListener("click", endChat);
}

/* ---------- start-up ---------- */

async function main() {
  bindUi();
  for (const item of outbox.items) showPending(item);
  renderConnection();
  await embed.hello; // framed by the loader: the host's locale and user come first
  const hints = state.choice ? [state.choice, ...browserLanguages()] : browserLanguages();
  await Promise.all([loadStrings(hints), loadLanguages()]);
  els.language.value = state.language || state.uiLanguage;
  els.root.dataset.ready = "1";
  els.root.setAttribute("aria-busy", "false");
  embed.ready();
  connect();
}

main();
