// The host page's side of the embed: open and close the chat frame.
const embed = document.getElementById("chat-embed");
const launcher = document.getElementById("chat-launcher");

function setOpen(open) {
  embed.dataset.open = String(open);
  launcher.setAttribute("aria-expanded", String(open));
  launcher.setAttribute("aria-label", open ? "Close the support chat" : "Open the support chat");
}

launcher.addEventListener("click", () => setOpen(embed.dataset.open !== "true"));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && embed.dataset.open === "true") {
    setOpen(false);
    launcher.focus();
  }
});
