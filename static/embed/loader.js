// @ts-check
/*
 * The host page's loader, served as GET /widget.js after static/embed/bridge.js, both inside
 * one function (chatserver/widget.py): a classic script, so one tag embeds the chat:
 *
 *   <script src="https://desk.example/widget.js" async></script>
 *
 * It adds a launcher button and the widget in an iframe (/widget/?embed=1), inside a shadow
 * root of its own (the page's CSS cannot reach in, ours cannot leak out), and a JS API,
 * window.$chatserver. It never opens the chat by itself: only `open: true` in
 * window.chatserverSettings or toggle("open") do. Every word it shows comes from the frame,
 * in the widget's language, so the launcher appears once the frame is ready.
 */

/* global cleanSettings, queuedCalls, foldCalls, nextOpen, callMessage, envelope,
   readFrameMessage, originOf, METHODS -- static/embed/bridge.js's, in the same function
   (types/embed-loader.d.ts says so to tsc) */

const PHONE = "(max-width: 480px)";
const STYLES = `
:host { all: initial; }
.root {
  position: fixed; bottom: 20px; right: 20px; z-index: 2147483000;
  display: flex; flex-direction: column; align-items: flex-end; gap: 14px;
  font: 16px system-ui, sans-serif;
}
.root[data-position="left"] { right: auto; left: 20px; align-items: flex-start; }
.frame {
  display: none; width: 380px; height: min(640px, calc(100vh - 110px)); border: 0;
  border-radius: 16px; background: #f4f6f9; color-scheme: light;
  box-shadow: 0 18px 48px rgb(10 30 60 / 28%), 0 0 0 1px rgb(10 30 60 / 8%);
}
.root[data-open="true"] .frame { display: block; }
.launcher {
  display: grid; place-items: center; width: 58px; height: 58px; padding: 0; border: 0;
  border-radius: 50%; color: #fff; background: var(--colour, #0f5ea8); cursor: pointer;
  box-shadow: 0 8px 24px rgb(10 30 60 / 30%);
}
.launcher[hidden] { display: none; }
.launcher:hover { filter: brightness(0.88); }
.launcher:focus-visible { outline: 3px solid #4fd1a5; outline-offset: 3px; }
.launcher svg { width: 26px; height: 26px; }
.root[data-open="true"] .icon-open, .root[data-open="false"] .icon-close { display: none; }
@media ${PHONE} {
  .root { bottom: 12px; right: 12px; }
  .root[data-position="left"] { left: 12px; }
  .root[data-open="true"] { inset: 0; gap: 0; }
  .root[data-open="true"] .frame {
    width: 100vw; height: 100vh; height: 100dvh; border-radius: 0; box-shadow: none;
  }
  .root[data-open="true"] .launcher { display: none; }
}
`;
// The launcher's two icons, built as nodes (no markup parsed: a host page that enforces
// Trusted Types refuses innerHTML).
const ICONS = [
  ["icon-open", "M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z", "2"],
  ["icon-close", "M6 6l12 12M18 6L6 18", "2.2"],
];

function icon([className, d, width]) {
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  const path = document.createElementNS(svgNs, "path");
  for (const [name, value] of Object.entries({
    class: className,
    "aria-hidden": "true",
    viewBox: "0 0 24 24",
    fill: "none",
    stroke: "currentColor",
    "stroke-width": width,
    "stroke-linecap": "round",
    "stroke-linejoin": "round",
  })) {
    svg.setAttribute(name, value);
  }
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

function scriptOrigin() {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.src) return originOf(current.src);
  const scripts = /** @type {HTMLScriptElement[]} */ ([...document.querySelectorAll("script[src]")]);
  const tag = scripts.find((s) =>
    /\/widget\.js(?:[?#].*)?$/.test(s.src),
  );
  return tag ? originOf(tag.src) : null;
}

function main() {
  const previous = window.$chatserver;
  if (previous && previous.loaded === true) return; // the tag twice: one widget
  const deskOrigin = scriptOrigin();
  if (deskOrigin === null) return;
  const settings = cleanSettings(window.chatserverSettings);
  let early = queuedCalls(previous); // made before this script ran
  let ready = false;
  let open = settings.open;
  let loaded = false;
  let labels = null;
  const waiting = []; // calls made after this script ran, before the frame was ready

  const host = document.createElement("div");
  host.className = "chatserver-embed";
  const shadow = host.attachShadow({ mode: "open" });
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
    shadow.adoptedStyleSheets = [sheet];
  } catch {
    const style = document.createElement("style"); // browsers before constructable sheets
    style.textContent = STYLES;
    shadow.append(style);
  }
  const root = document.createElement("div");
  root.className = "root";
  root.dataset.position = settings.position;
  root.dataset.open = "false";
  if (settings.colour) root.style.setProperty("--colour", settings.colour);
  const frame = document.createElement("iframe");
  frame.className = "frame";
  frame.id = "chatserver-frame";
  frame.src = deskOrigin + "/widget/?embed=1";
  frame.setAttribute("allow", "clipboard-write");
  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.hidden = true; // until the frame is ready and has given its words
  launcher.setAttribute("aria-controls", frame.id);
  launcher.setAttribute("aria-expanded", "false");
  launcher.append(...ICONS.map(icon));
  root.append(frame, launcher);
  shadow.append(root);

  const post = (message) => frame.contentWindow?.postMessage(message, deskOrigin);
  const fire = (name, detail) => window.dispatchEvent(new CustomEvent(name, { detail }));

  function renderLabels() {
    if (labels === null) return;
    launcher.setAttribute("aria-label", open ? labels.close : labels.open);
    launcher.title = open ? labels.close : labels.open;
    frame.title = labels.title;
  }

  function setOpen(value, { focus = false } = {}) {
    open = value;
    root.dataset.open = String(open);
    launcher.setAttribute("aria-expanded", String(open));
    renderLabels();
    if (ready) post(envelope("visibility", { open }));
    if (open && focus) frame.focus();
    if (!open && focus) launcher.focus();
  }

  function run(method, args) {
    if (!METHODS.includes(method)) return;
    if (!ready) {
      waiting.push([method, args]);
      return;
    }
    if (method === "toggle") {
      setOpen(nextOpen(open, args[0]), { focus: true });
      return;
    }
    const message = callMessage(method, args);
    if (message !== null) post(message);
  }

  const api = {
    loaded: true,
    setUser: (id, options) => run("setUser", [id, options]),
    setLocale: (locale) => run("setLocale", [locale]),
    toggle: (how) => run("toggle", [how]),
    reset: () => run("reset", []),
    // $chatserver.push(["setUser", ...]) keeps working once loaded.
    push: (...items) => {
      for (const [method, args] of queuedCalls(items)) run(method, args);
    },
  };
  window.$chatserver = api;

  frame.addEventListener("load", () => {
    // The frame's document is up (its message listener too): tell it everything it needs
    // before it starts the conversation.
    const folded = foldCalls({ ...settings, open }, [...early, ...waiting]);
    early = [];
    waiting.length = 0;
    if (!loaded) open = folded.open; // a reloaded frame keeps the host's open or closed
    loaded = true;
    post(
      envelope("hello", {
        locale: folded.locale,
        colour: settings.colour,
        user: folded.user,
        reset: folded.reset,
      }),
    );
  });

  window.addEventListener("message", (event) => {
    const message = readFrameMessage(event, { frame: frame.contentWindow, deskOrigin });
    if (message === null) return;
    switch (message.type) {
      case "ready": {
        labels = message.labels;
        launcher.dir = message.direction;
        launcher.hidden = false;
        const first = !ready;
        ready = true;
        setOpen(open);
        // Calls made while the hello was on its way.
        for (const [method, args] of waiting.splice(0)) run(method, args);
        if (first) fire("chatserver:ready", { language: message.language });
        break;
      }
      case "strings":
        labels = message.labels;
        launcher.dir = message.direction;
        renderLabels();
        break;
      case "message":
        fire("chatserver:message", message.message);
        break;
      case "closed":
        fire("chatserver:closed", { tracking_number: message.tracking_number });
        break;
      case "close_request":
        setOpen(false, { focus: true });
        break;
    }
  });

  launcher.addEventListener("click", () => setOpen(!open, { focus: true }));
  (document.body || document.documentElement).append(host);
}

main();
