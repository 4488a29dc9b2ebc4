// @ts-check
/*
 * The agent console: the browser side of the /agent protocol (docs/protocol.md), for agents
 * (the waiting queue, their chats) and supervisors (agents, queues, SLA alerts, assignment,
 * and the FAQ gaps report: the customer questions the FAQ did not answer well).
 *
 * No build step. The vendored Socket.IO client (static/vendor) defines the global `io`.
 *
 * - Text from customers and agents is only ever set with textContent: never HTML. It goes
 *   through displayText (static/shared/common.js) and sits in an element of its own that
 *   isolates its direction (dir="auto" and the class user-text, or a <bdi> inside a sentence
 *   of ours; in an <option>, between FSI and PDI): a message, note, name or reason cannot
 *   reorder itself or the text around it.
 * - Every user-facing string is a gettext msgid written as _("...") so that `make catalogs`
 *   extracts it; the translations come from /api/v1/widget/strings (the console shares the
 *   catalogs with the widget), in the browser's language.
 * - Log-in: POST /api/v1/login gives a token, kept in sessionStorage (this tab only, gone
 *   when it closes); Socket.IO /agent is opened with auth {token}. A refused connection
 *   (code unauthorized) brings the log-in form back.
 * - Sending: each message and note gets a client_id and goes into an outbox (sessionStorage)
 *   until the server acknowledges it, and is resent, in order, after every reconnect.
 * - Countdowns: the server gives `remaining_seconds` in every queue snapshot; the console
 *   counts down from the moment it received it, so the agent's clock need not be right.
 *   Absolute times (an offer's `expires_at`, SLA `due_at`) are corrected by the offset
 *   between the server's clock and this one, measured from the HTTP Date header and from
 *   each `sla_warning` (which carries both a due time and the seconds left).
 */

import { displayText, isolated, newClientId, translate } from "/static/shared/common.js";
import { element, withUserText } from "/static/shared/dom.js";
import { createOutbox, restoreItems, storedItems } from "/static/shared/outbox.js";
import { bySeq, insertBySeq } from "/static/shared/ordering.js";
import { ackCall, openSocket } from "/static/shared/socket.js";
import { timeFormat as localeTimeFormat, setTime } from "/static/shared/time.js";
import { mountFollowups } from "/static/console/followups.js";
import { mountUrgent } from "/static/console/urgent.js";
import { AgentRequest } from "/static/shared/protocol.js";
import { exportButton, labelExport } from "/static/console/transcript.js";
import { mountAnnouncements } from "/static/widget/announcement.js";
import { mountAnnouncementForm } from "/static/console/announcements.js";
import { mountInbox } from "/static/console/inbox.js";
import { mountConsoleLive } from "/static/console/live.js";
import { inboxAlertLabel } from "/static/console/inbox_alerts.js";
import { mountDashboard } from "/static/console/dashboard.js";
import { standingAlerts } from "/static/console/sla_alerts.js";
import { mountTakeChats } from "/static/console/take_chats.js";
import { mountCustomer } from "/static/console/customer.js";
import { mountCanned } from "/static/console/canned.js";
import { mountCannedAdmin } from "/static/console/canned_admin.js";

const SESSION_KEY = "chatserver.console.session";
const OUTBOX_KEY = "chatserver.console.outbox";
const NOTES_KEY = "chatserver.console.notes";
const STATUS_KEY = "chatserver.console.status";

// What the outbox keeps of a message or note in sessionStorage.
const OUTBOX_FIELDS = ["client_id", "conversation_id", "kind", "text"];
const FETCH_TIMEOUT_MS = 8000;
// The chat channel's first-response target, for queue items that do not say.
const FIRST_RESPONSE_TARGET_S = 30;
// Countdowns turn red below this many seconds (the server warns at 10 s for chat).
const URGENT_BELOW_S = 10;
// The Date header has a resolution of one second: smaller offsets are noise.
const CLOCK_OFFSET_MIN_MS = 2000;
const MAX_ALERTS = 50;
// Client ids of this tab's own notes remembered, so a replayed transcript still shows them
// as notes (newest kept).
const MAX_NOTE_IDS = 500;
const TOAST_MS = 6000;
const TICK_MS = 250;

const TEAMS = ["technical", "account", "trading"];
const PRIORITIES = ["urgent", "high", "medium", "low"];
const STATUSES = ["online", "away", "offline"];
const SUPERVISOR_ROLES = new Set(["supervisor", "admin"]);
const AUTHORS = new Set(["customer", "bot", "agent", "system"]);
const CLOSED_STATUSES = new Set(["closed", "rated", "abandoned", "offline"]);
// Codes for which sending the same text again cannot succeed.
const PERMANENT_ERRORS = new Set([
  "invalid_payload",
  "text_too_long",
  "conversation_closed",
  "unknown_conversation",
  "not_assigned",
  "not_your_conversation",
  "forbidden",
]);

/* ---------- strings ---------- */

let strings = {};

/** The translation of `msgid`, with {name} placeholders filled from `values`. */
function _(msgid, values) {
  return translate(strings, msgid, values);
}

function teamName(team) {
  switch (team) {
    case "technical":
      return _("Technical");
    case "account":
      return _("Account");
    case "trading":
      return _("Trading");
    default:
      return String(team || "");
  }
}

function priorityName(priority) {
  switch (priority) {
    case "urgent":
      return _("Urgent");
    case "high":
      return _("High");
    case "medium":
      return _("Medium");
    case "low":
      return _("Low");
    default:
      return String(priority || "");
  }
}

function statusName(status) {
  switch (status) {
    case "online":
      return _("Online");
    case "away":
      return _("Away");
    case "offline":
      return _("Offline");
    default:
      return String(status || "");
  }
}

function roleName(role) {
  switch (role) {
    case "supervisor":
      return _("Supervisor");
    case "admin":
      return _("Administrator");
    default:
      return _("Agent");
  }
}

function clockName(kind) {
  return kind === "resolution" ? _("Resolution") : _("First response");
}

function errorText(code) {
  switch (code) {
    case "already_taken":
      return _("Another agent has already taken this chat.");
    case "not_eligible":
      return _("This chat is not for your languages or teams.");
    case "at_capacity":
      return _("You have reached your limit of concurrent chats.");
    case "conversation_closed":
    case "not_waiting":
      return _("This conversation has ended.");
    case "unknown_conversation":
    case "not_assigned":
    case "not_your_conversation":
      return _("This chat is no longer yours.");
    case "not_queued":
    case "not_offered":
      return _("This chat is no longer waiting.");
    case "queue_unavailable":
      return _("Nobody can take chats in that queue now.");
    case "text_too_long":
      return _("This message is too long. Please shorten it and send it again.");
    case "forbidden":
    case "not_permitted":
      return _("You are not allowed to do that.");
    case "unknown_agent":
      return _("That agent is not available.");
    case "invalid_payload":
      return _("The server refused this request.");
    case "offline":
      return _("You are offline. Try again when the connection is back.");
    default:
      return _("Something went wrong. Please try again.");
  }
}

/* ---------- storage ---------- */

function loadJson(key, fallback) {
  try {
    const value = JSON.parse(sessionStorage.getItem(key) || "null");
    return value ?? fallback;
  } catch {
    return fallback;
  }
}

function saveJson(key, value) {
  try {
    if (value === null || value === undefined) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage is unavailable: the console works, a reload just logs out.
  }
}

function loadSession() {
  const session = loadJson(SESSION_KEY, null);
  if (!session || typeof session.token !== "string" || !session.agent) return null;
  if (session.expires_at && Date.parse(session.expires_at) < Date.now()) return null;
  return session;
}

function loadOutbox() {
  return restoreItems(loadJson(OUTBOX_KEY, []), ["client_id", "conversation_id", "text"]);
}

/* ---------- state ---------- */

const state = {
  session: loadSession(), // {token, expires_at, agent: {id, name, role, languages, teams}}
  uiLanguage: "en",
  languages: [], // [{tag, name, direction}] the desk's chat languages
  connection: "connecting", // connecting | online | reconnecting
  status: loadJson(STATUS_KEY, "online"), // what the agent chose
  statusUnsent: false, // chosen while disconnected: this console sends it when back
  clockOffsetMs: 0, // server clock minus this clock
  queue: new Map(), // conversation_id -> waiting item (+ deadline: this clock's ms)
  queueOrder: [],
  agents: [],
  offer: null, // {conversation_id, deadline, item}
  accepting: new Set(), // conversation ids whose `accept` is on its way
  chats: new Map(), // conversation_id -> chat (see newChat)
  activeChat: null,
  alerts: [], // [{type, conversation_id, kind, at, remaining, label}]
  seen: new Map(), // conversation_id -> {language, team, priority} of chats seen anywhere
  queueLengths: null, // {"th/technical": 2, ...} the whole desk's (supervisors)
  noteIds: new Set(loadJson(NOTES_KEY, [])), // client ids of this tab's notes
};

let socket = null;
let closeSocket = () => {};
// The offline inbox beside the queue (static/console/inbox.js).
const inboxView = mountInbox(document.getElementById("inbox-pane"), {
  call: (event, payload) => call(event, payload),
  translate: (msgid, values) => _(msgid, values),
  agentId: () => state.session?.agent?.id,
});
let transferChat = null;

/* ---------- DOM ---------- */

const byId = (id) => document.getElementById(id);
const els = {
  app: byId("app"),
  loginView: byId("login-view"),
  loginForm: byId("login-form"),
  loginTitle: byId("login-title"),
  loginSubtitle: byId("login-subtitle"),
  loginMessage: byId("login-message"),
  usernameLabel: byId("username-label"),
  username: /** @type {HTMLInputElement} */ (byId("username")),
  passwordLabel: byId("password-label"),
  password: /** @type {HTMLInputElement} */ (byId("password")),
  loginSubmit: /** @type {HTMLButtonElement} */ (byId("login-submit")),
  consoleView: byId("console-view"),
  brandName: byId("brand-name"),
  connection: byId("connection"),
  connectionText: byId("connection-text"),
  userName: byId("user-name"),
  userRole: byId("user-role"),
  logout: byId("logout"),
  statusSwitch: byId("status-switch"),
  queueTitle: byId("queue-title"),
  queueCount: byId("queue-count"),
  queue: byId("queue"),
  queueEmpty: byId("queue-empty"),
  tabs: byId("chat-tabs"),
  panels: byId("chat-panels"),
  chatsEmpty: byId("chats-empty"),
  chatsEmptyTitle: byId("chats-empty-title"),
  chatsEmptyHint: byId("chats-empty-hint"),
  supervisor: byId("supervisor"),
  agentsTitle: byId("agents-title"),
  agentsCount: byId("agents-count"),
  agents: byId("agents"),
  agentsEmpty: byId("agents-empty"),
  queuesTitle: byId("queues-title"),
  queuesColQueue: byId("queues-col-queue"),
  queuesColWaiting: byId("queues-col-waiting"),
  queuesColLongest: byId("queues-col-longest"),
  queues: byId("queues"),
  queuesEmpty: byId("queues-empty"),
  alertsTitle: byId("alerts-title"),
  alertsCount: byId("alerts-count"),
  alerts: byId("alerts"),
  alertsEmpty: byId("alerts-empty"),
  assignTitle: byId("assign-title"),
  assignForm: byId("assign-form"),
  assignConversationLabel: byId("assign-conversation-label"),
  assignConversation: /** @type {HTMLSelectElement} */ (byId("assign-conversation")),
  assignAgentLabel: byId("assign-agent-label"),
  assignAgent: /** @type {HTMLSelectElement} */ (byId("assign-agent")),
  assignError: byId("assign-error"),
  assignSubmit: /** @type {HTMLButtonElement} */ (byId("assign-submit")),
  gapsTitle: byId("gaps-title"),
  gapsHint: byId("gaps-hint"),
  gapsForm: byId("gaps-form"),
  gapsLanguage: /** @type {HTMLSelectElement} */ (byId("gaps-language")),
  gapsLanguageLabel: byId("gaps-language-label"),
  gapsPeriod: /** @type {HTMLSelectElement} */ (byId("gaps-period")),
  gapsPeriodLabel: byId("gaps-period-label"),
  gapsRefresh: /** @type {HTMLButtonElement} */ (byId("gaps-refresh")),
  gapsError: byId("gaps-error"),
  gaps: byId("gaps"),
  gapsEmpty: byId("gaps-empty"),
  transferDialog: /** @type {HTMLDialogElement} */ (byId("transfer-dialog")),
  transferForm: byId("transfer-form"),
  transferTitle: byId("transfer-title"),
  transferTargetLabel: byId("transfer-target-label"),
  transferToQueue: /** @type {HTMLInputElement} */ (byId("transfer-to-queue")),
  transferToQueueLabel: byId("transfer-to-queue-label"),
  transferToAgent: /** @type {HTMLInputElement} */ (byId("transfer-to-agent")),
  transferToAgentLabel: byId("transfer-to-agent-label"),
  transferQueueFields: byId("transfer-queue-fields"),
  transferLanguageLabel: byId("transfer-language-label"),
  transferLanguage: /** @type {HTMLSelectElement} */ (byId("transfer-language")),
  transferTeamLabel: byId("transfer-team-label"),
  transferTeam: /** @type {HTMLSelectElement} */ (byId("transfer-team")),
  transferAgentFields: byId("transfer-agent-fields"),
  transferAgentSelectLabel: byId("transfer-agent-select-label"),
  transferAgent: /** @type {HTMLSelectElement} */ (byId("transfer-agent")),
  transferReasonLabel: byId("transfer-reason-label"),
  transferReason: /** @type {HTMLTextAreaElement} */ (byId("transfer-reason")),
  transferError: byId("transfer-error"),
  transferCancel: byId("transfer-cancel"),
  transferSubmit: /** @type {HTMLButtonElement} */ (byId("transfer-submit")),
  toasts: byId("toasts"),
};
// Negative feedback to answer within 24 hours, in the supervisor's panel (followups.js).
const followups = mountFollowups(byId("gaps-section"), {
  _,
  languageName: (tag) => languageName(tag),
  list: () => requestJson("GET", "/api/v1/followups", { token: state.session?.token }),
  handle: (id, note) =>
    requestJson("POST", "/api/v1/followups/" + encodeURIComponent(id) + "/handled", {
      body: { note },
      token: state.session?.token,
    }),
});

// Urgent chats: a red banner on every console that could take one, until it is taken.
// Typing notices and seen receipts (static/console/live.js).
const live = mountConsoleLive({ _, emit: (event, payload) => call(event, payload), chatOf: (id) => state.chats.get(id) });

const takeChats = mountTakeChats(byId("status-switch"), {
  _,
  emit: (event, payload) => call(event, payload),
  changed: (on) => {
    if (!state.session) return;
    state.session.agent = { ...state.session.agent, take_chats: on };
    saveJson(SESSION_KEY, state.session);
  },
  failed: (answer) => toast(errorText(failureCode(answer)), "error"),
});
// The customer beside each chat (static/console/customer.js).
const customerPanel = mountCustomer({
  token: () => state.session?.token,
  _,
  languageLabel: (tag) => languageLabel(tag),
  onError: (text) => toast(text, "error"),
  named: (chat, name) => {
    chat.conversation = { ...chat.conversation, customer_name: name };
    renderChatHead(chat);
  },
});
// Canned replies and FAQ answers in the composer (static/console/canned.js).
const canned = mountCanned({
  token: () => state.session?.token,
  agentLanguage: () => state.session?.agent?.languages?.[0] || "en",
  _,
});
const urgent = mountUrgent(byId("announcements"), {
  _,
  languageName: (tag) => languageName(tag),
  accept: (conversationId) => acceptChat(conversationId),
});

// The supervisors' dashboard, a view of its own over the panes (dashboard.js).
const dashboard = mountDashboard(els.consoleView, {
  _,
  token: () => state.session?.token,
  request: (path) => requestJson("GET", path, { token: state.session?.token }),
  languageName: (tag) => languageName(tag),
  teamName: (team) => teamName(team),
  statusName: (status) => statusName(status),
  clockName: (kind) => clockName(kind),
  formatTime: (date) => timeFormat(true).format(date),
  onOpen: () => cannedAdmin.hide(),
});
// Supervisors manage the canned replies in a view of their own (canned_admin.js).
const cannedAdmin = mountCannedAdmin(els.consoleView, {
  _,
  request: (method, path, body) => requestJson(method, path, { body, token: state.session?.token }),
  languages: () => state.languages,
  languageLabel: (tag) => languageLabel(tag),
  agentName: () => state.session?.agent?.name || "",
  onOpen: () => dashboard.hide(),
});

/** Text a person wrote (a customer, an agent), shown by displayText, in `node` (which then
 * isolates its direction). */
function setUserText(node, text) {
  node.textContent = displayText(text);
  node.dir = "auto";
  node.classList.add("user-text");
  return node;
}

function userElement(tag, className, text) {
  return setUserText(element(tag, className), text);
}

function option(value, label) {
  const node = element("option", "", label);
  node.value = value;
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** A small stroked icon from path data (no markup strings: the CSP and the rule). */
function icon(paths, size = 14) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  for (const d of paths) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

const ICONS = {
  lock: ["M7 11V8a5 5 0 0 1 10 0v3", "M5 11h14v10H5z"],
  globe: ["M3 12h18", "M12 3a14 14 0 0 1 0 18", "M12 3a14 14 0 0 0 0 18", "M12 3a9 9 0 1 1 0 18a9 9 0 0 1 0-18"],
  clock: ["M12 7v5l3 2", "M12 3a9 9 0 1 1 0 18a9 9 0 0 1 0-18"],
  star: ["M12 3l2.7 5.6 6.1.9-4.4 4.3 1 6.1L12 17l-5.4 2.9 1-6.1-4.4-4.3 6.1-.9z"],
  transfer: ["M4 8h13", "M13 4l4 4-4 4", "M20 16H7", "M11 12l-4 4 4 4"],
  check: ["M5 12l5 5 9-10"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  send: ["M5 12h13", "M13 6l6 6-6 6"],
};

/* ---------- formatting ---------- */

let displayNames = null;

function languageName(tag) {
  if (!tag) return "";
  try {
    displayNames ??= new Intl.DisplayNames([state.uiLanguage, "en"], { type: "language" });
    return displayNames.of(tag) || tag;
  } catch {
    return state.languages.find((entry) => entry.tag === tag)?.name || tag;
  }
}

/** "Thai (th)" */
function languageLabel(tag) {
  return _("{language} ({tag})", { language: languageName(tag), tag });
}

/** Seconds as m:ss (always at least 0:00). */
function clockText(seconds) {
  const whole = Math.max(0, Math.round(Math.abs(seconds)));
  return Math.floor(whole / 60) + ":" + String(whole % 60).padStart(2, "0");
}

/** @param {boolean} withSeconds */
function timeFormat(withSeconds) {
  return localeTimeFormat(state.uiLanguage, withSeconds);
}

/** A server instant (ISO 8601) as a time on this machine's clock, in ms; NaN if unknown. */
function localDeadline(iso) {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? Number.NaN : at - state.clockOffsetMs;
}

/** A number from the wire, or NaN (null and absent are not zero). */
function finite(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : Number.NaN;
}

function secondsUntil(deadline) {
  return (deadline - Date.now()) / 1000;
}

/* ---------- HTTP ---------- */

/**
 * @param {string} method
 * @param {string} url
 * @param {{body?: unknown, token?: string}} [options]
 */
async function requestJson(method, url, { body, token } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = "Bearer " + token;
  try {
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      credentials: "same-origin",
      cache: "no-store",
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    return { status: response.status, data, date: response.headers.get("Date") };
  } finally {
    clearTimeout(timer);
  }
}

function learnClockFromDate(header) {
  const serverNow = Date.parse(header || "");
  if (Number.isNaN(serverNow)) return;
  const offset = serverNow - Date.now();
  state.clockOffsetMs = Math.abs(offset) >= CLOCK_OFFSET_MIN_MS ? offset : 0;
}

async function loadStrings() {
  const tags = (navigator.languages?.length ? navigator.languages : [navigator.language || "en"])
    .filter((tag) => typeof tag === "string" && tag)
    .slice(0, 10);
  try {
    const answer = await requestJson(
      "GET",
      "/api/v1/widget/strings?lang=" + encodeURIComponent(tags.join(",")),
    );
    if (answer.status === 200 && answer.data) {
      strings = answer.data.strings || {};
      state.uiLanguage = answer.data.language || "en";
      document.documentElement.lang = state.uiLanguage;
      document.documentElement.dir = answer.data.direction === "rtl" ? "rtl" : "ltr";
      displayNames = null;
    }
  } catch {
    // The source strings (English) stand in.
  }
}

async function loadLanguages() {
  try {
    const answer = await requestJson("GET", "/api/v1/languages");
    state.languages = Array.isArray(answer.data) ? answer.data : [];
  } catch {
    state.languages = [];
  }
}

/* ---------- announcements: banners for all, the form for supervisors ---------- */

const banners = mountAnnouncements(byId("announcements"), _);
const announceForm = mountAnnouncementForm(byId("announce-section"), {
  _,
  request: requestJson,
  token: () => state.session?.token,
  languages: () => state.languages,
});

function onAnnouncement(payload) {
  banners.show(payload);
  if (state.session && SUPERVISOR_ROLES.has(state.session.agent.role)) announceForm.refresh();
}

/* ---------- static strings ---------- */

function applyStrings() {
  banners.redraw();
  announceForm.redraw();
  els.loginTitle.textContent = _("Support console");
  els.loginSubtitle.textContent = _("Log in to answer customers.");
  els.usernameLabel.textContent = _("Username");
  els.passwordLabel.textContent = _("Password");
  els.loginSubmit.textContent = _("Log in");
  els.brandName.textContent = _("Support console");
  els.logout.textContent = _("Log out");
  els.statusSwitch.setAttribute("aria-label", _("My status"));
  for (const button of /** @type {NodeListOf<HTMLButtonElement>} */ (els.statusSwitch.querySelectorAll(".status-option"))) {
    button.querySelector(".status-label").textContent = statusName(button.dataset.status);
  }
  els.queueTitle.textContent = _("Waiting");
  els.queueEmpty.textContent = _("Nobody is waiting.");
  els.chatsEmptyTitle.textContent = _("No active chats");
  els.chatsEmptyHint.textContent = _("Accept a chat from the queue to start.");
  els.tabs.setAttribute("aria-label", _("Active chats"));
  els.agentsTitle.textContent = _("Agents");
  els.agentsEmpty.textContent = _("No agents yet.");
  els.queuesTitle.textContent = _("Queues");
  els.queuesColQueue.textContent = _("Queue");
  els.queuesColWaiting.textContent = _("Waiting");
  els.queuesColLongest.textContent = _("Longest");
  els.queuesEmpty.textContent = _("All queues are empty.");
  els.alertsTitle.textContent = _("SLA alerts");
  els.alertsEmpty.textContent = _("No warnings or breaches.");
  els.assignTitle.textContent = _("Assign a chat");
  els.assignConversationLabel.textContent = _("Waiting chat");
  els.assignAgentLabel.textContent = _("Agent");
  els.assignSubmit.textContent = _("Assign");
  els.gapsTitle.textContent = _("FAQ gaps");
  els.gapsHint.textContent = _("Questions the FAQ did not answer well, most frequent first.");
  els.gapsLanguageLabel.textContent = _("Language");
  els.gapsPeriodLabel.textContent = _("Period");
  els.gapsRefresh.textContent = _("Refresh");
  els.gapsEmpty.textContent = _("No gaps in this period.");
  followups.relabel();
  urgent.relabel();
  takeChats.relabel();
  customerPanel.relabel();
  canned.relabel();
  const chosenLanguage = els.gapsLanguage.value;
  els.gapsLanguage.replaceChildren(
    option("", _("All languages")),
    ...state.languages.map((entry) => option(entry.tag, languageLabel(entry.tag))),
  );
  els.gapsLanguage.value = chosenLanguage;
  const periods = { 7: _("Last 7 days"), 30: _("Last 30 days"), 90: _("Last 90 days") };
  for (const item of els.gapsPeriod.options) item.textContent = periods[item.value];
  els.transferTitle.textContent = _("Transfer chat");
  els.transferTargetLabel.textContent = _("Transfer to");
  els.transferToQueueLabel.textContent = _("A queue");
  els.transferToAgentLabel.textContent = _("An agent");
  els.transferLanguageLabel.textContent = _("Language");
  els.transferTeamLabel.textContent = _("Team");
  els.transferAgentSelectLabel.textContent = _("Agent");
  els.transferReasonLabel.textContent = _("Reason");
  els.transferReason.placeholder = _("Why are you transferring this chat?");
  els.transferCancel.textContent = _("Cancel");
  els.transferSubmit.textContent = _("Transfer");
  els.transferTeam.replaceChildren(...TEAMS.map((team) => option(team, teamName(team))));
  els.transferLanguage.replaceChildren(
    ...state.languages.map((entry) => option(entry.tag, languageLabel(entry.tag))),
  );
  renderConnection();
  dashboard.relabel();
  cannedAdmin.relabel();
}

/* ---------- views ---------- */

function showLogin(message) {
  els.consoleView.hidden = true;
  els.loginView.hidden = false;
  els.loginMessage.hidden = !message;
  els.loginMessage.textContent = message || "";
  els.loginSubmit.disabled = false;
  document.title = _("Support console");
  (els.username.value ? els.password : els.username).focus();
}

function showConsole() {
  const agent = state.session.agent;
  els.loginView.hidden = true;
  els.consoleView.hidden = false;
  setUserText(els.userName, agent.name || agent.username || "");
  els.userRole.textContent = roleName(agent.role);
  els.userRole.dataset.role = agent.role || "agent";
  const supervising = SUPERVISOR_ROLES.has(agent.role);
  els.supervisor.hidden = !supervising;
  els.consoleView.classList.toggle("is-supervisor", supervising);
  takeChats.show(agent);
  renderStatus();
  renderQueue();
  renderChats();
  renderSupervisor();
  if (supervising) loadGaps();
  if (supervising) announceForm.refresh();
  if (supervising) followups.load();
  else followups.clear();
  if (supervising) dashboard.start();
  else dashboard.stop();
  if (supervising) cannedAdmin.start();
  else cannedAdmin.stop();
}

/* ---------- log-in and out ---------- */

async function login(username, password) {
  els.loginSubmit.disabled = true;
  els.loginMessage.hidden = true;
  let answer;
  try {
    answer = await requestJson("POST", "/api/v1/login", { body: { username, password } });
  } catch {
    showLogin(_("The server cannot be reached. Please try again."));
    return;
  }
  if (answer.status !== 200 || typeof answer.data?.token !== "string") {
    const code = answer.data?.error?.code;
    if (answer.status === 429 || code === "too_many_attempts") {
      showLogin(_("Too many failed attempts. Please wait a few minutes and try again."));
    } else if (answer.status === 401 || answer.status === 400) {
      showLogin(_("Wrong username or password."));
    } else {
      showLogin(_("Something went wrong. Please try again."));
    }
    return;
  }
  learnClockFromDate(answer.date);
  els.password.value = "";
  state.session = {
    token: answer.data.token,
    expires_at: answer.data.expires_at || null,
    agent: answer.data.agent || { name: username, role: "agent" },
  };
  saveJson(SESSION_KEY, state.session);
  state.status = "online";
  state.statusUnsent = false;
  saveJson(STATUS_KEY, state.status);
  showConsole();
  connect();
}

/** Forget the session and everything of it, and show the log-in form. */
function endSession(message) {
  if (socket) {
    closeSocket(); // no pending retry brings it back
    socket = null;
  }
  state.session = null;
  urgent.clear();
  dashboard.stop();
  cannedAdmin.stop();
  saveJson(SESSION_KEY, null);
  saveJson(STATUS_KEY, null);
  saveJson(NOTES_KEY, null);
  state.noteIds = new Set();
  state.status = "online";
  state.statusUnsent = false;
  state.queue.clear();
  state.queueOrder = [];
  state.agents = [];
  state.offer = null;
  state.alerts = [];
  for (const chat of state.chats.values()) {
    chat.tab.remove();
    chat.panel.remove();
  }
  state.chats.clear();
  state.activeChat = null;
  state.connection = "connecting";
  els.queue.replaceChildren();
  showLogin(message);
}

async function logout() {
  const token = state.session?.token;
  endSession("");
  // The outbox belongs to the session: whatever it still holds will not be sent.
  outbox.clear();
  if (!token) return;
  try {
    await requestJson("POST", "/api/v1/logout", { token });
  } catch {
    // The token expires by itself.
  }
}

/* ---------- connection ---------- */

function renderConnection() {
  const labels = {
    connecting: _("Connecting…"),
    online: _("Connected"),
    reconnecting: _("Reconnecting…"),
  };
  els.connection.dataset.state = state.connection;
  els.connectionText.textContent = labels[state.connection] || "";
}

function setConnection(connection) {
  state.connection = connection;
  renderConnection();
}

function isUnauthorized(error) {
  const data = error?.data;
  if (data && typeof data === "object" && data.code === "unauthorized") return true;
  return /unauthori[sz]ed/i.test(String(error?.message || ""));
}

function connect() {
  if (socket) return;
  setConnection("connecting");
  // A server-closed socket (a restart, a deploy, or a revoked session, which the next
  // attempt finds out) comes back by itself (static/shared/socket.js).
  const opened = openSocket("/agent", {
    // The chosen status with every (re)connection: the server connects the agent in it, so
    // a reconnect neither makes an agent who stepped away online nor offers them a chat.
    auth: (/** @type {(auth: object) => void} */ send) =>
      send({ token: state.session?.token, status: state.status }),
    connected: onConnected,
    disconnected: () => {
      banners.expectAgain(); // the active announcements come again, before the queue
      setConnection("reconnecting");
    },
    refused: (error) => {
      if (isUnauthorized(error)) {
        endSession(_("Your session has ended. Please log in again."));
        return;
      }
      setConnection(state.connection === "connecting" ? "connecting" : "reconnecting");
    },
    reconnecting: () => setConnection("reconnecting"),
  });
  socket = opened.socket;
  closeSocket = opened.close;
  dashboard.listen(socket);
  // Logged out elsewhere, expired or revoked by a supervisor: the server closes this socket.
  socket.on("session_ended", () => endSession(_("Your session has ended. Please log in again.")));
  socket.on("queue", onQueue);
  socket.on("offer", onOffer);
  socket.on("offer_withdrawn", onOfferWithdrawn);
  socket.on("released", onReleased);
  socket.on("closed", onClosed);
  socket.on("conversation", onConversation);
  socket.on("message", onPushedMessage);
  socket.on("sla_warning", (payload) => onSla("warning", payload));
  socket.on("sla_breach", (payload) => onSla("breach", payload));
  socket.on("announcement", onAnnouncement);
  socket.on("followup", (payload) => followups.pushed(payload));
  socket.on("urgent", (payload) => urgent.pushed(payload));
  socket.on("urgent_cleared", (payload) => urgent.cleared(payload));
  socket.on("inbox", (payload) => inboxView.update(payload));
  socket.on("typing", live.typing);
  socket.on("seen", live.seen);
  socket.on("status", onStatusPushed);
}

async function onConnected() {
  setConnection("online");
  outbox.pump();
  // Another console of the agent's may have set the status meanwhile: this one's choice
  // goes after it (the connection alone leaves the agent's status as it stands).
  if (state.statusUnsent) setStatus(state.status);
  // Follow-ups pushed while this console was away: read the list again.
  if (state.session && SUPERVISOR_ROLES.has(state.session.agent.role)) {
    followups.load();
    loadStandingAlerts(); // warnings and breaches raised before this console connected
  }
}

async function loadStandingAlerts() {
  const read = () => requestJson("GET", "/api/v1/dashboard/alerts", { token: state.session?.token });
  const merged = await standingAlerts(read, () => state.alerts, _, MAX_ALERTS);
  if (merged === null || !state.session) return;
  for (const alert of merged) if (alert.language) remember(alert.conversation_id, alert);
  state.alerts = merged;
  renderSupervisor();
}

/**
 * Emit `event` with an acknowledgement; resolves to the acknowledgement, or null when it
 * did not come (timeout, or the connection dropped: then it resolves at once).
 */
function call(event, payload) {
  return ackCall(socket, event, payload);
}

function failureCode(answer) {
  if (answer === null) return socket?.connected ? "internal_error" : "offline";
  return answer.error?.code || "internal_error";
}

/* ---------- status ---------- */

function renderStatus() {
  for (const button of /** @type {NodeListOf<HTMLButtonElement>} */ (els.statusSwitch.querySelectorAll(".status-option"))) {
    const on = button.dataset.status === state.status;
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }
  els.statusSwitch.dataset.status = state.status;
}

async function setStatus(status) {
  if (!STATUSES.includes(status)) return;
  const previous = state.status;
  state.status = status;
  saveJson(STATUS_KEY, status);
  renderStatus();
  if (!socket?.connected) {
    state.statusUnsent = true; // the next connection carries it (connect's auth, then this)
    return;
  }
  /** @type {import("../shared/protocol.js").StatusAck | import("../shared/protocol.js").ErrorAck | null} */
  const answer = await call(AgentRequest.STATUS, { status });
  if (answer?.ok) {
    state.statusUnsent = false;
    if (STATUSES.includes(answer.status)) state.status = answer.status;
    saveJson(STATUS_KEY, state.status);
    renderStatus();
    return;
  }
  if (answer === null) {
    state.statusUnsent = true; // not heard: sent again after the reconnect
    return;
  }
  state.status = previous;
  saveJson(STATUS_KEY, previous);
  renderStatus();
  toast(errorText(failureCode(answer)), "error");
}

/**
 * The agent's status, set in another of their consoles (another tab, a phone) or where the
 * server stands when this one connects: every console shows the same. Not while this one
 * has a choice of its own to send.
 * @param {import("../shared/protocol.js").StatusPayload} payload
 */
function onStatusPushed(payload) {
  if (!payload || !STATUSES.includes(payload.status) || state.statusUnsent) return;
  state.status = payload.status;
  saveJson(STATUS_KEY, state.status);
  renderStatus();
}

/* ---------- queue ---------- */

function isQueueItem(item) {
  return item !== null && typeof item === "object" && typeof item.conversation_id === "string";
}

function remainingOf(item) {
  return secondsUntil(item.deadline);
}

/** @param {import("../shared/protocol.js").QueuePayload} payload */
function onQueue(payload) {
  if (!payload || typeof payload !== "object") return;
  banners.settle();
  const now = Date.now();
  const waiting = Array.isArray(payload.waiting) ? payload.waiting.filter(isQueueItem) : [];
  state.queue.clear();
  state.queueOrder = [];
  for (const raw of waiting) {
    let remaining = finite(raw.remaining_seconds);
    if (Number.isNaN(remaining)) {
      const waited = finite(raw.waited_seconds);
      remaining = FIRST_RESPONSE_TARGET_S - (Number.isNaN(waited) ? 0 : waited);
    }
    const item = { ...raw, deadline: now + remaining * 1000 };
    state.queue.set(item.conversation_id, item);
    state.queueOrder.push(item.conversation_id);
    remember(item.conversation_id, item);
  }
  if (Array.isArray(payload.agents)) state.agents = payload.agents.filter((a) => a && a.id);
  if (payload.queues && typeof payload.queues === "object") state.queueLengths = payload.queues;
  // The snapshot is the truth about the chats it lists: an offer it shows as not ours was
  // withdrawn while this console was not listening (its `offer_withdrawn` lost with the
  // connection). An offered chat the snapshot leaves out stays until its own deadline.
  const listed = state.offer && state.queue.get(state.offer.conversation_id);
  if (listed && listed.offered_to !== state.session?.agent?.id) state.offer = null;
  renderQueue();
  renderSupervisor();
}

function remember(conversationId, facts) {
  const known = state.seen.get(conversationId) || {};
  for (const key of ["language", "team", "priority", "tier", "widened", "deadline"]) {
    if (facts[key] !== undefined && facts[key] !== null) known[key] = facts[key];
  }
  state.seen.set(conversationId, known);
}

/** The waiting items to show: the queue, with an offered chat first even if not in it. */
function visibleQueue() {
  const items = state.queueOrder.map((id) => state.queue.get(id));
  const offered = state.offer?.conversation_id;
  if (offered && !state.chats.has(offered)) {
    const index = items.findIndex((item) => item.conversation_id === offered);
    if (index > 0) items.unshift(...items.splice(index, 1));
    if (index === -1 && state.offer.item) items.unshift(state.offer.item);
  }
  return items;
}

function renderQueue() {
  const items = visibleQueue();
  const keep = new Set(items.map((item) => item.conversation_id));
  for (const node of /** @type {HTMLElement[]} */ ([...els.queue.children])) {
    if (!keep.has(node.dataset.conversationId)) node.remove();
  }
  let previous = null;
  for (const item of items) {
    let node = els.queue.querySelector(
      `.qitem[data-conversation-id="${CSS.escape(item.conversation_id)}"]`,
    );
    if (!node) node = buildQueueItem(item.conversation_id);
    fillQueueItem(node, item);
    const wanted = previous ? previous.nextElementSibling : els.queue.firstElementChild;
    if (wanted !== node) els.queue.insertBefore(node, wanted);
    previous = node;
  }
  els.queueCount.textContent = String(state.queueOrder.length);
  els.queueEmpty.hidden = items.length > 0;
  updateTitle();
  tickQueue();
}

function buildQueueItem(conversationId) {
  const node = element("li", "qitem");
  node.dataset.conversationId = conversationId;
  const top = element("div", "qitem-top");
  const language = element("span", "qitem-language");
  const tag = element("span", "lang-tag");
  const name = element("span", "qitem-language-name");
  language.append(tag, name);
  const countdown = element("span", "countdown");
  countdown.append(icon(ICONS.clock, 12), element("span", "countdown-text"));
  top.append(language, countdown);
  // The facts are redrawn on every snapshot; the button stays the same element, so a
  // snapshot arriving mid-click does not swallow the click.
  const meta = element("div", "qitem-meta");
  const facts = element("span", "qitem-facts");
  const accept = element("button", "button button--primary button--small accept");
  accept.type = "button";
  accept.addEventListener("click", () => acceptChat(conversationId));
  meta.append(facts, accept);
  const preview = element("p", "qitem-preview user-text");
  preview.dir = "auto";
  const offer = element("p", "offer-timer");
  offer.hidden = true;
  const bar = element("div", "qitem-bar");
  bar.append(element("span", "qitem-bar-fill"));
  node.append(top, meta, preview, offer, bar);
  return node;
}

function fillQueueItem(node, item) {
  const priority = PRIORITIES.includes(item.priority) ? item.priority : "medium";
  node.dataset.priority = priority;
  node.classList.toggle("is-offered", state.offer?.conversation_id === item.conversation_id);
  node.classList.toggle("is-widened", Boolean(item.widened));
  node.querySelector(".lang-tag").textContent = String(item.language || "?");
  const name = node.querySelector(".qitem-language-name");
  name.textContent = languageName(item.language);
  name.title = languageLabel(item.language);
  const facts = node.querySelector(".qitem-facts");
  facts.replaceChildren(
    element("span", "prio prio--" + priority, priorityName(priority)),
    element("span", "qitem-team", teamName(item.team)),
  );
  if (Number.isInteger(item.position)) {
    const position = element("span", "qitem-position", "#" + item.position);
    position.title = _("#{position} in queue", { position: item.position });
    facts.append(position);
  }
  if (item.tier === "vip") {
    const vip = element("span", "badge badge--vip", _("VIP"));
    vip.prepend(icon(ICONS.star, 10));
    facts.append(vip);
  }
  if (item.widened) {
    const widened = element("span", "badge badge--widened", _("Widened"));
    widened.title = _("No agent for this language was free: offered to English speakers too.");
    widened.prepend(icon(ICONS.globe, 10));
    facts.append(widened);
  }
  node.querySelector(".qitem-preview").textContent = displayText(item.preview || "");
  node.querySelector(".qitem-preview").hidden = !item.preview;
  const accept = node.querySelector(".accept");
  accept.textContent = _("Accept");
  accept.disabled = state.accepting.has(item.conversation_id);
  accept.setAttribute(
    "aria-label",
    _("Accept chat in {language}", { language: languageName(item.language) }),
  );
}

/** Every second: the countdowns of the queue, the offer and the chats. */
function tickQueue() {
  for (const node of /** @type {HTMLCollectionOf<HTMLElement>} */ (els.queue.children)) {
    const id = node.dataset.conversationId;
    const item = state.queue.get(id) || (state.offer?.conversation_id === id ? state.offer.item : null);
    if (!item) continue;
    const remaining = remainingOf(item);
    /** @type {HTMLElement} */
    const countdown = node.querySelector(".countdown");
    const text = countdown.querySelector(".countdown-text");
    let label;
    let level;
    if (remaining < 0) {
      label = _("Overdue {time}", { time: clockText(remaining) });
      level = "overdue";
    } else {
      label = clockText(Math.ceil(remaining));
      level = remaining < URGENT_BELOW_S ? "urgent" : "ok";
    }
    if (text.textContent !== label) text.textContent = label;
    countdown.dataset.level = level;
    countdown.title = _("Time left to the first reply");
    node.dataset.level = level;
    const fraction = Math.min(1, Math.max(0, remaining / FIRST_RESPONSE_TARGET_S));
    /** @type {HTMLElement} */
    const bar = node.querySelector(".qitem-bar-fill");
    bar.style.inlineSize = (fraction * 100).toFixed(1) + "%";
    /** @type {HTMLElement} */
    const offer = node.querySelector(".offer-timer");
    if (state.offer?.conversation_id === id) {
      const left = secondsUntil(state.offer.deadline);
      offer.hidden = false;
      const offerLabel = _("Offered to you · {seconds} s", {
        seconds: Math.max(0, Math.ceil(left)),
      });
      if (offer.textContent !== offerLabel) offer.textContent = offerLabel;
    } else {
      offer.hidden = true;
    }
  }
}

/** @param {import("../shared/protocol.js").OfferPayload} payload */
function onOffer(payload) {
  if (!payload || typeof payload.conversation_id !== "string") return;
  let deadline = localDeadline(payload.expires_at);
  if (Number.isNaN(deadline)) deadline = Date.now() + 15000;
  const known = state.queue.get(payload.conversation_id);
  let item = known || null;
  if (!item && typeof payload.queue === "string" && payload.queue.includes("/")) {
    // Offered before the queue snapshot showed it: enough to show and accept it.
    const [language, team] = payload.queue.split("/");
    item = {
      conversation_id: payload.conversation_id,
      language,
      team,
      deadline: Date.now() + FIRST_RESPONSE_TARGET_S * 1000,
    };
  }
  // The same offer pushed again (a console on a shared desk can hear one twice) updates
  // what is shown; the toast is for a new one.
  const again = state.offer?.conversation_id === payload.conversation_id;
  state.offer = { conversation_id: payload.conversation_id, deadline, item };
  renderQueue();
  if (!again) toast(_("A chat is offered to you."), "info");
}

/** @param {import("../shared/protocol.js").ConversationIdPayload} payload */
function onOfferWithdrawn(payload) {
  if (state.offer && payload?.conversation_id === state.offer.conversation_id) {
    state.offer = null;
    renderQueue();
  }
}

function expireOffer() {
  if (!state.offer) return;
  if (secondsUntil(state.offer.deadline) > 0 && !state.chats.has(state.offer.conversation_id)) {
    return;
  }
  state.offer = null;
  renderQueue();
}

async function acceptChat(conversationId) {
  if (state.accepting.has(conversationId)) return;
  state.accepting.add(conversationId);
  renderQueue();
  const queued = state.queue.get(conversationId) || state.offer?.item;
  /** @type {import("../shared/protocol.js").AcceptAck | import("../shared/protocol.js").ErrorAck | null} */
  const answer = await call(AgentRequest.ACCEPT, { conversation_id: conversationId });
  state.accepting.delete(conversationId);
  if (answer?.ok) {
    if (state.offer?.conversation_id === conversationId) state.offer = null;
    dropFromQueue(conversationId);
    // The acknowledgement names the chat; the `conversation` event (which may come before
    // or after it) carries the conversation and its transcript.
    upsertChat({ conversation: { id: conversationId } }, { select: true, queued });
    return;
  }
  const code = failureCode(answer);
  if (code === "already_taken") {
    if (state.offer?.conversation_id === conversationId) state.offer = null;
    dropFromQueue(conversationId);
    toast(errorText(code), "info");
    return;
  }
  renderQueue();
  toast(errorText(code), "error");
}

function dropFromQueue(conversationId) {
  state.queue.delete(conversationId);
  state.queueOrder = state.queueOrder.filter((id) => id !== conversationId);
  renderQueue();
  renderSupervisor();
}

/* ---------- chats ---------- */

function newChat(id) {
  const chat = {
    id,
    conversation: { id },
    detected: null,
    original: null,
    faq: null,
    widened: false,
    deadline: Number.NaN, // first reply due (this clock's ms)
    replied: false,
    warned: false,
    breached: false,
    closed: false,
    unread: 0,
    bySeq: new Map(), // seq -> element
    byId: new Map(), // message id -> element
    pending: new Map(), // client_id -> element (optimistic)
    noteMode: false,
  };
  buildChat(chat);
  state.chats.set(id, chat);
  // Sends of this chat still waiting from before a reload are shown as they were.
  for (const item of outbox.items) {
    if (item.conversation_id === id) showPending(chat, item);
  }
  return chat;
}

function buildChat(chat) {
  const panelId = "chat-panel-" + chat.id;
  const tab = element("button", "tab");
  tab.type = "button";
  tab.setAttribute("role", "tab");
  tab.id = "chat-tab-" + chat.id;
  tab.setAttribute("aria-controls", panelId);
  tab.dataset.conversationId = chat.id;
  const tabLang = element("span", "lang-tag");
  const tabText = element("span", "tab-text");
  const tabTitle = element("span", "tab-title");
  const tabSub = element("span", "tab-sub");
  tabText.append(tabTitle, tabSub);
  const tabUnread = element("span", "tab-unread");
  tabUnread.hidden = true;
  tab.append(tabLang, tabText, tabUnread);
  tab.addEventListener("click", () => selectChat(chat.id));
  tab.addEventListener("keydown", (event) => moveTabFocus(event, chat.id));

  const panel = element("section", "chat");
  panel.id = panelId;
  panel.setAttribute("role", "tabpanel");
  panel.setAttribute("aria-labelledby", tab.id);
  panel.dataset.conversationId = chat.id;
  panel.hidden = true;

  const head = element("header", "chat-head");
  const titles = element("div", "chat-titles");
  const title = element("h2", "chat-title");
  const facts = element("div", "chat-facts");
  titles.append(title, facts);
  const sla = element("div", "sla-pill");
  sla.append(icon(ICONS.clock, 13), element("span", "sla-text"));
  const actions = element("div", "chat-actions");
  const transfer = element("button", "button button--small chat-transfer");
  transfer.type = "button";
  transfer.append(icon(ICONS.transfer, 13), element("span", "button-label"));
  transfer.addEventListener("click", () => openTransfer(chat));
  const close = element("button", "button button--small chat-close");
  close.type = "button";
  close.append(icon(ICONS.check, 13), element("span", "button-label"));
  close.addEventListener("click", () => closeChat(chat));
  const dismiss = element("button", "button button--small chat-dismiss");
  dismiss.type = "button";
  dismiss.append(icon(ICONS.close, 13), element("span", "button-label"));
  dismiss.hidden = true;
  dismiss.addEventListener("click", () => removeChat(chat.id));
  const transcriptExport = exportButton(chat.id, {
    token: () => state.session?.token,
    translate: _,
    onError: (text) => toast(text, "error"),
  });
  actions.append(transfer, close, transcriptExport, dismiss);
  head.append(titles, sla, actions);

  const banner = element("div", "widened-banner");
  banner.hidden = true;

  const transcript = element("ol", "transcript");
  transcript.setAttribute("role", "log");
  transcript.setAttribute("aria-live", "polite");
  transcript.tabIndex = 0;

  const composer = element("form", "composer");
  composer.noValidate = true;
  const input = element("textarea", "composer-input");
  input.rows = 2;
  input.dir = "auto";
  input.id = "composer-" + chat.id;
  const inputLabel = element("label", "visually-hidden");
  inputLabel.htmlFor = input.id;
  const bar = element("div", "composer-bar");
  const noteToggle = element("button", "note-toggle");
  noteToggle.type = "button";
  noteToggle.setAttribute("aria-pressed", "false");
  noteToggle.append(icon(ICONS.lock, 12), element("span", "button-label"));
  noteToggle.addEventListener("click", () => setNoteMode(chat, !chat.noteMode));
  const hint = element("span", "composer-hint");
  const send = element("button", "button button--primary button--small composer-send");
  send.type = "submit";
  send.append(element("span", "button-label"), icon(ICONS.send, 13));
  bar.append(noteToggle, hint, send);
  composer.append(inputLabel, input, bar);
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || chat.closed) return;
    input.value = "";
    const kind = chat.noteMode ? "note" : "message";
    sendText(chat, text, kind);
    // A note is a one-off aside: the next thing typed goes to the customer again.
    if (kind === "note") setNoteMode(chat, false);
  });
  input.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; Enter confirming an IME conversion does not.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
      return;
    }
    event.preventDefault();
    composer.requestSubmit();
  });

  panel.append(head, banner, transcript, composer);
  chat.tab = tab;
  chat.panel = panel;
  chat.els = {
    tabLang, tabTitle, tabSub, tabUnread, title, facts, sla, transfer, close, dismiss,
    transcriptExport, banner, transcript, composer, input, inputLabel, noteToggle, hint, send,
  };
  els.tabs.append(tab);
  els.panels.append(panel);
  live.attach(chat);
  customerPanel.attach(chat);
  canned.attach(chat);
  applyChatStrings(chat);
}

function applyChatStrings(chat) {
  const e = chat.els;
  e.transfer.querySelector(".button-label").textContent = _("Transfer");
  e.close.querySelector(".button-label").textContent = _("Close chat");
  e.dismiss.querySelector(".button-label").textContent = _("Remove from list");
  labelExport(e.transcriptExport, _);
  e.noteToggle.querySelector(".button-label").textContent = _("Note");
  e.noteToggle.title = _("Internal note: only agents see it");
  e.hint.textContent = _("Enter to send · Shift+Enter for a new line");
  e.inputLabel.textContent = chat.noteMode ? _("Internal note") : _("Reply");
  e.input.placeholder = chat.noteMode
    ? _("Write an internal note. The customer will not see it.")
    : _("Write a reply to the customer…");
  e.send.querySelector(".button-label").textContent = chat.noteMode ? _("Add note") : _("Send");
  e.transcript.setAttribute("aria-label", _("Transcript"));
  live.relabel(chat);
}

function setNoteMode(chat, on) {
  chat.noteMode = on;
  chat.els.noteToggle.setAttribute("aria-pressed", on ? "true" : "false");
  chat.els.composer.classList.toggle("is-note", on);
  applyChatStrings(chat);
  chat.els.input.focus();
}

function moveTabFocus(event, id) {
  if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
  const ids = [...state.chats.keys()];
  let index = ids.indexOf(id);
  const forward = document.documentElement.dir === "rtl" ? "ArrowLeft" : "ArrowRight";
  if (event.key === "Home") index = 0;
  else if (event.key === "End") index = ids.length - 1;
  else index = (index + (event.key === forward ? 1 : -1) + ids.length) % ids.length;
  event.preventDefault();
  selectChat(ids[index]);
  state.chats.get(ids[index])?.tab.focus();
}

/** @param {import("../shared/protocol.js").BriefingPayload} payload */
function onConversation(payload) {
  if (!payload || typeof payload !== "object") return;
  const conversation = payload.conversation;
  if (!conversation || typeof conversation.id !== "string") return;
  const fresh = !state.chats.has(conversation.id);
  // A chat this agent is accepting opens in front; one assigned by someone else (or the
  // router) opens behind, with a word. `held` chats were this agent's already: the server
  // sends them again when a console (re)connects.
  const accepting = state.accepting.has(conversation.id);
  upsertChat(payload, { select: accepting || (fresh && state.activeChat === null) });
  if (fresh) {
    dropFromQueue(conversation.id);
    if (!accepting && !payload.held && state.activeChat !== conversation.id) {
      toast(_("A new chat is yours."), "info");
    }
  }
}

function upsertChat(payload, { select = false, queued = null } = {}) {
  const conversation = payload.conversation || {};
  const id = conversation.id;
  const chat = state.chats.get(id) || newChat(id);
  chat.conversation = { ...chat.conversation, ...conversation };
  if (queued) remember(id, queued);
  const known = state.seen.get(id) || {};
  if (typeof payload.detected_language === "string") chat.detected = payload.detected_language;
  if (typeof payload.original_text === "string") chat.original = payload.original_text;
  if (payload.faq && typeof payload.faq === "object") chat.faq = payload.faq;
  const widened = payload.widened ?? conversation.widened ?? conversation.fallback;
  if (typeof widened === "boolean") chat.widened = widened;
  else if (known.widened) chat.widened = true;
  // The first-response clock: the server's, else what the queue showed for this chat.
  applySla(chat, payload.sla);
  if (Number.isNaN(chat.deadline) && Number.isFinite(known.deadline)) chat.deadline = known.deadline;
  if (Array.isArray(payload.messages)) addMessages(chat, payload.messages);
  if (CLOSED_STATUSES.has(conversation.status)) markClosed(chat);
  renderChatHead(chat);
  renderChats();
  if (select) selectChat(id);
  tickChats();
  return chat;
}

/** The `sla` of a conversation payload: AppliedSla ({first_response: {...}}) or one clock. */
function applySla(chat, sla) {
  if (!sla || typeof sla !== "object") return;
  const clock = sla.first_response && typeof sla.first_response === "object" ? sla.first_response : sla;
  const seconds = finite(clock.remaining_seconds);
  if (!Number.isNaN(seconds)) chat.deadline = Date.now() + seconds * 1000;
  else if (clock.due_at) chat.deadline = localDeadline(clock.due_at);
  if (clock.status === "hit" || clock.stopped_at) chat.replied = true;
  if (clock.status === "missed" || clock.breached) chat.breached = true;
}

function chatFacts(chat) {
  const c = chat.conversation;
  const known = state.seen.get(chat.id) || {};
  return {
    language: chat.detected || c.language || known.language,
    team: c.team || known.team,
    priority: c.priority || known.priority,
    tier: c.tier || known.tier,
  };
}

function chatTitle(chat) {
  const c = chat.conversation;
  if (typeof c.customer_name === "string" && c.customer_name) return c.customer_name;
  if (typeof c.tracking_number === "string" && c.tracking_number) {
    return _("Customer {tracking}", { tracking: c.tracking_number });
  }
  return _("Customer {tracking}", { tracking: String(chat.id).slice(0, 6).toUpperCase() });
}

function renderChatHead(chat) {
  const e = chat.els;
  const facts = chatFacts(chat);
  const priority = PRIORITIES.includes(facts.priority) ? facts.priority : null;
  e.tabLang.textContent = facts.language || "?";
  setUserText(e.tabTitle, chatTitle(chat));
  e.tabSub.textContent = [languageName(facts.language), teamName(facts.team)]
    .filter(Boolean)
    .join(" · ");
  setUserText(e.title, chatTitle(chat));
  const parts = [];
  if (facts.language) {
    const language = element("span", "fact fact--language");
    language.append(icon(ICONS.globe, 12), element("span", "", languageLabel(facts.language)));
    language.title = _("Customer's language (detected)");
    parts.push(language);
  }
  if (facts.team) parts.push(element("span", "fact", teamName(facts.team)));
  if (priority) parts.push(element("span", "prio prio--" + priority, priorityName(priority)));
  if (facts.tier === "vip") {
    const vip = element("span", "badge badge--vip", _("VIP"));
    vip.prepend(icon(ICONS.star, 10));
    parts.push(vip);
  }
  if (chat.widened) {
    const badge = element("span", "badge badge--widened", _("Widened"));
    badge.prepend(icon(ICONS.globe, 10));
    parts.push(badge);
  }
  if (chat.closed) parts.push(element("span", "badge badge--closed", _("Closed")));
  e.facts.replaceChildren(...parts);
  renderBanner(chat, facts);
  chat.panel.classList.toggle("is-closed", chat.closed);
  chat.tab.classList.toggle("is-closed", chat.closed);
  e.input.disabled = chat.closed;
  e.send.disabled = chat.closed;
  e.noteToggle.disabled = chat.closed;
  e.transfer.hidden = chat.closed;
  e.close.hidden = chat.closed;
  e.dismiss.hidden = !chat.closed;
}

/** For a widened chat: what the English agent needs to understand it. */
function renderBanner(chat, facts) {
  const agentLanguages = state.session?.agent?.languages || [];
  const foreign = facts.language && agentLanguages.length && !agentLanguages.includes(facts.language);
  const show = chat.widened || (foreign && (chat.original || chat.faq));
  chat.els.banner.hidden = !show;
  if (!show) return;
  const rows = [];
  const head = element("p", "banner-head");
  head.append(
    icon(ICONS.globe, 14),
    element(
      "span",
      "",
      _("Widened to English: the customer writes in {language}.", {
        language: languageLabel(facts.language || "?"),
      }),
    ),
  );
  rows.push(head);
  if (chat.original) {
    const row = element("div", "banner-row");
    row.append(element("span", "banner-label", _("Original text")));
    const text = userElement("q", "banner-original", chat.original);
    if (facts.language) text.lang = facts.language;
    row.append(text);
    rows.push(row);
  }
  if (chat.faq && (chat.faq.question_en || chat.faq.id)) {
    const row = element("div", "banner-row");
    row.append(element("span", "banner-label", _("Matched FAQ (English)")));
    const faq = userElement("span", "banner-faq", chat.faq.question_en || "");
    faq.dir = "ltr";
    faq.lang = "en";
    if (chat.faq.id) faq.append(element("code", "faq-id", chat.faq.id));
    row.append(faq);
    rows.push(row);
  }
  chat.els.banner.replaceChildren(...rows);
}

function renderChats() {
  const any = state.chats.size > 0;
  els.chatsEmpty.hidden = any;
  els.tabs.hidden = !any;
  if (state.activeChat && !state.chats.has(state.activeChat)) state.activeChat = null;
  if (!state.activeChat && any) selectChat(state.chats.keys().next().value);
  renderSupervisor();
}

function selectChat(id) {
  const chat = state.chats.get(id);
  if (!chat) return;
  state.activeChat = id;
  for (const other of state.chats.values()) {
    const on = other.id === id;
    other.tab.setAttribute("aria-selected", on ? "true" : "false");
    other.tab.tabIndex = on ? 0 : -1;
    other.panel.hidden = !on;
  }
  chat.unread = 0;
  renderUnread(chat);
  scrollToBottom(chat);
  updateTitle();
}

function removeChat(id) {
  const chat = state.chats.get(id);
  if (!chat) return;
  live.stop(chat);
  customerPanel.forget(id);
  canned.forget(id);
  chat.tab.remove();
  chat.panel.remove();
  state.chats.delete(id);
  if (state.activeChat === id) state.activeChat = null;
  renderChats();
  updateTitle();
}

/**
 * The chat left this agent (transferred, re-assigned by a supervisor).
 * @param {import("../shared/protocol.js").ConversationIdPayload} payload
 */
function onReleased(payload) {
  const chat = state.chats.get(payload?.conversation_id);
  if (!chat) return;
  const title = chatTitle(chat);
  removeChat(chat.id);
  toast(withUserText(_("{chat} is no longer yours."), { chat: title }), "info");
}

/** @param {import("../shared/protocol.js").AgentClosedPayload} payload */
function onClosed(payload) {
  const chat = state.chats.get(payload?.conversation_id);
  if (!chat) return;
  markClosed(chat);
  renderChatHead(chat);
  tickChats();
}

function markClosed(chat) {
  chat.closed = true;
  live.stop(chat);
}

function renderUnread(chat) {
  chat.els.tabUnread.hidden = chat.unread === 0;
  chat.els.tabUnread.textContent = String(chat.unread);
}

function updateTitle() {
  const waiting = state.queueOrder.length;
  const unread = [...state.chats.values()].reduce((sum, chat) => sum + chat.unread, 0);
  const base = _("Support console");
  const count = waiting + unread;
  document.title = count > 0 ? "(" + count + ") " + base : base;
}

/** Every tick: the first-reply countdown of each chat. */
function tickChats() {
  for (const chat of state.chats.values()) {
    const pill = chat.els.sla;
    const text = pill.querySelector(".sla-text");
    let label = "";
    let level = "none";
    if (chat.replied) {
      label = chat.breached ? _("First reply sent late") : _("First reply sent");
      level = chat.breached ? "late" : "done";
    } else if (chat.closed) {
      level = "none";
    } else if (Number.isFinite(chat.deadline)) {
      const remaining = secondsUntil(chat.deadline);
      if (remaining < 0 || chat.breached) {
        label = _("First reply overdue {time}", { time: clockText(Math.min(remaining, 0)) });
        level = "overdue";
      } else {
        label = _("First reply due in {time}", { time: clockText(Math.ceil(remaining)) });
        level = remaining < URGENT_BELOW_S ? "urgent" : "ok";
      }
    }
    pill.hidden = level === "none";
    if (text.textContent !== label) text.textContent = label;
    pill.dataset.level = level;
    chat.tab.dataset.level = level;
  }
}

/* ---------- messages ---------- */

function isMessage(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof value.text === "string" &&
    typeof value.author === "string"
  );
}

function isNote(message) {
  const meta = message.meta && typeof message.meta === "object" ? message.meta : {};
  return (
    message.author === "note" ||
    message.internal === true ||
    meta.internal === true ||
    meta.kind === "note" ||
    (typeof message.client_id === "string" && state.noteIds.has(message.client_id))
  );
}

function rememberNote(clientId) {
  state.noteIds.add(clientId);
  const ids = [...state.noteIds].slice(-MAX_NOTE_IDS);
  state.noteIds = new Set(ids);
  saveJson(NOTES_KEY, ids);
}

/** @param {import("../shared/protocol.js").MessagePayload} message */
function onPushedMessage(message) {
  if (!isMessage(message) || typeof message.conversation_id !== "string") return;
  const chat = state.chats.get(message.conversation_id);
  if (!chat) {
    // A message of a chat whose `conversation` has not arrived yet: it brings the
    // transcript, this one included.
    return;
  }
  const before = chat.byId.size;
  addMessages(chat, [message]);
  if (chat.byId.size > before && message.author === "customer" && state.activeChat !== chat.id) {
    chat.unread += 1;
    renderUnread(chat);
    updateTitle();
  }
  const meta = message.meta && typeof message.meta === "object" ? message.meta : {};
  if (message.author === "system" && (meta.kind === "closed" || meta.kind === "customer_left")) {
    markClosed(chat);
    renderChatHead(chat);
  }
}

function addMessages(chat, messages) {
  const follow = nearBottom(chat);
  for (const message of messages.filter(isMessage).sort(bySeq)) addMessage(chat, message);
  if (follow || messages.length > 1) scrollToBottom(chat);
  tickChats();
}

function addMessage(chat, message) {
  if (message.client_id) outbox.drop(message.client_id);
  const pending = message.client_id ? chat.pending.get(message.client_id) : undefined;
  const key = message.id || (Number.isInteger(message.seq) ? "seq:" + message.seq : null);
  if ((key && chat.byId.has(key)) || (Number.isInteger(message.seq) && chat.bySeq.has(message.seq))) {
    if (pending) {
      pending.remove();
      chat.pending.delete(message.client_id);
    }
    return;
  }
  let item;
  if (pending) {
    item = pending;
    chat.pending.delete(message.client_id);
    item.classList.remove("is-pending", "is-failed");
    item.querySelector(".msg-delivery")?.replaceChildren();
  } else {
    item = buildMessage(chat, message);
  }
  setTime(item, message.created_at, timeFormat(false));
  if (Number.isInteger(message.seq)) {
    item.dataset.seq = String(message.seq);
    chat.bySeq.set(message.seq, item);
  }
  if (key) chat.byId.set(key, item);
  insertBySeq(chat.els.transcript, item, Number.isInteger(message.seq) ? message.seq : Infinity);
  if (message.author === "agent" && !isNote(message)) chat.replied = true;
  live.added(chat, message);
}

/** Who wrote a message, as parts for node.append(...): an agent's name is text they wrote. */
function authorLabel(chat, message, note) {
  const meta = message.meta && typeof message.meta === "object" ? message.meta : {};
  const me = state.session?.agent;
  const agentId = meta.agent_id ?? message.agent_id ?? meta.agent?.id;
  const agentName = meta.agent_name ?? message.agent_name ?? meta.agent?.name;
  const mine = (agentId && me && agentId === me.id) || message._mine;
  if (note) {
    const who = mine ? _("You") : agentName || _("Agent");
    return withUserText(_("Internal note · {name}"), { name: who });
  }
  switch (message.author) {
    case "customer":
      return [_("Customer")];
    case "bot":
      return [_("Virtual assistant")];
    case "agent":
      return [mine ? _("You") : agentName ? displayText(agentName) : _("Agent")];
    default:
      return [];
  }
}

/**
 * What a message says, as parts for node.append(...); a transfer note (the name and the
 * reason each isolated) and the customer's leaving (told to the customer in their
 * language) are worded in the agent's language from their meta.
 */
function messageText(message) {
  const meta = message.meta && typeof message.meta === "object" ? message.meta : {};
  if (meta.kind === "transfer" && typeof meta.agent_name === "string") {
    const reason = typeof meta.reason === "string" ? meta.reason.trim() : "";
    const template = _("Transferred by {name}: {reason}");
    if (!reason) {
      // "Transferred by Aiko:" with nothing after the colon: the sentence up to its value.
      return withUserText(template.replace(/\{reason\}/g, "").trim(), { name: meta.agent_name });
    }
    return withUserText(template, { name: meta.agent_name, reason });
  }
  if (message.author === "system" && meta.kind === "customer_left") {
    return [_("The customer left: they were away for too long. The chat has ended.")];
  }
  return [displayText(message.text)];
}

function buildMessage(chat, message) {
  const note = isNote(message);
  const kind = note ? "note" : AUTHORS.has(message.author) ? message.author : "system";
  const item = element("li", "msg msg--" + kind);
  item.dataset.author = kind;
  if (kind !== "system") {
    const head = element("div", "msg-head");
    if (note) head.append(icon(ICONS.lock, 11));
    const author = element("span", "msg-author user-text");
    author.append(...authorLabel(chat, message, note));
    author.dir = "auto";
    head.append(author, element("time", "msg-time"));
    item.append(head);
  }
  const bubble = element("div", "msg-bubble user-text"); // text, never HTML
  bubble.append(...messageText(message));
  bubble.dir = "auto";
  const language = message.language || (message.author === "customer" ? chat.detected : null);
  if (language) bubble.lang = language;
  item.append(bubble);
  const faq = faqLine(message);
  if (faq) item.append(faq);
  if (kind === "customer" || kind === "agent" || kind === "note") {
    const delivery = element("div", "msg-delivery");
    item.append(delivery);
  }
  return item;
}

/**
 * Under a customer's message, for an agent serving the chat in another language: the FAQ
 * entry it matched, in the agent's language (the server sends it only then), so they know
 * what was asked. "FAQ: I forgot my MT5 password. How can I reset it?"
 */
function faqLine(message) {
  const faq = message.author === "customer" ? message.faq : null;
  if (!faq || typeof faq !== "object" || typeof faq.question !== "string" || !faq.question) {
    return null;
  }
  const line = element("p", "msg-faq");
  line.append(...withUserText(_("FAQ: {question}"), { question: faq.question }));
  const question = line.querySelector("bdi");
  if (question && typeof faq.language === "string") question.lang = faq.language;
  if (typeof faq.id === "string") line.title = faq.id;
  return line;
}

function nearBottom(chat) {
  const list = chat.els.transcript;
  return list.scrollHeight - list.scrollTop - list.clientHeight < 96;
}

function scrollToBottom(chat) {
  chat.els.transcript.scrollTop = chat.els.transcript.scrollHeight;
}

/* ---------- sending (outbox) ---------- */

/** @typedef {{client_id: string, conversation_id: string, kind?: string, text: string, attempts?: number}} ConsoleItem */

/** Messages and notes not acknowledged yet, in order (static/shared/outbox.js). */
const outbox = createOutbox(/** @type {ConsoleItem[]} */ (loadOutbox()), {
  ready: () => Boolean(socket?.connected),
  connected: () => Boolean(socket?.connected),
  save: (items) => saveJson(OUTBOX_KEY, storedItems(items, OUTBOX_FIELDS)),
  send: (item) => {
    const payload = {
      conversation_id: item.conversation_id,
      text: item.text,
      client_id: item.client_id,
    };
    return call(item.kind === "note" ? AgentRequest.NOTE : AgentRequest.MESSAGE, payload);
  },
  /** @param {import("../shared/protocol.js").MessageAck} answer */
  sent: (item, answer) => {
    const stored = answer.message ?? /** @type {any} */ (answer).note;
    const chat = state.chats.get(item.conversation_id);
    if (!chat) return;
    if (isMessage(stored)) {
      addMessages(chat, [{ ...stored, client_id: stored.client_id ?? item.client_id }]);
    } else {
      settlePending(chat, item.client_id);
    }
    if (item.kind !== "note") {
      chat.replied = true;
      tickChats();
    }
  },
  retrying: (item) => {
    const node = pendingNode(item);
    if (node) setDelivery(node, "retrying");
  },
  refused: (item, code) => {
    // Refused for good: keep it visible with the reason, and go on with the others.
    if (!PERMANENT_ERRORS.has(code)) console.warn("send refused:", code);
    const node = pendingNode(item);
    if (node) setDelivery(node, "failed", code);
    const chat = state.chats.get(item.conversation_id);
    if (chat && code === "conversation_closed") {
      markClosed(chat);
      renderChatHead(chat);
    }
  },
});

function sendText(chat, text, kind) {
  const item = { client_id: newClientId(), conversation_id: chat.id, kind, text };
  if (kind === "note") rememberNote(item.client_id);
  outbox.add(item);
  showPending(chat, item);
  scrollToBottom(chat);
  outbox.pump();
}

function showPending(chat, item) {
  const message = {
    author: item.kind === "note" ? "note" : "agent",
    text: item.text,
    _mine: true,
  };
  const node = buildMessage(chat, message);
  node.classList.add("is-pending");
  node.dataset.clientId = item.client_id;
  setDelivery(node, "sending");
  chat.els.transcript.append(node);
  chat.pending.set(item.client_id, node);
}

function setDelivery(node, status, code) {
  const delivery = node.querySelector(".msg-delivery");
  if (!delivery) return;
  delivery.replaceChildren();
  node.classList.toggle("is-failed", status === "failed");
  if (status === "sending") delivery.textContent = _("Sending…");
  else if (status === "retrying") delivery.textContent = _("Not sent yet. Retrying…");
  else if (status === "failed") {
    delivery.append(element("span", "msg-error", errorText(code)));
    if (code !== "text_too_long" && code !== "invalid_payload" && code !== "conversation_closed") {
      const retry = element("button", "link-button", _("Retry"));
      retry.type = "button";
      retry.addEventListener("click", () => retryFailed(node.dataset.clientId));
      delivery.append(" ", retry);
    }
  }
}

function pendingNode(item) {
  return state.chats.get(item.conversation_id)?.pending.get(item.client_id) || null;
}

function retryFailed(clientId) {
  const item = outbox.retry(clientId);
  if (!item) return;
  const node = pendingNode(item);
  if (node) {
    node.parentElement?.append(node);
    setDelivery(node, "sending");
  }
  outbox.pump();
}

/** Acknowledged without the stored message: the optimistic copy stands as it is. */
function settlePending(chat, clientId) {
  const node = chat.pending.get(clientId);
  if (!node) return;
  chat.pending.delete(clientId);
  node.classList.remove("is-pending");
  node.querySelector(".msg-delivery")?.replaceChildren();
  setTime(node, new Date().toISOString(), timeFormat(false));
}

/* ---------- transfer and close ---------- */

function openTransfer(chat) {
  transferChat = chat;
  const facts = chatFacts(chat);
  els.transferError.hidden = true;
  els.transferReason.value = "";
  if (state.languages.length && facts.language) els.transferLanguage.value = facts.language;
  if (facts.team) els.transferTeam.value = facts.team;
  const me = state.session?.agent?.id;
  const others = state.agents.filter((agent) => agent.id !== me);
  els.transferAgent.replaceChildren(
    ...others.map((agent) => option(agent.id, agentOptionLabel(agent))),
  );
  els.transferToAgent.disabled = others.length === 0;
  if (others.length === 0) els.transferToQueue.checked = true;
  syncTransferFields();
  if (typeof els.transferDialog.showModal === "function") els.transferDialog.showModal();
  else els.transferDialog.setAttribute("open", "");
  els.transferReason.focus();
}

function agentOptionLabel(agent) {
  const load = agentLoad(agent);
  return _("{name} · {status} · {load}/{capacity}", {
    name: isolated(agent.name || agent.username || agent.id), // an <option> holds a string
    status: statusName(agent.status),
    load,
    capacity: agent.capacity ?? "?",
  });
}

function syncTransferFields() {
  const toAgent = els.transferToAgent.checked;
  els.transferAgentFields.hidden = !toAgent;
  els.transferQueueFields.hidden = toAgent;
}

function closeTransfer() {
  transferChat = null;
  if (els.transferDialog.open) els.transferDialog.close();
}

async function submitTransfer() {
  const chat = transferChat;
  if (!chat) return;
  const reason = els.transferReason.value.trim();
  if (!reason) {
    els.transferError.textContent = _("Please give a reason.");
    els.transferError.hidden = false;
    els.transferReason.focus();
    return;
  }
  const payload = { conversation_id: chat.id, reason };
  let target;
  if (els.transferToAgent.checked) {
    if (!els.transferAgent.value) return;
    payload.to_agent = els.transferAgent.value;
    const agent = state.agents.find((a) => a.id === payload.to_agent);
    target = agent?.name || agent?.username || payload.to_agent;
  } else {
    payload.to_queue = { language: els.transferLanguage.value, team: els.transferTeam.value };
    target = languageName(payload.to_queue.language) + " / " + teamName(payload.to_queue.team);
  }
  els.transferSubmit.disabled = true;
  const answer = await call(AgentRequest.TRANSFER, payload);
  els.transferSubmit.disabled = false;
  if (!answer?.ok) {
    els.transferError.textContent = errorText(failureCode(answer));
    els.transferError.hidden = false;
    return;
  }
  closeTransfer();
  removeChat(chat.id);
  toast(withUserText(_("Chat transferred to {target}."), { target }), "info");
}

async function closeChat(chat) {
  chat.els.close.disabled = true;
  const answer = await call(AgentRequest.CLOSE, { conversation_id: chat.id });
  chat.els.close.disabled = false;
  if (answer?.ok || answer?.error?.code === "conversation_closed") {
    markClosed(chat);
    renderChatHead(chat);
    tickChats();
    return;
  }
  toast(errorText(failureCode(answer)), "error");
}

/* ---------- SLA alerts ---------- */

/** @param {import("../shared/protocol.js").SlaWarningPayload | import("../shared/protocol.js").SlaBreachPayload} payload */
function onSla(type, payload) {
  if (!payload || typeof payload.conversation_id !== "string") return;
  const remaining = "remaining_seconds" in payload ? finite(payload.remaining_seconds) : Number.NaN;
  if (payload.due_at && !Number.isNaN(remaining)) {
    // Both the due time and the seconds left: the server's clock, to within the trip.
    const offset = Date.parse(payload.due_at) - remaining * 1000 - Date.now();
    if (!Number.isNaN(offset)) {
      state.clockOffsetMs = Math.abs(offset) >= CLOCK_OFFSET_MIN_MS ? offset : 0;
    }
  }
  const chat = state.chats.get(payload.conversation_id);
  if (chat && (payload.kind ?? "first_response") === "first_response") {
    if (!Number.isNaN(remaining)) chat.deadline = Date.now() + remaining * 1000;
    if (type === "warning") chat.warned = true;
    if (type === "breach") chat.breached = true;
    tickChats();
  }
  if (chat && type === "breach") {
    const missed = _("First-response target missed in {chat}.");
    toast(withUserText(missed, { chat: chatTitle(chat) }), "error");
  }
  state.alerts.unshift({
    type,
    conversation_id: payload.conversation_id,
    kind: payload.kind || "first_response",
    at: new Date(),
    remaining: Number.isNaN(remaining) ? null : remaining,
    label: inboxAlertLabel(payload, _),
  });
  if ("language" in payload && typeof payload.language === "string") remember(payload.conversation_id, payload);
  state.alerts.length = Math.min(state.alerts.length, MAX_ALERTS);
  renderSupervisor();
}

function describeConversation(conversationId) {
  const chat = state.chats.get(conversationId);
  const facts = chat ? chatFacts(chat) : state.queue.get(conversationId) || state.seen.get(conversationId) || {};
  const parts = [];
  if (facts.language) parts.push(languageLabel(facts.language));
  if (facts.team) parts.push(teamName(facts.team));
  return parts.join(" · ") || _("Chat {id}", { id: conversationId.slice(0, 6) });
}

/* ---------- supervisor panel ---------- */

function agentLoad(agent) {
  for (const key of ["load", "active", "active_chats", "chats"]) {
    const value = agent[key];
    if (Number.isInteger(value)) return value;
    if (Array.isArray(value)) return value.length;
  }
  return 0;
}

function renderSupervisor() {
  if (!state.session || !SUPERVISOR_ROLES.has(state.session.agent.role)) return;
  renderAgents();
  renderQueueTotals();
  renderAlerts();
  renderAssign();
}

function renderAgents() {
  const order = { online: 0, away: 1, offline: 2 };
  const agents = [...state.agents].sort(
    (a, b) =>
      (order[a.status] ?? 3) - (order[b.status] ?? 3) ||
      String(a.name).localeCompare(String(b.name)),
  );
  els.agents.replaceChildren(
    ...agents.map((agent) => {
      const row = element("li", "agent");
      row.dataset.status = agent.status || "offline";
      row.dataset.agentId = agent.id;
      const who = element("div", "agent-who");
      const name = userElement("span", "agent-name", agent.name || agent.username || agent.id);
      who.append(element("span", "status-dot"), name);
      const status = element("span", "agent-status", statusName(agent.status || "offline"));
      who.append(status);
      const load = agentLoad(agent);
      const capacity = Number.isInteger(agent.capacity) ? agent.capacity : null;
      const meter = element("div", "agent-load");
      const bar = element("span", "meter");
      const fill = element("span", "meter-fill");
      const fraction = capacity ? Math.min(1, load / capacity) : 0;
      fill.style.inlineSize = (fraction * 100).toFixed(0) + "%";
      bar.dataset.full = capacity !== null && load >= capacity ? "1" : "0";
      bar.append(fill);
      meter.append(bar, element("span", "agent-load-text", capacity === null ? String(load) : load + "/" + capacity));
      meter.title = _("Chats: {load} of {capacity}", { load, capacity: capacity ?? "?" });
      const languages = element("div", "agent-languages");
      for (const tag of Array.isArray(agent.languages) ? agent.languages : []) {
        const chip = element("span", "lang-tag lang-tag--small", tag);
        chip.title = languageName(tag);
        languages.append(chip);
      }
      row.append(who, meter, languages);
      return row;
    }),
  );
  const online = state.agents.filter((agent) => agent.status === "online").length;
  els.agentsCount.textContent = online + "/" + state.agents.length;
  els.agentsCount.title = _("{online} of {total} online", { online, total: state.agents.length });
  els.agentsEmpty.hidden = state.agents.length > 0;
}

/** Waiting chats per queue: the desk's own counts when the server sends them (a supervisor
 * sees every queue), else those of the visible waiting list; the longest wait is known only
 * for the chats this console sees. */
function renderQueueTotals() {
  const groups = new Map();
  const group = (language, team) => {
    const key = (language || "?") + "/" + (team || "?");
    if (!groups.has(key)) {
      groups.set(key, { key, language, team, count: 0, longest: Number.NaN, widened: 0 });
    }
    return groups.get(key);
  };
  for (const id of state.queueOrder) {
    const item = state.queue.get(id);
    const entry = group(item.language, item.team);
    entry.count += 1;
    const waited = FIRST_RESPONSE_TARGET_S - remainingOf(item);
    entry.longest = Number.isNaN(entry.longest) ? waited : Math.max(entry.longest, waited);
    if (item.widened) entry.widened += 1;
  }
  if (state.queueLengths) {
    for (const [key, length] of Object.entries(state.queueLengths)) {
      const [language, team] = key.split("/");
      const entry = group(language, team);
      if (Number.isInteger(length)) entry.count = length;
    }
    for (const entry of groups.values()) {
      if (!Object.hasOwn(state.queueLengths, entry.key)) groups.delete(entry.key);
    }
  }
  const rows = [...groups.values()]
    .filter((entry) => entry.count > 0)
    .sort((a, b) => b.count - a.count || (b.longest || 0) - (a.longest || 0));
  els.queues.replaceChildren(
    ...rows.map((entry) => {
      const row = element("tr");
      row.dataset.queue = entry.key;
      const name = element("th");
      name.scope = "row";
      name.append(element("span", "lang-tag lang-tag--small", entry.language || "?"));
      name.append(" " + languageName(entry.language) + " / " + teamName(entry.team));
      if (entry.widened) {
        const widened = element("span", "widened-mark");
        widened.append(icon(ICONS.globe, 11));
        widened.title = _("Widened");
        name.append(" ", widened);
      }
      const count = element("td", "num queue-count", String(entry.count));
      const known = !Number.isNaN(entry.longest);
      const longest = element("td", "num queue-longest", known ? clockText(entry.longest) : "–");
      longest.dataset.level = !known
        ? "none"
        : entry.longest > FIRST_RESPONSE_TARGET_S
          ? "overdue"
          : entry.longest > FIRST_RESPONSE_TARGET_S - URGENT_BELOW_S
            ? "urgent"
            : "ok";
      row.append(name, count, longest);
      return row;
    }),
  );
  els.queuesEmpty.hidden = rows.length > 0;
}

function renderAlerts() {
  const format = timeFormat(true);
  // Breaches first (they need someone now), each kind newest first.
  const alerts = [...state.alerts].sort(
    (a, b) => (a.type === "breach" ? 0 : 1) - (b.type === "breach" ? 0 : 1) || b.at - a.at,
  );
  els.alerts.replaceChildren(
    ...alerts.map((alert) => {
      const row = element("li", "alert alert--" + alert.type);
      row.dataset.conversationId = alert.conversation_id;
      const top = element("div", "alert-top");
      top.append(
        element("span", "alert-type", alert.type === "breach" ? _("Breach") : _("Warning")),
        element("span", "alert-kind", clockName(alert.kind)),
        element("time", "alert-time", format.format(alert.at)),
      );
      const what = element("div", "alert-what", alert.label || describeConversation(alert.conversation_id));
      row.append(top, what);
      if (alert.type === "warning" && alert.remaining !== null) {
        row.append(
          element("div", "alert-detail", _("{seconds} s left", {
            seconds: Math.max(0, Math.round(alert.remaining)),
          })),
        );
      }
      if (state.chats.has(alert.conversation_id)) {
        row.classList.add("is-mine");
        row.tabIndex = 0;
        row.addEventListener("click", () => selectChat(alert.conversation_id));
      }
      return row;
    }),
  );
  const breaches = state.alerts.filter((alert) => alert.type === "breach").length;
  els.alertsCount.textContent = String(breaches);
  els.alertsCount.dataset.level = breaches > 0 ? "bad" : "none";
  els.alertsCount.title = _("Breaches: {count}", { count: breaches });
  els.alertsEmpty.hidden = state.alerts.length > 0;
}

function renderAssign() {
  const chosenConversation = els.assignConversation.value;
  const chosenAgent = els.assignAgent.value;
  const conversations = state.queueOrder.map((id) => state.queue.get(id));
  els.assignConversation.replaceChildren(
    ...conversations.map((item) =>
      option(
        item.conversation_id,
        _("#{position} {language} / {team} · {priority}", {
          position: item.position ?? "?",
          language: languageName(item.language),
          team: teamName(item.team),
          priority: priorityName(item.priority),
        }),
      ),
    ),
  );
  const agents = state.agents.filter((agent) => agent.status !== "offline");
  els.assignAgent.replaceChildren(...agents.map((agent) => option(agent.id, agentOptionLabel(agent))));
  if (conversations.some((item) => item.conversation_id === chosenConversation)) {
    els.assignConversation.value = chosenConversation;
  }
  if (agents.some((agent) => agent.id === chosenAgent)) els.assignAgent.value = chosenAgent;
  els.assignSubmit.disabled = conversations.length === 0 || agents.length === 0;
}

async function submitAssign() {
  const conversationId = els.assignConversation.value;
  const agentId = els.assignAgent.value;
  if (!conversationId || !agentId) return;
  els.assignError.hidden = true;
  els.assignSubmit.disabled = true;
  const payload = { conversation_id: conversationId, agent_id: agentId };
  const answer = await call(AgentRequest.ASSIGN, payload);
  els.assignSubmit.disabled = false;
  if (answer?.ok) {
    const agent = state.agents.find((a) => a.id === agentId);
    toast(withUserText(_("Assigned to {name}."), { name: agent?.name || agentId }), "info");
    return;
  }
  els.assignError.textContent = errorText(failureCode(answer));
  els.assignError.hidden = false;
}

/* ---------- FAQ gaps ---------- */

// Lines per language: the top of the list is what the FAQ's editors act on.
const GAPS_PER_LANGUAGE = 10;
let gapsRequest = 0;

function gapKindName(kind) {
  switch (kind) {
    case "declined":
      return _("Declined");
    case "not_helpful":
      return _("Not helpful");
    case "picked":
      return _("Picked");
    default:
      return String(kind || "");
  }
}

function gapKindHint(kind) {
  switch (kind) {
    case "declined":
      return _("The bot had no answer.");
    case "not_helpful":
      return _("The customer said the answer did not help.");
    case "picked":
      return _("The customer picked this entry from the suggestions.");
    default:
      return "";
  }
}

/** GET /api/v1/reports/faq-gaps for the chosen language and period, and show it. */
async function loadGaps() {
  if (!state.session || !SUPERVISOR_ROLES.has(state.session.agent.role)) return;
  const request = ++gapsRequest;
  const days = Number(els.gapsPeriod.value) || 30;
  const since = new Date(Date.now() + state.clockOffsetMs - days * 86400000).toISOString();
  const params = new URLSearchParams({ since, limit: String(GAPS_PER_LANGUAGE) });
  if (els.gapsLanguage.value) params.set("language", els.gapsLanguage.value);
  els.gaps.setAttribute("aria-busy", "true");
  els.gapsRefresh.disabled = true;
  let answer = null;
  try {
    answer = await requestJson("GET", "/api/v1/reports/faq-gaps?" + params, {
      token: state.session.token,
    });
  } catch {
    answer = null;
  }
  if (request !== gapsRequest) return; // a newer choice is on its way
  els.gapsRefresh.disabled = false;
  els.gaps.setAttribute("aria-busy", "false");
  const languages = answer?.status === 200 ? answer.data?.languages : null;
  if (!Array.isArray(languages)) {
    els.gapsError.textContent = _("The report could not be loaded.");
    els.gapsError.hidden = false;
    return;
  }
  els.gapsError.hidden = true;
  renderGaps(languages);
}

function renderGaps(languages) {
  const rows = [];
  for (const entry of languages) {
    for (const gap of Array.isArray(entry?.gaps) ? entry.gaps : []) {
      if (gap && typeof gap.question === "string") rows.push([entry.language, gap]);
    }
  }
  els.gaps.replaceChildren(
    ...rows.map(([language, gap]) => {
      const row = element("li", "gap");
      row.dataset.kind = String(gap.kind);
      row.dataset.language = String(language);
      const count = element("span", "gap-count", String(Number(gap.count) || 0));
      count.title = _("Times asked");
      const top = element("div", "gap-top");
      const kind = element("span", "gap-kind", gapKindName(gap.kind));
      kind.title = gapKindHint(gap.kind);
      const tag = element("span", "lang-tag lang-tag--small", String(language));
      tag.title = languageName(language);
      top.append(count, kind, tag);
      if (typeof gap.faq_id === "string" && gap.faq_id) {
        const faq = element("code", "gap-entry", gap.faq_id);
        faq.dir = "ltr";
        faq.title = _("FAQ entry");
        top.append(faq);
      }
      // The customer's words: text only, their own direction.
      const question = userElement("p", "gap-question", gap.question);
      question.lang = String(language);
      row.append(top, question);
      return row;
    }),
  );
  els.gapsEmpty.hidden = rows.length > 0;
}

/* ---------- toasts ---------- */

/** A passing message: `content` is our text, or the parts from withUserText. */
function toast(content, kind) {
  const node = element("div", "toast toast--" + (kind || "info"));
  if (Array.isArray(content)) node.append(...content);
  else node.textContent = content;
  els.toasts.append(node);
  setTimeout(() => node.remove(), TOAST_MS);
  while (els.toasts.children.length > 4) els.toasts.firstElementChild.remove();
}

/* ---------- ticking ---------- */

function tick() {
  if (!state.session) return;
  expireOffer();
  tickQueue();
  tickChats();
  if (SUPERVISOR_ROLES.has(state.session.agent.role)) renderQueueTotals();
}

/* ---------- start-up ---------- */

function bindUi() {
  els.loginForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const username = els.username.value.trim().toLowerCase();
    const password = els.password.value;
    if (!username || !password) {
      showLogin(_("Enter your username and password."));
      return;
    }
    login(username, password);
  });
  els.logout.addEventListener("click", logout);
  for (const button of /** @type {NodeListOf<HTMLButtonElement>} */ (els.statusSwitch.querySelectorAll(".status-option"))) {
    button.addEventListener("click", () => setStatus(button.dataset.status));
  }
  els.transferForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitTransfer();
  });
  els.transferCancel.addEventListener("click", closeTransfer);
  els.transferDialog.addEventListener("close", () => {
    transferChat = null;
  });
  els.transferToQueue.addEventListener("change", syncTransferFields);
  els.transferToAgent.addEventListener("change", syncTransferFields);
  els.assignForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitAssign();
  });
  els.gapsForm.addEventListener("submit", (event) => {
    event.preventDefault();
    loadGaps();
  });
  els.gapsLanguage.addEventListener("change", loadGaps);
  els.gapsPeriod.addEventListener("change", loadGaps);
}

async function main() {
  bindUi();
  await Promise.all([loadStrings(), loadLanguages()]);
  applyStrings();
  els.app.dataset.ready = "1";
  els.app.setAttribute("aria-busy", "false");
  setInterval(tick, TICK_MS);
  if (!state.session) {
    showLogin("");
    return;
  }
  showConsole();
  connect();
}

main();
