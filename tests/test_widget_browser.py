"""The widget in a real headless Chromium (Playwright), against a real server, and against a
scripted fake of `/customer` for the cases a real server produces only by chance (a lost
acknowledgement, quick choices the server does not know yet).

Skipped when Chromium or Playwright is missing, unless CHATSERVER_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_browser

TIMEOUT_MS = 15_000
TOKEN = "chatserver.widget.token"
HIRAGANA = re.compile(r"[\u3041-\u3096]")


@dataclass
class Widget:
    """A page with the widget, and what went wrong in it (script errors, CSP violations)."""

    page: Any
    problems: list[str] = field(default_factory=list)

    async def messages(self) -> list[tuple[str | None, str, str]]:
        """(seq, author, text) of every message shown, top to bottom."""
        rows = await self.page.locator("#messages .msg").evaluate_all(
            "els => els.map(e => [e.dataset.seq ?? null, e.dataset.author,"
            " e.querySelector('.msg-bubble').textContent])"
        )
        return [tuple(row) for row in rows]

    async def send(self, text: str) -> None:
        await self.page.locator("#input").fill(text)
        await self.page.locator("#input").press("Enter")

    async def stored_token(self) -> str | None:
        token: str | None = await self.page.evaluate(f"() => localStorage.getItem('{TOKEN}')")
        return token


OpenWidget = Callable[..., Awaitable[Widget]]


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
async def open_widget(browser: Any) -> AsyncIterator[OpenWidget]:
    contexts: list[Any] = []

    async def open_(url: Any, *, locale: str = "en-US", fake: FakeCustomer | None = None) -> Widget:
        context = await browser.new_context(locale=locale, viewport={"width": 400, "height": 640})
        contexts.append(context)
        page = await context.new_page()
        widget = Widget(page)
        page.on("pageerror", lambda error: widget.problems.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: widget.problems.append(f"dialog: {dialog.message}"))
        page.on(
            "console",
            lambda message: (
                widget.problems.append(f"console: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        if fake is not None:
            await page.route_web_socket(re.compile(r"/socket\.io/"), fake.accept)
        await page.goto(str(url))
        return widget

    yield open_
    for context in contexts:
        await context.close()


def expect(target: Any) -> Any:
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(target)


# ---------------------------------------------------------------- against the real server


async def test_japanese_customer_is_answered_in_japanese_and_resumes_after_reload(
    server, open_widget
):
    widget = await open_widget(server.make_url("/widget/"), locale="ja-JP")
    page = widget.page
    await expect(page.locator(".msg--bot .msg-bubble").first).to_contain_text(
        "バーチャルアシスタント", timeout=TIMEOUT_MS
    )
    await expect(page.locator("html")).to_have_attribute("lang", "ja")
    await expect(page.locator("#title")).to_have_text("カスタマーサポート")
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")
    await expect(page.locator("#input")).to_have_attribute("placeholder", "メッセージを入力…")

    await widget.send("MT5のパスワードを忘れました")
    await expect(page.locator("#messages .msg")).to_have_count(3, timeout=TIMEOUT_MS)
    await expect(page.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    before = await widget.messages()
    assert [(seq, author) for seq, author, _ in before] == [
        ("1", "bot"),
        ("2", "customer"),
        ("3", "bot"),
    ]
    assert before[1][2] == "MT5のパスワードを忘れました"
    answer = before[2][2]
    assert "パスワード" in answer
    assert HIRAGANA.search(answer)
    token = await widget.stored_token()
    assert token

    await page.reload()
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await expect(page.locator("#messages .msg")).to_have_count(3, timeout=TIMEOUT_MS)
    assert await widget.messages() == before
    assert await widget.stored_token() == token
    assert widget.problems == []


async def test_arabic_page_is_right_to_left(server, open_widget):
    widget = await open_widget(server.make_url("/widget/"), locale="ar-EG")
    page = widget.page
    await expect(page.locator(".msg--bot")).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator("html")).to_have_attribute("lang", "ar")
    direction = await page.locator("#messages").evaluate("e => getComputedStyle(e).direction")
    assert direction == "rtl"
    assert widget.problems == []


async def test_message_text_is_shown_as_text_never_as_html(server, open_widget):
    widget = await open_widget(server.make_url("/widget/"))
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    text = "<b>x</b> <img src=x onerror=alert(1)>"
    await widget.send(text)
    bubble = page.locator(".msg--customer .msg-bubble")
    await expect(bubble).to_have_text(text, timeout=TIMEOUT_MS)
    await expect(page.locator(".msg--customer")).to_have_attribute("data-seq", "2")
    assert await page.locator("#messages b, #messages img").count() == 0
    assert widget.problems == []


async def test_a_message_written_offline_is_sent_once_when_back_online(server, open_widget):
    widget = await open_widget(server.make_url("/widget/"), locale="ja-JP")
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await page.context.set_offline(True)
    await expect(page.locator("#banner")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#status")).to_have_attribute("data-state", "offline")
    await expect(page.locator("#banner")).to_contain_text("オフライン")

    await widget.send("出金はいつ反映されますか")
    pending = page.locator(".msg--customer.is-pending")
    await expect(pending).to_have_count(1)
    await expect(pending.locator(".msg-delivery")).to_have_text("送信中…")

    await page.context.set_offline(False)
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await expect(page.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator("#messages .msg")).to_have_count(3, timeout=TIMEOUT_MS)
    await expect(page.locator("#banner")).to_be_hidden()
    shown = await widget.messages()
    customer = [text for _, author, text in shown if author == "customer"]
    assert customer == ["出金はいつ反映されますか"]
    assert [seq for seq, _, _ in shown] == ["1", "2", "3"]


async def test_language_picker_lists_languages_by_their_own_names_and_switches(server, open_widget):
    widget = await open_widget(server.make_url("/widget/"), locale="ja-JP")
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    picker = page.locator("#language")
    await expect(picker).to_have_value("ja")
    await expect(picker.locator("option[value=ja]")).to_have_text("日本語")
    await expect(picker.locator("option[value=ar]")).to_have_text("العربية")
    await picker.select_option("en")
    await expect(page.locator("#title")).to_have_text("Customer support", timeout=TIMEOUT_MS)
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    assert await page.evaluate("() => localStorage.getItem('chatserver.widget.language')") == "en"
    assert widget.problems == []


async def test_demo_page_shows_the_widget_in_a_frame(server, open_widget):
    widget = await open_widget(server.make_url("/"))
    page = widget.page
    frame = page.frame_locator("#chat-frame")
    await expect(frame.locator(".msg--bot")).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(frame.locator("#status")).to_have_attribute("data-state", "online")
    await page.locator("#chat-launcher").click()
    await expect(page.locator("#chat-frame")).to_be_hidden()
    await page.locator("#chat-launcher").click()
    await expect(page.locator("#chat-frame")).to_be_visible()
    assert widget.problems == []


# ---------------------------------------------------------------- against a scripted fake


NAMESPACE = "/customer"
EVENT_PREFIX = f"42{NAMESPACE},"


@dataclass
class FakeCustomer:
    """Just enough of the server side of /customer (Engine.IO 4 and Socket.IO 5 framing on a
    WebSocket) to put the widget in cases a real server gives only by chance. Stores client
    ids once, like the real one; `lose_next_ack` stores a message, then drops the connection
    instead of acknowledging it."""

    greeting_meta: dict[str, Any] = field(default_factory=lambda: {"kind": "greeting"})
    unknown_events: frozenset[str] = frozenset({"choose_suggestion"})
    lose_next_ack: bool = False
    received: list[tuple[str, Any]] = field(default_factory=list)
    stored: list[dict[str, Any]] = field(default_factory=list)
    connections: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def message(self, author: str, text: str, **extra: Any) -> dict[str, Any]:
        message = {
            "id": f"m{len(self.stored) + 1:031d}",
            "conversation_id": "c" * 32,
            "seq": len(self.stored) + 1,
            "author": author,
            "text": text,
            "language": None if author == "customer" else "en",
            "client_id": None,
            "created_at": "2026-11-24T09:00:00+00:00",
            "meta": {},
            **extra,
        }
        self.stored.append(message)
        return message

    def conversation(self, language: str = "en") -> dict[str, Any]:
        direction = "rtl" if language == "ar" else "ltr"
        return {
            "id": "c" * 32,
            "status": "bot",
            "language": language,
            "direction": direction,
            "last_seq": len(self.stored),
        }

    def events(self, name: str) -> list[Any]:
        return [payload for event, payload in self.received if event == name]

    def accept(self, ws: Any) -> None:
        self.connections += 1
        ws.on_message(lambda frame: self._frame(ws, frame))
        open_packet = {"sid": f"e{self.connections}", "upgrades": [], "pingInterval": 25000}
        ws.send("0" + json.dumps({**open_packet, "pingTimeout": 60000, "maxPayload": 1000000}))

    def _frame(self, ws: Any, frame: str | bytes) -> None:
        text = frame if isinstance(frame, str) else frame.decode()
        if text.startswith(f"40{NAMESPACE},"):
            ws.send(f"40{NAMESPACE}," + json.dumps({"sid": f"s{self.connections}"}))
            return
        if not text.startswith(EVENT_PREFIX):
            return
        body = text[len(EVENT_PREFIX) :]
        ack_id = re.match(r"\d*", body).group()  # type: ignore[union-attr]
        event, *args = json.loads(body[len(ack_id) :])
        payload = args[0] if args else None
        self.received.append((event, payload))
        reply = self._handle(ws, event, payload)
        if reply is not None and ack_id:
            ws.send(f"43{NAMESPACE},{ack_id}" + json.dumps([reply]))

    def _handle(self, ws: Any, event: str, payload: Any) -> dict[str, Any] | None:
        if event in self.unknown_events:
            return {"ok": False, "error": {"code": "unknown_event", "message": event}}
        if event == "start":
            if payload.get("token"):
                after = payload.get("last_seq", 0)
                missed = [m for m in self.stored if m["seq"] > after]
                return self._started(resumed=True, messages=missed)
            self.stored.clear()
            greeting = self.message("bot", "Hello!", meta=self.greeting_meta)
            return self._started(resumed=False, messages=[greeting])
        if event == "message":
            for message in self.stored:
                if message["client_id"] == payload["client_id"]:
                    return {"ok": True, "message": message, "duplicate": True}
            message = self.message("customer", payload["text"], client_id=payload["client_id"])
            if self.lose_next_ack:
                self.lose_next_ack = False
                self.tasks.append(asyncio.ensure_future(ws.close()))
                return None
            reply = self.message("bot", "Answer to: " + payload["text"])
            ws.send(EVENT_PREFIX + json.dumps(["message", reply]))
            return {"ok": True, "message": message, "duplicate": False}
        if event == "choose_language":
            return {"ok": True, "conversation": self.conversation(payload["language"])}
        return {"ok": False, "error": {"code": "unknown_event", "message": event}}

    def _started(self, *, resumed: bool, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "ok": True,
            "conversation": self.conversation(),
            "token": "t" * 43,
            "resumed": resumed,
            "messages": messages,
        }


async def test_a_lost_acknowledgement_is_resent_after_reconnecting_and_shown_once(
    server, open_widget
):
    fake = FakeCustomer(lose_next_ack=True)
    widget = await open_widget(server.make_url("/widget/"), fake=fake)
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await widget.send("Where is my withdrawal?")
    # The server stored it, the connection dropped before the acknowledgement: the widget
    # reconnects, resumes after the greeting, gets the message back and does not double it.
    await expect(page.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    assert fake.connections == 2
    resume = fake.events("start")[-1]
    assert resume["token"] == "t" * 43
    assert resume["last_seq"] == 1
    shown = await widget.messages()
    assert shown == [("1", "bot", "Hello!"), ("2", "customer", "Where is my withdrawal?")]
    assert [m["text"] for m in fake.stored if m["author"] == "customer"] == [
        "Where is my withdrawal?"
    ]
    assert await page.evaluate("() => sessionStorage.getItem('chatserver.widget.outbox')") is None

    await widget.send("And my deposit?")
    await expect(page.locator("#messages .msg")).to_have_count(4, timeout=TIMEOUT_MS)
    assert [seq for seq, _, _ in await widget.messages()] == ["1", "2", "3", "4"]
    client_ids = [p["client_id"] for p in fake.events("message")]
    assert len(set(client_ids)) == 2  # the first one may have been sent twice, never stored twice
    assert len(fake.stored) == 4


async def test_suggestions_fall_back_to_text_when_the_server_lacks_the_event(server, open_widget):
    suggestions = [
        {"faq_id": "mt5-install", "question": "How do I install MT5?"},
        {"faq_id": "mt-password-reset", "question": "How do I reset my password?"},
    ]
    fake = FakeCustomer(greeting_meta={"kind": "suggest", "suggestions": suggestions})
    widget = await open_widget(server.make_url("/widget/"), fake=fake)
    page = widget.page
    buttons = page.locator(".msg--bot .msg-choices button")
    await expect(buttons).to_have_text(
        ["How do I install MT5?", "How do I reset my password?"], timeout=TIMEOUT_MS
    )
    await expect(page.locator(".msg-choices")).to_have_attribute("role", "group")
    await buttons.nth(1).click()
    await expect(page.locator(".msg--customer .msg-bubble")).to_have_text(
        "How do I reset my password?", timeout=TIMEOUT_MS
    )
    assert fake.events("choose_suggestion") == [{"faq_id": "mt-password-reset"}]
    assert [p["text"] for p in fake.events("message")] == ["How do I reset my password?"]
    await expect(buttons.nth(0)).to_be_disabled()
    assert widget.problems == []


async def test_language_confirmation_buttons_choose_the_language(server, open_widget):
    choices = [{"language": "ar", "name": "العربية"}, {"language": "en", "name": "English"}]
    fake = FakeCustomer(greeting_meta={"kind": "language_confirm", "choices": choices})
    widget = await open_widget(server.make_url("/widget/"), fake=fake)
    page = widget.page
    buttons = page.locator(".msg--bot .msg-choices button")
    await expect(buttons).to_have_text(["العربية", "English"], timeout=TIMEOUT_MS)
    await buttons.first.click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl", timeout=TIMEOUT_MS)
    await expect(page.locator("html")).to_have_attribute("lang", "ar")
    assert fake.events("choose_language") == [{"language": "ar"}]
    assert fake.events("message") == []
    assert widget.problems == []
