// @ts-check
/*
 * The embed's message bridge: what the host page's loader (GET /widget.js) and the framed
 * widget (/widget/?embed=1) say to each other with postMessage, and the checks both sides
 * make before they believe a message (docs/protocol.md, "Embedding").
 *
 * Pure functions, no DOM: the widget imports this file as an ES module; the server serves
 * the loader as this file (its `export` keywords removed) followed by static/embed/loader.js,
 * inside one function, so a plain classic <script async> carries both. Hence no imports here
 * and only top-level `export function` / `export const`.
 */

export const PROTOCOL = "chatserver.embed";
export const VERSION = 1;

// host page -> frame, and frame -> host page
export const HOST_TYPES = ["hello", "set_user", "set_locale", "reset", "visibility"];
export const FRAME_TYPES = ["ready", "strings", "message", "closed", "close_request"];
// The host's API (window.$chatserver) and the methods that may be queued before it loads.
export const METHODS = ["setUser", "setLocale", "toggle", "reset"];

const LOCALE = /^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}$/;
const COLOUR = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
const MAX_TEXT = 200;

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const shortText = (value) =>
  typeof value === "string" && value && value.length <= MAX_TEXT ? value : null;

/** A message of the bridge: the marker, the version, its type and its fields. */
export function envelope(type, fields = {}) {
  return { ...fields, protocol: PROTOCOL, version: VERSION, type };
}

/** The origin of an absolute URL, or null (not a URL, or an opaque origin). */
export function originOf(url) {
  try {
    const origin = new URL(url).origin;
    return origin && origin !== "null" ? origin : null;
  } catch {
    return null;
  }
}

/** May a page of `origin` drive the widget? Its own origin always; others when listed
 * in the desk's allowed origins (`*`: any). */
export function originAllowed(origin, selfOrigin, allowed) {
  if (typeof origin !== "string" || !origin || origin === "null") return false;
  if (origin === selfOrigin) return true;
  const list = Array.isArray(allowed) ? allowed : [];
  return list.includes("*") || list.includes(origin);
}

export function cleanLocale(value) {
  return typeof value === "string" && LOCALE.test(value) ? value.replace("_", "-") : null;
}

/** The settings a host page sets before the loader runs (window.chatserverSettings). */
export function cleanSettings(raw) {
  const settings = isObject(raw) ? raw : {};
  return {
    locale: cleanLocale(settings.locale),
    position: settings.position === "left" ? "left" : "right",
    colour: typeof settings.colour === "string" && COLOUR.test(settings.colour) ? settings.colour : null,
    open: settings.open === true,
  };
}

/**
 * The signed identity the widget sends in `start`, from setUser(id, {name, email, identity,
 * signature}): `identity`'s fields (balance_usd, lots_month, manager, issued_at) with
 * customer_id = id, and name and email when given. The host signs exactly that object
 * (chatserver/identity.py); null when there is no id or no signature to send.
 */
export function identityPayload(id, options) {
  const customerId = typeof id === "number" && Number.isFinite(id) ? String(id) : shortText(id);
  const given = isObject(options) ? options : {};
  if (customerId === null || typeof given.signature !== "string" || !given.signature) return null;
  const fields = {};
  if (isObject(given.identity)) {
    for (const [key, value] of Object.entries(given.identity)) {
      if (["string", "number", "boolean"].includes(typeof value)) fields[key] = value;
    }
  }
  const name = shortText(given.name);
  const email = shortText(given.email);
  if (name !== null) fields.name = name;
  if (email !== null) fields.email = email;
  fields.customer_id = customerId;
  fields.signature = given.signature.slice(0, MAX_TEXT);
  return fields;
}

/** A user for the bridge: {id, identity}, the identity possibly null (sent unsigned: none). */
export function userOf(id, options) {
  const payload = identityPayload(id, options);
  const userId = typeof id === "number" && Number.isFinite(id) ? String(id) : shortText(id);
  return userId === null ? null : { id: userId, identity: payload };
}

function cleanUser(value) {
  if (!isObject(value)) return null;
  const id = shortText(value.id);
  if (id === null) return null;
  return { id, identity: isObject(value.identity) ? value.identity : null };
}

/**
 * The frame's side: a message from the host page if it is one to believe (sent by the
 * frame's parent window, from an allowed origin, well formed), normalised; else null.
 */
export function readHostMessage(event, { parent, selfOrigin, allowed }) {
  if (!event || event.source !== parent || !parent) return null;
  if (!originAllowed(event.origin, selfOrigin, allowed)) return null;
  const data = event.data;
  if (!isObject(data) || data.protocol !== PROTOCOL || !HOST_TYPES.includes(data.type)) {
    return null;
  }
  switch (data.type) {
    case "hello": {
      const user = data.user === null || data.user === undefined ? null : cleanUser(data.user);
      return {
        type: "hello",
        origin: event.origin,
        locale: cleanLocale(data.locale),
        colour: typeof data.colour === "string" && COLOUR.test(data.colour) ? data.colour : null,
        user,
        reset: data.reset === true,
      };
    }
    case "set_user": {
      const user = cleanUser(data.user);
      return user === null ? null : { type: "set_user", origin: event.origin, user };
    }
    case "set_locale": {
      const locale = cleanLocale(data.locale);
      return locale === null ? null : { type: "set_locale", origin: event.origin, locale };
    }
    case "visibility":
      return typeof data.open === "boolean"
        ? { type: "visibility", origin: event.origin, open: data.open }
        : null;
    default:
      return { type: data.type, origin: event.origin };
  }
}

function cleanLabels(value) {
  if (!isObject(value)) return null;
  const labels = {};
  for (const key of ["open", "close", "title"]) {
    const text = shortText(value[key]);
    if (text === null) return null;
    labels[key] = text;
  }
  return labels;
}

/**
 * The loader's side: a message from the framed widget if it came from that frame and from
 * the desk's origin and is well formed, normalised; else null.
 */
export function readFrameMessage(event, { frame, deskOrigin }) {
  if (!event || !frame || event.source !== frame || event.origin !== deskOrigin) return null;
  const data = event.data;
  if (!isObject(data) || data.protocol !== PROTOCOL || !FRAME_TYPES.includes(data.type)) {
    return null;
  }
  switch (data.type) {
    case "ready":
    case "strings": {
      const labels = cleanLabels(data.labels);
      const language = cleanLocale(data.language);
      if (labels === null || language === null) return null;
      const direction = data.direction === "rtl" ? "rtl" : "ltr";
      return { type: data.type, language, direction, labels };
    }
    case "message": {
      const m = data.message;
      if (!isObject(m) || !Number.isInteger(m.seq) || typeof m.author !== "string") return null;
      if (typeof m.text !== "string") return null;
      return {
        type: "message",
        message: {
          seq: m.seq,
          author: m.author,
          text: m.text,
          language: typeof m.language === "string" ? m.language : null,
          created_at: typeof m.created_at === "string" ? m.created_at : null,
        },
      };
    }
    case "closed":
      return {
        type: "closed",
        tracking_number: typeof data.tracking_number === "string" ? data.tracking_number : null,
      };
    default:
      return { type: data.type };
  }
}

/**
 * Calls made before the loader ran: `window.$chatserver = window.$chatserver || []` then
 * `$chatserver.push(["setUser", id, {...}])` (the analytics-queue convention). The valid
 * ones, in order, as [method, args].
 */
export function queuedCalls(raw) {
  const items = Array.isArray(raw) ? raw : isObject(raw) && Array.isArray(raw.q) ? raw.q : [];
  const calls = [];
  for (const item of items) {
    const entry = Array.isArray(item) ? item : item && typeof item === "object" ? [...item] : null;
    if (entry && METHODS.includes(entry[0])) calls.push([entry[0], entry.slice(1)]);
  }
  return calls;
}

/**
 * What the frame must know before it starts (the `hello`), from the settings and the calls
 * made before it was ready, folded in order: the last user, the last locale, open or not,
 * and whether to forget the stored conversation. Calls that are no use are left out.
 */
export function foldCalls(settings, calls) {
  const state = { locale: settings.locale, open: settings.open, user: null, reset: false };
  for (const [method, args] of calls) {
    if (method === "setUser") {
      const user = userOf(args[0], args[1]);
      if (user !== null) state.user = user;
    } else if (method === "setLocale") {
      const locale = cleanLocale(args[0]);
      if (locale !== null) state.locale = locale;
    } else if (method === "toggle") {
      state.open = nextOpen(state.open, args[0]);
    } else if (method === "reset") {
      state.reset = true;
      state.user = null;
    }
  }
  return state;
}

/** toggle(): "open", "close", or no argument to switch. */
export function nextOpen(open, how) {
  if (how === "open") return true;
  if (how === "close") return false;
  return !open;
}

/** The host-page message that carries one API call once the frame is ready, or null. */
export function callMessage(method, args) {
  if (method === "setUser") {
    const user = userOf(args[0], args[1]);
    return user === null ? null : envelope("set_user", { user });
  }
  if (method === "setLocale") {
    const locale = cleanLocale(args[0]);
    return locale === null ? null : envelope("set_locale", { locale });
  }
  if (method === "reset") return envelope("reset");
  return null;
}
