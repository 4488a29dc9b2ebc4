"""The one-tag embed in a real headless Chromium: a plain host page served from ANOTHER
origin (a small aiohttp app on its own port, `localhost` where the desk is `127.0.0.1`),
listed in the desk's allowed origins, includes `<script src="DESK/widget.js" async>`; the
desk is the real server, and agents are real python-socketio clients on /agent.

Skipped when Chromium or Playwright is missing, unless CHATSERVER_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web

from chatserver.identity import sign
from chatserver.keys import SERVICES
from tests.conftest import ROOT, FakeClock, free_port
from tests.test_widget_browser import expect

TIMEOUT_MS = 15_000
SECRET = "the host site's identity secret"
AGENT_PASSWORD = "a long agent password"
LOCALES = ROOT / "locales"

# The host page: records the widget's events; `{before}` is what it runs before the tag.
HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>A broker's page</title></head>
<body><h1>A broker's page</h1>
<script>
window.seen = [];
for (const name of ["chatserver:ready", "chatserver:message", "chatserver:closed"]) {
  window.addEventListener(name, (event) => window.seen.push([name, event.detail]));
}
{before}
</script>
<script src="{desk}/widget.js" async{onload}></script>
</body></html>"""


def msgstr(language: str, msgid: str) -> str:
    """A catalog's translation of `msgid` (English: the msgid itself)."""
    text = (LOCALES / language / "LC_MESSAGES" / "messages.po").read_text("utf-8")
    found = re.search(rf'^msgid "{re.escape(msgid)}"\nmsgstr "(.*)"$', text, re.M)
    assert found is not None, (language, msgid)
    return found.group(1) or msgid


def longest_titles(count: int) -> list[str]:
    """The languages whose widget title is longest (in characters), longest first."""
    languages = sorted(path.name for path in LOCALES.iterdir() if path.is_dir())
    ranked = sorted(languages, key=lambda tag: -len(msgstr(tag, "Customer support")))
    return [tag.replace("_", "-") for tag in ranked[:count]]


def conversations(host: Host) -> int:
    """How many conversations the desk has stored."""
    with contextlib.closing(sqlite3.connect(host.db_path)) as db:
        count: int = db.execute("SELECT count(*) FROM conversations").fetchone()[0]
    return count


@dataclass
class Host:
    """The host site on another origin, and the desk it embeds."""

    origin: str
    desk: Any
    clock: FakeClock
    db_path: Path
    pages: dict[str, str] = field(default_factory=dict)

    def page_with(self, name: str, before: str = "", onload: str = "") -> str:
        desk = str(self.desk.make_url("")).rstrip("/")
        page = HOST_PAGE.replace("{desk}", desk).replace("{before}", before)
        self.pages[name] = page.replace("{onload}", f' onload="{onload}"' if onload else "")
        return f"{self.origin}/{name}"

    def signed_user(self, customer_id: str, *, good: bool = True) -> str:
        """The host's JS call setUser(id, {name, email, identity, signature})."""
        identity = {
            "balance_usd": 120_000,
            "manager": "mgr",
            "issued_at": self.clock.now().isoformat(),
        }
        signed = {"customer_id": customer_id, "name": "Somchai", **identity}
        signature = sign(signed, SECRET if good else "not the secret")
        options = {"name": "Somchai", "identity": identity, "signature": signature}
        return f"[{json.dumps(customer_id)}, {json.dumps(options)}]"


@pytest.fixture
async def host(start_server: Any, settings: Any, db_path: Path) -> AsyncIterator[Host]:
    port = free_port()
    origin = f"http://localhost:{port}"
    clock = FakeClock()
    desk = await start_server(
        replace(settings, allowed_origins=(origin,), identity_secret=SECRET), clock=clock
    )
    app = web.Application()
    found = Host(origin, desk, clock, db_path)

    async def page(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in found.pages:
            raise web.HTTPNotFound()
        return web.Response(text=found.pages[name], content_type="text/html")

    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "localhost", port)
    await site.start()
    try:
        yield found
    finally:
        await runner.cleanup()


@dataclass
class HostPage:
    page: Any
    problems: list[str]

    @property
    def frame(self) -> Any:
        return self.page.frame_locator("#chatserver-frame")

    @property
    def launcher(self) -> Any:
        return self.page.locator(".chatserver-embed .launcher")

    async def events(self, name: str) -> list[Any]:
        seen = await self.page.evaluate("() => window.seen")
        return [detail for event, detail in seen if event == name]

    async def wait_event(self, name: str, count: int = 1) -> list[Any]:
        async with asyncio.timeout(TIMEOUT_MS / 1000):
            while len(await self.events(name)) < count:
                await asyncio.sleep(0.05)
        return await self.events(name)

    async def call(self, script: str) -> None:
        await self.page.evaluate(f"() => {{ window.$chatserver.{script}; }}")


OpenHost = Callable[..., Awaitable[HostPage]]


@pytest.fixture
async def open_host(browser: Any) -> AsyncIterator[OpenHost]:
    contexts: list[Any] = []

    async def open_(url: str, *, width: int = 1280, height: int = 800) -> HostPage:
        context = await browser.new_context(
            locale="en-US", viewport={"width": width, "height": height}
        )
        contexts.append(context)
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"console: {message.text}")
                if message.type == "error" or "Content Security Policy" in message.text
                else None
            ),
        )
        await page.goto(url)
        return HostPage(page, problems)

    yield open_
    for context in contexts:
        await context.close()


@dataclass
class Agent:
    client: socketio.AsyncClient
    offers: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


async def agent_console(desk: Any, username: str) -> Agent:
    """A support agent who speaks English, logged in and online on /agent."""
    accounts = desk.app[SERVICES].accounts
    await accounts.add(
        username=username,
        name=username.title(),
        languages=["en"],
        teams=["technical", "account", "trading"],
        capacity=3,
        role="agent",
        password=AGENT_PASSWORD,
    )
    token = (await accounts.login(username, AGENT_PASSWORD)).token
    client = socketio.AsyncClient(reconnection=False)
    agent = Agent(client)

    async def offered(data: dict[str, Any]) -> None:
        agent.offers.put_nowait(data)

    client.on("offer", offered, namespace="/agent")
    await client.connect(
        str(desk.make_url("/")),
        namespaces=["/agent"],
        transports=["websocket"],
        auth={"token": token},
        wait_timeout=10,
    )
    return agent


async def ready(host_page: HostPage) -> None:
    await host_page.wait_event("chatserver:ready")
    await expect(host_page.frame.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )


# ---------------------------------------------------------------- opening and closing


async def test_the_launcher_never_opens_by_itself_and_toggle_opens_it(host, open_host):
    host_page = await open_host(host.page_with("plain"))
    await ready(host_page)
    frame_element = host_page.page.locator("#chatserver-frame")
    launcher = host_page.launcher
    await expect(launcher).to_be_visible()
    await expect(launcher).to_have_attribute("aria-label", "Open the support chat")
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await expect(launcher.locator(".icon-open")).to_be_visible()
    await expect(launcher.locator(".icon-close")).to_be_hidden()
    await expect(frame_element).to_have_attribute("title", "Customer support chat")
    await asyncio.sleep(1)  # a widget that opens itself would have done so by now
    await expect(frame_element).to_be_hidden()

    await host_page.call("toggle('open')")
    await expect(frame_element).to_be_visible()
    await expect(launcher).to_have_attribute("aria-expanded", "true")
    await expect(launcher).to_have_attribute("aria-label", "Close the support chat")
    # Embedded, the widget has its own close button, which closes the frame.
    await host_page.frame.locator("#close-sheet").click()
    await expect(frame_element).to_be_hidden()
    await launcher.click()
    await expect(frame_element).to_be_visible()
    await launcher.click()
    await expect(frame_element).to_be_hidden()
    assert host_page.problems == []


async def test_settings_can_ask_it_to_open_on_the_left(host, open_host):
    before = "window.chatserverSettings = {open: true, position: 'left', colour: '#aa3300'};"
    host_page = await open_host(host.page_with("open", before))
    await ready(host_page)
    frame_element = host_page.page.locator("#chatserver-frame")
    await expect(frame_element).to_be_visible()
    box = await frame_element.bounding_box()
    assert box["x"] < 640, box  # on the left of the 1280 px page
    background = await host_page.launcher.evaluate("b => getComputedStyle(b).backgroundColor")
    assert background == "rgb(170, 51, 0)"
    accent = await host_page.frame.locator("#send").evaluate(
        "b => getComputedStyle(b).backgroundColor"
    )
    assert accent == "rgb(170, 51, 0)"
    assert host_page.problems == []


async def test_the_host_page_hears_a_bot_reply(host, open_host):
    host_page = await open_host(host.page_with("events"))
    await ready(host_page)
    await host_page.call("toggle('open')")
    frame = host_page.frame
    await frame.locator("#input").fill("How do I install MT5?")
    await frame.locator("#input").press("Enter")
    messages = await host_page.wait_event("chatserver:message")
    bot = [m for m in messages if m["author"] == "bot"]
    assert bot, messages
    assert "MT5" in bot[-1]["text"] or "MetaTrader" in bot[-1]["text"], bot
    assert isinstance(bot[-1]["seq"], int)
    # What the host heard is what the frame shows.
    shown = await frame.locator(".msg--bot .msg-bubble").last.text_content()
    assert shown == bot[-1]["text"]
    assert host_page.problems == []


async def test_calls_made_before_the_frame_is_ready_wait_for_it(host, open_host):
    """Called as soon as the loader has run (the script's onload), long before the frame
    is ready: queued, then done in order."""
    onload = "$chatserver.setLocale('ja'); $chatserver.toggle('open')"
    host_page = await open_host(host.page_with("early", onload=onload))
    await ready(host_page)
    await expect(host_page.page.locator("#chatserver-frame")).to_be_visible()
    await expect(host_page.frame.locator("#title")).to_have_text(msgstr("ja", "Customer support"))
    await expect(host_page.launcher).to_have_attribute(
        "aria-label", msgstr("ja", "Close the support chat")
    )
    assert host_page.problems == []


async def test_the_host_hears_the_end_and_reset_forgets_the_conversation(host, open_host):
    host_page = await open_host(host.page_with("reset"))
    await ready(host_page)
    await host_page.call("toggle('open')")
    frame = host_page.frame
    await frame.locator("#input").fill("How do I install MT5?")
    await frame.locator("#input").press("Enter")
    await expect(frame.locator(".msg--bot")).to_have_count(2, timeout=TIMEOUT_MS)
    await frame.locator("#menu-button").click()
    await frame.locator("#end-chat").click()
    await frame.locator("#confirm-end-yes").click()
    closed = await host_page.wait_event("chatserver:closed")
    assert set(closed[0]) == {"tracking_number"}

    await expect(frame.locator("#notice")).to_be_visible(timeout=TIMEOUT_MS)
    before = conversations(host)

    await host_page.call("reset()")
    # A new conversation: only its greeting (seq 1), open for messages.
    await expect(frame.locator(".msg--customer")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(frame.locator(".msg--bot")).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(frame.locator(".msg--bot")).to_have_attribute("data-seq", "1")
    await expect(frame.locator("#notice")).to_be_hidden()
    assert conversations(host) == before + 1
    assert host_page.problems == []


# ---------------------------------------------------------------- who the customer is


async def vip_asks_for_a_person(host: Host, open_host: OpenHost, *, good: bool) -> Any:
    """A host page that set the user before the tag loaded; the customer asks for a person.
    Two English agents are online: `other` first (longest idle), then `mgr`. Returns who got
    the offer and the conversation the desk stored."""
    other = await agent_console(host.desk, "other")
    host.clock.advance(5)  # `other` has been idle longer: the standard choice
    manager = await agent_console(host.desk, "mgr")
    try:
        call = host.signed_user("cust-vip-7", good=good)
        before = f"window.$chatserver = window.$chatserver || [];\n$chatserver.push(['setUser', ...{call}]);"
        host_page = await open_host(host.page_with("vip" if good else "forged", before))
        await ready(host_page)
        await host_page.call("toggle('open')")
        frame = host_page.frame
        await frame.locator("#talk").click()
        await expect(frame.locator("#queue")).to_be_visible(timeout=TIMEOUT_MS)
        done, _ = await asyncio.wait(
            [
                asyncio.create_task(other.offers.get(), name="other"),
                asyncio.create_task(manager.offers.get(), name="mgr"),
            ],
            timeout=TIMEOUT_MS / 1000,
            return_when=asyncio.FIRST_COMPLETED,
        )
        assert done, "nobody was offered the chat"
        task = done.pop()
        offer = task.result()
        store = host.desk.app[SERVICES].store
        conversation = await store.get_conversation(offer["conversation_id"])
        # No error shown either way: a bad signature just makes a standard customer.
        await expect(frame.locator("#banner")).to_be_hidden()
        assert host_page.problems == []
        return task.get_name(), conversation
    finally:
        for agent in (other, manager):
            await agent.client.disconnect()


async def test_a_signed_vip_is_offered_to_their_account_manager(host, open_host):
    offered_to, conversation = await vip_asks_for_a_person(host, open_host, good=True)
    assert offered_to == "mgr"
    assert str(conversation.tier) == "vip"
    assert conversation.customer_id == "cust-vip-7"
    assert conversation.manager == "mgr"


async def test_a_bad_signature_is_ignored(host, open_host):
    offered_to, conversation = await vip_asks_for_a_person(host, open_host, good=False)
    assert str(conversation.tier) == "standard"
    assert conversation.customer_id is None
    assert conversation.manager is None
    assert offered_to == "other"  # the longest idle: no account manager to prefer


# ---------------------------------------------------------------- language and layout


async def test_set_locale_arabic_mirrors_the_widget(host, open_host):
    host_page = await open_host(host.page_with("arabic"))
    await ready(host_page)
    await host_page.call("toggle('open')")
    await host_page.call("setLocale('ar')")
    frame = host_page.frame
    await expect(frame.locator("html")).to_have_attribute("dir", "rtl", timeout=TIMEOUT_MS)
    await expect(frame.locator("#title")).to_have_text(msgstr("ar", "Customer support"))
    await expect(host_page.launcher).to_have_attribute(
        "aria-label", msgstr("ar", "Close the support chat")
    )
    # The send arrow points the way Arabic reads: mirrored.
    transform = await frame.locator("#send svg").evaluate("s => getComputedStyle(s).transform")
    assert transform.startswith("matrix(-1, 0, 0, 1"), transform
    assert host_page.problems == []


async def test_on_a_phone_the_open_widget_is_a_sheet_with_a_close_button(host, open_host):
    host_page = await open_host(host.page_with("phone"), width=375, height=667)
    await ready(host_page)
    frame_element = host_page.page.locator("#chatserver-frame")
    await expect(frame_element).to_be_hidden()
    await host_page.call("toggle('open')")
    await expect(frame_element).to_be_visible()
    box = await frame_element.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 375, 667), box
    close = host_page.frame.locator("#close-sheet")
    await expect(close).to_be_visible()
    close_box = await close.bounding_box()
    assert close_box["x"] + close_box["width"] <= 375
    assert close_box["width"] >= 40
    await expect(close).to_have_attribute("aria-label", "Close the support chat")
    await close.click()
    await expect(frame_element).to_be_hidden()
    await expect(host_page.launcher).to_be_visible()
    assert host_page.problems == []


TITLE_FITS = """t => ({
  scroll: t.scrollWidth, client: t.clientWidth,
  scrollH: t.scrollHeight, clientH: t.clientHeight,
  right: t.getBoundingClientRect().right, width: document.documentElement.clientWidth,
  header: [t.closest('header').scrollWidth, t.closest('header').clientWidth],
})"""


@pytest.mark.parametrize("language", longest_titles(3))
async def test_the_title_is_never_cut_at_375_px(host, open_host, language):
    host_page = await open_host(host.page_with(f"title-{language}"), width=375, height=667)
    await ready(host_page)
    await host_page.call("toggle('open')")
    await host_page.call(f"setLocale({json.dumps(language)})")
    title = host_page.frame.locator("#title")
    expected = msgstr(language.replace("-", "_"), "Customer support")
    await expect(title).to_have_text(expected, timeout=TIMEOUT_MS)
    fits = await title.evaluate(TITLE_FITS)
    assert fits["scroll"] <= fits["client"], fits
    assert fits["scrollH"] <= fits["clientH"], fits
    assert fits["right"] <= fits["width"], fits
    assert fits["header"][0] <= fits["header"][1], fits
    assert host_page.problems == []


LINES = """p => {
  const range = document.createRange();
  range.selectNodeContents(p);
  return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
}"""


async def test_the_german_enter_hint_fits_on_one_line_at_the_default_width(host, open_host):
    host_page = await open_host(host.page_with("german"))
    await ready(host_page)
    await host_page.call("toggle('open')")
    await host_page.call("setLocale('de')")
    hint = host_page.frame.locator("#hint")
    german = msgstr("de", "Press Enter to send, Shift+Enter for a new line.")
    await expect(hint).to_have_text(german, timeout=TIMEOUT_MS)
    width = await host_page.page.locator("#chatserver-frame").evaluate("f => f.clientWidth")
    assert width == 380
    assert await hint.evaluate(LINES) == 1
    assert host_page.problems == []


CHAT_LANGUAGES = sorted(path.name.replace("_", "-") for path in LOCALES.iterdir() if path.is_dir())


async def test_every_enter_hint_fits_on_one_line_at_the_default_width(host, browser):
    """The widget alone at the width the loader frames it (380 px), in each language (five
    pages at a time: each waits mostly for its socket and catalog)."""
    pages = asyncio.Semaphore(5)

    async def hint_lines(language: str) -> int:
        async with pages:
            context = await browser.new_context(
                locale=language, viewport={"width": 380, "height": 640}
            )
            try:
                page = await context.new_page()
                await page.goto(str(host.desk.make_url("/widget/")))
                hint = page.locator("#hint")
                expected = msgstr(
                    language.replace("-", "_"), "Press Enter to send, Shift+Enter for a new line."
                )
                await expect(hint).to_have_text(expected, timeout=TIMEOUT_MS)
                return int(await hint.evaluate(LINES))
            finally:
                await context.close()

    lines = await asyncio.gather(*(hint_lines(language) for language in CHAT_LANGUAGES))
    assert len(lines) == len(CHAT_LANGUAGES) >= 15
    wrapped = {language: n for language, n in zip(CHAT_LANGUAGES, lines, strict=True) if n != 1}
    assert wrapped == {}


def test_the_longest_titles_are_tested() -> None:
    """The parametrisation above really picks the longest titles of the catalogs."""
    picked = longest_titles(3)
    lengths = sorted(
        (len(msgstr(p.name, "Customer support")) for p in Path(LOCALES).iterdir() if p.is_dir()),
        reverse=True,
    )
    assert [len(msgstr(tag.replace("-", "_"), "Customer support")) for tag in picked] == lengths[:3]
