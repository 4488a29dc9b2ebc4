// @ts-check
/*
 * Canned replies and FAQ answers in the composer: type "/" at the start of the reply box
 * (or press Ctrl+K, or the Replies button) and a list opens, filtered as you type; Enter or
 * a click puts the chosen text in the box, placeholders filled for this chat, in the
 * customer's language (canned replies fall back to English; the server fills them:
 * GET /api/v1/canned?conversation_id=, read again each time the list opens, so that a
 * supervisor's change in canned_admin.js shows at once). FAQ entries are searched by their
 * question in the agent's language and insert the same entry's answer in the customer's
 * language (GET /api/v1/faq/answers): an English agent answers a Thai customer in Thai.
 *
 * The pure parts (`normalize`, `filterChoices`, `fillPlaceholders`, `choicesOf`) are tested
 * in Node (tests/js/canned.test.mjs); `mountCanned` builds the list for console.js.
 */

export const MAX_SHOWN = 8;
const PLACEHOLDER = /\{(customer_name|tracking_number|agent_name)\}/g;

/** Text for matching: NFKC (full-width letters), lower case, spaces collapsed. */
export function normalize(text) {
  return String(text ?? "")
    .normalize("NFKC")
    .toLocaleLowerCase()
    .replace(/\s+/gu, " ")
    .trim();
}

/** The placeholders of a canned text filled from `values` (unknown values: empty). */
export function fillPlaceholders(text, values) {
  return String(text ?? "").replace(PLACEHOLDER, (_, name) => {
    const value = values?.[name];
    return typeof value === "string" ? value : "";
  });
}

/**
 * The choices of the list from the server's answers: canned replies first (their `filled`
 * text, else `text` filled from `values`), then FAQ entries (question to search, answer to
 * insert).
 */
export function choicesOf(replies, entries, values = {}) {
  const canned = (Array.isArray(replies) ? replies : [])
    .filter((r) => r && typeof r.id === "string" && typeof r.text === "string")
    .map((r) => ({
      key: "canned:" + r.id,
      kind: "canned",
      title: String(r.title || ""),
      text: typeof r.filled === "string" ? r.filled : fillPlaceholders(r.text, values),
      language: r.language,
    }));
  const faq = (Array.isArray(entries) ? entries : [])
    .filter((e) => e && typeof e.id === "string" && typeof e.answer === "string")
    .map((e) => ({
      key: "faq:" + e.id,
      kind: "faq",
      title: String(e.question || e.id),
      text: e.answer,
      language: e.answer_language,
      fallback: e.fallback === true,
    }));
  return [...canned, ...faq];
}

/**
 * The choices matching `query`: every word of it in the title (or, for a canned reply, its
 * text), titles that start with the query first; at most `limit`.
 */
export function filterChoices(choices, query, limit = MAX_SHOWN) {
  const words = normalize(query).split(" ").filter(Boolean);
  const wanted = normalize(query);
  const matching = choices.filter((choice) => {
    const haystack = normalize(choice.kind === "canned" ? choice.title + " " + choice.text : choice.title);
    return words.every((word) => haystack.includes(word));
  });
  const starts = (choice) => (wanted && normalize(choice.title).startsWith(wanted) ? 0 : 1);
  return matching
    .map((choice, index) => ({ choice, index }))
    .sort((a, b) => starts(a.choice) - starts(b.choice) || a.index - b.index)
    .slice(0, limit)
    .map(({ choice }) => choice);
}

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * `token()` the log-in token; `agentLanguage()` the agent's first language; `_` translates.
 * Returns { attach(chat), relabel() }; `attach` needs chat.els.composer/input and a bar.
 */
export function mountCanned({ token, agentLanguage, _ }) {
  const faqCache = new Map(); // "en>th" -> entries
  const pickers = new Map(); // conversation id -> picker

  async function getJson(url) {
    const current = token();
    if (!current) return null;
    try {
      const response = await fetch(url, {
        headers: { Accept: "application/json", Authorization: "Bearer " + current },
        cache: "no-store",
      });
      return response.ok ? await response.json() : null;
    } catch {
      return null;
    }
  }

  async function load(chat) {
    const language = chat.conversation?.language || "en";
    const pair = `${agentLanguage() || "en"}>${language}`;
    const [canned, faq] = await Promise.all([
      getJson(`/api/v1/canned?conversation_id=${encodeURIComponent(chat.id)}`),
      faqCache.has(pair)
        ? Promise.resolve({ entries: faqCache.get(pair) })
        : getJson(
            `/api/v1/faq/answers?search=${encodeURIComponent(agentLanguage() || "en")}&answer=${encodeURIComponent(language)}`,
          ),
    ]);
    if (faq?.entries) faqCache.set(pair, faq.entries);
    return choicesOf(canned?.replies, faq?.entries);
  }

  function attach(chat) {
    const { composer, input } = chat.els;
    const list = make("ul", "canned-list");
    list.id = "canned-" + chat.id;
    list.setAttribute("role", "listbox");
    list.hidden = true;
    composer.classList.add("has-canned");
    composer.prepend(list);
    const open = make("button", "link-button canned-open");
    open.type = "button";
    composer.querySelector(".composer-bar")?.prepend(open);
    const picker = { chat, list, open, choices: null, shown: [], selected: 0, loading: null };
    pickers.set(chat.id, picker);

    async function show() {
      // Read again at each opening: a supervisor may have changed the replies since.
      if (list.hidden && !picker.loading) picker.choices = null;
      if (picker.choices === null) {
        picker.loading ??= load(chat);
        picker.choices = await picker.loading;
        picker.loading = null;
      }
      const query = input.value.startsWith("/") ? input.value.slice(1) : "";
      picker.shown = filterChoices(picker.choices, query);
      picker.selected = Math.min(picker.selected, Math.max(picker.shown.length - 1, 0));
      render();
    }

    function hide() {
      list.hidden = true;
      input.removeAttribute("aria-activedescendant");
    }

    function insert(choice) {
      input.value = choice.text;
      hide();
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    }

    function render() {
      list.replaceChildren(
        ...picker.shown.map((choice, index) => {
          const item = make("li", "canned-item canned-item--" + choice.kind);
          item.id = `${list.id}-${index}`;
          item.setAttribute("role", "option");
          item.setAttribute("aria-selected", index === picker.selected ? "true" : "false");
          item.dataset.key = choice.key;
          const kind = make("span", "canned-kind", choice.kind === "faq" ? _("FAQ") : _("Reply"));
          const title = make("bdi", "canned-title", choice.title);
          const text = make("span", "canned-text", choice.text);
          text.dir = "auto";
          item.append(kind, title, text);
          item.addEventListener("mousedown", (event) => event.preventDefault()); // keep focus
          item.addEventListener("click", () => insert(choice));
          return item;
        }),
      );
      if (!picker.shown.length) list.append(make("li", "canned-empty", _("No replies or FAQ entries match.")));
      list.hidden = false;
      const active = picker.shown.length ? `${list.id}-${picker.selected}` : null;
      if (active) input.setAttribute("aria-activedescendant", active);
    }

    open.addEventListener("click", () => {
      if (!input.value.startsWith("/")) input.value = "/" + input.value;
      input.focus();
      show();
    });
    input.addEventListener("input", () => {
      if (input.value.startsWith("/")) show();
      else hide();
    });
    input.addEventListener("blur", () => setTimeout(hide, 150));
    // Capture: before console.js's Enter-sends handler on the same box.
    composer.addEventListener(
      "keydown",
      (event) => {
        if (event.target !== input) return;
        if ((event.ctrlKey || event.metaKey) && (event.key === "k" || event.key === "K")) {
          event.preventDefault();
          if (!input.value.startsWith("/")) input.value = "/" + input.value;
          show();
          return;
        }
        if (list.hidden || event.isComposing) return;
        const handled = ["ArrowDown", "ArrowUp", "Enter", "Escape", "Tab"].includes(event.key);
        if (!handled) return;
        if (event.key === "Tab" && !picker.shown.length) return;
        event.preventDefault();
        event.stopImmediatePropagation();
        if (event.key === "Escape") hide();
        else if (event.key === "ArrowDown") picker.selected = (picker.selected + 1) % Math.max(picker.shown.length, 1);
        else if (event.key === "ArrowUp") picker.selected = (picker.selected - 1 + picker.shown.length) % Math.max(picker.shown.length, 1);
        else if (picker.shown.length) insert(picker.shown[picker.selected]);
        if (!list.hidden) render();
      },
      true,
    );
    relabel(picker);
  }

  function relabel(picker) {
    picker.open.textContent = _("Replies and FAQ");
    picker.open.title = _("Type / or press Ctrl+K to search replies and FAQ answers");
    picker.list.setAttribute("aria-label", _("Replies and FAQ"));
  }

  return {
    attach,
    forget(id) {
      pickers.delete(id);
    },
    relabel() {
      for (const picker of pickers.values()) relabel(picker);
    },
  };
}
