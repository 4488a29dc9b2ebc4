// @ts-check
/*
 * "Export" on a chat in the console: the conversation as a printable HTML page (the
 * browser's "save as PDF" makes it a PDF), internal notes included and marked, labels in
 * the agent's language, times in the browser's time zone. The server decides who may
 * (agents: chats they hold or held; supervisors: any). console.js only wires it in.
 */

import { browserTimeZone, fetchTranscript, saveFile } from "../shared/transcript.js";

/**
 * The Export button for conversation `conversationId`: `token()` gives the log-in token,
 * `onError(text)` shows a failure, `translate` is the console's _.
 */
export function exportButton(conversationId, { token, translate, onError }) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button button--small chat-export";
  button.dataset.conversationId = conversationId;
  button.append(Object.assign(document.createElement("span"), { className: "button-label" }));
  button.addEventListener("click", async () => {
    const current = token();
    if (!current) return;
    button.disabled = true;
    try {
      const { blob, filename } = await fetchTranscript(conversationId, current, {
        format: "html",
        timeZone: browserTimeZone(),
      });
      saveFile(blob, filename);
    } catch (error) {
      onError(exportError(error?.code, translate));
    } finally {
      button.disabled = false;
    }
  });
  labelExport(button, translate);
  return button;
}

/** The button's words, again after the console's strings change. */
export function labelExport(button, _) {
  button.querySelector(".button-label").textContent = _("Export");
  button.title = _("Download the transcript, internal notes included");
}

/** What the agent is told when an export fails. */
export function exportError(code, _) {
  return code === "forbidden"
    ? _("You can only export conversations you hold or held.")
    : _("The transcript could not be downloaded.");
}
