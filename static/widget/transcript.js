// @ts-check
/*
 * "Download transcript" in the widget's menu: the conversation as a printable HTML page
 * (the browser's "save as PDF" makes it a PDF) or as plain text, in the conversation's
 * language, times in the browser's time zone. The customer's copy never holds agents'
 * internal notes (the server leaves them out). "Email me the transcript" sits next to them
 * (static/widget/transcript_email.js). widget.js only wires it in.
 */

import { browserTimeZone, fetchTranscript, saveFile } from "../shared/transcript.js";
import { installTranscriptEmail } from "./transcript_email.js";

/** Whether there is a conversation to download: one started, with its token. */
export function transcriptAvailable({ token, conversationId }) {
  return Boolean(token && conversationId);
}

/**
 * Adds the two menu items to `menu` and returns {relabel, refresh}: `relabel()` after the
 * strings change, `refresh()` when the menu opens. `conversation()` gives {token,
 * conversationId}; `translate` is the widget's _; `onError(text)` shows a failure;
 * `onDone()` closes the menu.
 */
export function installTranscript({ menu, conversation, translate, onError, onDone }) {
  const _ = translate;
  const items = ["html", "txt"].map((format) => {
    const item = document.createElement("button");
    item.type = "button";
    item.className = "chat-menu-item chat-menu-item--plain";
    item.setAttribute("role", "menuitem");
    item.dir = "auto";
    item.dataset.transcript = format;
    item.addEventListener("click", () => download(format));
    return item;
  });
  menu.prepend(...items);

  async function download(format) {
    const current = conversation();
    onDone();
    if (!transcriptAvailable(current)) return;
    for (const item of items) item.disabled = true;
    try {
      const { blob, filename } = await fetchTranscript(current.conversationId, current.token, {
        format,
        timeZone: browserTimeZone(),
      });
      saveFile(blob, filename);
    } catch {
      onError(_("The transcript could not be downloaded."));
    } finally {
      refresh();
    }
  }

  function relabel() {
    items[0].textContent = _("Download transcript");
    items[1].textContent = _("Download transcript as text");
  }

  function refresh() {
    const available = transcriptAvailable(conversation());
    for (const item of items) item.disabled = !available;
  }

  // "Email me the transcript" right after the downloads (static/widget/transcript_email.js).
  const email = installTranscriptEmail({ menu, conversation, translate, onDone, after: items[1] });

  relabel();
  refresh();
  return {
    relabel: () => {
      relabel();
      email.relabel();
    },
    refresh: () => {
      refresh();
      email.refresh();
    },
  };
}
