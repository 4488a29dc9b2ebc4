// @ts-check
/*
 * The SLA alerts a supervisor's console starts with: `sla_warning` and `sla_breach` are
 * pushed only as they happen, so a console that connects (log-in, reload, reconnect) reads
 * the warnings and breaches still standing from GET /api/v1/dashboard/alerts and adds those
 * it does not list yet. Pure; tested in Node (tests/js/sla_alerts.test.mjs).
 */

import { inboxAlertLabel } from "./inbox_alerts.js";

/** What makes two alerts the same one: its type, its chat or inbox item, its clock. */
export function alertKey(alert) {
  return [alert.type, alert.item_id || alert.conversation_id, alert.kind || "first_response"].join("|");
}

/**
 * The console's alert entries (`{type, conversation_id, item_id, kind, at, remaining,
 * label, language}`) from the API's answer; `at` is when the alert was raised.
 */
export function alertsFrom(data, _) {
  const list = Array.isArray(data?.alerts) ? data.alerts : [];
  return list
    .filter((a) => (a?.type === "warning" || a?.type === "breach") && typeof a.conversation_id === "string")
    .map((a) => {
      const raised = Date.parse(a.raised_at);
      return {
        type: a.type,
        conversation_id: a.conversation_id,
        item_id: typeof a.item_id === "string" ? a.item_id : undefined,
        kind: a.kind || "first_response",
        at: new Date(Number.isNaN(raised) ? Date.now() : raised),
        remaining: Number.isFinite(a.remaining_seconds) ? a.remaining_seconds : null,
        label: inboxAlertLabel(a, _),
        language: typeof a.language === "string" ? a.language : "",
      };
    });
}

/**
 * The list after the standing alerts were read: those already listed stay as they are
 * (a push is newer than the read), the others are added; a warning whose clock has since
 * been breached is not brought back. At most `max` entries, newest first.
 */
export function mergeAlerts(existing, standing, max = 50) {
  const known = new Set(existing.map(alertKey));
  const added = standing.filter((alert) => {
    if (known.has(alertKey(alert))) return false;
    return !(alert.type === "warning" && known.has(alertKey({ ...alert, type: "breach" })));
  });
  return [...existing, ...added].sort((a, b) => b.at - a.at).slice(0, max);
}

/**
 * Read the standing alerts with `read()` (the console's GET) and merge them into
 * `current()`, the list as it is once the answer came (pushes may have arrived meanwhile);
 * null when the read failed, and the console keeps what it has.
 */
export async function standingAlerts(read, current, _, max = 50) {
  let answer;
  try {
    answer = await read();
  } catch {
    return null;
  }
  if (answer?.status !== 200) return null;
  return mergeAlerts(current(), alertsFrom(answer.data, _), max);
}
