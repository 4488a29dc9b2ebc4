"""The widget in a real headless Chromium (Playwright), against the real server.

Two cases need something a healthy network and an up-to-date server never do: an
acknowledgement lost on the way, and an older server without a newer event. For those the
page's WebSocket goes through `Network`, a proxy between the page and the real server that
forwards every frame and can lose one or answer for a server version that lacks an event
(tests/browser.py, shared with the console's tests);
what the server stores and says is still the real server's.

Skipped when Chromium or Playwright is missing, unless CHATSERVER_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import pytest
import socketio

from chatserver.clock import hash_token
from chatserver.keys import SERVICES, SETTINGS
from chatserver.limits import Rate
from chatserver.models import Conversation, ConversationStatus, Message
from chatserver.system_lines import CUSTOMER_LEFT_TEXT
from tests.browser import SPOOFED_NAME, ZALGO, Network, shown, socketio_frame
from tests.conftest import FakeClock

TIMEOUT_MS = 15_000
TOKEN = "chatserver.widget.token"
HIRAGANA = re.compile(r"[\u3041-\u3096]")
THAI = re.compile(r"[\u0e00-\u0e7f]")
TRACKING_NUMBER = re.compile(r"^[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]$")
AGENT_PASSWORD = "a long agent password"
NAMESPACE = "/customer"


@dataclass
class Widget:
    """A page with the widget, and what went wrong in it (script errors, CSP violations)."""

    page: Any
    problems: list[str] = field(default_factory=list)
    emitted: list[tuple[str, Any]] = field(default_factory=list)  # seen leaving the page

    def sent(self, event: str) -> list[Any]:
        """The payloads of every `event` the page sent on /customer, in order."""
        return [payload for name, payload in self.emitted if name == event]

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

    async def stored(self, server: Any) -> tuple[Conversation, list[Message]]:
        """The widget's conversation and its messages as the real server stored them."""
        token = await self.stored_token()
        assert token
        store = server.app[SERVICES].store
        conversation = await store.conversation_by_token(hash_token(token))
        assert conversation is not None
        return conversation, await store.messages(conversation.id)


OpenWidget = Callable[..., Awaitable[Widget]]


async def metrics(server: Any) -> str:
    """The real server's Prometheus text."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.make_url("/metrics")) as response,
    ):
        return await response.text()


@pytest.fixture
async def open_widget(browser: Any) -> AsyncIterator[OpenWidget]:
    contexts: list[Any] = []

    async def open_(url: Any, *, locale: str = "en-US", network: Network | None = None) -> Widget:
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
        page.on("websocket", lambda ws: ws.on("framesent", lambda frame: record(frame)))

        def record(frame: str | bytes) -> None:
            parsed = socketio_frame(NAMESPACE, frame)
            if parsed is not None and parsed[0] == "event":
                name, *arguments = parsed[2]
                widget.emitted.append((name, arguments[0] if arguments else None))

        if network is not None:
            await network.install(page)
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


async def test_text_people_write_cannot_reorder_itself_or_the_page(server, open_widget, agent_for):
    """An override shows "invoice_\u202etxt.exe" as "invoice_exe.txt" and spills into the
    line around it; "Zalgo" marks pile up over other lines. The widget shows what people
    wrote in the order it was typed, each piece isolated, with few marks on a letter."""
    agent = await agent_for("omar", "Omar\u202e Ali", ["en"])
    widget = await open_widget(server.make_url("/widget/"))
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await widget.send(SPOOFED_NAME)
    await widget.send(ZALGO)
    await expect(page.locator(".msg--customer:not(.is-pending)")).to_have_count(
        2, timeout=TIMEOUT_MS
    )

    spoofed = await shown(page.locator(".msg--customer .msg-bubble").nth(0))
    assert spoofed.text == "invoice_txt.exe"
    assert spoofed.out_of_order() == []
    assert spoofed.unicode_bidi == "isolate"
    zalgo = await shown(page.locator(".msg--customer .msg-bubble").nth(1))
    assert 0 < zalgo.tallest_stack() <= 3
    assert "".join(c for c in zalgo.text if unicodedata.category(c) not in ("Mn", "Me")) == (
        "Zalgo"
    )
    assert zalgo.unicode_bidi == "isolate"
    # The text the server stored is what the customer wrote.
    _, stored = await widget.stored(server)
    assert [m.text for m in stored if str(m.author) == "customer"] == [SPOOFED_NAME, ZALGO]

    # Two questions the bot could not answer: the customer waits for a person. The agent's
    # name ends in an override, and the header embeds it in a sentence.
    await expect(page.locator("#queue")).to_be_visible(timeout=TIMEOUT_MS)
    offer = await agent.next_offer()
    conversation_id = offer["conversation_id"]
    assert (await agent.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await expect(page.locator("#title")).to_contain_text("Chatting with", timeout=TIMEOUT_MS)
    title = await shown(page.locator("#title"))
    assert title.text == "Chatting with Omar Ali"
    assert title.out_of_order() == []
    assert ("bdi", "isolate", "Omar Ali") in title.isolates
    await expect(page.locator("#avatar-initial")).to_have_text("O")

    sent = await agent.call(
        "message",
        {"conversation_id": conversation_id, "text": "See " + SPOOFED_NAME, "client_id": "a-1"},
    )
    assert sent["ok"] is True
    reply = page.locator(".msg--agent")
    await expect(reply).to_have_count(1, timeout=TIMEOUT_MS)
    author = await shown(reply.locator(".msg-author"))
    assert (author.text, author.unicode_bidi, author.out_of_order()) == ("Omar Ali", "isolate", [])
    bubble = await shown(reply.locator(".msg-bubble"))
    assert (bubble.text, bubble.out_of_order()) == ("See invoice_txt.exe", [])
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


async def test_the_widget_speaks_the_language_a_message_settled_even_without_a_bot_reply(
    server, open_widget, agent_for
):
    """An English browser, a customer who writes Japanese asking for a person: the bot does
    not answer (the chat goes to the queue), yet the widget's own strings turn Japanese."""
    await agent_for("aiko", "Aiko Tanaka", ["ja"])
    widget = await open_widget(server.make_url("/widget/"), locale="en-US")
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await expect(page.locator("#title")).to_have_text("Customer support")
    await widget.send("オペレーターと話したいです")
    await expect(page.locator("#queue-position")).to_have_text(
        "現在1番目にお待ちいただいています", timeout=TIMEOUT_MS
    )
    await expect(page.locator("html")).to_have_attribute("lang", "ja")
    await expect(page.locator("#title")).to_have_text("カスタマーサポート")
    await expect(page.locator("#input")).to_have_attribute("placeholder", "メッセージを入力…")
    await expect(page.locator("#language")).to_have_value("ja")
    conversation, stored = await widget.stored(server)
    assert conversation.language == "ja"
    assert [m.author for m in stored] == ["bot", "customer", "system"]  # no bot reply
    assert widget.problems == []


async def test_picking_a_language_before_writing_greets_again_in_it(server, open_widget):
    widget = await open_widget(server.make_url("/widget/"), locale="en-US")
    page = widget.page
    greeting = page.locator("#messages .msg--bot .msg-bubble")
    await expect(greeting).to_have_text(
        re.compile("^Hello! I'm the virtual assistant"), timeout=TIMEOUT_MS
    )
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")

    await page.locator("#language").select_option("de")
    # The German greeting stands in for the English one, and the widget speaks German.
    await expect(greeting).to_have_text(
        re.compile("^Hallo! Ich bin der virtuelle Assistent"), timeout=TIMEOUT_MS
    )
    await expect(page.locator("#messages .msg")).to_have_count(1)
    await expect(page.locator("#messages .msg")).to_have_attribute("lang", "de")
    await expect(page.locator("#title")).to_have_text("Kundensupport")
    await expect(page.locator("#input")).to_have_attribute("placeholder", "Nachricht eingeben…")
    await expect(page.locator("#talk")).to_have_text("Mit unserem Team sprechen")
    conversation, stored = await widget.stored(server)
    assert conversation.language == "de"
    assert [(m.language, m.meta.get("kind")) for m in stored] == [
        ("en", "greeting"),
        ("de", "greeting"),
    ]

    # The transcript holds both; after a reload the widget still shows the German one only.
    await page.reload()
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await expect(greeting).to_have_text(re.compile("^Hallo!"), timeout=TIMEOUT_MS)
    await expect(page.locator("#messages .msg")).to_have_count(1)
    await expect(page.locator("#title")).to_have_text("Kundensupport")

    # Once the customer has written, a new choice is confirmed instead of greeting again.
    await widget.send("Wie installiere ich MT4?")
    await expect(page.locator("#messages .msg")).to_have_count(3, timeout=TIMEOUT_MS)
    await page.locator("#language").select_option("fr")
    await expect(page.locator("#messages .msg")).to_have_count(4, timeout=TIMEOUT_MS)
    await expect(page.locator("#messages .msg--bot").first).to_contain_text("Hallo!")
    await expect(page.locator("#title")).to_have_text("Service client", timeout=TIMEOUT_MS)
    assert widget.problems == []


async def test_demo_page_embeds_the_widget_with_one_tag_and_leaves_it_closed(server, open_widget):
    widget = await open_widget(server.make_url("/"))
    page = widget.page
    launcher = page.locator(".chatserver-embed .launcher")
    await expect(launcher).to_be_visible(timeout=TIMEOUT_MS)
    frame_element = page.locator("#chatserver-frame")
    await expect(frame_element).to_be_hidden()  # never opens by itself
    await launcher.click()
    await expect(frame_element).to_be_visible()
    frame = page.frame_locator("#chatserver-frame")
    await expect(frame.locator(".msg--bot")).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(frame.locator("#status")).to_have_attribute("data-state", "online")
    # 400 px wide: a phone's full-height sheet, closed by its own button.
    await expect(launcher).to_be_hidden()
    await frame.locator("#close-sheet").click()
    await expect(frame_element).to_be_hidden()
    await expect(launcher).to_be_visible()
    # The demo's strict CSP (no inline style or script) lets the loader work.
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


# ------------------------------------------ through a faulty network, to the real server


async def test_a_lost_acknowledgement_is_recovered_after_reconnecting_and_shown_once(
    server, open_widget
):
    network = Network(NAMESPACE, lose_ack_of="message")
    widget = await open_widget(server.make_url("/widget/"), network=network)
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    token = await widget.stored_token()
    await widget.send("How can I deposit money?")
    # The real server stored it, answered it and acknowledged it; the acknowledgement was
    # lost with the connection. The widget reconnects and resumes after what it has: the
    # resume brings its own message back (matched by client_id, so it leaves the outbox;
    # a resend would be stored once anyway) and it is shown once.
    await expect(page.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    assert network.lost_acks == 1
    assert network.connections == 2
    first, resumed = network.events("start")
    assert "token" not in first
    assert resumed["token"] == token
    assert resumed["last_seq"] == 1  # the greeting; its own message was never acknowledged
    sent = network.events("message")
    assert {p["client_id"] for p in sent} == {sent[0]["client_id"]}

    _, stored = await widget.stored(server)
    assert [m.text for m in stored if m.author == "customer"] == ["How can I deposit money?"]
    assert stored[-1].author == "bot"
    assert stored[-1].meta["in_reply_to"] == 2
    await expect(page.locator("#messages .msg")).to_have_count(len(stored), timeout=TIMEOUT_MS)
    assert await widget.messages() == [(str(m.seq), m.author, m.text) for m in stored]
    assert await page.evaluate("() => sessionStorage.getItem('chatserver.widget.outbox')") is None

    await widget.send("And how do I withdraw money?")
    await expect(page.locator(".msg--customer")).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(page.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator("#messages .msg")).to_have_count(len(stored) + 2, timeout=TIMEOUT_MS)
    _, stored = await widget.stored(server)
    assert [m.text for m in stored if m.author == "customer"] == [
        "How can I deposit money?",
        "And how do I withdraw money?",
    ]
    assert await widget.messages() == [(str(m.seq), m.author, m.text) for m in stored]
    assert network.connections == 2
    assert widget.problems == []


async def test_suggestions_fall_back_to_text_when_the_server_lacks_the_event(server, open_widget):
    # Version skew: a newer widget in front of a server released before `choose_suggestion`
    # (the widget's files are cached; the server is rolled back). The proxy plays that
    # release for this one event; everything else is the real server.
    network = Network(NAMESPACE, unknown_events=frozenset({"choose_suggestion"}))
    widget = await open_widget(server.make_url("/widget/"), network=network)
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await widget.send("account")  # too vague for one answer: the real FAQ suggests some
    buttons = page.locator(".msg--bot .msg-choices button")
    await expect(buttons).to_have_count(3, timeout=TIMEOUT_MS)
    await expect(page.locator(".msg--bot .msg-choices")).to_have_attribute("role", "group")
    _, stored = await widget.stored(server)
    offered = stored[-1].meta["suggestions"]
    assert await buttons.all_text_contents() == [s["question"] for s in offered]

    await buttons.nth(1).click()
    question = offered[1]["question"]
    customer = page.locator(".msg--customer .msg-bubble")
    await expect(customer).to_have_text(["account", question], timeout=TIMEOUT_MS)
    await expect(page.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(buttons.nth(0)).to_be_disabled()
    assert network.events("choose_suggestion") == [{"faq_id": offered[1]["faq_id"]}]
    assert [p["text"] for p in network.events("message")] == ["account", question]

    # The real server got the question as words and answered them.
    await expect(page.locator("#messages .msg")).to_have_count(5, timeout=TIMEOUT_MS)
    _, stored = await widget.stored(server)
    picked = stored[3]
    assert (picked.author, picked.text) == ("customer", question)
    assert "chose" not in (picked.meta or {})
    assert stored[4].author == "bot"
    assert stored[4].meta["in_reply_to"] == picked.seq
    assert widget.problems == []


# A first message the real detector is unsure about (Indonesian, or Malay?) and long enough
# to ask: the bot answers in the likelier language and asks with the top two.
UNSURE_INDONESIAN_OR_MALAY = "Bagaimana cara saya menarik dana dari akun saya"


async def test_language_confirmation_buttons_choose_the_language(server, open_widget):
    widget = await open_widget(server.make_url("/widget/"))
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await widget.send(UNSURE_INDONESIAN_OR_MALAY)
    buttons = page.locator(".msg--bot .msg-choices[data-kind=language_confirm] button")
    await expect(buttons).to_have_text(["Indonesia", "Melayu"], timeout=TIMEOUT_MS)
    await expect(buttons.nth(1)).to_have_attribute("lang", "ms")
    conversation, _ = await widget.stored(server)
    assert (conversation.language, conversation.language_confirmed) == ("id", False)

    await buttons.nth(1).click()
    await expect(page.locator("html")).to_have_attribute("lang", "ms", timeout=TIMEOUT_MS)
    await expect(page.locator("#language")).to_have_value("ms")
    assert widget.sent("choose_language") == [{"language": "ms"}]
    # The real bot confirms in the chosen language.
    await expect(page.locator(".msg--bot").last).to_have_attribute("lang", "ms", timeout=TIMEOUT_MS)

    conversation, stored = await widget.stored(server)
    assert (conversation.language, conversation.language_confirmed) == ("ms", True)
    assert stored[-1].meta["kind"] == "language_chosen"
    assert stored[-1].language == "ms"
    # The button chose; it did not say anything in the customer's name.
    assert [m.text for m in stored if m.author == "customer"] == [UNSURE_INDONESIAN_OR_MALAY]
    assert [p["text"] for p in widget.sent("message")] == [UNSURE_INDONESIAN_OR_MALAY]
    await expect(page.locator("#messages .msg")).to_have_count(len(stored), timeout=TIMEOUT_MS)
    assert widget.problems == []


async def test_a_decline_offers_a_person_and_the_servers_refusal_is_shown_at_the_field(
    server, open_widget, settings
):
    widget = await open_widget(server.make_url("/widget/"))
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await widget.send("what is the capital of France")  # off topic: the real FAQ declines
    choice = page.locator(".msg--bot .msg-choices[data-kind=agent] button")
    await expect(choice).to_have_text("Talk to a person", timeout=TIMEOUT_MS)
    _, stored = await widget.stored(server)
    assert stored[-1].meta["kind"] == "decline"

    await choice.click()  # nobody is online: leave a message instead
    await expect(page.locator("#leave-form")).to_be_visible(timeout=TIMEOUT_MS)
    assert widget.sent("request_agent") == [{}]
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
    assert widget.sent("leave_message") == []  # refused by the widget, never sent

    # The widget does not check the note's length; the real server does, and refuses it.
    too_long = "After 6 pm please. " * (settings.max_message_chars // 19 + 1)
    assert len(too_long) > settings.max_message_chars
    await page.locator("#leave-contact").fill("+60 12-345 6789")
    await page.locator("#leave-text").fill(too_long)
    await page.locator("#leave-submit").click()
    await expect(page.locator("#leave-text-error")).to_have_text(
        "Your message is too long.", timeout=TIMEOUT_MS
    )
    await expect(page.locator("#leave-text")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#leave-contact-error")).to_be_hidden()
    await expect(page.locator("#leave-form")).to_be_visible()
    assert widget.sent("leave_message") == [
        {"kind": "callback", "contact": "+60 12-345 6789", "text": too_long.strip()}
    ]
    refused = 'chatserver_event_errors_total{code="invalid_payload",event="leave_message"} 1.0'
    assert refused in await metrics(server)
    conversation, _ = await widget.stored(server)
    assert conversation.tracking_number is not None  # given when nobody could take the chat

    await page.locator("#leave-text").fill("After 6 pm please")
    await page.locator("#leave-submit").click()
    number = page.locator("#leave-tracking .tracking-number")
    await expect(number).to_have_text(conversation.tracking_number, timeout=TIMEOUT_MS)
    await expect(page.locator("#leave-form")).to_be_hidden()
    assert widget.sent("leave_message")[-1]["text"] == "After 6 pm please"
    assert widget.problems == []


async def test_a_customer_who_was_away_too_long_is_told_and_can_queue_again(
    server, open_widget, agent_for
):
    agent = await agent_for("aiko", "Aiko Tanaka", ["ja"])  # online, but never accepts
    widget = await open_widget(server.make_url("/widget/"), locale="ja-JP")
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await page.locator("#talk").click()
    await expect(page.locator("#queue")).to_be_visible(timeout=TIMEOUT_MS)
    await agent.next_offer()
    left, _ = await widget.stored(server)

    context = page.context
    await page.close()  # the customer closes the tab and stays away past the grace
    dispatcher = server.app[SERVICES].dispatcher
    async with asyncio.timeout(TIMEOUT_MS / 1000):
        while not dispatcher.presence.is_away(left.id):
            await asyncio.sleep(0.01)
    dispatcher.clock.advance(server.app[SETTINGS].customer_grace_seconds + 1)
    store = server.app[SERVICES].store
    async with asyncio.timeout(TIMEOUT_MS / 1000):
        while (await store.get_conversation(left.id)).status is not ConversationStatus.ABANDONED:
            await asyncio.sleep(0.01)

    page = await context.new_page()  # back later, on the same site
    await page.goto(str(server.make_url("/widget/")))
    japanese = server.app[SERVICES].catalogs.translator("ja")
    told = page.locator(".msg--system").filter(has_text=japanese.gettext(CUSTOMER_LEFT_TEXT))
    await expect(told).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(page.locator("#notice")).to_be_visible()
    action = page.locator("#notice-action")
    await expect(action).to_have_text(japanese.gettext("Talk to a person"))  # 担当者と話す

    await action.click()  # a new conversation, in Japanese, straight into the queue
    await expect(page.locator("#queue")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#queue-position")).to_contain_text("1", timeout=TIMEOUT_MS)
    offer = await agent.next_offer()
    assert offer["conversation_id"] != left.id
    again = await store.get_conversation(offer["conversation_id"])
    assert again is not None
    assert (again.status, again.language) == (ConversationStatus.QUEUED, "ja")
    assert widget.problems == []


async def test_messages_sent_faster_than_the_limit_are_resent_when_the_server_says(
    start_server, settings, open_widget
):
    """Over the per-connection limit the server answers `rate_limited` with `retry_after`:
    the widget waits that long and sends the same message again; none is lost or doubled."""
    limited = replace(settings, rate_messages=Rate.parse("2/s burst 1"))
    server = await start_server(limited, clock=FakeClock())
    widget = await open_widget(server.make_url("/widget/"))
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    texts = ["How do I deposit?", "How do I withdraw?", "What is the spread on gold?"]
    for text in texts:
        await widget.send(text)
    await expect(page.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator(".msg.is-failed")).to_have_count(0)
    shown = [text for _, author, text in await widget.messages() if author == "customer"]
    assert shown == texts
    _, stored = await widget.stored(server)
    assert [m.text for m in stored if str(m.author) == "customer"] == texts
    assert 'code="rate_limited"' in await metrics(server)  # the limit did refuse some
    assert widget.problems == []


# ---------------------------------------------------------------- did that help?


async def test_an_answer_shows_related_topics_and_did_that_help_and_yes_is_recorded(
    server, open_widget
):
    from tests.test_faq_feedback_e2e import answered_with_related

    question, related = answered_with_related(server)
    widget = await open_widget(server.make_url("/widget/"))
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await widget.send(question)
    answer = page.locator(".msg--bot").nth(1)
    topics = answer.locator(".msg-choices[data-kind=related] button")
    faq = server.app[SERVICES].bot.matcher.faq
    await expect(topics).to_have_text(
        [faq.entry(i, "en").question for i in related], timeout=TIMEOUT_MS
    )
    await expect(answer.locator(".msg-choices[data-kind=related]")).to_have_attribute(
        "aria-label", "Related topics"
    )
    feedback = answer.locator(".msg-feedback")
    await expect(feedback.locator(".msg-feedback-question")).to_have_text("Did that help?")
    buttons = feedback.locator("button")
    await expect(buttons).to_have_text(["Yes", "No", "Talk to a person"])
    # One "Talk to a person" at a time: the chip under the conversation waits for the word.
    await expect(page.locator("#talk")).to_be_hidden()
    # Under the answer, in this order: the answer, its topics, the question, the time.
    order = await answer.evaluate(
        "e => [...e.children].map(c => c.classList[0] + (c.dataset.kind ? ':' + c.dataset.kind : ''))"
    )
    assert order == ["msg-author", "msg-bubble", "msg-choices:related", "msg-feedback", "msg-meta"]
    # A group named by its question, for screen readers.
    labelled_by = await feedback.get_attribute("aria-labelledby")
    assert labelled_by
    assert await page.locator(f"#{labelled_by}").text_content() == "Did that help?"

    # Keyboard: the buttons are real buttons, Enter on "Yes" gives the word.
    await buttons.nth(0).focus()
    await page.keyboard.press("Enter")
    thanks = feedback.locator(".msg-feedback-thanks")
    await expect(thanks).to_have_text("Thanks for your feedback!", timeout=TIMEOUT_MS)
    await expect(thanks).to_be_focused()  # the pressed button is disabled: focus moves on
    for n in range(3):
        await expect(buttons.nth(n)).to_be_disabled()
    await expect(buttons.nth(0)).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#talk")).to_be_visible()  # the answer's own button is done
    conversation, stored = await widget.stored(server)
    answer_seq = next(m.seq for m in stored if m.meta.get("kind") == "answer")
    assert widget.sent("faq_feedback") == [{"seq": answer_seq, "helpful": True}]
    recorded = await server.app[SERVICES].store.faq_feedback(conversation.id, answer_seq)
    assert recorded is not None
    assert (recorded.helpful, recorded.query) == (True, question)
    assert [m.author for m in stored] == ["bot", "customer", "bot"]  # "yes" gets no reply

    # After a reload the word is still given: nothing is sent again.
    await page.reload()
    again = page.locator(".msg--bot").nth(1).locator(".msg-feedback")
    await expect(again.locator(".msg-feedback-thanks")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(again.locator("button").nth(1)).to_be_disabled()
    await expect(again.locator("button").nth(0)).to_have_attribute("aria-pressed", "true")

    # A related topic is one tap away, like a suggestion.
    topic = page.locator(".msg--bot").nth(1).locator(".msg-choices[data-kind=related] button")
    await topic.nth(0).click()
    await expect(page.locator(".msg--bot")).to_have_count(3, timeout=TIMEOUT_MS)
    assert widget.sent("choose_suggestion")[-1] == {"faq_id": related[0]}
    _, stored = await widget.stored(server)
    assert stored[-1].meta["faq_id"] == related[0]
    assert widget.problems == []


async def test_no_brings_the_alternatives_and_a_person_right_to_left_in_arabic(server, open_widget):
    widget = await open_widget(server.make_url("/widget/"), locale="ar-EG")
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await widget.send("كلمة المرور")  # too vague: the real FAQ suggests three entries
    suggestions = page.locator(".msg--bot").nth(1).locator(".msg-choices button")
    await expect(suggestions).to_have_count(3, timeout=TIMEOUT_MS)
    _, stored = await widget.stored(server)
    offered = [s["faq_id"] for s in stored[-1].meta["suggestions"]]
    await suggestions.nth(0).click()

    answer = page.locator(".msg--bot").nth(2)
    feedback = answer.locator(".msg-feedback")
    await expect(feedback.locator(".msg-feedback-question")).to_have_text(
        "هل ساعدك ذلك؟", timeout=TIMEOUT_MS
    )
    yes, no = feedback.locator("button").nth(0), feedback.locator("button").nth(1)
    await expect(yes).to_have_text("نعم")
    await expect(no).to_have_text("لا")
    # Right to left: "Yes" comes first, on the right.
    yes_box, no_box = await yes.bounding_box(), await no.bounding_box()
    assert yes_box is not None
    assert no_box is not None
    assert yes_box["x"] > no_box["x"]
    direction = await feedback.evaluate("e => getComputedStyle(e).direction")
    assert direction == "rtl"
    await expect(answer.locator(".msg-choices[data-kind=related] button")).to_have_count(2)

    await no.click()
    reply = page.locator(".msg--bot").nth(3)
    await expect(reply).to_have_attribute("lang", "ar", timeout=TIMEOUT_MS)
    await expect(reply.locator(".msg-bubble")).to_contain_text("عذرًا")
    alternatives = reply.locator(".msg-choices[data-kind=not_helpful] button")
    await expect(alternatives).to_have_count(2)
    await expect(reply.locator(".msg-choices[data-kind=agent] button")).to_have_text(
        "التحدث إلى موظف"
    )
    await expect(page.locator("#talk")).to_be_hidden()  # the reply offers it: not twice
    await expect(feedback.locator(".msg-feedback-thanks")).to_be_visible()
    await expect(no).to_have_attribute("aria-pressed", "true")
    conversation, stored = await widget.stored(server)
    assert stored[-1].meta["kind"] == "not_helpful"
    assert [s["faq_id"] for s in stored[-1].meta["suggestions"]] == offered[1:]
    recorded = await server.app[SERVICES].store.faq_feedback(
        conversation.id, stored[-1].meta["feedback_on"]
    )
    assert recorded is not None
    assert (recorded.helpful, recorded.query, recorded.language) == (False, "كلمة المرور", "ar")

    # "Talk to a person" from there is the usual request (nobody is online: leave a message).
    await reply.locator(".msg-choices[data-kind=agent] button").click()
    await expect(page.locator("#leave-form")).to_be_visible(timeout=TIMEOUT_MS)
    assert widget.sent("request_agent") == [{}]
    await expect(feedback).to_be_visible()  # a word given stays shown
    assert widget.problems == []
