// @ts-check
/*
 * Canned replies, managed by supervisors: a view of the console (the "Canned replies" button
 * in the top bar, beside the dashboard's), with the replies of one language (or all), a form
 * to add or edit one, the placeholders explained and insertable at the cursor, a live preview
 * filled with sample values, and delete with an inline confirm. Over HTTP: GET, POST
 * /api/v1/canned, PUT and DELETE /api/v1/canned/{id} (docs/protocol.md). The server's rules
 * (chatserver/canned.py) are the only ones: a refusal is shown next to the field it names,
 * and what the supervisor typed stays in the form.
 *
 * Agents never see it (the server refuses their writes anyway). The composer's picker
 * (canned.js) reads the replies again each time it opens, so a change shows there at once.
 *
 * The pure functions are tested in Node (tests/js/canned_admin.test.mjs); console.js only
 * mounts the view.
 */

import { element as make } from "../shared/dom.js";
import { fillPlaceholders } from "./canned.js";

/** What chatserver/canned.py accepts (PLACEHOLDERS, MAX_TITLE_CHARS, MAX_TEXT_CHARS). */
export const PLACEHOLDERS = ["customer_name", "tracking_number", "agent_name"];
export const MAX_TITLE = 120;
export const MAX_TEXT = 2000;
export const FIELDS = ["language", "title", "text"];

// Names for the preview, one a language (a made-up customer; Latin script where the desk's
// customers mostly write it).
const SAMPLE_NAMES = {
  en: "Alex Morgan",
  ja: "佐藤 花子",
  "zh-Hans": "王小明",
  "zh-Hant": "陳美玲",
  ko: "김민준",
  th: "สมชาย",
  vi: "Nguyễn Văn An",
  id: "Budi Santoso",
  ms: "Aisyah Rahman",
  ar: "ليلى حسن",
  es: "Lucía García",
  pt: "João Silva",
  fr: "Camille Martin",
  de: "Lena Müller",
  it: "Giulia Rossi",
};
export const SAMPLE_TRACKING = "K7PX-4QR9-M";

/** The replies to list: those in `language` ("" for all), by language then title. */
export function repliesIn(replies, language) {
  return (Array.isArray(replies) ? replies : [])
    .filter((r) => r && typeof r.id === "string" && (!language || r.language === language))
    .sort(
      (a, b) =>
        String(a.language).localeCompare(String(b.language)) ||
        String(a.title).localeCompare(String(b.title), undefined, { sensitivity: "base" }) ||
        a.id.localeCompare(b.id),
    );
}

/** Sample values for the preview of a reply in `language`, sent by `agentName`. */
export function sampleValues(language, agentName) {
  return {
    customer_name: SAMPLE_NAMES[language] || SAMPLE_NAMES.en,
    tracking_number: SAMPLE_TRACKING,
    agent_name: String(agentName || "") || "Emma",
  };
}

/** The preview of `text`: the known placeholders filled (an unknown one stays as typed). */
export function previewText(text, values) {
  return fillPlaceholders(text, values);
}

/** The placeholders in braces that the server would refuse, each once, in order. */
export function unknownPlaceholders(text) {
  const found = [];
  for (const match of String(text ?? "").matchAll(/\{([a-z_]+)\}/g)) {
    if (!PLACEHOLDERS.includes(match[1]) && !found.includes(match[1])) found.push(match[1]);
  }
  return found;
}

/** `value` with `{name}` put between `start` and `end` (the selection); and where the caret
 * goes after it. */
export function insertPlaceholder(value, start, end, name) {
  const text = String(value ?? "");
  const from = Math.max(0, Math.min(Number.isInteger(start) ? start : text.length, text.length));
  const to = Math.max(from, Math.min(Number.isInteger(end) ? end : from, text.length));
  const token = "{" + name + "}";
  return { value: text.slice(0, from) + token + text.slice(to), caret: from + token.length };
}

/**
 * What an answer of the API says went wrong: null when it went through, else
 * `{field, problem, placeholder?}` with `field` one of FIELDS (next to which the problem
 * shows) or null (the form as a whole). From the 400's message, "title: ...", which
 * chatserver/canned.py starts with the field's name.
 */
export function answerProblem(answer) {
  if (!answer) return { field: null, problem: "network" };
  if (answer.status >= 200 && answer.status < 300) return null;
  const code = answer.data?.error?.code;
  if (answer.status === 401 || answer.status === 403) return { field: null, problem: "forbidden" };
  if (answer.status === 404 || code === "unknown_canned") return { field: null, problem: "gone" };
  if (answer.status !== 400) return { field: null, problem: "failed" };
  const message = String(answer.data?.error?.message || "");
  const field = FIELDS.find((name) => message.startsWith(name + ":")) || null;
  const unknown = /unknown placeholder \{([a-z_]+)\}/.exec(message);
  if (field === "text" && unknown) return { field, problem: "placeholder", placeholder: unknown[1] };
  if (field) return { field, problem: field };
  return { field: null, problem: "invalid" };
}

/**
 * Mount the view in the console. `options`: `_` (translate), `request(method, path, body)`
 * (the console's JSON helper with the session's token: {status, data}), `languages()`
 * ([{tag}]), `languageLabel(tag)`, `agentName()`, `onOpen()` (another view closes).
 */
export function mountCannedAdmin(consoleView, options) {
  const { _ } = options;
  const toggle = make("button", "button button--ghost-dark canned-admin-toggle");
  toggle.type = "button";
  toggle.id = "canned-admin-toggle";
  toggle.hidden = true;
  toggle.setAttribute("aria-pressed", "false");
  const logout = consoleView.querySelector("#logout");
  logout.parentElement.insertBefore(toggle, logout);

  const root = make("section", "canned-admin");
  root.id = "canned-admin";
  root.hidden = true;
  root.setAttribute("aria-labelledby", "canned-admin-title");
  consoleView.append(root);

  // The head: title and the language filter.
  const title = make("h2", "canned-admin-title");
  title.id = "canned-admin-title";
  const filterLabel = make("label", "field-label");
  const filter = make("select", "field");
  filter.id = filterLabel.htmlFor = "canned-admin-language";
  const filterBox = make("div", "canned-admin-filter");
  filterBox.append(filterLabel, filter);
  const head = make("div", "canned-admin-head");
  head.append(title, filterBox);

  // The list.
  const list = make("ul", "canned-admin-list");
  list.setAttribute("aria-labelledby", "canned-admin-title");
  const empty = make("p", "empty canned-admin-empty");
  const loadError = make("p", "form-error canned-admin-load-error");
  loadError.setAttribute("role", "alert");
  loadError.hidden = true;
  const listBox = make("div", "canned-admin-list-box");
  listBox.append(loadError, list, empty);

  // The form.
  const form = make("form", "canned-admin-form");
  form.noValidate = true;
  const formTitle = make("h3", "canned-admin-form-title");
  const inputs = {};
  const labels = {};
  const errors = {};
  const field = (name, control) => {
    const caption = make("label", "field-label");
    control.classList.add("field");
    control.id = caption.htmlFor = "canned-form-" + name;
    const error = make("p", "form-error field-error");
    error.id = "canned-form-" + name + "-error";
    error.hidden = true;
    error.setAttribute("role", "alert");
    inputs[name] = control;
    labels[name] = caption;
    errors[name] = error;
    const box = make("div", "canned-admin-field");
    box.dataset.field = name;
    box.append(caption, control, error);
    return box;
  };
  const language = make("select");
  const titleInput = make("input");
  titleInput.maxLength = MAX_TITLE;
  titleInput.dir = "auto";
  titleInput.autocomplete = "off";
  const text = make("textarea");
  text.rows = 5;
  text.maxLength = MAX_TEXT;
  text.dir = "auto";
  const placeholdersTitle = make("p", "field-label canned-admin-placeholders-title");
  const placeholders = make("ul", "canned-admin-placeholders");
  const previewTitle = make("p", "field-label canned-admin-preview-title");
  const preview = make("p", "canned-admin-preview user-text");
  preview.id = "canned-admin-preview";
  preview.dir = "auto";
  preview.setAttribute("aria-live", "polite");
  const formError = make("p", "form-error canned-admin-form-error");
  formError.setAttribute("role", "alert");
  formError.hidden = true;
  const done = make("p", "canned-admin-done");
  done.setAttribute("role", "status");
  const submit = make("button", "button button--primary");
  submit.type = "submit";
  submit.id = "canned-form-submit";
  const cancel = make("button", "button");
  cancel.type = "button";
  cancel.id = "canned-form-cancel";
  const actions = make("div", "canned-admin-actions");
  actions.append(submit, cancel);
  form.append(
    formTitle,
    field("language", language),
    field("title", titleInput),
    field("text", text),
    placeholdersTitle,
    placeholders,
    previewTitle,
    preview,
    formError,
    actions,
    done,
  );

  const body = make("div", "canned-admin-body");
  body.append(listBox, form);
  root.append(head, body);

  let replies = [];
  let editing = null; // the reply being edited, or null for a new one
  let confirming = null; // id of the reply whose deletion waits for a confirm
  let open = false;
  let allowed = false;
  let loaded = false;
  let failed = false;

  function problemText(found) {
    switch (found.problem) {
      case "title":
        return _("Write a title of at most {count} characters.", { count: MAX_TITLE });
      case "text":
        return _("Write the reply, at most {count} characters.", { count: MAX_TEXT });
      case "placeholder":
        return _("{placeholder} is not a placeholder. Use one of: {names}.", {
          placeholder: "{" + found.placeholder + "}",
          names: PLACEHOLDERS.map((name) => "{" + name + "}").join(", "),
        });
      case "language":
        return _("Choose one of the desk's languages.");
      case "forbidden":
        return _("Only supervisors can change canned replies.");
      case "gone":
        return _("This reply no longer exists.");
      case "network":
        return _("The server cannot be reached. Please try again.");
      default:
        return _("The reply could not be saved. Try again.");
    }
  }

  function placeholderHelp(name) {
    switch (name) {
      case "customer_name":
        return _("The customer's name (empty when they did not give it)");
      case "tracking_number":
        return _("The chat's tracking number");
      default:
        return _("The name of the agent who sends it");
    }
  }

  function showProblem(found) {
    for (const name of FIELDS) {
      const mine = found?.field === name;
      errors[name].hidden = !mine;
      errors[name].textContent = mine ? problemText(found) : "";
      if (mine) inputs[name].setAttribute("aria-invalid", "true");
      else inputs[name].removeAttribute("aria-invalid");
      if (mine) inputs[name].setAttribute("aria-describedby", errors[name].id);
      else inputs[name].removeAttribute("aria-describedby");
    }
    formError.hidden = !found || found.field !== null;
    formError.textContent = found && found.field === null ? problemText(found) : "";
    if (found?.field) inputs[found.field].focus();
  }

  function renderPreview() {
    const typed = text.value.trim() !== "";
    const values = sampleValues(language.value, options.agentName());
    preview.lang = language.value;
    preview.classList.toggle("is-empty", !typed);
    preview.textContent = typed
      ? previewText(text.value, values)
      : _("The reply as the customer reads it shows here.");
  }

  function fillForm(reply) {
    editing = reply;
    language.value = reply?.language || filter.value || options.languages()[0]?.tag || "en";
    titleInput.value = reply?.title || "";
    text.value = reply?.text || "";
    text.lang = titleInput.lang = language.value;
    showProblem(null);
    label();
    renderPreview();
  }

  function renderList() {
    const shown = repliesIn(replies, filter.value);
    list.replaceChildren(
      ...shown.map((reply) => {
        const item = make("li", "canned-admin-item");
        item.dataset.id = reply.id;
        item.dataset.language = reply.language;
        if (editing?.id === reply.id) item.classList.add("is-editing");
        const top = make("div", "canned-admin-item-top");
        const tag = make("span", "canned-admin-item-language", reply.language);
        tag.title = options.languageLabel(reply.language);
        const name = make("bdi", "canned-admin-item-title user-text", reply.title);
        top.append(tag, name);
        const content = make("p", "canned-admin-item-text user-text", reply.text);
        content.dir = "auto";
        content.lang = reply.language;
        const buttons = make("div", "canned-admin-item-actions");
        if (confirming === reply.id) {
          const question = make("span", "canned-admin-confirm", _("Delete this reply?"));
          const yes = make("button", "button button--small button--danger canned-admin-confirm-delete", _("Delete"));
          yes.type = "button";
          yes.addEventListener("click", () => remove(reply));
          const no = make("button", "button button--small canned-admin-confirm-keep", _("Keep"));
          no.type = "button";
          no.addEventListener("click", () => {
            confirming = null;
            renderList();
          });
          buttons.append(question, yes, no);
        } else {
          const edit = make("button", "button button--small canned-admin-edit", _("Edit"));
          edit.type = "button";
          edit.addEventListener("click", () => {
            fillForm(reply);
            renderList();
            titleInput.focus();
          });
          const del = make("button", "button button--small canned-admin-delete", _("Delete"));
          del.type = "button";
          del.addEventListener("click", () => {
            confirming = reply.id;
            renderList();
            /** @type {HTMLButtonElement | null} */ (list.querySelector(".canned-admin-confirm-keep"))?.focus();
          });
          buttons.append(edit, del);
        }
        item.append(top, content, buttons);
        return item;
      }),
    );
    empty.hidden = !loaded || shown.length > 0;
    empty.textContent = filter.value ? _("No canned replies in this language yet.") : _("No canned replies yet.");
    loadError.hidden = !failed;
    loadError.textContent = failed ? _("The canned replies could not be loaded.") : "";
  }

  function languageOptions(select, withAll) {
    const chosen = select.value;
    const tags = options.languages().map((entry) => entry.tag);
    const made = tags.map((tag) => {
      const node = make("option", "", options.languageLabel(tag));
      node.value = tag;
      return node;
    });
    if (withAll) {
      const all = make("option", "", _("All languages"));
      all.value = "";
      made.unshift(all);
    }
    select.replaceChildren(...made);
    if (chosen && (tags.includes(chosen) || (withAll && chosen === ""))) select.value = chosen;
  }

  function label() {
    toggle.textContent = open ? _("Back to chats") : _("Canned replies");
    title.textContent = _("Canned replies");
    filterLabel.textContent = _("Language");
    formTitle.textContent = editing ? _("Edit reply") : _("New reply");
    labels.language.textContent = _("Language");
    labels.title.textContent = _("Title");
    labels.text.textContent = _("Text");
    placeholdersTitle.textContent = _("Placeholders (click to insert at the cursor)");
    previewTitle.textContent = _("Preview with sample values");
    submit.textContent = editing ? _("Save changes") : _("Add reply");
    cancel.textContent = _("Cancel");
    cancel.hidden = !editing;
    placeholders.replaceChildren(
      ...PLACEHOLDERS.map((name) => {
        const item = make("li", "canned-admin-placeholder");
        const insert = make("button", "button button--small canned-admin-insert", "{" + name + "}");
        insert.type = "button";
        insert.dataset.placeholder = name;
        insert.dir = "ltr";
        insert.addEventListener("mousedown", (event) => event.preventDefault()); // keep the caret
        insert.addEventListener("click", () => {
          const next = insertPlaceholder(text.value, text.selectionStart, text.selectionEnd, name);
          text.value = next.value;
          text.focus();
          text.setSelectionRange(next.caret, next.caret);
          renderPreview();
        });
        item.append(insert, make("span", "canned-admin-placeholder-help", placeholderHelp(name)));
        return item;
      }),
    );
  }

  function relabel() {
    languageOptions(filter, true);
    languageOptions(language, false);
    label();
    renderList();
    renderPreview();
  }

  async function http(method, path, payload) {
    try {
      return await options.request(method, path, payload);
    } catch {
      return null;
    }
  }

  async function load() {
    const answer = await http("GET", "/api/v1/canned");
    if (!open) return;
    failed = answerProblem(answer) !== null || !Array.isArray(answer.data?.replies);
    if (!failed) replies = answer.data.replies;
    loaded = true;
    if (editing && !replies.some((reply) => reply.id === editing.id)) editing = null;
    label();
    renderList();
  }

  async function save() {
    done.textContent = "";
    const payload = { language: language.value, title: titleInput.value, text: text.value };
    const path = editing ? "/api/v1/canned/" + encodeURIComponent(editing.id) : "/api/v1/canned";
    submit.disabled = true;
    const answer = await http(editing ? "PUT" : "POST", path, payload);
    submit.disabled = false;
    const found = answerProblem(answer);
    if (found) {
      showProblem(found); // what was typed stays
      return;
    }
    done.textContent = editing ? _("Reply saved.") : _("Reply added.");
    fillForm(null);
    await load();
  }

  async function remove(reply) {
    done.textContent = "";
    const answer = await http("DELETE", "/api/v1/canned/" + encodeURIComponent(reply.id));
    const found = answerProblem(answer);
    confirming = null;
    if (found && found.problem !== "gone") {
      showProblem(found);
      renderList();
      return;
    }
    done.textContent = _("Reply deleted.");
    if (editing?.id === reply.id) fillForm(null);
    await load();
  }

  function setOpen(value) {
    open = value && allowed;
    root.hidden = !open;
    consoleView.classList.toggle("is-canned-admin", open);
    toggle.setAttribute("aria-pressed", String(open));
    if (open) {
      options.onOpen?.();
      relabel();
      if (!editing && !titleInput.value && !text.value) fillForm(null);
      load();
    }
    label();
  }

  toggle.addEventListener("click", () => setOpen(!open));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  cancel.addEventListener("click", () => {
    fillForm(null);
    renderList();
  });
  filter.addEventListener("change", () => {
    confirming = null;
    if (!editing && filter.value && !titleInput.value && !text.value) language.value = filter.value;
    renderList();
    renderPreview();
  });
  language.addEventListener("change", () => {
    text.lang = titleInput.lang = language.value;
    renderPreview();
  });
  text.addEventListener("input", renderPreview);

  return {
    /** A supervisor logged in: the button shows. */
    start() {
      allowed = true;
      toggle.hidden = false;
      label();
    },
    /** Logged out, or not a supervisor: nothing shows, nothing is kept. */
    stop() {
      setOpen(false);
      allowed = false;
      toggle.hidden = true;
      replies = [];
      loaded = false;
      editing = null;
      confirming = null;
      titleInput.value = text.value = "";
    },
    /** Another view opened. */
    hide() {
      if (open) setOpen(false);
    },
    relabel() {
      if (open) relabel();
      else label();
    },
  };
}
