// @ts-check
/*
 * The satisfaction survey after a closed chat: "How was your chat?" with five buttons (1-5),
 * an optional comment, send, then thanks. It sends `rate` (docs/protocol.md); the server
 * keeps the first rating of a conversation and acknowledges a second as a duplicate.
 *
 * The pure state functions (`surveyAfter`, `pickScore`, `rateOutcome`, ...) are tested in
 * Node (tests/js/survey.test.mjs); `mountSurvey` builds the card for widget.js, which only
 * offers it on a `closed` push with `survey: true` and relabels it when the language moves.
 */

export const SCORES = Object.freeze([1, 2, 3, 4, 5]);
export const MAX_COMMENT_CHARS = 2000;

/** The survey as nobody has been asked yet. */
export function noSurvey() {
  return { phase: "hidden", conversationId: null, score: null, comment: "", error: null };
}

/** After a `closed` push: asked, if the server wants a survey for this conversation. */
export function surveyAfter(current, closedPayload, conversationId) {
  if (!closedPayload || typeof closedPayload !== "object" || closedPayload.survey !== true) {
    return current;
  }
  if (!conversationId || (current.conversationId === conversationId && current.phase !== "hidden")) {
    return current; // the same chat's survey stays as it is (a second tab's push)
  }
  return { ...noSurvey(), phase: "asking", conversationId };
}

/**
 * On `start` (a reload, a reconnect, a new chat): the same chat's survey stays; a closed chat
 * whose survey was offered in this tab (`memo`, from sessionStorage) is asked again; any
 * other chat has none.
 */
export function surveyOnStart(current, conversationId, status, memo) {
  if (conversationId && conversationId === current.conversationId) return current;
  const offered = memo && typeof memo === "object" && memo.conversation_id === conversationId;
  if (status === "closed" && conversationId && offered) {
    return { ...noSurvey(), phase: "asking", conversationId };
  }
  return noSurvey();
}

/** What to remember of the survey across a reload: which chat asked, if one does. */
export function surveyMemo(current) {
  return current.phase === "asking" || current.phase === "sending"
    ? { conversation_id: current.conversationId }
    : null;
}

/** The customer picked a score (an integer 1-5; anything else changes nothing). */
export function pickScore(current, score) {
  if (current.phase !== "asking" || !SCORES.includes(score)) return current;
  return { ...current, score, error: null };
}

/** The comment as typed, cut to what the server takes. */
export function typeComment(current, text) {
  if (current.phase !== "asking") return current;
  return { ...current, comment: String(text ?? "").slice(0, MAX_COMMENT_CHARS) };
}

/** Whether the send button works: a score is picked and nothing is on its way. */
export function canSend(current) {
  return current.phase === "asking" && current.score !== null;
}

/** The payload of `rate`. */
export function ratePayload(current) {
  const comment = current.comment.trim();
  return comment ? { score: current.score, comment } : { score: current.score };
}

/**
 * The survey after `rate`'s acknowledgement (null: none came):
 * - thanked: stored (or rated before: the server kept the first score);
 * - asking with `error: "retry"`: nothing was stored, send again;
 * - hidden: this conversation cannot be rated (a server without surveys, a chat that was
 *   never closed, or one where nobody answered the customer).
 */
export function rateOutcome(current, answer) {
  if (answer && typeof answer === "object" && answer.ok === true) {
    const kept = SCORES.includes(answer.score) ? answer.score : current.score;
    return { ...current, phase: "thanked", score: kept, error: null };
  }
  const code = answer?.error?.code;
  if (
    code === "unknown_event" ||
    code === "not_closed" ||
    code === "nothing_to_rate" ||
    code === "unknown_conversation"
  ) {
    return { ...current, phase: "hidden" };
  }
  if (code === "invalid_payload") return { ...current, phase: "asking", error: "invalid" };
  return { ...current, phase: "asking", error: "retry" };
}

/* ---------- the card (browser only) ---------- */

/**
 * The survey card, placed before `anchor` (the closed chat's notice). `_` translates a
 * msgid (the widget's strings); `rate(payload)` sends `rate` and resolves to its
 * acknowledgement or null. Returns `{offer, start, relabel}` for widget.js.
 */
export function mountSurvey(anchor, { _, rate }) {
  let survey = noSurvey();
  const card = node("section", "chat-survey", { id: "survey", "aria-labelledby": "survey-title" });
  card.hidden = true;
  const form = node("form", "survey-form", { novalidate: "" });
  const title = node("h2", "survey-title", { id: "survey-title", dir: "auto" });
  const scores = node("div", "survey-scores", { role: "radiogroup", "aria-labelledby": "survey-title" });
  const scale = node("p", "survey-scale", { dir: "auto" });
  const low = node("span", "survey-low");
  const high = node("span", "survey-high");
  scale.append(low, high);
  const commentLabel = node("label", "survey-comment-label", { for: "survey-comment", dir: "auto" });
  const comment = node("textarea", "survey-comment", { id: "survey-comment", rows: "2", dir: "auto" });
  comment.maxLength = MAX_COMMENT_CHARS;
  const error = node("p", "field-error survey-error", { role: "alert", dir: "auto" });
  error.hidden = true;
  const send = node("button", "button button--wide survey-send", { type: "submit" });
  form.append(title, scores, scale, commentLabel, comment, error, send);
  const thanks = node("p", "survey-thanks", { role: "status", dir: "auto", tabindex: "-1" });
  thanks.hidden = true;
  card.append(form, thanks);
  for (const score of SCORES) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "survey-score";
    button.dataset.score = String(score);
    button.setAttribute("role", "radio");
    button.textContent = String(score);
    button.addEventListener("click", () => update(pickScore(survey, score)));
    scores.append(button);
  }
  comment.addEventListener("input", () => {
    survey = typeComment(survey, comment.value);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!canSend(survey)) return;
    const sent = survey;
    update({ ...survey, phase: "sending" });
    const answer = await rate(ratePayload(sent));
    if (survey.conversationId !== sent.conversationId) return; // a new chat began meanwhile
    update(rateOutcome(sent, answer));
    if (survey.phase === "thanked") thanks.focus();
  });
  anchor.before(card);

  function update(next) {
    survey = next;
    saveMemo(surveyMemo(survey));
    render();
  }

  function render() {
    card.hidden = survey.phase === "hidden";
    form.hidden = survey.phase === "thanked";
    thanks.hidden = survey.phase !== "thanked";
    for (const button of scores.querySelectorAll("button")) {
      const picked = Number(button.dataset.score) === survey.score;
      button.setAttribute("aria-checked", String(picked));
      button.disabled = survey.phase === "sending";
    }
    comment.disabled = survey.phase === "sending";
    send.disabled = !canSend(survey);
    error.hidden = !survey.error;
    error.textContent =
      survey.error === "invalid"
        ? _("This message could not be sent.")
        : survey.error
          ? _("Something went wrong. Please try again.")
          : "";
  }

  function relabel() {
    title.textContent = _("How was your chat with us?");
    low.textContent = _("1 = very poor");
    high.textContent = _("5 = excellent");
    commentLabel.textContent = _("Anything you want to tell us? (optional)");
    send.textContent = _("Send rating");
    thanks.textContent = _("Thank you for rating this chat.");
    for (const button of scores.querySelectorAll("button")) {
      button.setAttribute("aria-label", _("{score} out of 5", { score: button.dataset.score }));
    }
    render();
  }

  relabel();
  return {
    offer(closedPayload, conversationId) {
      const next = surveyAfter(survey, closedPayload, conversationId);
      if (next !== survey) {
        comment.value = "";
        update(next);
      }
    },
    start(conversationId, status) {
      const next = surveyOnStart(survey, conversationId, status, loadMemo());
      if (next !== survey) {
        comment.value = "";
        update(next);
      }
    },
    relabel,
  };
}

function node(tag, className, attributes = {}) {
  const made = document.createElement(tag);
  made.className = className;
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  return made;
}

const MEMO_KEY = "chatserver.widget.survey";

function loadMemo() {
  try {
    return JSON.parse(globalThis.sessionStorage.getItem(MEMO_KEY) || "null");
  } catch {
    return null;
  }
}

function saveMemo(memo) {
  try {
    if (memo === null) globalThis.sessionStorage.removeItem(MEMO_KEY);
    else globalThis.sessionStorage.setItem(MEMO_KEY, JSON.stringify(memo));
  } catch {
    // Storage is unavailable (a blocked third-party frame): a reload just asks no more.
  }
}
