// @ts-check
/*
 * SLA alerts about offline inbox items: `sla_warning` and `sla_breach` carrying `item_id`
 * (docs/protocol.md). Their conversation is no chat of the console, so the alert row names
 * the item (its kind and tracking number) rather than an unknown chat. Pure; tested in Node
 * (tests/js/inbox_alerts.test.mjs); the strings are the Inbox's msgids.
 */

/** Whether an SLA event is about an inbox item. */
export function isInboxAlert(payload) {
  return typeof payload?.item_id === "string" && payload.item_id !== "";
}

/** "Message · K7PX-4QR9-M" or "Callback · …"; null for a chat's alert. */
export function inboxAlertLabel(payload, _) {
  if (!isInboxAlert(payload)) return null;
  const kind = payload.channel === "callback" ? _("Callback") : _("Message");
  const number = typeof payload.tracking_number === "string" ? payload.tracking_number : "";
  return number ? `${kind} · ${number}` : kind;
}
