// @ts-check
/*
 * The console's live signals (docs/protocol.md): "Customer is typing…" under a chat's
 * transcript (whether, never what), the agent's own typing notices to the customer, and
 * "Seen" under the last agent message the customer has seen. The timing rules are
 * static/shared/typing.js's; console.js wires the socket and each chat to this.
 */

import { AgentRequest } from "/static/shared/protocol.js";
import { typingIndicator, typingSender } from "/static/shared/typing.js";

/**
 * `_` translates; `emit(event, payload)` sends with an acknowledgement; `chatOf(id)` is
 * the console's chat (with `els.transcript`, `els.input`, `els.composer`, `noteMode`,
 * `closed`), or undefined.
 */
export function mountConsoleLive({ _, emit, chatOf }) {
  const indicator = typingIndicator((id, shown) => {
    const chat = chatOf(id);
    if (chat?.live) chat.live.line.hidden = !shown;
  });

  const renderSeen = (chat) => {
    const live = chat.live;
    if (!live) return;
    let target = null;
    for (const item of chat.els.transcript.querySelectorAll('.msg[data-author="agent"][data-seq]')) {
      if (Number(item.dataset.seq) <= live.seenSeq) target = item;
    }
    if (live.mark.parentElement !== target) {
      live.mark.remove();
      if (target) target.append(live.mark);
    }
  };

  return {
    /** A chat was built: its typing line, and its composer's notices. */
    attach(chat) {
      const line = document.createElement("p");
      line.className = "chat-typing";
      line.setAttribute("role", "status");
      line.dir = "auto";
      line.hidden = true;
      chat.els.transcript.after(line);
      const mark = document.createElement("span");
      mark.className = "msg-seen";
      mark.dir = "auto";
      const sender = typingSender((typing) => {
        emit(AgentRequest.TYPING, { conversation_id: chat.id, typing });
      });
      chat.live = { line, mark, sender, seenSeq: 0 };
      chat.els.input.addEventListener("input", () => {
        // A note is not for the customer: writing one is not typing to them.
        if (chat.noteMode || chat.closed) sender.stop();
        else sender.input();
      });
      chat.els.input.addEventListener("blur", () => sender.stop());
      chat.els.composer.addEventListener("submit", () => sender.stop());
      this.relabel(chat);
    },
    relabel(chat) {
      if (!chat.live) return;
      chat.live.line.textContent = _("Customer is typing…");
      chat.live.mark.textContent = _("Seen");
    },
    /** `typing` from the server: the customer of one of this agent's chats. */
    typing(payload) {
      if (!payload || typeof payload.conversation_id !== "string") return;
      if (!chatOf(payload.conversation_id)) return;
      indicator.set(payload.conversation_id, payload.typing === true);
    },
    /** `seen` from the server: the customer has seen up to `seq`. */
    seen(payload) {
      if (!payload || typeof payload.conversation_id !== "string") return;
      const chat = chatOf(payload.conversation_id);
      if (!chat?.live || !Number.isInteger(payload.seq)) return;
      chat.live.seenSeq = Math.max(chat.live.seenSeq, payload.seq);
      renderSeen(chat);
    },
    /** A message was added to a chat's transcript. */
    added(chat, message) {
      if (message?.author === "customer") indicator.set(chat.id, false); // they sent it
      renderSeen(chat);
    },
    /** The chat left this console (closed, transferred, removed). */
    stop(chat) {
      chat.live?.sender.reset();
      indicator.clear(chat.id);
    },
  };
}
