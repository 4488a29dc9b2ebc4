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
import socketio

from chatserver.keys import SERVICES
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_browser

TIMEOUT_MS = 15_000
TOKEN = "chatserver.widget.token"
HIRAGANA = re.compile(r"[\u3041-\u3096]")
THAI = re.compile(r"[\u0e00-\u0e7f]")
TRACKING_NUMBER = re.compile(r"^[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]$")
AGENT_PASSWORD = "a long agent password"


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


@dataclass
class Agent:
    """A support agent on `/agent` (python-socketio), as the console would be."""

    client: socketio.AsyncClient
    offers: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.client.call(event, data, namespace="/agent", timeout=10)

    async def next_offer(self) -> dict[str, Any]:
        offer: dict[str, Any] = await asyncio.wait_for(self.offers.get(), TIMEOUT_MS / 1000)
        return offer


AgentFactory = Callable[..., Awaitable[Agent]]


@pytest.fixture
async def agent_for(server: Any) -> AsyncIterator[AgentFactory]:
    """Log an agent in and connect them: from then on they are online and get offers."""
    clients: list[socketio.AsyncClient] = []

    async def make(username: str, name: str, languages: list[str]) -> Agent:
        accounts = server.app[SERVICES].accounts
        await accounts.add(
            username=username,
            name=name,
            languages=languages,
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
            str(server.make_url("/")),
            namespaces=["/agent"],
            transports=["websocket"],
            auth={"token": token},
            wait_timeout=10,
        )
        clients.append(client)
        return agent

    yield make
    for client in clients:
        if client.connected:
            await client.disconnect()


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


async def test_a_customer_who_asks_for_a_person_waits_in_line_then_chats_with_the_agent(
    server, open_widget, agent_for
):
    agent = await agent_for("aiko", "Aiko Tanaka", ["en"])
    widget = await open_widget(server.make_url("/widget/"))
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    talk = page.locator("#talk")
    await expect(talk).to_have_text("Talk to a person")
    await talk.click()

    queue = page.locator("#queue")
    await expect(queue).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#queue-position")).to_have_text("You are number 1 in line")
    await expect(talk).to_be_hidden()
    await expect(page.locator(".msg--system").first).to_contain_text("number 1 in line")

    offer = await agent.next_offer()
    conversation_id = offer["conversation_id"]
    assert (await agent.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await expect(page.locator("#title")).to_have_text(
        "Chatting with Aiko Tanaka", timeout=TIMEOUT_MS
    )
    await expect(queue).to_be_hidden()
    await expect(page.locator("#avatar-initial")).to_have_text("A")

    reply = "Hello, this is Aiko. How can I help you today?"
    sent = await agent.call(
        "message", {"conversation_id": conversation_id, "text": reply, "client_id": "a-1"}
    )
    assert sent["ok"] is True
    bubble = page.locator(".msg--agent")
    await expect(bubble.locator(".msg-bubble")).to_have_text(reply, timeout=TIMEOUT_MS)
    await expect(bubble.locator(".msg-author")).to_have_text("Aiko Tanaka")
    joined = page.locator(".msg--system").filter(has_text="Aiko Tanaka has joined")
    await expect(joined).to_have_count(1)
    assert await joined.evaluate("e => getComputedStyle(e).alignSelf") == "center"

    # The customer ends the chat from the header menu, after confirming.
    await page.locator("#menu-button").click()
    await page.locator("#end-chat").click()
    await expect(page.locator("#confirm-end")).to_be_visible()
    await page.locator("#confirm-end-yes").click()
    await expect(page.locator("#notice")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#input")).to_be_disabled()
    number = page.locator("#notice-tracking .tracking-number")
    await expect(number).to_have_text(TRACKING_NUMBER)

    await page.locator("#notice-action").click()  # "Start a new conversation"
    await expect(page.locator("#input")).to_be_enabled(timeout=TIMEOUT_MS)
    await expect(page.locator("#title")).to_have_text("Customer support")
    await expect(talk).to_be_visible()
    await expect(page.locator("#messages .msg")).to_have_count(1)
    assert widget.problems == []


async def test_with_nobody_online_the_customer_leaves_an_email_and_gets_a_tracking_number(
    server, open_widget
):
    widget = await open_widget(server.make_url("/widget/"))
    page = widget.page
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await page.locator("#talk").click()
    form = page.locator("#leave-form")
    await expect(form).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#composer")).to_be_hidden()
    await expect(page.locator("#leave-contact-label")).to_have_text("Email address")

    contact = page.locator("#leave-contact")
    await contact.fill("kenji.example.com")
    await page.locator("#leave-text").fill("Please tell me when my withdrawal arrives.")
    await page.locator("#leave-submit").click()
    await expect(page.locator("#leave-contact-error")).to_have_text(
        "Please enter a valid email address."
    )
    await expect(contact).to_have_attribute("aria-invalid", "true")

    await contact.fill("kenji@example.com")
    await page.locator("#leave-submit").click()
    number = page.locator("#leave-tracking .tracking-number")
    await expect(number).to_have_text(TRACKING_NUMBER, timeout=TIMEOUT_MS)
    tracking = await number.text_content()
    await expect(page.locator("#leave-done")).to_contain_text("We will contact you soon")
    await expect(form).to_be_hidden()
    await expect(page.locator(".msg--system").last).to_contain_text(str(tracking))

    copy = page.locator("#leave-tracking .tracking-copy")
    await copy.click()
    await expect(copy).to_have_text("Copied")
    assert await page.evaluate("() => navigator.clipboard.readText()") == tracking
    assert widget.problems == []


async def test_a_thai_customer_sees_the_queue_in_thai(server, open_widget, agent_for):
    agent = await agent_for("malee", "Malee", ["th", "en"])  # online, but never accepts
    widget = await open_widget(server.make_url("/widget/"), locale="th-TH")
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await expect(page.locator("html")).to_have_attribute("lang", "th")
    talk = page.locator("#talk")
    await expect(talk).to_have_text(THAI)
    await talk.click()
    position = page.locator("#queue-position")
    await expect(position).to_have_text("คุณอยู่ลำดับที่ 1 ในคิว", timeout=TIMEOUT_MS)
    await agent.next_offer()
    assert THAI.search(await page.locator("#queue").inner_text())
    await expect(page.locator(".msg--system").first).to_have_text(THAI)
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
    leave_reply: dict[str, Any] = field(
        default_factory=lambda: {"ok": True, "tracking_number": "K7PX-4QR9-M"}
    )
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
        if event == "request_agent":
            offline = {"tracking_number": "K7PX-4QR9-M", "options": ["email", "callback"]}
            ws.send(EVENT_PREFIX + json.dumps(["offline", offline]))
            return {"ok": True}
        if event == "leave_message":
            return self.leave_reply
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


async def test_a_decline_offers_a_person_and_the_servers_refusal_is_shown_at_the_field(
    server, open_widget
):
    refusal = {"code": "invalid_payload", "message": "'contact' must be an email address"}
    fake = FakeCustomer(
        greeting_meta={"kind": "decline", "score": 0.1, "offer_agent": True},
        leave_reply={"ok": False, "error": refusal},
    )
    widget = await open_widget(server.make_url("/widget/"), fake=fake)
    page = widget.page
    choice = page.locator(".msg--bot .msg-choices[data-kind=agent] button")
    await expect(choice).to_have_text("Talk to a person", timeout=TIMEOUT_MS)
    await choice.click()
    await expect(page.locator("#leave-form")).to_be_visible(timeout=TIMEOUT_MS)
    assert fake.events("request_agent") == [{}]
    await expect(choice).to_be_hidden()  # the chat is no longer the bot's
    await expect(page.locator("#talk")).to_be_hidden()

    await page.get_by_role("radio", name="Call me back").check()
    await expect(page.locator("#leave-contact-label")).to_have_text("Phone number")
    await expect(page.locator("#leave-contact")).to_have_attribute("type", "tel")
    await page.locator("#leave-contact").fill("12")
    await page.locator("#leave-submit").click()
    await expect(page.locator("#leave-contact-error")).to_have_text(
        "Please enter a phone number we can call."
    )
    assert fake.events("leave_message") == []

    await page.locator("#leave-contact").fill("+60 12-345 6789")
    await page.locator("#leave-text").fill("After 6 pm please")
    await page.locator("#leave-submit").click()
    await expect(page.locator("#leave-contact-error")).to_have_text(
        "Please enter a phone number we can call.", timeout=TIMEOUT_MS
    )
    assert fake.events("leave_message") == [
        {"kind": "callback", "contact": "+60 12-345 6789", "text": "After 6 pm please"}
    ]
    await expect(page.locator("#leave-form")).to_be_visible()
    assert widget.problems == []
