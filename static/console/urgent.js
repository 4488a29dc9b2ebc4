// @ts-check
/*
 * Urgent chats (margin call, forced liquidation, a hacked account...): the server pushes
 * `urgent` to every console whose agent could take the chat and to supervisors, once per
 * chat, and `urgent_cleared` when someone took it or it ended. Each shows as a red banner
 * at the top of the console, without sound, with a button that takes the chat; it stays
 * until the chat is taken or over.
 *
 * The pure functions (`applyUrgent`, `applyCleared`, `urgentLabel`) are tested in Node
 * (tests/js/urgent.test.mjs); `mountUrgent` builds the banners for console.js, which only
 * wires the socket and the accept call.
 */

/** A payload that names an urgent chat well enough to show it, or null. */
export function urgentOf(payload) {
  if (!payload || typeof payload !== "object") return null;
  if (typeof payload.conversation_id !== "string" || !payload.conversation_id) return null;
  return payload;
}

/** The alerts after an `urgent` push: added, or replaced by conversation; oldest first. */
export function applyUrgent(alerts, payload) {
  const alert = urgentOf(payload);
  if (alert === null) return alerts;
  const others = alerts.filter((each) => each.conversation_id !== alert.conversation_id);
  return [...others, alert].sort((a, b) => String(a.queued_at).localeCompare(String(b.queued_at)));
}

/** The alerts after an `urgent_cleared` push (or the chat was taken here). */
export function applyCleared(alerts, payload) {
  const id = payload?.conversation_id;
  if (typeof id !== "string") return alerts;
  return alerts.filter((each) => each.conversation_id !== id);
}

/** "Urgent chat waiting: K7PX-4QR9-M · Japanese · security", translated. */
export function urgentLabel(alert, _, languageName = (tag) => tag) {
  const parts = [_("Urgent chat waiting: {number}", { number: alert.tracking_number || "" })];
  if (alert.language) parts.push(alert.language_name || languageName(alert.language));
  if (alert.topic) parts.push(alert.topic);
  return parts.join(" · ");
}

/**
 * The banners, above everything else. `accept(conversationId)` takes the chat (console.js's
 * accept); `_` translates. Returns { pushed, cleared, relabel, clear }.
 */
export function mountUrgent(anchor, { _, accept, languageName = (tag) => tag }) {
  let alerts = [];
  const stack = document.createElement("div");
  stack.className = "urgent-alerts";
  stack.id = "urgent-alerts";
  stack.setAttribute("role", "alert");
  stack.hidden = true;
  anchor.after(stack);

  function render() {
    stack.replaceChildren(
      ...alerts.map((alert) => {
        const row = document.createElement("div");
        row.className = "urgent-alert";
        row.dataset.conversationId = alert.conversation_id;
        const text = document.createElement("span");
        text.className = "urgent-alert-text";
        text.dir = "auto";
        text.textContent = urgentLabel(alert, _, languageName);
        const take = document.createElement("button");
        take.type = "button";
        take.className = "button urgent-alert-take";
        take.textContent = _("Take this chat");
        take.addEventListener("click", () => accept(alert.conversation_id));
        row.append(text, take);
        return row;
      }),
    );
    stack.hidden = alerts.length === 0;
  }

  return {
    pushed(payload) {
      alerts = applyUrgent(alerts, payload);
      render();
    },
    cleared(payload) {
      alerts = applyCleared(alerts, payload);
      render();
    },
    relabel: render,
    clear() {
      alerts = [];
      render();
    },
  };
}
