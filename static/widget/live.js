// @ts-check
/*
 * The widget's live signals (docs/protocol.md): "Emma is typing…" under the messages,
 * the customer's own typing notices to the agent holding the chat, seen receipts, and
 * what the header says about people being available. The timing rules are
 * static/shared/typing.js's; widget.js wires the socket and the composer to this.
 */

import { CustomerRequest } from "/static/shared/protocol.js";
import { seenToSend, typingIndicator, typingSender } from "/static/shared/typing.js";

/**
 * `list` is the messages' log (the line goes right after it); `_` translates; `withUserText`
 * fills a template with text people wrote (an agent's name); `emit(event, payload)` sends
 * with an acknowledgement; `ready()` says whether `start` was acknowledged on this
 * connection; `held()` whether a person holds the chat (typing notices go nowhere before).
 */
export function mountLive(list, { _, withUserText, emit, ready, held }) {
  const line = document.createElement("div");
  line.className = "chat-typing";
  line.id = "typing";
  line.setAttribute("role", "status");
  line.dir = "auto";
  line.hidden = true;
  list.after(line);

  let agentName = null;
  let lastAgentSeq = 0; // the newest agent message shown
  let seenSent = 0; // the highest seq sent in `seen` (or acknowledged)
  let available = null; // null: the server has not said (an older server)

  const render = () => {
    if (line.hidden) return;
    line.replaceChildren(
      ...withUserText(_("{name} is typing…"), { name: agentName || _("Agent") }),
    );
  };
  const indicator = typingIndicator((_key, shown) => {
    line.hidden = !shown;
    render();
  });
  const sender = typingSender((typing) => {
    if (ready()) emit(CustomerRequest.TYPING, { typing });
  });

  const sendSeen = () => {
    const seq = seenToSend(lastAgentSeq, seenSent, document.visibilityState === "visible");
    if (seq === null || !ready()) return;
    seenSent = seq;
    emit(CustomerRequest.SEEN, { seq }).then((answer) => {
      if (answer === null) seenSent = Math.min(seenSent, seq - 1); // lost: send it again
    });
  };
  document.addEventListener("visibilitychange", sendSeen);

  return {
    /** `typing` from the server: the agent's notice. */
    typing(payload) {
      if (!payload || typeof payload !== "object") return;
      const name = payload.agent?.name;
      if (typeof name === "string" && name.trim()) agentName = name.trim();
      indicator.set("agent", payload.typing === true);
      render();
    },
    /** An agent message was shown: its author stops typing, and the customer may see it. */
    agentMessage(seq, name) {
      if (name) agentName = name;
      indicator.set("agent", false);
      if (Number.isInteger(seq) && seq > lastAgentSeq) lastAgentSeq = seq;
      queueMicrotask(sendSeen);
    },
    /** The customer typed in the composer. */
    input() {
      if (held()) sender.input();
    },
    /** Sent, or left the composer. */
    stop: () => sender.stop(),
    /** A new connection (or conversation): notices start over; a receipt is sent again. */
    started() {
      sender.reset();
      indicator.clear("agent");
      seenSent = 0;
      sendSeen();
    },
    /** A new conversation: nothing of the last one counts. */
    reset() {
      lastAgentSeq = 0;
      seenSent = 0;
      indicator.clear("agent");
    },
    /** `availability` (from `start`'s acknowledgement or pushed). */
    availability(payload) {
      if (payload && typeof payload.agents_available === "boolean") {
        available = payload.agents_available;
      }
      return available;
    },
    get available() {
      return available;
    },
    relabel: render,
  };
}
