"""What the browser tests share: the headless Chromium they drive (or skipping with the
reason), and a faulty network between a page and the real server.

Debian's `chromium` package, driven by Python Playwright; `playwright install` (which
downloads a browser build of its own) is never needed. With CHATSERVER_REQUIRE_SERVICES=1
(CI) a missing browser fails the test instead.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("CHATSERVER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Python Playwright is not installed (pip install -e '.[test]')"
    if not CHROMIUM.is_file():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


def require_browser() -> None:
    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get("CHATSERVER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and CHATSERVER_REQUIRE_SERVICES=1 says it must be")
    pytest.skip(reason)


@dataclass
class SharedChromium:
    """The run's Playwright driver and its Chromium (launched on first use)."""

    playwright: Any
    browser: Any = None

    async def connected(self) -> Any:
        """The browser, launched again if an earlier test left it disconnected."""
        if self.browser is None or not self.browser.is_connected():
            self.browser = await self.playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
        return self.browser


@pytest.fixture(scope="session")
async def _chromium() -> AsyncIterator[SharedChromium]:
    """One Playwright driver and one Chromium for the whole run: starting both took about
    1 s a test, 78 times. Tests stay apart by their own browser contexts (cookies, storage,
    cache), which `browser` closes after each test."""
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        shared = SharedChromium(playwright)
        try:
            yield shared
        finally:
            if shared.browser is not None:
                await shared.browser.close()


@pytest.fixture
async def browser(_chromium: SharedChromium) -> AsyncIterator[Any]:
    """Headless Chromium for one test (skipped, or failed on CI, when it is missing)."""
    launched = await _chromium.connected()
    try:
        yield launched
    finally:
        for context in list(launched.contexts):
            await context.close()


def socketio_frame(namespace: str, message: str | bytes) -> tuple[str, int | None, Any] | None:
    """("event" | "ack", ack id, payload) of a Socket.IO 5 frame on `namespace`, else None.
    An event's payload is its JSON array: [name, *arguments]."""
    text = message if isinstance(message, str) else message.decode(errors="replace")
    match = re.match(rf"^4([23]){re.escape(namespace)},(\d*)(.*)$", text, re.S)
    if match is None:
        return None
    kind = "event" if match.group(1) == "2" else "ack"
    return kind, int(match.group(2)) if match.group(2) else None, json.loads(match.group(3))


@dataclass
class Network:
    """The page's WebSocket, forwarded frame by frame to the real server (a Playwright
    route). It fakes only what lies between the page and our server, and records what the
    page emits:

    * `lose_ack_of`: the next acknowledgement of that event is lost with the connection:
      from that emit on nothing reaches the page, and when the server's acknowledgement
      comes by, both sides of the socket close (the server has handled the event; the page
      never hears so);
    * `drop`: server events for which it returns True never reach the page (a late frame);
    * `unknown_events`: answered the way an older release of the server answers an event it
      does not have yet (`unknown_event`, as base.Namespace replies), instead of reaching it.
    """

    namespace: str
    lose_ack_of: str | None = None
    drop: Callable[[str, Any], bool] | None = None
    unknown_events: frozenset[str] = frozenset()
    emitted: list[tuple[str, Any]] = field(default_factory=list)
    connections: int = 0
    lost_acks: int = 0
    _closing: set[asyncio.Task[None]] = field(default_factory=set)

    def events(self, name: str) -> list[Any]:
        """The payloads of the page's emits of `name` that reached the network, in order."""
        return [payload for event, payload in self.emitted if event == name]

    async def wait_for(self, name: str, count: int = 1, timeout: float = 15) -> list[Any]:
        async with asyncio.timeout(timeout):
            while len(self.events(name)) < count:
                await asyncio.sleep(0.02)
        return self.events(name)

    async def install(self, page: Any) -> None:
        await page.route_web_socket(re.compile(r"/socket\.io/"), self._route)

    def _route(self, page_side: Any) -> None:
        server_side = page_side.connect_to_server()
        self.connections += 1
        losing: set[int] = set()  # ack ids of this connection whose ack is to be lost

        def upstream(message: str | bytes) -> None:
            frame = socketio_frame(self.namespace, message)
            if frame is not None and frame[0] == "event":
                ack_id, (name, *arguments) = frame[1], frame[2]
                self.emitted.append((name, arguments[0] if arguments else None))
                if name in self.unknown_events and ack_id is not None:
                    error = {"code": "unknown_event", "message": f"no event {name!r}"}
                    reply = json.dumps([{"ok": False, "error": error}])
                    page_side.send(f"43{self.namespace},{ack_id}{reply}")
                    return
                if name == self.lose_ack_of and ack_id is not None:
                    self.lose_ack_of = None
                    losing.add(ack_id)
            server_side.send(message)

        def downstream(message: str | bytes) -> None:
            frame = socketio_frame(self.namespace, message)
            if losing:
                if frame is not None and frame[0] == "ack" and frame[1] in losing:
                    losing.clear()
                    self.lost_acks += 1
                    for side in (page_side, server_side):
                        task = asyncio.get_running_loop().create_task(side.close())
                        self._closing.add(task)
                        task.add_done_callback(self._closing.discard)
                return
            if frame is not None and frame[0] == "event" and self.drop is not None:
                name, *arguments = frame[2]
                if self.drop(name, arguments[0] if arguments else None):
                    return
            page_side.send(message)

        page_side.on_message(upstream)
        server_side.on_message(downstream)


# ---------------------------------------------------------------- how text is shown

# For an element: its text as rendered (innerText), the unicode-bidi and direction of the
# element and of every element inside it that sets its own direction (a <bdi>, a dir
# attribute), and where each visible character is laid out (marks and format characters
# take no place of their own).
SHOWN_JS = r"""element => {
  const range = document.createRange();
  const glyphs = [];
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let offset = 0;
    for (const char of node.data) {
      range.setStart(node, offset);
      range.setEnd(node, offset + char.length);
      offset += char.length;
      if (!/[\p{L}\p{N}\p{P}\p{S}]/u.test(char)) continue;
      const box = range.getBoundingClientRect();
      glyphs.push([char, box.left, box.top]);
    }
  }
  const style = (node) => {
    const computed = getComputedStyle(node);
    return [node.tagName.toLowerCase(), computed.unicodeBidi, node.innerText];
  };
  return {
    text: element.innerText,
    style: style(element),
    isolates: [...element.querySelectorAll("bdi, [dir]")].map(style),
    glyphs,
  };
}"""


@dataclass
class Shown:
    """What an element shows, from SHOWN_JS."""

    text: str
    tag: str
    unicode_bidi: str
    isolates: list[tuple[str, str, str]]  # (tag, unicode-bidi, innerText) inside it
    glyphs: list[tuple[str, float, float]]  # (character, left, top) in the text's order

    def out_of_order(self) -> list[str]:
        """Characters laid out left of the one before them on the same line: none for
        left-to-right text shown in the order it was typed."""
        return [
            f"{before[0]!r} then {after[0]!r}"
            for before, after in zip(self.glyphs, self.glyphs[1:], strict=False)
            if abs(after[2] - before[2]) < 2 and after[1] <= before[1]
        ]

    def tallest_stack(self) -> int:
        """The most nonspacing or enclosing marks on one character of the text shown."""
        most = run = 0
        for char in self.text:
            if unicodedata.category(char) in ("Mn", "Me"):
                run += 1
                most = max(most, run)
            elif char not in "\u200c\u200d":
                run = 0
        return most


async def shown(locator: Any) -> Shown:
    """How `locator`'s element shows its text (it must be visible)."""
    found = await locator.evaluate(SHOWN_JS)
    tag, unicode_bidi, _ = found["style"]
    return Shown(
        text=found["text"],
        tag=tag,
        unicode_bidi=unicode_bidi,
        isolates=[tuple(item) for item in found["isolates"]],
        glyphs=[tuple(glyph) for glyph in found["glyphs"]],
    )


# The explicit bidi formatting characters (embeddings, overrides, isolates and their ends).
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# A file name that an override shows as "invoice_exe.txt", and "Zalgo" with 24 marks a letter.
SPOOFED_NAME = "invoice_\u202etxt.exe"
ZALGO = "".join(letter + "\u0336\u0301\u0352\u0347\u0489\u033f" * 4 for letter in "Zalgo")
