"""The agent console in a real headless Chromium (Playwright), against the real server.

Every test starts the real server (`start_server` from conftest) with an injected
`FakeClock` started at the wall clock's time, so queue countdowns, offer timers and SLA
warnings and breaches move only when a test says `clock.advance`. Agents are real
accounts; customers are real python-socketio clients on `/customer`; a chat taken by
someone else, a transfer or an offer that expires all happen through the real server.
Network faults (a lost acknowledgement, a dropped socket, a late queue snapshot) are made
in the network, not the server: `Network` proxies the page's WebSocket to the server with
Playwright's `route_web_socket` and records what the page sends.

Skipped when Chromium or Playwright is missing, unless CHATSERVER_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from chatserver.clock import hash_token
from chatserver.identity import sign
from chatserver.keys import SERVICES
from chatserver.limits import Rate
from chatserver.settings import Settings
from chatserver.system_lines import SystemLine
from tests.browser import SPOOFED_NAME, ZALGO, Network, shown
from tests.conftest import Customer, FakeClock
from tests.test_handoff_e2e import Agent
from tests.test_handoff_e2e import open_console as agent_console

TIMEOUT_MS = 15_000
SESSION_KEY = "chatserver.console.session"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TRACKING = r"[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]"
SECRET = "console-test-identity-secret"
TEAMS = ["technical", "account", "trading"]
# FAQ questions whose entries set the handoff's team and priority (faq/*.yaml).
THAI_HACKED = "คิดว่าบัญชีถูกแฮ็กต้องทำอย่างไร"  # account-hacked: account, urgent
JAPANESE_LOGIN = "MT4/MT5にログインできません。どうすればいいですか？"  # mt-login-failed: high
GERMAN_INSTALL = "Wie installiere ich MT4?"  # mt4-install: technical, low
THAI_PASSWORD = "ลืมรหัสผ่านMT5ต้องทำยังไง"  # mt-password-reset
THAI_STILL_WAITING = "ยังรออยู่นะคะ"  # "still waiting"


def expect(target: Any) -> Any:
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(target)


async def until(condition: Callable[[], Any], timeout: float = TIMEOUT_MS / 1000) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


# ---------------------------------------------------------------- the real server


@dataclass
class Waiting:
    customer: Customer
    conversation_id: str


@dataclass
class Desk:
    """A real server on a fake clock, and helpers to fill it with agents and customers."""

    server: TestServer
    clock: FakeClock
    connect: Callable[..., Awaitable[Customer]]
    agents: list[Agent] = field(default_factory=list)

    def url(self, path: str = "/console/") -> str:
        return str(self.server.make_url(path))

    @property
    def services(self) -> Any:
        return self.server.app[SERVICES]

    async def account(
        self, username: str, name: str, languages: list[str], *, role: str = "agent",
        capacity: int = 3,
    ) -> str:  # fmt: skip
        """A console account whose password is `<username>-password`; its id."""
        await self.services.accounts.add(
            username=username, name=name, languages=languages, teams=TEAMS,
            capacity=capacity, role=role, password=f"{username}-password",
        )  # fmt: skip
        return str((await self.services.store.agent_by_username(username)).id)

    async def agent(self, username: str, *, status: str | None = None) -> Agent:
        """Another console of an account, over python-socketio."""
        token = (await self.services.accounts.login(username, f"{username}-password")).token
        agent = await agent_console(self.server, token)
        self.agents.append(agent)
        if status is not None:
            assert (await agent.call("status", {"status": status}))["ok"]
        return agent

    async def customer(
        self, languages: list[str], text: str, *, vip: bool = False, request: bool = True
    ) -> Waiting:
        """A customer who writes `text` and asks for a person (an urgent topic needs not)."""
        customer = await self.connect(self.server)
        start: dict[str, Any] = {"languages": languages}
        if vip:
            fields = {
                "customer_id": "cust-vip-1",
                "name": "Somchai",
                "balance_usd": 120_000,
                "issued_at": self.clock.now().isoformat(),
            }
            start["identity"] = {**fields, "signature": sign(fields, SECRET)}
        started = await customer.call("start", start)
        assert started["ok"], started
        sent = await customer.call("message", {"text": text, "client_id": "c1"})
        assert sent["ok"], sent
        if request:
            assert (await customer.call("request_agent", {}))["ok"]
        await customer.wait_pushed("queued")
        return Waiting(customer, started["conversation"]["id"])

    async def transcript(
        self, conversation_id: str, reader: str = "en"
    ) -> list[tuple[str, str, str]]:
        """What the console should show: the stored messages an agent sees, in order, the
        desk's system lines worded in the `reader`'s language (the customer's copy is in
        theirs; tests/test_agent_view_e2e.py checks the wording itself)."""
        messages = await self.services.store.messages(conversation_id)
        translator = self.services.catalogs.translator(reader)

        def text(message: Any) -> str:
            line = SystemLine.from_meta(message.meta) if message.author == "system" else None
            return line.render(translator) if line is not None else str(message.text)

        return [(str(m.seq), str(m.author), text(m)) for m in messages]

    async def tracking_number(self, conversation_id: str) -> str:
        conversation = await self.services.store.get_conversation(conversation_id)
        return str(conversation.tracking_number)


@pytest.fixture
def clock() -> FakeClock:
    # Started at the wall clock's time: the console corrects absolute times (an offer's
    # expires_at, an SLA due_at) by the offset to the server's HTTP Date header.
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def desk(start_server, settings, clock, connect) -> AsyncIterator[Desk]:
    fields = {name: getattr(settings, name) for name in settings.__slots__}
    server = await start_server(
        Settings.defaults(**{**fields, "identity_secret": SECRET}), clock=clock
    )
    desk = Desk(server, clock, connect)
    yield desk
    for agent in desk.agents:
        if agent.client.connected:
            await agent.client.disconnect()


# ---------------------------------------------------------------- the browser


@dataclass
class Console:
    """A page with the console, and what went wrong in it (script errors, CSP violations)."""

    page: Any
    network: Network = field(default_factory=lambda: Network("/agent"))
    problems: list[str] = field(default_factory=list)

    async def login(self, username: str, password: str) -> None:
        await self.page.locator("#username").fill(username)
        await self.page.locator("#password").fill(password)
        await self.page.locator("#login-submit").click()

    def item(self, conversation_id: str) -> Any:
        return self.page.locator(f'.qitem[data-conversation-id="{conversation_id}"]')

    def panel(self, conversation_id: str) -> Any:
        return self.page.locator(f'.chat[data-conversation-id="{conversation_id}"]')

    async def transcript(self, conversation_id: str) -> list[tuple[str | None, str, str]]:
        rows = (
            await self.panel(conversation_id)
            .locator(".transcript .msg")
            .evaluate_all(
                "els => els.map(e => [e.dataset.seq ?? null, e.dataset.author,"
                " e.querySelector('.msg-bubble').textContent])"
            )
        )
        return [tuple(row) for row in rows]

    async def countdown(self, conversation_id: str) -> str:
        text: str = await self.item(conversation_id).locator(".countdown-text").inner_text()
        return text


OpenConsole = Callable[..., Awaitable[Console]]


@pytest.fixture
async def open_console(browser: Any) -> AsyncIterator[OpenConsole]:
    contexts: list[Any] = []

    async def open_(url: str, *, locale: str = "en-US") -> Console:
        context = await browser.new_context(locale=locale, viewport={"width": 1440, "height": 900})
        contexts.append(context)
        page = await context.new_page()
        console = Console(page)
        page.on("pageerror", lambda error: console.problems.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: console.problems.append(f"dialog: {dialog.message}"))
        page.on(
            "console",
            lambda message: (
                console.problems.append(f"console: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        await console.network.install(page)
        await page.goto(url)
        return console

    yield open_
    for context in contexts:
        await context.close()


def seconds(clock: str) -> int:
    minutes, secs = re.search(r"(\d+):(\d\d)", clock).groups()  # type: ignore[union-attr]
    return int(minutes) * 60 + int(secs)


# ---------------------------------------------------------------- the console


async def three_waiting_chats(desk: Desk) -> tuple[str, str, str]:
    """German (low, waited 34 s), Japanese (high, 25 s) and a VIP's urgent Thai chat (6 s),
    widened to English: nobody online speaks Thai. A keeper is online while they arrive
    (with nobody online a handoff goes offline), then steps away: the chats wait."""
    await desk.account("kim", "Kim Keeper", ["en", "de", "ja"])
    keeper = await desk.agent("kim")
    german = await desk.customer(["de"], GERMAN_INSTALL)
    desk.clock.advance(9)
    japanese = await desk.customer(["ja"], JAPANESE_LOGIN)
    desk.clock.advance(19)
    thai = await desk.customer(["th-TH"], THAI_HACKED, vip=True, request=False)
    desk.clock.advance(6)
    assert (await keeper.call("status", {"status": "away"}))["ok"]
    return thai.conversation_id, japanese.conversation_id, german.conversation_id


async def test_log_in_shows_the_queue_with_live_countdowns(desk, open_console):
    thai_id, japanese_id, german_id = await three_waiting_chats(desk)
    await desk.account("emma", "Emma Clarke", ["en", "de", "ja"])
    console = await open_console(desk.url())
    page = console.page
    await expect(page.locator("#login-view")).to_be_visible(timeout=TIMEOUT_MS)
    await console.login("emma", "wrong-password")
    await expect(page.locator("#login-message")).to_have_text(
        "Wrong username or password.", timeout=TIMEOUT_MS
    )
    await console.login("emma", "emma-password")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await expect(page.locator("#user-name")).to_have_text("Emma Clarke")
    await expect(page.locator("#supervisor")).to_be_hidden()
    await expect(page.locator(".qitem")).to_have_count(3)
    assert await page.evaluate(f"() => JSON.parse(sessionStorage.getItem('{SESSION_KEY}')).token")

    thai = console.item(thai_id)
    await expect(thai.locator(".lang-tag")).to_have_text("th")
    await expect(thai.locator(".qitem-language-name")).to_have_text("Thai")
    await expect(thai).to_have_attribute("data-priority", "urgent")
    await expect(thai.locator(".prio--urgent")).to_have_text("Urgent")
    await expect(thai.locator(".qitem-team")).to_have_text("Account")
    await expect(thai.locator(".qitem-position")).to_have_text("#1")
    await expect(thai.locator(".qitem-position")).to_have_attribute("title", "#1 in queue")
    await expect(thai.locator(".badge--vip")).to_have_text("VIP")
    await expect(thai.locator(".badge--widened")).to_have_text("Widened")
    # What each customer asked, in their words.
    await expect(thai.locator(".qitem-preview")).to_have_text(THAI_HACKED)
    await expect(thai.locator(".qitem-preview")).to_have_attribute("dir", "auto")
    await expect(console.item(german_id).locator(".qitem-preview")).to_have_text(GERMAN_INSTALL)
    await expect(thai.locator(".countdown")).to_have_attribute("data-level", "ok")

    # The countdown runs in the browser, between queue snapshots (the server's clock stands
    # still): 30 s target, 6 s waited.
    first = seconds(await console.countdown(thai_id))
    assert 20 <= first <= 24
    # It ticks in seconds, whenever the page's timer runs: poll rather than wait a fixed
    # 2 s (a busy machine renders a tick late), and check it does not run fast either.
    started = time.monotonic()
    async with asyncio.timeout(6):
        while seconds(await console.countdown(thai_id)) > first - 2:
            await page.wait_for_timeout(100)
    assert time.monotonic() - started >= 1.0

    japanese = console.item(japanese_id)
    await expect(japanese.locator(".prio--high")).to_have_text("High")
    await expect(japanese.locator(".countdown")).to_have_attribute("data-level", "urgent")
    german = console.item(german_id)
    await expect(german.locator(".countdown")).to_have_attribute("data-level", "overdue")
    await expect(german.locator(".countdown-text")).to_contain_text("Overdue")
    await expect(german.locator(".prio--low")).to_have_text("Low")
    # Five seconds left at first: overdue a few seconds later, without a new snapshot.
    await expect(japanese.locator(".countdown")).to_have_attribute(
        "data-level", "overdue", timeout=TIMEOUT_MS
    )
    assert console.problems == []


async def test_accepting_a_taken_chat_says_so_and_a_free_one_opens(desk, open_console):
    await desk.account("emma", "Emma Clarke", ["en", "de", "ja"])
    await desk.account("aiko", "Aiko Tanaka", ["ja"])
    console = await open_console(desk.url())
    page = console.page
    network = console.network
    await console.login("emma", "emma-password")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    aiko = await desk.agent("aiko")
    thai = await desk.customer(["th-TH"], THAI_HACKED, vip=True, request=False)
    japanese = await desk.customer(["ja"], JAPANESE_LOGIN)
    await expect(page.locator(".qitem")).to_have_count(2, timeout=TIMEOUT_MS)

    # Aiko takes the Japanese chat while the queue update telling Emma is still on its way.
    network.drop = lambda event, _: event in ("queue", "offer_withdrawn")
    assert (await aiko.call("accept", {"conversation_id": japanese.conversation_id}))["ok"]
    await console.item(japanese.conversation_id).locator(".accept").click()
    await expect(page.locator(".toast", has_text="already taken")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(console.item(japanese.conversation_id)).to_have_count(0)
    assert network.events("accept") == [{"conversation_id": japanese.conversation_id}]
    network.drop = None

    conversation_id = thai.conversation_id
    await console.item(conversation_id).locator(".accept").click()
    panel = console.panel(conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await expect(console.item(conversation_id)).to_have_count(0)
    number = await desk.tracking_number(conversation_id)
    assert re.fullmatch(TRACKING, number)
    # Labelled by the signed identity's name (its tracking number when anonymous).
    await expect(page.locator(".tab[aria-selected=true] .tab-title")).to_have_text("Somchai")
    await expect(panel.locator(".fact--language")).to_have_text("Thai (th)")
    banner = panel.locator(".widened-banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Thai (th)")
    await expect(banner.locator(".banner-original")).to_have_text(THAI_HACKED)
    await expect(banner.locator(".banner-original")).to_have_attribute("lang", "th")
    await expect(banner.locator(".banner-faq")).to_contain_text(
        "I think my account has been hacked. What should I do?"
    )
    await expect(banner.locator(".faq-id")).to_have_text("account-hacked")
    before = await desk.transcript(conversation_id)
    assert ("2", "customer", THAI_HACKED) in before
    await expect(panel.locator(".transcript .msg")).to_have_count(len(before))
    assert await console.transcript(conversation_id) == before
    sla = panel.locator(".sla-pill")
    await expect(sla).to_contain_text("First reply due in")
    assert await sla.get_attribute("data-level") in ("ok", "urgent")

    # A reply: Enter sends it with a fresh UUID as client_id; the clock stops.
    reply = "Hello! I can help you secure your account."
    await panel.locator(".composer-input").fill(reply)
    await panel.locator(".composer-input").press("Enter")
    await expect(panel.locator(".msg--agent")).to_have_attribute(
        "data-seq", str(len(before) + 1), timeout=TIMEOUT_MS
    )
    (sent,) = network.events("message")
    assert sent["conversation_id"] == conversation_id
    assert sent["text"] == reply
    assert UUID.match(sent["client_id"])
    await expect(sla).to_have_text("First reply sent")
    await expect(panel.locator(".msg--agent .msg-author")).to_have_text("You")

    def replies() -> list[str]:
        return [m["text"] for m in thai.customer.pushed("message") if m["author"] == "agent"]

    await until(replies)
    assert replies() == [reply]

    # An internal note: visibly internal, sent as `note`, not `message`; never to the customer.
    await panel.locator(".note-toggle").click()
    await expect(panel.locator(".composer")).to_have_class(re.compile(r"\bis-note\b"))
    await panel.locator(".composer-input").fill("VIP: check the account manager first")
    await panel.locator(".composer-input").press("Enter")
    note = panel.locator(".msg--note")
    await expect(note).to_have_attribute("data-seq", str(len(before) + 2), timeout=TIMEOUT_MS)
    await expect(note.locator(".msg-author")).to_contain_text("Internal note")
    assert [n["text"] for n in network.events("note")] == ["VIP: check the account manager first"]
    assert len(network.events("message")) == 1
    # Note mode ends with the note: the next line typed is a reply again.
    await expect(panel.locator(".composer")).not_to_have_class(re.compile(r"\bis-note\b"))
    await expect(panel.locator(".note-toggle")).to_have_attribute("aria-pressed", "false")
    await expect(panel.locator(".composer-send")).to_contain_text("Send")

    # After a reload the server replays the chat: the note is still shown as a note.
    await page.reload()
    panel = console.panel(conversation_id)
    await expect(panel.locator(".transcript .msg")).to_have_count(
        len(before) + 2, timeout=TIMEOUT_MS
    )
    await expect(panel.locator(".msg--note")).to_have_attribute("data-seq", str(len(before) + 2))
    await expect(panel.locator(".msg--agent")).to_have_count(1)

    # The customer writes; text is text.
    assert (await thai.customer.call("message", {"text": "<i>ขอบคุณ</i>", "client_id": "c2"}))["ok"]
    await expect(panel.locator(".msg--customer").last).to_have_text(
        re.compile("<i>ขอบคุณ</i>"), timeout=TIMEOUT_MS
    )
    assert await panel.locator(".transcript i").count() == 0
    assert not any("VIP: check" in m["text"] for m in thai.customer.pushed("message"))

    # The chat moves on from another of Emma's consoles: it leaves this one, with a word.
    other = await desk.agent("emma")
    moved = await other.call(
        "transfer",
        {
            "conversation_id": conversation_id,
            "to_queue": {"language": "en", "team": "account"},
            "reason": "Account team",
        },
    )
    assert moved["ok"], moved
    await expect(page.locator(".tab")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator(".toast", has_text="is no longer yours")).to_be_visible()
    assert console.problems == []


async def logged_in(desk: Desk, open_console: OpenConsole, username: str, **kwargs: Any) -> Console:
    console = await open_console(desk.url(), **kwargs)
    await console.login(username, f"{username}-password")
    await expect(console.page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    return console


async def test_the_customer_panel_shows_who_it_is_and_their_previous_chat(desk, open_console):
    emma_id = await desk.account("emma", "Emma Clarke", ["en", "th"])
    emma = await desk.agent("emma")
    earlier = await desk.customer(["th-TH"], THAI_HACKED, vip=True, request=False)
    assert (await emma.call("accept", {"conversation_id": earlier.conversation_id}))["ok"]
    assert (await emma.call("close", {"conversation_id": earlier.conversation_id}))["ok"]
    earlier_number = await desk.tracking_number(earlier.conversation_id)
    desk.clock.advance(60)
    today = await desk.customer(["th-TH"], THAI_HACKED, vip=True, request=False)
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    await console.item(today.conversation_id).locator(".accept").click()
    panel = console.panel(today.conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await expect(
        page.locator(f'.tab[data-conversation-id="{today.conversation_id}"] .tab-title')
    ).to_have_text("Somchai")
    card = panel.locator(".customer-panel")
    await expect(card.locator(".customer-facts")).to_contain_text("Somchai", timeout=TIMEOUT_MS)
    await expect(card.locator(".customer-facts")).to_contain_text("VIP")
    await expect(card.locator(".customer-facts")).to_contain_text(
        await desk.tracking_number(today.conversation_id)
    )
    previous = card.locator(".customer-previous-item")
    await expect(previous).to_have_count(1)
    await expect(previous).to_have_attribute("data-conversation-id", earlier.conversation_id)
    await expect(previous.locator(".customer-previous-open")).to_have_text(earlier_number)
    await expect(previous.locator(".customer-previous-status")).to_have_text("Closed")
    # One click downloads its transcript (the staff copy).
    async with page.expect_download() as download_info:
        await previous.locator(".customer-previous-open").click()
    download = await download_info.value
    assert earlier_number in download.suggested_filename or download.suggested_filename.endswith(
        ".html"
    )
    assert emma_id
    assert console.problems == []


async def test_a_canned_reply_and_an_faq_answer_go_in_the_customers_language(desk, open_console):
    await desk.account("emma", "Emma Clarke", ["en", "th"])
    from chatserver.canned import CannedReply

    now = desk.clock.now()
    store = desk.services.store
    await store.save_canned_reply(
        CannedReply("r-th", "th", "Greeting", "สวัสดีค่ะ คุณ{customer_name} ({tracking_number})",
                    "sam", now, now)
    )  # fmt: skip
    await store.save_canned_reply(
        CannedReply("r-en", "en", "Greeting", "Hello {customer_name}", "sam", now, now)
    )
    faq = desk.services.bot.matcher.faq
    entry_id = next(i for i in sorted(faq.ids) if i in faq.native("th") and i in faq.native("en"))
    question, answer = faq.native("en")[entry_id].question, faq.native("th")[entry_id].answer

    console = await logged_in(desk, open_console, "emma")
    thai = await desk.customer(["th-TH"], THAI_HACKED, vip=True, request=False)
    await console.item(thai.conversation_id).locator(".accept").click()
    panel = console.panel(thai.conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    number = await desk.tracking_number(thai.conversation_id)
    box = panel.locator(".composer-input")

    # "/" opens the list, filtered as one types; Enter inserts the Thai reply, filled.
    await box.press_sequentially("/greet")
    options = panel.locator(".canned-item")
    await expect(options.first).to_contain_text("Greeting", timeout=TIMEOUT_MS)
    await box.press("Enter")
    filled = f"สวัสดีค่ะ คุณSomchai ({number})"
    await expect(box).to_have_value(filled)
    await expect(panel.locator(".canned-list")).to_be_hidden()
    await box.press("Enter")  # and now Enter sends it
    assert (await console.network.wait_for("message"))[0]["text"] == filled

    # Ctrl+K, the English question; one click inserts the Thai answer of the same entry.
    await box.press("Control+k")
    await expect(box).to_have_value("/")
    await box.press_sequentially(question)
    faq_option = panel.locator(f'.canned-item[data-key="faq:{entry_id}"]')
    await expect(faq_option).to_be_visible(timeout=TIMEOUT_MS)
    await faq_option.click()
    await expect(box).to_have_value(answer.strip())
    await box.press("Enter")
    sent = await console.network.wait_for("message", 2)
    assert sent[1]["text"] == answer.strip()
    assert console.problems == []


async def test_transfer_to_a_queue_with_a_reason_and_close(desk, open_console):
    await desk.account("emma", "Emma Clarke", ["en", "de"])
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    thai = await desk.customer(["th-TH"], THAI_HACKED, request=False)
    german = await desk.customer(["de"], GERMAN_INSTALL)
    await console.item(thai.conversation_id).locator(".accept").click(timeout=TIMEOUT_MS)
    await expect(console.panel(thai.conversation_id)).to_be_visible(timeout=TIMEOUT_MS)
    await console.item(german.conversation_id).locator(".accept").click(timeout=TIMEOUT_MS)
    await expect(page.locator(".tab")).to_have_count(2, timeout=TIMEOUT_MS)

    await page.locator(".tab", has_text="Thai").click()
    panel = console.panel(thai.conversation_id)
    await panel.locator(".chat-transfer").click()
    dialog = page.locator("#transfer-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#transfer-language")).to_have_value("th")
    await expect(page.locator("#transfer-team")).to_have_value("account")
    await page.locator("#transfer-submit").click()
    await expect(page.locator("#transfer-error")).to_have_text("Please give a reason.")
    await page.locator("#transfer-language").select_option("en")
    await page.locator("#transfer-team").select_option("trading")
    await page.locator("#transfer-reason").fill("Margin question: trading desk")
    await page.locator("#transfer-submit").click()
    await expect(dialog).to_be_hidden(timeout=TIMEOUT_MS)
    assert console.network.events("transfer") == [
        {
            "conversation_id": thai.conversation_id,
            "reason": "Margin question: trading desk",
            "to_queue": {"language": "en", "team": "trading"},
        }
    ]
    await expect(page.locator(".tab")).to_have_count(1)
    await expect(page.locator(".toast", has_text="Chat transferred")).to_be_visible()
    # The server moved it: waiting again, in the queue en/trading.
    transferred = await desk.services.store.get_conversation(thai.conversation_id)
    assert (str(transferred.status), str(transferred.team)) == ("queued", "trading")
    (view,) = desk.services.dispatcher.router.views([thai.conversation_id], desk.clock.now())
    assert str(view.queue) == "en/trading"

    panel = console.panel(german.conversation_id)
    await expect(panel).to_be_visible()
    await panel.locator(".chat-close").click()
    await expect(panel.locator(".badge--closed")).to_have_text("Closed", timeout=TIMEOUT_MS)
    await expect(panel.locator(".composer-input")).to_be_disabled()
    assert console.network.events("close") == [{"conversation_id": german.conversation_id}]
    await german.customer.wait_pushed("closed")
    await panel.locator(".chat-dismiss").click()
    await expect(page.locator(".tab")).to_have_count(0)
    await expect(page.locator("#chats-empty")).to_be_visible()
    assert console.problems == []


async def test_text_people_write_cannot_reorder_itself_or_the_page(desk, open_console):
    """An override shows "invoice_\u202etxt.exe" as "invoice_exe.txt", and one that ends a
    name spills into the sentence around it; "Zalgo" marks pile up over other lines. The
    console shows customers' messages, agents' names, notes and transfer reasons in the
    order they were typed, each isolated, with few marks on a letter."""
    await desk.account("emma", "Emma Clarke", ["en"])
    await desk.account("omar", "Omar\u202e Ali", ["en"])
    omar = await desk.agent("omar")
    waiting = await desk.customer(["en"], SPOOFED_NAME)
    sent = await waiting.customer.call("message", {"text": ZALGO, "client_id": "c2"})
    assert sent["ok"], sent
    conversation_id = waiting.conversation_id
    await omar.wait_pushed("offer")
    assert (await omar.call("accept", {"conversation_id": conversation_id}))["ok"]
    noted = await omar.call(
        "note",
        {"conversation_id": conversation_id, "text": "Sent " + SPOOFED_NAME, "client_id": "n1"},
    )
    assert noted["ok"], noted

    console = await logged_in(desk, open_console, "emma")
    emma = str((await desk.services.store.agent_by_username("emma")).id)
    moved = await omar.call(
        "transfer",
        {"conversation_id": conversation_id, "to_agent": emma, "reason": "\u202ecall back today"},
    )
    assert moved["ok"], moved
    panel = console.panel(conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await expect(panel.locator(".msg--customer")).to_have_count(2, timeout=TIMEOUT_MS)

    spoofed = await shown(panel.locator(".msg--customer .msg-bubble").nth(0))
    assert (spoofed.text, spoofed.out_of_order()) == ("invoice_txt.exe", [])
    assert spoofed.unicode_bidi == "isolate"
    zalgo = await shown(panel.locator(".msg--customer .msg-bubble").nth(1))
    assert 0 < zalgo.tallest_stack() <= 3
    assert "".join(c for c in zalgo.text if unicodedata.category(c) not in ("Mn", "Me")) == (
        "Zalgo"
    )
    assert zalgo.unicode_bidi == "isolate"

    # Omar's note: his name in our "Internal note · {name}", his text in the bubble.
    note = panel.locator(".msg--note", has_text="Sent")
    await expect(note).to_have_count(1)
    author = await shown(note.locator(".msg-author"))
    assert (author.text, author.out_of_order()) == ("Internal note · Omar Ali", [])
    assert ("bdi", "isolate", "Omar Ali") in author.isolates
    body = await shown(note.locator(".msg-bubble"))
    assert (body.text, body.out_of_order()) == ("Sent invoice_txt.exe", [])

    # The transfer: "Transferred by {name}: {reason}", both values people wrote.
    transfer = await shown(panel.locator(".msg-bubble", has_text="Transferred by"))
    assert transfer.text == "Transferred by Omar Ali: call back today"
    assert transfer.out_of_order() == []
    assert [(tag, bidi) for tag, bidi, _ in transfer.isolates] == [("bdi", "isolate")] * 2
    # What the server stored is what they wrote.
    stored = [m.text for m in await desk.services.store.messages(conversation_id)]
    assert SPOOFED_NAME in stored
    assert ZALGO in stored
    assert console.problems == []


async def test_a_lost_acknowledgement_is_resent_after_reconnecting_and_shown_once(
    desk, open_console
):
    await desk.account("emma", "Emma Clarke", ["en"])
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    network = console.network
    thai = await desk.customer(["th-TH"], THAI_HACKED, request=False)
    conversation_id = thai.conversation_id
    await console.item(conversation_id).locator(".accept").click(timeout=TIMEOUT_MS)
    panel = console.panel(conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    before = await desk.transcript(conversation_id)
    await expect(panel.locator(".transcript .msg")).to_have_count(len(before))

    # The server stores the message, then the connection drops before the acknowledgement
    # (and the server's push of the stored message) arrive. The server's replay of the chat on reconnect is lost too: only the outbox
    # can bring the message back. The console reconnects, sends it again with the same
    # client_id, and shows it once.
    network.lose_ack_of = "message"
    network.drop = lambda event, _: event == "conversation"
    await panel.locator(".composer-input").fill("Are you still there?")
    await panel.locator(".composer-input").press("Enter")
    await network.wait_for("message", 2)
    await expect(panel.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    assert network.connections == 2
    sends = network.events("message")
    assert len(sends) == 2
    assert sends[0]["client_id"] == sends[1]["client_id"]
    stored = await desk.transcript(conversation_id)
    assert stored == [*before, (str(len(before) + 1), "agent", "Are you still there?")]
    assert await console.transcript(conversation_id) == stored
    assert await page.evaluate("() => sessionStorage.getItem('chatserver.console.outbox')") is None
    agent_replies = [m for m in thai.customer.pushed("message") if m["author"] == "agent"]
    assert [m["text"] for m in agent_replies] == ["Are you still there?"]

    # The same with the server's replay of the chat on connect arriving (it holds the
    # stored message, so the outbox may let it go without a resend): still once.
    network.drop = None
    network.lose_ack_of = "message"
    await panel.locator(".composer-input").fill("One more thing")
    await panel.locator(".composer-input").press("Enter")
    await until(lambda: network.connections == 3)
    await expect(panel.locator(".msg--agent")).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(panel.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    assert network.connections == 3
    stored = await desk.transcript(conversation_id)
    assert [seq for seq, _, _ in await console.transcript(conversation_id)] == [
        seq for seq, _, _ in stored
    ]
    assert stored[-1] == (str(len(before) + 2), "agent", "One more thing")
    assert console.problems == []


async def test_an_offer_is_highlighted_with_its_own_timer(desk, open_console):
    await desk.account("emma", "Emma Clarke", ["en", "de", "ja"])
    await desk.account("aiko", "Aiko Tanaka", ["ja"])
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    # The server's clock reads the wall clock's time again: the offer runs 10 s from now.
    desk.clock.current = datetime.now(UTC)
    german = await desk.customer(["de"], GERMAN_INSTALL)
    offered = console.item(german.conversation_id)
    await expect(offered).to_have_class(re.compile(r"\bis-offered\b"), timeout=TIMEOUT_MS)
    await expect(page.locator(".qitem").first).to_have_attribute(
        "data-conversation-id", german.conversation_id
    )
    timer = offered.locator(".offer-timer")
    await expect(timer).to_contain_text("Offered to you")
    assert 7 <= int(re.search(r"(\d+) s", await timer.inner_text()).group(1)) <= 10  # type: ignore[union-attr]
    await offered.locator(".accept").click()
    await expect(console.panel(german.conversation_id)).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator(".qitem.is-offered")).to_have_count(0)

    # Another offer, which runs out: the chat is offered to the next agent (Aiko, who has
    # just come online), and stays in Emma's queue.
    japanese = await desk.customer(["ja"], JAPANESE_LOGIN)
    await expect(console.item(japanese.conversation_id)).to_have_class(
        re.compile(r"\bis-offered\b"), timeout=TIMEOUT_MS
    )
    aiko = await desk.agent("aiko")
    desk.clock.advance(11)
    (offer,) = await aiko.wait_pushed("offer")
    assert offer["conversation_id"] == japanese.conversation_id
    await expect(page.locator(".qitem.is-offered")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(console.item(japanese.conversation_id)).to_be_visible()
    assert console.problems == []


async def test_a_refused_token_brings_back_the_login_form(desk, open_console):
    await desk.account("emma", "Emma Clarke", ["en"])
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    token = await page.evaluate(f"() => JSON.parse(sessionStorage.getItem('{SESSION_KEY}')).token")
    # The session is gone from the store behind the server's back (as when another node
    # ended it), then the connection drops (the network): the next connection is refused.
    await desk.services.store.delete_session(hash_token(token))
    assert await desk.services.accounts.authenticate(token) is None
    console.network.lose_ack_of = "status"
    await page.locator(".status-option[data-status=away]").click()
    await expect(page.locator("#login-view")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#login-message")).to_have_text(
        "Your session has ended. Please log in again."
    )
    assert console.network.connections == 2
    assert await page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") is None
    assert console.problems == []


async def test_a_revoked_session_brings_back_the_login_form_at_once(desk, open_console):
    """The server says `session_ended` before it closes the socket: the console shows the
    log-in form without trying to reconnect first."""
    emma_id = await desk.account("emma", "Emma Clarke", ["en"])
    await desk.account("sam", "Sam Okafor", ["en"], role="supervisor")
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    supervisor = (await desk.services.accounts.login("sam", "sam-password")).token
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {supervisor}"}) as session,
        session.post(desk.server.make_url(f"/api/v1/agents/{emma_id}/revoke")) as response,
    ):
        assert response.status == 200
    await expect(page.locator("#login-message")).to_have_text(
        "Your session has ended. Please log in again.", timeout=TIMEOUT_MS
    )
    assert console.network.connections == 1
    assert await page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") is None
    assert console.problems == []


async def test_an_expired_session_brings_back_the_login_form(desk, open_console):
    await desk.account("emma", "Emma Clarke", ["en"])
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    desk.clock.advance(desk.services.accounts.session_lifetime.total_seconds() + 1)
    console.network.lose_ack_of = "status"
    await page.locator(".status-option[data-status=away]").click()
    await expect(page.locator("#login-message")).to_have_text(
        "Your session has ended. Please log in again.", timeout=TIMEOUT_MS
    )
    assert console.problems == []


async def test_status_survives_a_reload_and_logout_revokes_the_token(desk, open_console):
    emma_id = await desk.account("emma", "Emma Clarke", ["en"])
    router = desk.services.dispatcher.router
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    network = console.network
    await expect(page.locator(".status-option[data-status=online]")).to_have_attribute(
        "aria-pressed", "true", timeout=TIMEOUT_MS
    )
    assert str(router.agent_status(emma_id)) == "online"
    await page.locator(".status-option[data-status=away]").click()
    await expect(page.locator(".status-option[data-status=away]")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert await network.wait_for("status") == [{"status": "away"}]
    await until(lambda: str(router.agent_status(emma_id)) == "away")

    # A reload keeps the session (this tab's sessionStorage) and the chosen status, which
    # the console connects in (connect's auth): nothing to say again.
    await page.reload()
    await expect(page.locator("#console-view")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    assert network.events("status") == [{"status": "away"}]
    assert network.connections == 2
    await expect(page.locator(".status-option[data-status=away]")).to_have_attribute(
        "aria-pressed", "true"
    )
    await until(lambda: str(router.agent_status(emma_id)) == "away")

    token = await page.evaluate(f"() => JSON.parse(sessionStorage.getItem('{SESSION_KEY}')).token")
    assert await desk.services.accounts.authenticate(token) is not None
    await page.locator("#logout").click()
    await expect(page.locator("#login-view")).to_be_visible(timeout=TIMEOUT_MS)
    async with asyncio.timeout(5):
        while await desk.services.accounts.authenticate(token) is not None:
            await asyncio.sleep(0.02)
    assert await page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") is None
    assert console.problems == []


async def test_supervisor_sees_agents_queues_and_sla_alerts_and_assigns(desk, open_console):
    await desk.account("sam", "Sam Okafor", ["en"], role="supervisor", capacity=2)
    emma_id = await desk.account("emma", "Emma Clarke", ["en", "de"])
    aiko_id = await desk.account("aiko", "Aiko Tanaka", ["ja", "en"], capacity=2)
    emma = await desk.agent("emma")
    aiko = await desk.agent("aiko")
    await desk.customer(["de"], GERMAN_INSTALL)
    desk.clock.advance(11)
    thai = await desk.customer(["th-TH"], THAI_HACKED, vip=True, request=False)
    console = await logged_in(desk, open_console, "sam")
    page = console.page
    panel = page.locator("#supervisor")
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#user-role")).to_have_text("Supervisor")
    # Supervisors are offered nothing until they choose to: Sam does.
    take_chats = page.locator("#take-chats")
    await expect(take_chats).not_to_be_checked()
    await expect(page.locator(".take-chats")).to_contain_text("Take chats myself")
    await take_chats.check()
    assert await console.network.wait_for("take_chats") == [{"on": True}]
    await expect(take_chats).to_be_checked()

    # 31 s after the German chat's handoff, 20 s after the Thai one's: the German chat's
    # first reply is overdue, the Thai chat's is 10 s from due.
    desk.clock.advance(20)
    alerts = panel.locator("#alerts .alert")
    await expect(alerts).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(alerts.nth(0)).to_have_class(re.compile(r"\balert--breach\b"))
    await expect(alerts.nth(0).locator(".alert-what")).to_contain_text("German (de)")
    await expect(alerts.nth(1)).to_have_class(re.compile(r"\balert--warning\b"))
    await expect(alerts.nth(1).locator(".alert-what")).to_contain_text("Thai (th)")
    await expect(alerts.nth(1).locator(".alert-kind")).to_have_text("First response")
    await expect(page.locator("#alerts-count")).to_have_text("1")

    # Aiko takes a Japanese chat and steps away; another Thai chat and
    # another Japanese one wait.
    taken = await desk.customer(["ja"], JAPANESE_LOGIN)
    accepted = await aiko.call("accept", {"conversation_id": taken.conversation_id})
    assert accepted["ok"], accepted
    assert (await aiko.call("status", {"status": "away"}))["ok"]
    await desk.customer(["th-TH"], THAI_HACKED, request=False)
    japanese = await desk.customer(["ja"], JAPANESE_LOGIN)

    agents = panel.locator(".agent")
    await expect(agents).to_have_count(3)
    row = panel.locator(f'.agent[data-agent-id="{aiko_id}"]')
    await expect(row).to_have_attribute("data-status", "away", timeout=TIMEOUT_MS)
    await expect(row.locator(".agent-load-text")).to_have_text("1/2")
    await expect(row.locator(".agent-languages .lang-tag")).to_have_text(["ja", "en"])
    await expect(page.locator("#agents-count")).to_have_text("2/3")

    now = desk.clock.now()
    router = desk.services.dispatcher.router
    (thai_view,) = router.views([thai.conversation_id], now)
    (japanese_view,) = router.views([japanese.conversation_id], now)
    thai_queue = panel.locator(f'#queues tr[data-queue="{thai_view.queue}"]')
    await expect(thai_queue.locator(".queue-count")).to_have_text("2", timeout=TIMEOUT_MS)
    await expect(
        panel.locator(f'#queues tr[data-queue="{japanese_view.queue}"] .queue-count')
    ).to_have_text("1")
    assert str(thai_view.queue).startswith("th/")

    await page.locator("#assign-conversation").select_option(japanese.conversation_id)
    await page.locator("#assign-agent").select_option(emma_id)
    # Sam is offered chats too; the offer's toast stays clear of the Assign button.
    offered = page.locator(".toast", has_text="A chat is offered to you.")
    await expect(offered.first).to_be_visible(timeout=TIMEOUT_MS)
    button = await page.locator("#assign-submit").bounding_box()
    toasts = await page.locator("#toasts").bounding_box()
    assert button is not None
    assert toasts is not None
    assert (
        toasts["x"] + toasts["width"] <= button["x"]
        or toasts["y"] + toasts["height"] <= button["y"]
        or toasts["y"] >= button["y"] + button["height"]
    ), (toasts, button)
    await page.locator("#assign-submit").click(timeout=3000)
    assert await console.network.wait_for("assign") == [
        {"conversation_id": japanese.conversation_id, "agent_id": emma_id}
    ]
    await expect(page.locator(".toast", has_text="Assigned to Emma Clarke")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    await emma.wait_pushed("conversation")
    assert [b["conversation"]["id"] for b in emma.pushed("conversation")] == [
        japanese.conversation_id
    ]
    await japanese.customer.wait_pushed("assigned")
    assert console.problems == []


async def test_the_console_speaks_the_browsers_language(desk, open_console):
    await desk.account("emma", "Emma Clarke", ["en"])
    console = await open_console(desk.url(), locale="ja-JP")
    page = console.page
    await expect(page.locator("html")).to_have_attribute("lang", "ja", timeout=TIMEOUT_MS)
    await expect(page.locator("#login-submit")).not_to_have_text("Log in")
    await console.login("emma", "emma-password")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    thai = await desk.customer(["th-TH"], THAI_HACKED, request=False)
    item = console.item(thai.conversation_id)
    await expect(item.locator(".qitem-language-name")).to_have_text("タイ語", timeout=TIMEOUT_MS)
    await expect(item.locator(".accept")).not_to_have_text("Accept")
    assert console.problems == []


async def test_an_english_agent_sees_what_a_thai_customer_asked(desk, open_console):
    """The queue shows the customer's latest words; once the chat is taken, each question
    has the FAQ entry it matched under it in English, and the desk's lines are in English
    (the customer reads them in Thai)."""
    await desk.account("emma", "Emma Clarke", ["en"])
    console = await open_console(desk.url())
    page = console.page
    await console.login("emma", "emma-password")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    thai = await desk.customer(["th-TH"], THAI_PASSWORD)
    item = console.item(thai.conversation_id)
    preview = item.locator(".qitem-preview")
    await expect(preview).to_have_text(THAI_PASSWORD, timeout=TIMEOUT_MS)
    await thai.customer.call("message", {"text": THAI_STILL_WAITING, "client_id": "c2"})
    await expect(preview).to_have_text(THAI_STILL_WAITING, timeout=TIMEOUT_MS)
    assert (await shown(preview)).unicode_bidi == "isolate"

    await item.locator(".accept").click()
    panel = console.panel(thai.conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    question = panel.locator(".msg--customer").first
    await expect(question.locator(".msg-bubble")).to_have_text(THAI_PASSWORD)
    faq = question.locator(".msg-faq")
    await expect(faq).to_have_text("FAQ: I forgot my MT5 password. How can I reset it?")
    await expect(faq).to_have_attribute("title", "mt-password-reset")
    await expect(faq.locator("bdi")).to_have_attribute("lang", "en")
    system = panel.locator(".msg--system .msg-bubble")
    await expect(system.filter(has_text="Emma Clarke has joined the conversation.")).to_have_count(
        1, timeout=TIMEOUT_MS
    )
    await expect(
        system.filter(has_text="No colleague who speaks Thai is free right now")
    ).to_have_count(1)
    await expect(system.filter(has_text=re.compile("[\u0e00-\u0e7f]"))).to_have_count(0)
    told = [m for m in thai.customer.pushed("message") if m["author"] == "system"]
    assert told
    assert all(re.search("[\u0e00-\u0e7f]", m["text"]) for m in told)
    assert console.problems == []


# ---------------------------------------------------------------- on the system clock


async def test_end_to_end_a_customer_is_answered_from_the_console(
    start_server, settings, connect, open_console
):
    server = await start_server(settings)  # the system clock: offers expire in real time
    await server.app[SERVICES].accounts.add(
        username="emma",
        name="Emma Clarke",
        languages=["en"],
        teams=["technical", "account", "trading"],
        capacity=3,
        role="agent",
        password="emma-password",
    )
    console = await open_console(str(server.make_url("/console/")))
    page = console.page
    await console.login("emma", "wrong-password")
    await expect(page.locator("#login-message")).to_have_text(
        "Wrong username or password.", timeout=TIMEOUT_MS
    )
    await console.login("emma", "emma-password")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await expect(page.locator("#queue-empty")).to_be_visible()

    # A Thai customer asks for a person; nobody speaks Thai, so the chat widens to English.
    customer = await connect(server)
    started = await customer.call("start", {"languages": ["th-TH"]})
    assert started["ok"], started
    sent = await customer.call("message", {"text": "ลืมรหัสผ่าน MT5 ค่ะ", "client_id": "c1"})
    assert sent["ok"], sent
    queued = await customer.call("request_agent", {})
    assert queued["ok"], queued
    conversation_id = started["conversation"]["id"]

    item = console.item(conversation_id)
    await expect(item).to_be_visible(timeout=TIMEOUT_MS)
    await expect(item.locator(".lang-tag")).to_have_text("th")
    await expect(item.locator(".badge--widened")).to_be_visible()
    await expect(item.locator(".countdown")).to_contain_text("0:")
    await item.locator(".accept").click()

    panel = console.panel(conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await expect(panel.locator(".fact--language")).to_have_text("Thai (th)")
    await expect(panel.locator(".widened-banner")).to_be_visible()
    await expect(panel.locator(".widened-banner .banner-original")).to_have_text("ลืมรหัสผ่าน MT5 ค่ะ")
    await expect(panel.locator(".msg--customer").first).to_have_text(re.compile("ลืมรหัสผ่าน"))
    await expect(panel.locator(".sla-pill")).to_contain_text("First reply due in")
    await customer.wait_pushed("assigned", timeout=10)

    reply = "Hello, I am Emma. I can help you reset your MT5 password."
    await panel.locator(".composer-input").fill(reply)
    await panel.locator(".composer-input").press("Enter")
    await expect(panel.locator(".msg--agent")).to_have_attribute(
        "data-seq", re.compile(r"^\d+$"), timeout=TIMEOUT_MS
    )
    await expect(panel.locator(".sla-pill")).to_have_text("First reply sent")

    async with asyncio.timeout(10):
        while not [m for m in customer.pushed("message") if m["author"] == "agent"]:
            await asyncio.sleep(0.02)
    (received,) = [m for m in customer.pushed("message") if m["author"] == "agent"]
    assert received["text"] == reply
    assert received["conversation_id"] == conversation_id
    assert UUID.match(received["client_id"])

    # A note stays among agents.
    await panel.locator(".note-toggle").click()
    await panel.locator(".composer-input").fill("Customer verified by email")
    await panel.locator(".composer-input").press("Enter")
    await expect(panel.locator(".msg--note")).to_have_attribute(
        "data-seq", re.compile(r"^\d+$"), timeout=TIMEOUT_MS
    )
    await asyncio.sleep(0.3)
    assert "Customer verified by email" not in [m["text"] for m in customer.pushed("message")]

    await panel.locator(".chat-close").click()
    await expect(panel.locator(".badge--closed")).to_be_visible(timeout=TIMEOUT_MS)
    await customer.wait_pushed("closed", timeout=10)
    assert console.problems == []


async def test_replies_sent_faster_than_the_limit_are_resent_when_the_server_says(
    start_server, settings, connect, open_console
):
    """Over the limit the server answers `rate_limited` with `retry_after`: the console
    waits that long and sends the same reply again; none is lost, failed or doubled."""
    limited = replace(settings, rate_messages=Rate.parse("2/s burst 1"))
    server = await start_server(limited, clock=FakeClock(datetime.now(UTC)))
    await server.app[SERVICES].accounts.add(
        username="emma", name="Emma Clarke", languages=["en"], teams=TEAMS,
        capacity=3, role="agent", password="emma-password",
    )  # fmt: skip
    console = await open_console(str(server.make_url("/console/")))
    page = console.page
    await console.login("emma", "emma-password")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    customer = await connect(server)
    started = await customer.call("start", {"languages": ["en"]})
    assert (await customer.call("request_agent", {}))["ok"]
    conversation_id = started["conversation"]["id"]
    await console.item(conversation_id).locator(".accept").click()
    panel = console.panel(conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)

    replies = ["Hello!", "Let me check that for you.", "Done: your password is reset."]
    for reply in replies:
        await panel.locator(".composer-input").fill(reply)
        await panel.locator(".composer-input").press("Enter")
    await expect(panel.locator(".msg--agent[data-seq]")).to_have_count(3, timeout=TIMEOUT_MS)
    await expect(panel.locator(".msg.is-failed")).to_have_count(0)
    async with asyncio.timeout(10):
        while len([m for m in customer.pushed("message") if m["author"] == "agent"]) < 3:
            await asyncio.sleep(0.02)
    assert [m["text"] for m in customer.pushed("message") if m["author"] == "agent"] == replies
    assert console.problems == []


async def test_supervisor_sees_the_faq_gaps_per_language_most_frequent_first(desk, open_console):
    from tests.test_faq_feedback_e2e import ask

    off_topic = {"en": "what is the capital of France", "ja": "今日の天気はどうですか"}
    for n, language in enumerate(["en", "en", "ja"]):
        customer = await desk.connect(desk.server)
        await customer.call("start", {"language": language})
        _, reply = await ask(customer, off_topic[language], f"gap-{n}")
        assert reply["meta"]["kind"] == "decline"
    await desk.account("sam", "Sam Okafor", ["en"], role="supervisor")
    desk.clock.advance(5)  # the report's period ends now: the chats are in it
    console = await logged_in(desk, open_console, "sam")
    page = console.page
    section = page.locator("#gaps-section")
    await expect(section.locator("#gaps-title")).to_have_text("FAQ gaps")
    gaps = section.locator("#gaps .gap")
    await expect(gaps).to_have_count(2, timeout=TIMEOUT_MS)
    first = gaps.nth(0)
    await expect(first).to_have_attribute("data-language", "en")
    await expect(first.locator(".gap-count")).to_have_text("2")
    await expect(first.locator(".gap-kind")).to_have_text("Declined")
    question = first.locator(".gap-question")
    await expect(question).to_have_text(off_topic["en"])
    await expect(question).to_have_attribute("dir", "auto")  # the customer's words, isolated
    await expect(gaps.nth(1).locator(".gap-question")).to_have_text(off_topic["ja"])

    await page.locator("#gaps-language").select_option("ja")
    await expect(gaps).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(gaps.nth(0).locator(".lang-tag")).to_have_text("ja")
    await expect(gaps.nth(0).locator(".gap-question")).to_have_attribute("lang", "ja")
    await page.locator("#gaps-period").select_option("7")
    await expect(gaps).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(section.locator("#gaps-empty")).to_be_hidden()
    await page.locator("#gaps-language").select_option("de")  # nobody asked in German
    await expect(gaps).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(section.locator("#gaps-empty")).to_have_text("No gaps in this period.")
    assert console.problems == []
