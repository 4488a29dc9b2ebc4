// @ts-check
/*
 * The supervisors' announcements form (docs/protocol.md, "Announcements"): post an incident
 * notice to every customer and agent, update it as the recovery goes on, resolve it. Over
 * HTTP: POST /api/v1/announcements, POST /api/v1/announcements/{id},
 * POST /api/v1/announcements/{id}/resolve, GET /api/v1/announcements.
 *
 * The pure functions (no DOM, no fetch) are tested in Node (tests/js/announcements.test.mjs);
 * `mountAnnouncementForm` draws the section and is given the console's translate function,
 * its HTTP helper and its languages, so that console.js only wires it.
 */

import { element as make } from "../shared/dom.js";

export const SEVERITIES = ["info", "warning", "critical"];

/**
 * The body to send from the form's values: `{severity, texts}`, or `{error}` naming what is
 * missing. `base` holds the texts of the version being edited: a translation the form does
 * not show is kept, not dropped (a new version replaces every text).
 */
export function announcementBody(values, base = {}) {
  const english = String(values.english ?? "").trim();
  if (!english) return { error: "english" };
  if (!SEVERITIES.includes(values.severity)) return { error: "severity" };
  const texts = { ...base, en: english };
  const language = String(values.language ?? "");
  const translation = String(values.translation ?? "").trim();
  if (language && language !== "en") {
    if (translation) texts[language] = translation;
    else delete texts[language];
  }
  return { severity: values.severity, texts };
}

/** The form's values to edit an announcement (as GET /api/v1/announcements lists it). */
export function formOf(record, language) {
  const texts = record?.texts && typeof record.texts === "object" ? record.texts : {};
  const other =
    language && language !== "en" && language in texts
      ? language
      : Object.keys(texts).find((tag) => tag !== "en") || language || "";
  return {
    severity: SEVERITIES.includes(record?.severity) ? record.severity : "info",
    english: typeof texts.en === "string" ? texts.en : "",
    language: other,
    translation: typeof texts[other] === "string" ? texts[other] : "",
  };
}

/** What went wrong with an answer of the API, as a key for `errorText` (null: it went through). */
export function answerProblem(answer) {
  if (!answer) return "network";
  if (answer.status >= 200 && answer.status < 300) return null;
  if (answer.status === 401 || answer.status === 403) return "forbidden";
  if (answer.status === 409) return "resolved";
  if (answer.status === 400) return "invalid";
  return "failed";
}

function errorText(problem, _) {
  switch (problem) {
    case "english":
      return _("Write the announcement in English: customers without a translation read it.");
    case "forbidden":
      return _("Only supervisors can post announcements.");
    case "resolved":
      return _("This announcement is already resolved.");
    case "invalid":
      return _("The announcement was refused. Check the texts and try again.");
    default:
      return _("The announcement could not be sent. Try again.");
  }
}

function severityName(severity, _) {
  switch (severity) {
    case "critical":
      return _("Service alert");
    case "warning":
      return _("Warning");
    default:
      return _("Notice");
  }
}

/**
 * The supervisors' section in `container`. `deps`: `_` (translate), `request(method, url,
 * {body, token})` (the console's HTTP helper), `token()`, `languages()` ([{tag, name}]).
 * Returns `{refresh, redraw}`: load the active announcements again (after an `announcement`
 * push), draw the strings again (after the language changes).
 */
export function mountAnnouncementForm(container, deps) {
  const { _, request, token, languages } = deps;
  let active = [];
  let editing = null; // the record being updated, or null for a new one

  const title = make("h2", "", "");
  const heading = make("div", "pane-heading");
  heading.append(title);
  const list = make("ul", "announcements-active");
  const empty = make("p", "empty");
  const form = make("form", "announce-form");
  form.noValidate = true;
  const severityLabel = make("label", "field-label");
  const severity = make("select", "field");
  severity.id = severityLabel.htmlFor = "announce-severity";
  const englishLabel = make("label", "field-label");
  const english = make("textarea", "field");
  english.id = englishLabel.htmlFor = "announce-english";
  english.rows = 3;
  english.dir = "auto";
  english.lang = "en";
  const languageLabel = make("label", "field-label");
  const language = make("select", "field");
  language.id = languageLabel.htmlFor = "announce-language";
  const translationLabel = make("label", "field-label");
  const translation = make("textarea", "field");
  translation.id = translationLabel.htmlFor = "announce-translation";
  translation.rows = 3;
  translation.dir = "auto";
  const error = make("p", "form-error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  const submit = make("button", "button button--primary button--block");
  submit.type = "submit";
  const cancel = make("button", "button button--block");
  cancel.type = "button";
  cancel.hidden = true;
  form.append(
    severityLabel, severity, englishLabel, english, languageLabel, language,
    translationLabel, translation, error, submit, cancel,
  );
  container.replaceChildren(heading, list, empty, form);

  function values() {
    return {
      severity: severity.value,
      english: english.value,
      language: language.value,
      translation: translation.value,
    };
  }

  function fill(next) {
    severity.value = next.severity;
    english.value = next.english;
    if (next.language) language.value = next.language;
    translation.value = next.translation;
    translation.lang = language.value;
  }

  function showError(problem) {
    error.hidden = !problem;
    error.textContent = problem ? errorText(problem, _) : "";
  }

  function redraw() {
    title.textContent = _("Announcements");
    empty.textContent = _("No active announcement.");
    severityLabel.textContent = _("Severity");
    const chosenSeverity = severity.value || "warning";
    severity.replaceChildren(
      ...SEVERITIES.map((value) => {
        const option = make("option", "", severityName(value, _));
        option.value = value;
        return option;
      }),
    );
    severity.value = chosenSeverity;
    englishLabel.textContent = _("Text in English (required)");
    languageLabel.textContent = _("Translation");
    const chosenLanguage = language.value;
    language.replaceChildren(
      ...languages()
        .filter((entry) => entry.tag !== "en")
        .map((entry) => {
          const option = make("option", "", entry.name || entry.tag);
          option.value = entry.tag;
          return option;
        }),
    );
    if (chosenLanguage) language.value = chosenLanguage;
    translationLabel.textContent = _("Text in the chosen language (optional)");
    submit.textContent = editing ? _("Update announcement") : _("Post announcement");
    cancel.textContent = _("Cancel");
    cancel.hidden = !editing;
    empty.hidden = active.length > 0;
    list.replaceChildren(
      ...active.map((record) => {
        const item = make("li", `announcement-item announcement-item--${record.severity}`);
        item.dataset.announcement = record.id;
        const label = make("strong", "", severityName(record.severity, _));
        const text = make("p", "user-text", record.texts?.en || "");
        text.dir = "auto";
        const edit = make("button", "button button--small", _("Edit"));
        edit.type = "button";
        edit.addEventListener("click", () => {
          editing = record;
          fill(formOf(record, language.value));
          showError(null);
          redraw();
          english.focus();
        });
        const resolve = make("button", "button button--small", _("Resolve"));
        resolve.type = "button";
        resolve.addEventListener("click", () => send("POST", `/api/v1/announcements/${encodeURIComponent(record.id)}/resolve`, {}));
        item.append(label, text, edit, resolve);
        return item;
      }),
    );
  }

  async function refresh() {
    let answer = null;
    try {
      answer = await request("GET", "/api/v1/announcements", { token: token() });
    } catch {
      answer = null;
    }
    if (answerProblem(answer) === null && Array.isArray(answer.data?.announcements)) {
      active = answer.data.announcements;
      if (editing && !active.some((record) => record.id === editing.id)) editing = null;
    }
    redraw();
  }

  async function send(method, url, body) {
    submit.disabled = true;
    let answer = null;
    try {
      answer = await request(method, url, { body, token: token() });
    } catch {
      answer = null;
    }
    submit.disabled = false;
    const problem = answerProblem(answer);
    showError(problem);
    if (problem === null && (url === "/api/v1/announcements" || editing)) {
      editing = null;
      fill({ severity: "warning", english: "", language: language.value, translation: "" });
    }
    await refresh();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = announcementBody(values(), editing ? editing.texts : {});
    if (body.error) {
      showError(body.error);
      return;
    }
    const url = editing
      ? `/api/v1/announcements/${encodeURIComponent(editing.id)}`
      : "/api/v1/announcements";
    send("POST", url, body);
  });
  cancel.addEventListener("click", () => {
    editing = null;
    fill({ severity: "warning", english: "", language: language.value, translation: "" });
    showError(null);
    redraw();
  });
  language.addEventListener("change", () => {
    translation.lang = language.value;
    translation.value = editing?.texts?.[language.value] || "";
  });

  redraw();
  return { refresh, redraw };
}
