// @ts-check
/*
 * The widget's side of the one-tag embed (GET /widget.js, static/embed/loader.js): when the
 * page is /widget/?embed=1 inside a frame, it takes orders from the host page by postMessage
 * (static/embed/bridge.js checks them: sent by our parent window, from an origin the desk
 * allows) and tells the host page what happens (ready, its words, messages, closed).
 *
 * Standalone (/widget/ opened on its own, or framed by hand) it does nothing.
 */

import { envelope, readHostMessage } from "/static/embed/bridge.js";

const USER_KEY = "chatserver.widget.user"; // the host's user id the stored conversation is for
// A host page that never says hello (an old copy of the loader, a page that framed
// /widget/?embed=1 by hand) does not keep the chat from starting.
const HELLO_TIMEOUT_MS = 4000;

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Storage refused (a partitioned or disabled third-party storage): memory only.
  }
}

const inactive = {
  active: false,
  hello: Promise.resolve(null),
  identity: () => null,
  ready() {},
  strings() {},
  message() {},
  closed() {},
};

/**
 * @param {object} hooks
 * @param {(msgid: string) => string} hooks._ the widget's translation function
 * @param {(locale: string) => void} hooks.setLocale the host chose the widget's language
 * @param {() => void} hooks.reset forget the conversation and begin a new one
 * @param {(open: boolean) => void} hooks.visible the host opened or closed the chat
 */
export function installEmbed({ _, setLocale, reset, visible }) {
  const framed = window.parent !== window;
  if (!framed || !new URLSearchParams(location.search).has("embed")) return inactive;

  let allowed = null; // the desk's allowed origins, once fetched
  let parentOrigin = null; // learnt from the hello, the only origin we then talk to
  let identity = null;
  let userId = null; // the host's user the conversation is for
  let said = false; // `ready` posted
  const early = [];
  let helloDone;
  const hello = new Promise((resolve) => {
    helloDone = resolve;
  });
  setTimeout(() => helloDone(null), HELLO_TIMEOUT_MS);

  const closeButton = document.getElementById("close-sheet");
  closeButton.hidden = false;
  closeButton.addEventListener("click", () => post(envelope("close_request")));
  document.documentElement.dataset.embedded = "true";

  function post(message) {
    if (parentOrigin !== null) window.parent.postMessage(message, parentOrigin);
  }

  function useUser(user) {
    identity = user.identity;
    // In memory too: a browser that denies a framed page its storage (third-party storage
    // blocked) must not take every setUser for a new customer.
    const previous = userId ?? stored(USER_KEY);
    userId = user.id;
    store(USER_KEY, user.id);
    // Another customer on this browser (or a visitor who has just logged in): the stored
    // conversation is not this customer's, and a new one carries the signed identity.
    if (previous !== user.id) reset();
  }

  function handle(event) {
    const message = readHostMessage(event, {
      parent: window.parent,
      selfOrigin: location.origin,
      allowed,
    });
    if (message === null) return;
    if (parentOrigin !== null && message.origin !== parentOrigin) return;
    switch (message.type) {
      case "hello":
        if (parentOrigin !== null) return;
        parentOrigin = message.origin;
        if (message.colour) document.documentElement.style.setProperty("--accent", message.colour);
        if (message.reset) {
          userId = null;
          store(USER_KEY, null);
          reset();
        }
        if (message.user) useUser(message.user);
        if (message.locale) setLocale(message.locale);
        helloDone(message);
        break;
      case "set_user":
        useUser(message.user);
        break;
      case "set_locale":
        setLocale(message.locale);
        break;
      case "reset":
        identity = null;
        userId = null;
        store(USER_KEY, null);
        reset();
        break;
      case "visibility":
        visible(message.open);
        break;
    }
  }

  window.addEventListener("message", (event) => {
    if (allowed === null) early.push(event);
    else handle(event);
  });
  fetch("/api/v1/widget/embed", { credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : { allowed_origins: [] }))
    .catch(() => ({ allowed_origins: [] }))
    .then((answer) => {
      allowed = Array.isArray(answer?.allowed_origins) ? answer.allowed_origins : [];
      for (const event of early.splice(0)) handle(event);
    });

  function words() {
    const labels = {
      open: _("Open the support chat"),
      close: _("Close the support chat"),
      title: _("Customer support chat"),
    };
    closeButton.setAttribute("aria-label", labels.close);
    closeButton.title = labels.close;
    return {
      language: document.documentElement.lang || "en",
      direction: document.documentElement.dir === "rtl" ? "rtl" : "ltr",
      labels,
    };
  }

  return {
    active: true,
    hello,
    /** The signed identity for a new conversation's `start`, or null. */
    identity: () => identity,
    /** The widget has its words and is about to connect: the host may show the launcher. */
    ready() {
      said = true;
      post(envelope("ready", words()));
    },
    /** The widget's words changed (another language). */
    strings() {
      const now = words();
      if (said) post(envelope("strings", now));
    },
    /** A message the server pushed (not the history a reload gets back). */
    message(message) {
      const { seq, author, text, language, created_at } = message;
      post(envelope("message", { message: { seq, author, text, language, created_at } }));
    },
    closed(trackingNumber) {
      post(envelope("closed", { tracking_number: trackingNumber || null }));
    },
  };
}
