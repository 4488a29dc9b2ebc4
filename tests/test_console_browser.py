"""The agent console in a real headless Chromium (Playwright).

Most tests run against a scripted fake of the server: the real console page, static files,
strings and languages (chatserver/widget.py), a fake log-in, and a python-socketio
AsyncServer whose `/agent` namespace plays the protocol of docs/protocol.md from a script,
so every case (a chat already taken, a lost acknowledgement, a refused token, SLA alerts)
happens on cue. One test at the end drives the real server end to end: a customer asks for
a person, the agent accepts in the console and replies, the customer receives it.

Skipped when Chromium or Playwright is missing, unless CHATSERVER_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from chatserver import widget
from chatserver.i18n import Catalogs
from chatserver.keys import SERVICES, SETTINGS
from chatserver.settings import CHAT_LANGUAGES, Settings
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_browser

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 15_000
SESSION_KEY = "chatserver.console.session"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def expect(target: Any) -> Any:
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(target)


# ---------------------------------------------------------------- the scripted fake server

AGENT = {
    "id": "a-emma",
    "username": "emma",
    "name": "Emma Clarke",
    "languages": ["en", "de"],
    "teams": ["technical", "account", "trading"],
    "capacity": 3,
    "role": "agent",
}
SUPERVISOR = {**AGENT, "id": "a-sam", "username": "sam", "name": "Sam Okafor", "role": "supervisor"}
PASSWORDS = {"emma": ("emma-password", AGENT), "sam": ("sam-password", SUPERVISOR)}
AGENTS = [
    {"id": "a-emma", "name": "Emma Clarke", "status": "online", "load": 1, "capacity": 3,
     "languages": ["en", "de"], "teams": ["technical"]},
    {"id": "a-aiko", "name": "Aiko Tanaka", "status": "away", "load": 3, "capacity": 3,
     "languages": ["ja", "en"], "teams": ["account"]},
    {"id": "a-sam", "name": "Sam Okafor", "status": "online", "load": 0, "capacity": 2,
     "languages": ["en"], "teams": ["technical"]},
]  # fmt: skip


def waiting() -> list[dict[str, Any]]:
    return [
        {"conversation_id": "c-th", "language": "th", "team": "technical", "priority": "urgent",
         "tier": "vip", "position": 1, "waited_seconds": 6, "remaining_seconds": 24,
         "widened": True, "preview": "ลืมรหัสผ่าน MT5 ค่ะ"},
        {"conversation_id": "c-ja", "language": "ja", "team": "account", "priority": "high",
         "tier": "standard", "position": 2, "waited_seconds": 25, "remaining_seconds": 5,
         "widened": False, "preview": "<b>出金</b> <img src=x onerror=alert(1)>"},
        {"conversation_id": "c-de", "language": "de", "team": "trading", "priority": "low",
         "tier": "standard", "position": 3, "waited_seconds": 34, "remaining_seconds": -4,
         "widened": False, "preview": "Margin?"},
    ]  # fmt: skip


def message(conversation_id: str, seq: int, author: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{conversation_id}-m{seq}",
        "conversation_id": conversation_id,
        "seq": seq,
        "author": author,
        "text": text,
        "language": None if author == "customer" else "en",
        "client_id": None,
        "created_at": "2026-11-24T09:00:00+00:00",
        "meta": {},
        **extra,
    }


class FakeAgentNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """Just enough of `/agent` to script the console: records every event, answers from the
    protocol's shapes, stores agent messages once per client_id like the real server."""

    def __init__(self) -> None:
        super().__init__("/agent")
        self.tokens: set[str] = set()
        self.received: list[tuple[str, Any]] = []
        self.connections = 0
        self.sids: list[str] = []
        self.waiting = waiting()
        self.agents: list[dict[str, Any]] = []
        self.taken: set[str] = set()
        self.mine: dict[str, dict[str, Any]] = {}  # conversation id -> `conversation` payload
        self.lose_next_ack = False
        self.replay_on_connect = True  # send `conversation` again for held chats on connect

    def events(self, name: str) -> list[Any]:
        return [payload for event, payload in self.received if event == name]

    async def wait_for(self, name: str, count: int = 1) -> list[Any]:
        async with asyncio.timeout(TIMEOUT_MS / 1000):
            while len(self.events(name)) < count:
                await asyncio.sleep(0.02)
        return self.events(name)

    def queue(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"waiting": self.waiting}
        if self.agents:  # a supervisor's snapshot: the desk's agents and queue lengths
            payload["agents"] = self.agents
            payload["queues"] = {}
            for item in self.waiting:
                key = f"{item['language']}/{item['team']}"
                payload["queues"][key] = payload["queues"].get(key, 0) + 1
        return payload

    async def push_queue(self) -> None:
        await self.emit("queue", self.queue())

    async def on_connect(self, sid: str, environ: Any, auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if token not in self.tokens:
            raise socketio.exceptions.ConnectionRefusedError({"code": "unauthorized"})
        self.connections += 1
        self.sids.append(sid)
        await self.emit("queue", self.queue(), to=sid)
        if self.replay_on_connect:
            for payload in self.mine.values():
                await self.emit("conversation", payload, to=sid)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid, *payload = args
        data = payload[0] if payload else None
        self.received.append((event, data))
        handler = getattr(self, f"handle_{event}", None)
        if handler is None:
            return {"ok": False, "error": {"code": "unknown_event", "message": event}}
        return await handler(sid, data)

    async def handle_status(self, sid: str, data: Any) -> Any:
        return {"ok": True, "status": data["status"]}

    async def handle_accept(self, sid: str, data: Any) -> Any:
        conversation_id = data["conversation_id"]
        if conversation_id in self.taken:
            return {"ok": False, "error": {"code": "already_taken", "message": "taken"}}
        payload = self.conversation_payload(conversation_id)
        self.mine[conversation_id] = payload
        self.waiting = [w for w in self.waiting if w["conversation_id"] != conversation_id]
        await self.emit("conversation", payload, to=sid)
        await self.push_queue()
        return {"ok": True, "conversation_id": conversation_id}

    def conversation_payload(self, conversation_id: str) -> dict[str, Any]:
        item = next(w for w in waiting() if w["conversation_id"] == conversation_id)
        original = item["preview"]
        return {
            "conversation": {
                "id": conversation_id,
                "status": "assigned",
                "language": item["language"],
                "team": item["team"],
                "priority": item["priority"],
                "tier": item["tier"],
                "widened": item["widened"],
                "tracking_number": "K7PX-4QR9-M",
                "last_seq": 2,
            },
            "messages": [
                message(conversation_id, 1, "customer", original),
                message(conversation_id, 2, "bot", "I'll connect you with a member of our team."),
            ],
            "detected_language": item["language"],
            "original_text": original,
            "faq": {"id": "mt-password-reset", "question_en": "How do I reset my MT5 password?"},
            "sla": {"kind": "first_response", "remaining_seconds": item["remaining_seconds"]},
        }

    def _store(self, data: dict[str, Any], author: str, **meta: Any) -> tuple[dict[str, Any], bool]:
        payload = self.mine[data["conversation_id"]]
        for stored in payload["messages"]:
            if data.get("client_id") and stored["client_id"] == data["client_id"]:
                return stored, True
        seq = len(payload["messages"]) + 1
        stored = message(
            data["conversation_id"], seq, author, data["text"],
            client_id=data.get("client_id"), meta={"agent_id": "a-emma", "agent_name": "Emma Clarke", **meta},
        )  # fmt: skip
        payload["messages"].append(stored)
        return stored, False

    async def handle_message(self, sid: str, data: Any) -> Any:
        stored, duplicate = self._store(data, "agent")
        if self.lose_next_ack:
            self.lose_next_ack = False
            await self.disconnect(sid)
            return None
        return {"ok": True, "message": stored, "duplicate": duplicate}

    async def handle_note(self, sid: str, data: Any) -> Any:
        # Like the real server, a note on the wire is an agent message (no `internal` flag):
        # the console knows its own notes by their client_id.
        stored, duplicate = self._store(data, "agent")
        await self.emit("message", stored, to=sid)
        return {"ok": True, "message": stored, "duplicate": duplicate}

    async def handle_transfer(self, sid: str, data: Any) -> Any:
        self.mine.pop(data["conversation_id"], None)
        await self.emit("released", {"conversation_id": data["conversation_id"]}, to=sid)
        return {"ok": True}

    async def handle_close(self, sid: str, data: Any) -> Any:
        await self.emit("closed", {"conversation_id": data["conversation_id"]}, to=sid)
        return {"ok": True}

    async def handle_assign(self, sid: str, data: Any) -> Any:
        return {"ok": True}


@dataclass
class FakeDesk:
    server: TestServer
    agent: FakeAgentNamespace
    logouts: list[str] = field(default_factory=list)

    def url(self, path: str = "/console/") -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def fake_desk(aiohttp_server: Any) -> FakeDesk:
    namespace = FakeAgentNamespace()
    logouts: list[str] = []

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        known = PASSWORDS.get(body.get("username", ""))
        if known is None or known[0] != body.get("password"):
            error = {"code": "invalid_credentials", "message": "wrong username or password"}
            return web.json_response({"error": error}, status=401)
        token = f"token-{body['username']}-{namespace.connections}"
        namespace.tokens.add(token)
        expires = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
        return web.json_response({"token": token, "expires_at": expires, "agent": known[1]})

    async def logout(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        logouts.append(header)
        namespace.tokens.discard(header.removeprefix("Bearer "))
        return web.json_response({"ok": True})

    app = web.Application()
    app[SETTINGS] = Settings.defaults(locales_dir=ROOT / "locales")
    # Only what the widget routes read: the catalogs behind /api/v1/widget/strings.
    app[SERVICES] = SimpleNamespace(  # type: ignore[assignment]
        catalogs=Catalogs.load(ROOT / "locales", CHAT_LANGUAGES, "en")
    )
    app.add_routes(widget.routes)
    app.router.add_post("/api/v1/login", login)
    app.router.add_post("/api/v1/logout", logout)
    sio = socketio.AsyncServer(async_mode="aiohttp")
    sio.register_namespace(namespace)
    sio.attach(app)
    server: TestServer = await aiohttp_server(app)
    return FakeDesk(server, namespace, logouts)


# ---------------------------------------------------------------- the browser


@dataclass
class Console:
    """A page with the console, and what went wrong in it (script errors, CSP violations)."""

    page: Any
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
async def browser() -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


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
        await page.goto(url)
        return console

    yield open_
    for context in contexts:
        await context.close()


def seconds(clock: str) -> int:
    minutes, secs = re.search(r"(\d+):(\d\d)", clock).groups()  # type: ignore[union-attr]
    return int(minutes) * 60 + int(secs)


# ---------------------------------------------------------------- against the scripted fake


async def test_log_in_shows_the_queue_with_live_countdowns(fake_desk, open_console):
    console = await open_console(fake_desk.url())
    page = console.page
    await expect(page.locator("#login-view")).to_be_visible(timeout=TIMEOUT_MS)
    await console.login("emma", "wrong-password")
    await expect(page.locator("#login-message")).to_have_text("Wrong username or password.")
    await console.login("emma", "emma-password")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await expect(page.locator("#user-name")).to_have_text("Emma Clarke")
    await expect(page.locator("#supervisor")).to_be_hidden()
    await expect(page.locator(".qitem")).to_have_count(3)
    assert await page.evaluate(f"() => JSON.parse(sessionStorage.getItem('{SESSION_KEY}')).token")

    thai = console.item("c-th")
    await expect(thai.locator(".lang-tag")).to_have_text("th")
    await expect(thai.locator(".qitem-language-name")).to_have_text("Thai")
    await expect(thai).to_have_attribute("data-priority", "urgent")
    await expect(thai.locator(".prio--urgent")).to_have_text("Urgent")
    await expect(thai.locator(".qitem-team")).to_have_text("Technical")
    await expect(thai.locator(".qitem-position")).to_have_text("#1")
    await expect(thai.locator(".qitem-position")).to_have_attribute("title", "#1 in queue")
    await expect(thai.locator(".badge--vip")).to_have_text("VIP")
    await expect(thai.locator(".badge--widened")).to_have_text("Widened")
    await expect(thai.locator(".qitem-preview")).to_have_text("ลืมรหัสผ่าน MT5 ค่ะ")
    await expect(thai.locator(".countdown")).to_have_attribute("data-level", "ok")

    # The countdown runs in the browser, between queue snapshots.
    first = seconds(await console.countdown("c-th"))
    assert 20 <= first <= 24
    # It ticks in seconds, whenever the page's timer runs: poll rather than wait a fixed
    # 2 s (a busy machine renders a tick late), and check it does not run fast either.
    started = time.monotonic()
    async with asyncio.timeout(6):
        while seconds(await console.countdown("c-th")) > first - 2:
            await page.wait_for_timeout(100)
    assert time.monotonic() - started >= 1.0

    japanese = console.item("c-ja")
    await expect(japanese.locator(".prio--high")).to_have_text("High")
    await expect(japanese.locator(".countdown")).to_have_attribute("data-level", "urgent")
    await expect(japanese.locator(".qitem-preview")).to_have_text(
        "<b>出金</b> <img src=x onerror=alert(1)>"
    )
    assert await page.locator(".queue b, .queue img").count() == 0
    german = console.item("c-de")
    await expect(german.locator(".countdown")).to_have_attribute("data-level", "overdue")
    await expect(german.locator(".countdown-text")).to_contain_text("Overdue")
    await expect(german.locator(".prio--low")).to_have_text("Low")
    # Five seconds left at first: overdue a few seconds later, without a new snapshot.
    await expect(japanese.locator(".countdown")).to_have_attribute(
        "data-level", "overdue", timeout=TIMEOUT_MS
    )
    assert console.problems == []


async def test_accepting_a_taken_chat_says_so_and_a_free_one_opens(fake_desk, open_console):
    fake = fake_desk.agent
    fake.taken.add("c-ja")
    console = await open_console(fake_desk.url())
    page = console.page
    await console.login("emma", "emma-password")
    await expect(page.locator(".qitem")).to_have_count(3, timeout=TIMEOUT_MS)

    await console.item("c-ja").locator(".accept").click()
    await expect(page.locator(".toast")).to_contain_text("already taken", timeout=TIMEOUT_MS)
    await expect(console.item("c-ja")).to_have_count(0)
    assert fake.events("accept") == [{"conversation_id": "c-ja"}]

    await console.item("c-th").locator(".accept").click()
    panel = console.panel("c-th")
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await expect(console.item("c-th")).to_have_count(0)
    await expect(page.locator(".tab[aria-selected=true] .tab-title")).to_have_text(
        "Customer K7PX-4QR9-M"
    )
    await expect(panel.locator(".fact--language")).to_have_text("Thai (th)")
    banner = panel.locator(".widened-banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Thai (th)")
    await expect(banner.locator(".banner-original")).to_have_text("ลืมรหัสผ่าน MT5 ค่ะ")
    await expect(banner.locator(".banner-original")).to_have_attribute("lang", "th")
    await expect(banner.locator(".banner-faq")).to_contain_text("How do I reset my MT5 password?")
    await expect(banner.locator(".faq-id")).to_have_text("mt-password-reset")
    assert await console.transcript("c-th") == [
        ("1", "customer", "ลืมรหัสผ่าน MT5 ค่ะ"),
        ("2", "bot", "I'll connect you with a member of our team."),
    ]
    sla = panel.locator(".sla-pill")
    await expect(sla).to_contain_text("First reply due in")
    assert await sla.get_attribute("data-level") in ("ok", "urgent")

    # A reply: Enter sends it with a fresh UUID as client_id; the clock stops.
    await panel.locator(".composer-input").fill("Hello! I can help with your MT5 password.")
    await panel.locator(".composer-input").press("Enter")
    await expect(panel.locator(".msg--agent")).to_have_attribute(
        "data-seq", "3", timeout=TIMEOUT_MS
    )
    (sent,) = fake.events("message")
    assert sent["conversation_id"] == "c-th"
    assert sent["text"] == "Hello! I can help with your MT5 password."
    assert UUID.match(sent["client_id"])
    await expect(sla).to_have_text("First reply sent")
    await expect(panel.locator(".msg--agent .msg-author")).to_have_text("You")

    # An internal note: visibly internal, sent as `note`, not `message`.
    await panel.locator(".note-toggle").click()
    await expect(panel.locator(".composer")).to_have_class(re.compile(r"\bis-note\b"))
    await panel.locator(".composer-input").fill("VIP: check the account manager first")
    await panel.locator(".composer-input").press("Enter")
    note = panel.locator(".msg--note")
    await expect(note).to_have_attribute("data-seq", "4", timeout=TIMEOUT_MS)
    await expect(note.locator(".msg-author")).to_contain_text("Internal note")
    assert [n["text"] for n in fake.events("note")] == ["VIP: check the account manager first"]
    assert len(fake.events("message")) == 1

    # After a reload the server replays the chat: the note is still shown as a note.
    await page.reload()
    panel = console.panel("c-th")
    await expect(panel.locator(".transcript .msg")).to_have_count(4, timeout=TIMEOUT_MS)
    await expect(panel.locator(".msg--note")).to_have_attribute("data-seq", "4")
    await expect(panel.locator(".msg--agent")).to_have_count(1)

    # The customer writes; text is text.
    pushed = message("c-th", 5, "customer", "<i>ขอบคุณ</i>")
    await fake.emit("message", pushed)
    await expect(panel.locator(".msg--customer").last).to_have_text(
        re.compile("<i>ขอบคุณ</i>"), timeout=TIMEOUT_MS
    )
    assert await panel.locator(".transcript i").count() == 0

    # A supervisor moves the chat to someone else: it leaves this console, with a word.
    await fake.emit("released", {"conversation_id": "c-th"})
    await expect(page.locator(".tab")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator(".toast").last).to_contain_text("is no longer yours")
    assert console.problems == []


async def test_transfer_to_a_queue_with_a_reason_and_close(fake_desk, open_console):
    fake = fake_desk.agent
    console = await open_console(fake_desk.url())
    page = console.page
    await console.login("emma", "emma-password")
    await console.item("c-th").locator(".accept").click(timeout=TIMEOUT_MS)
    await console.item("c-de").locator(".accept").click(timeout=TIMEOUT_MS)
    await expect(page.locator(".tab")).to_have_count(2, timeout=TIMEOUT_MS)

    await page.locator(".tab", has_text="Thai").click()
    panel = console.panel("c-th")
    await panel.locator(".chat-transfer").click()
    dialog = page.locator("#transfer-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#transfer-language")).to_have_value("th")
    await expect(page.locator("#transfer-team")).to_have_value("technical")
    await page.locator("#transfer-submit").click()
    await expect(page.locator("#transfer-error")).to_have_text("Please give a reason.")
    await page.locator("#transfer-language").select_option("en")
    await page.locator("#transfer-team").select_option("trading")
    await page.locator("#transfer-reason").fill("Margin question: trading desk")
    await page.locator("#transfer-submit").click()
    await expect(dialog).to_be_hidden(timeout=TIMEOUT_MS)
    assert fake.events("transfer") == [
        {
            "conversation_id": "c-th",
            "reason": "Margin question: trading desk",
            "to_queue": {"language": "en", "team": "trading"},
        }
    ]
    await expect(page.locator(".tab")).to_have_count(1)
    await expect(page.locator(".toast").last).to_contain_text("Chat transferred")

    german = console.panel("c-de")
    await expect(german).to_be_visible()
    await german.locator(".chat-close").click()
    await expect(german.locator(".badge--closed")).to_have_text("Closed", timeout=TIMEOUT_MS)
    await expect(german.locator(".composer-input")).to_be_disabled()
    assert fake.events("close") == [{"conversation_id": "c-de"}]
    await german.locator(".chat-dismiss").click()
    await expect(page.locator(".tab")).to_have_count(0)
    await expect(page.locator("#chats-empty")).to_be_visible()
    assert console.problems == []


async def test_a_lost_acknowledgement_is_resent_after_reconnecting_and_shown_once(
    fake_desk, open_console
):
    fake = fake_desk.agent
    console = await open_console(fake_desk.url())
    page = console.page
    await console.login("emma", "emma-password")
    await console.item("c-th").locator(".accept").click(timeout=TIMEOUT_MS)
    panel = console.panel("c-th")
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)

    fake.lose_next_ack = True
    fake.replay_on_connect = False  # only the outbox can bring the message back
    await panel.locator(".composer-input").fill("Are you still there?")
    await panel.locator(".composer-input").press("Enter")
    # Stored, then the connection dropped before the acknowledgement: the console
    # reconnects, sends it again with the same client_id, and shows it once.
    await expect(panel.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    assert fake.connections == 2
    sends = fake.events("message")
    assert len(sends) == 2
    assert sends[0]["client_id"] == sends[1]["client_id"]
    assert await console.transcript("c-th") == [
        ("1", "customer", "ลืมรหัสผ่าน MT5 ค่ะ"),
        ("2", "bot", "I'll connect you with a member of our team."),
        ("3", "agent", "Are you still there?"),
    ]
    assert await page.evaluate("() => sessionStorage.getItem('chatserver.console.outbox')") is None

    # The same with the server replaying the chat on connect: still once.
    fake.lose_next_ack = True
    fake.replay_on_connect = True
    await panel.locator(".composer-input").fill("One more thing")
    await panel.locator(".composer-input").press("Enter")
    await expect(panel.locator(".msg--agent")).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(panel.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    assert [seq for seq, _, _ in await console.transcript("c-th")] == ["1", "2", "3", "4"]
    assert console.problems == []


async def test_an_offer_is_highlighted_with_its_own_timer(fake_desk, open_console):
    fake = fake_desk.agent
    console = await open_console(fake_desk.url())
    page = console.page
    await console.login("emma", "emma-password")
    await expect(page.locator(".qitem")).to_have_count(3, timeout=TIMEOUT_MS)
    expires = (datetime.now(UTC) + timedelta(seconds=12)).isoformat()
    await fake.emit("offer", {"conversation_id": "c-de", "expires_at": expires})
    offered = console.item("c-de")
    await expect(offered).to_have_class(re.compile(r"\bis-offered\b"), timeout=TIMEOUT_MS)
    await expect(page.locator(".qitem").first).to_have_attribute("data-conversation-id", "c-de")
    timer = offered.locator(".offer-timer")
    await expect(timer).to_contain_text("Offered to you")
    assert 9 <= int(re.search(r"(\d+) s", await timer.inner_text()).group(1)) <= 12  # type: ignore[union-attr]
    await offered.locator(".accept").click()
    await expect(console.panel("c-de")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator(".qitem.is-offered")).to_have_count(0)

    # Another offer, withdrawn before it is taken (it went to someone else).
    await fake.emit("offer", {"conversation_id": "c-ja", "expires_at": expires})
    await expect(console.item("c-ja")).to_have_class(re.compile(r"\bis-offered\b"))
    await fake.emit("offer_withdrawn", {"conversation_id": "c-ja"})
    await expect(page.locator(".qitem.is-offered")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(console.item("c-ja")).to_be_visible()
    assert console.problems == []


async def test_a_refused_token_brings_back_the_login_form(fake_desk, open_console):
    fake = fake_desk.agent
    console = await open_console(fake_desk.url())
    page = console.page
    await console.login("emma", "emma-password")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    # The session is revoked on the server: the next connection is refused.
    fake.tokens.clear()
    await fake.disconnect(fake.sids[-1])
    await expect(page.locator("#login-view")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#login-message")).to_have_text(
        "Your session has ended. Please log in again."
    )
    assert await page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") is None
    assert console.problems == []


async def test_status_survives_a_reload_and_logout_revokes_the_token(fake_desk, open_console):
    fake = fake_desk.agent
    console = await open_console(fake_desk.url())
    page = console.page
    await console.login("emma", "emma-password")
    await expect(page.locator(".status-option[data-status=online]")).to_have_attribute(
        "aria-pressed", "true", timeout=TIMEOUT_MS
    )
    await page.locator(".status-option[data-status=away]").click()
    await expect(page.locator(".status-option[data-status=away]")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert await fake.wait_for("status") == [{"status": "away"}]

    # A reload keeps the session (this tab's sessionStorage) and the chosen status, which
    # is said again to the server: connecting alone would make the agent online.
    await page.reload()
    await expect(page.locator("#console-view")).to_be_visible(timeout=TIMEOUT_MS)
    assert await fake.wait_for("status", 2) == [{"status": "away"}, {"status": "away"}]
    assert fake.connections == 2
    await expect(page.locator(".status-option[data-status=away]")).to_have_attribute(
        "aria-pressed", "true"
    )

    token = await page.evaluate(f"() => JSON.parse(sessionStorage.getItem('{SESSION_KEY}')).token")
    await page.locator("#logout").click()
    await expect(page.locator("#login-view")).to_be_visible(timeout=TIMEOUT_MS)
    async with asyncio.timeout(5):
        while not fake_desk.logouts:
            await asyncio.sleep(0.02)
    assert fake_desk.logouts == [f"Bearer {token}"]
    assert await page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") is None
    assert console.problems == []


async def test_supervisor_sees_agents_queues_and_sla_alerts_and_assigns(fake_desk, open_console):
    fake = fake_desk.agent
    fake.agents = AGENTS
    fake.waiting = [*waiting(), {**waiting()[0], "conversation_id": "c-th2", "position": 4}]
    console = await open_console(fake_desk.url())
    page = console.page
    await console.login("sam", "sam-password")
    panel = page.locator("#supervisor")
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#user-role")).to_have_text("Supervisor")

    agents = panel.locator(".agent")
    await expect(agents).to_have_count(3)
    aiko = panel.locator('.agent[data-agent-id="a-aiko"]')
    await expect(aiko).to_have_attribute("data-status", "away")
    await expect(aiko.locator(".agent-load-text")).to_have_text("3/3")
    await expect(aiko.locator(".agent-languages .lang-tag")).to_have_text(["ja", "en"])
    await expect(page.locator("#agents-count")).to_have_text("2/3")

    thai_queue = panel.locator('#queues tr[data-queue="th/technical"]')
    await expect(thai_queue.locator(".queue-count")).to_have_text("2")
    await expect(panel.locator('#queues tr[data-queue="ja/account"] .queue-count')).to_have_text(
        "1"
    )

    due = (datetime.now(UTC) + timedelta(seconds=8)).isoformat()
    await fake.emit(
        "sla_warning",
        {
            "conversation_id": "c-th",
            "kind": "first_response",
            "due_at": due,
            "remaining_seconds": 8,
        },
    )
    await fake.emit(
        "sla_breach",
        {"conversation_id": "c-de", "kind": "first_response", "due_at": due},
    )
    alerts = panel.locator("#alerts .alert")
    await expect(alerts).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(alerts.nth(0)).to_have_class(re.compile(r"\balert--breach\b"))
    await expect(alerts.nth(0).locator(".alert-what")).to_contain_text("German (de)")
    await expect(alerts.nth(1)).to_have_class(re.compile(r"\balert--warning\b"))
    await expect(alerts.nth(1).locator(".alert-what")).to_contain_text("Thai (th)")
    await expect(alerts.nth(1).locator(".alert-kind")).to_have_text("First response")
    await expect(page.locator("#alerts-count")).to_have_text("1")

    await page.locator("#assign-conversation").select_option("c-ja")
    await page.locator("#assign-agent").select_option("a-emma")
    await page.locator("#assign-submit").click()
    assert await fake.wait_for("assign") == [{"conversation_id": "c-ja", "agent_id": "a-emma"}]
    await expect(page.locator(".toast").last).to_contain_text("Assigned to Emma Clarke")
    assert console.problems == []


async def test_the_console_speaks_the_browsers_language(fake_desk, open_console):
    console = await open_console(fake_desk.url(), locale="ja-JP")
    page = console.page
    await expect(page.locator("html")).to_have_attribute("lang", "ja", timeout=TIMEOUT_MS)
    await expect(page.locator("#login-submit")).not_to_have_text("Log in")
    await console.login("emma", "emma-password")
    await expect(page.locator(".qitem")).to_have_count(3, timeout=TIMEOUT_MS)
    await expect(console.item("c-th").locator(".qitem-language-name")).to_have_text("タイ語")
    await expect(console.item("c-th").locator(".accept")).not_to_have_text("Accept")
    assert console.problems == []


def test_fake_speaks_the_protocol_shapes():
    """The fake's payloads keep the documented field names, so a drift shows here."""
    item = waiting()[0]
    assert set(item) == {
        "conversation_id", "language", "team", "priority", "tier", "position",
        "waited_seconds", "remaining_seconds", "widened", "preview",
    }  # fmt: skip
    payload = FakeAgentNamespace().conversation_payload("c-th")
    assert {"conversation", "messages", "detected_language", "original_text", "faq", "sla"} <= set(
        payload
    )
    assert set(payload["faq"]) == {"id", "question_en"}
    json.dumps(payload)


# ---------------------------------------------------------------- against the real server


async def test_end_to_end_a_customer_is_answered_from_the_console(
    start_server, settings, connect, open_console
):
    from chatserver.keys import SERVICES as SERVICES_KEY

    server = await start_server(settings)  # the system clock: offers expire in real time
    await server.app[SERVICES_KEY].accounts.add(
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
