// @ts-check
/*
 * "Take chats myself": a supervisor's switch for being offered waiting chats like an agent
 * (off by default; stored with the account by the server, `take_chats`). Agents are always
 * offered chats and never see it. Supervisors may still accept from the queue and assign.
 *
 * `mountTakeChats` builds the switch under the status switch; console.js wires the socket
 * call (`emit`) and keeps the session's copy (`changed`).
 */

import { AgentRequest } from "/static/shared/protocol.js";

/** Is `agent` (the log-in's agent payload) one who may choose? Supervisors and admins. */
export function choosesOffers(agent) {
  return agent?.role === "supervisor" || agent?.role === "admin";
}

/**
 * `anchor`: the element the switch goes after. `emit(event, payload)` sends with an
 * acknowledgement (null when not sent); `changed(on)` is told what the server stored;
 * `failed(answer)` is told of a refusal. Returns { show(agent), relabel() }.
 */
export function mountTakeChats(anchor, { _, emit, changed, failed }) {
  const label = document.createElement("label");
  label.className = "take-chats";
  label.hidden = true;
  const box = document.createElement("input");
  box.type = "checkbox";
  box.id = "take-chats";
  const text = document.createElement("span");
  text.className = "take-chats-label";
  label.append(box, text);
  anchor.after(label);
  let on = false;

  box.addEventListener("change", async () => {
    const wanted = box.checked;
    box.disabled = true;
    const answer = await emit(AgentRequest.TAKE_CHATS, { on: wanted });
    box.disabled = false;
    if (answer?.ok) {
      on = answer.take_chats === true;
      changed(on);
    } else {
      failed(answer);
    }
    box.checked = on;
  });

  return {
    show(agent) {
      label.hidden = !choosesOffers(agent);
      on = agent?.take_chats === true;
      box.checked = on;
    },
    relabel() {
      text.textContent = _("Take chats myself");
      label.title = _("Be offered waiting chats like an agent");
    },
  };
}
