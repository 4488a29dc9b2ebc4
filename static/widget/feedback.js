// @ts-check
/*
 * "Did that help?" under the bot's answers: the widget's pure state functions (no DOM, no
 * strings, no socket), tested in Node (tests/js/feedback.test.mjs).
 *
 * The server keeps the first word on an answer (docs/protocol.md, `faq_feedback`): a second
 * one is acknowledged as a duplicate with the word it kept. The widget remembers, per
 * conversation, which answers it has had a word on, so their buttons stay done after a reload.
 */

// Answers remembered per conversation (the newest kept): more than a chat ever shows.
export const MAX_REMEMBERED = 200;

/** The topics a bot message offers as buttons that send `choose_suggestion`, well formed. */
export function offeredTopics(meta) {
  if (!meta || typeof meta !== "object") return [];
  let items = [];
  if ((meta.kind === "suggest" || meta.kind === "not_helpful") && Array.isArray(meta.suggestions)) {
    items = meta.suggestions;
  } else if (meta.kind === "answer" && Array.isArray(meta.related)) {
    items = meta.related;
  }
  return items.filter(
    (item) =>
      item && typeof item === "object" && typeof item.faq_id === "string" && item.faq_id &&
      typeof item.question === "string" && item.question,
  );
}

/** Whether a bot message asks "did that help?" (an answer whose seq is known). */
export function asksFeedback(meta, seq) {
  return Boolean(
    meta && typeof meta === "object" && meta.kind === "answer" && meta.ask_feedback === true &&
      Number.isInteger(seq) && seq > 0,
  );
}

/**
 * What to make of the acknowledgement of `faq_feedback` (null: none came):
 * - `done`: a word is stored (this one, or an earlier one the server kept: `helpful` says
 *   which); the buttons are done;
 * - `retry`: nothing happened that cannot happen next time (no acknowledgement, a server
 *   failure, a rate limit: `wait` ms); the buttons come back;
 * - `closed`: the conversation has ended;
 * - `unsupported`: a server without the event; the buttons are done, nothing was stored;
 * - `refused`: this word can never be taken (`code`); the buttons are done.
 */
export function feedbackOutcome(answer, helpful) {
  if (answer === null || answer === undefined || typeof answer !== "object") {
    return { state: "retry", wait: 0 };
  }
  if (answer.ok === true) {
    const kept = typeof answer.helpful === "boolean" ? answer.helpful : helpful;
    return { state: "done", helpful: kept, duplicate: answer.duplicate === true };
  }
  const code = answer.error?.code;
  if (code === "rate_limited") {
    const wait = Number(answer.error.retry_after);
    return { state: "retry", wait: Number.isFinite(wait) && wait > 0 ? wait * 1000 : 0 };
  }
  if (code === "internal_error" || code === "not_started" || typeof code !== "string") {
    return { state: "retry", wait: 0 };
  }
  if (code === "conversation_closed") return { state: "closed" };
  if (code === "unknown_event") return { state: "unsupported" };
  return { state: "refused", code };
}

/** The word given on the answer at `seq` of `conversationId`, as remembered: true, false,
 * or undefined. `memo` is what was stored (anything: it may be stale or tampered with). */
export function rememberedFeedback(memo, conversationId, seq) {
  if (!memo || typeof memo !== "object" || memo.conversation_id !== conversationId) {
    return undefined;
  }
  const given = memo.given && typeof memo.given === "object" ? memo.given[String(seq)] : undefined;
  return typeof given === "boolean" ? given : undefined;
}

/** A new memo with the word on the answer at `seq`: only the current conversation's words
 * are kept, at most `max` of them (the newest answers). */
export function rememberFeedback(memo, conversationId, seq, helpful, max = MAX_REMEMBERED) {
  const same = memo && typeof memo === "object" && memo.conversation_id === conversationId;
  const given = {};
  if (same && memo.given && typeof memo.given === "object") {
    for (const [key, value] of Object.entries(memo.given)) {
      if (/^[1-9]\d*$/.test(key) && typeof value === "boolean") given[key] = value;
    }
  }
  given[String(seq)] = helpful;
  const kept = Object.keys(given)
    .map(Number)
    .sort((a, b) => b - a)
    .slice(0, max);
  return {
    conversation_id: conversationId,
    given: Object.fromEntries(kept.map((key) => [String(key), given[String(key)]])),
  };
}
