"""Screenshots for the docs: docs/images/widget.png, demo.png and console.png.

    .venv/bin/python scripts/screenshots.py

Starts the server in this process on a free port with a throw-away database, then drives
Debian's headless Chromium with Playwright (as the browser tests do): a Japanese
conversation in the widget on its own, handed to a person (an agent on a server of its own
accepts it and answers), the demo broker page with the widget in its corner,
and the agent console of a supervisor with two chats (one widened from Thai) and a waiting
queue, staged with real Socket.IO customers and agents (it takes about 40 seconds, so the
SLA clocks have something to show). Japanese and Thai need fonts on the machine
(`apt-get install fonts-noto-cjk fonts-thai-tlwg`), or they are drawn as empty boxes.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatserver.accounts import Accounts  # noqa: E402
from chatserver.app import create_app  # noqa: E402
from chatserver.identity import sign  # noqa: E402
from chatserver.keys import SERVICES  # noqa: E402
from chatserver.settings import Settings  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, missing_browser  # noqa: E402

IMAGES = ROOT / "docs" / "images"
TIMEOUT_MS = 15_000
IDENTITY_SECRET = "screenshots-only"
PASSWORD = "screenshots-password"
# The console's desk: (username, name, languages, role, capacity). Nobody speaks Thai,
# Korean, Vietnamese or Spanish, so those chats widen to English at once.
STAFF = (
    ("sam", "Sam Okafor", ("en", "ja"), "supervisor", 2),
    ("emma", "Emma Clarke", ("en", "de", "fr"), "agent", 4),
    ("aiko", "Aiko Tanaka", ("ja", "en"), "agent", 3),
    ("mei", "Mei Lin", ("zh-Hans", "zh-Hant", "en"), "agent", 3),
    ("nadia", "Nadia Haddad", ("ar", "fr", "en"), "agent", 3),
)


# The widget's scene: a Japanese customer handed over to this agent.
WIDGET_AGENT = ("aiko", "Aiko Tanaka", ("ja", "en"))
WIDGET_AGENT_REPLY = (
    "お待たせいたしました。担当の田中です。MT5のパスワード再設定をお手伝いいたします。"
    "ご登録のメールアドレスに再設定のご案内をお送りしてもよろしいでしょうか？"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def converse(page: Any, widget: Any, texts: list[str]) -> None:
    """Send each text in `widget` (the page, or the frame holding the widget) and wait for
    the bot's reply to it."""
    for text in texts:
        bots = await widget.locator(".msg--bot").count()
        await widget.locator("#input").fill(text)
        await widget.locator("#input").press("Enter")
        await widget.locator(".msg--bot").nth(bots).wait_for(timeout=TIMEOUT_MS)
    await widget.locator(".msg.is-pending").first.wait_for(state="detached", timeout=TIMEOUT_MS)
    await page.wait_for_timeout(400)  # let the last message's entrance animation finish


async def customer(base: str, language: str, texts: list[str], **start: Any) -> Any:
    """A customer on /customer who writes `texts` and asks for a person."""
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(base, namespaces=["/customer"], transports=["websocket"])
    started = await client.call("start", {"languages": [language], **start}, namespace="/customer")
    for number, text in enumerate(texts):
        await client.call(
            "message", {"text": text, "client_id": f"m{number}"}, namespace="/customer"
        )
    # An urgent topic is handed over by itself; asking again is then refused, harmlessly.
    await client.call("request_agent", {}, namespace="/customer")
    client.conversation_id = started["conversation"]["id"]
    return client


async def staff_online(base: str, accounts: Accounts, username: str, status: str) -> Any:
    """An agent with a console open (a Socket.IO client), online or away."""
    logged_in = await accounts.login(username, PASSWORD)
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        base, namespaces=["/agent"], transports=["websocket"], auth={"token": logged_in.token}
    )
    if status != "online":
        await client.call("status", {"status": status}, namespace="/agent")
    return client


def vip_identity() -> dict[str, Any]:
    fields: dict[str, Any] = {
        "customer_id": "C-88412",
        "name": "김민준",
        "balance_usd": 182_000,
        "lots_month": 140,
        "issued_at": datetime.now(UTC).isoformat(),
    }
    return {**fields, "signature": sign(fields, IDENTITY_SECRET)}


async def console_scene(browser: Any, base: str, accounts: Accounts) -> None:
    """A supervisor's console: two chats (Thai, widened to English; Japanese, answered), a
    waiting queue with its clocks running out, the desk's agents and the SLA alerts."""
    for username, name, languages, role, capacity in STAFF:
        await accounts.add(
            username=username,
            name=name,
            languages=languages,
            teams=("technical", "account", "trading"),
            capacity=capacity,
            role=role,
            password=PASSWORD,
        )
    clients = [
        await staff_online(base, accounts, "emma", "online"),
        await staff_online(base, accounts, "aiko", "away"),
        await staff_online(base, accounts, "mei", "online"),
    ]
    try:
        # Waiting long enough for the first-response clock to warn, and one to breach.
        clients.append(
            await customer(base, "es-ES", ["¿Cómo cambio el apalancamiento de mi cuenta?"])
        )
        await asyncio.sleep(10)
        clients.append(
            await customer(
                base,
                "ko-KR",
                ["마진콜이 왔어요. 포지션이 강제청산될까요?"],
                identity=vip_identity(),
            )
        )
        clients.append(await customer(base, "vi-VN", ["Tôi muốn đổi loại tài khoản sang ECN"]))
        clients.append(await customer(base, "de-DE", ["Wie hoch ist der Spread für EURUSD?"]))
        await asyncio.sleep(2)

        context = await browser.new_context(
            locale="en-US", viewport={"width": 1440, "height": 900}, device_scale_factor=1
        )
        page = await context.new_page()
        await page.goto(f"{base}/console/")
        await page.locator("#username").fill("sam")
        await page.locator("#password").fill(PASSWORD)
        await page.locator("#login-submit").click()
        await page.locator('#connection[data-state="online"]').wait_for(timeout=TIMEOUT_MS)

        thai = await customer(base, "th-TH", ["ลืมรหัสผ่าน MT5 ค่ะ เข้าระบบไม่ได้เลย"])
        japanese = await customer(
            base, "ja-JP", ["出金申請から3日経ちましたが、まだ着金していません"]
        )
        clients += [thai, japanese]
        for conversation_id in (thai.conversation_id, japanese.conversation_id):
            item = page.locator(f'.qitem[data-conversation-id="{conversation_id}"]')
            await item.locator(".accept").click(timeout=TIMEOUT_MS)
            await page.locator(f'.chat[data-conversation-id="{conversation_id}"]').wait_for(
                timeout=TIMEOUT_MS
            )
        panel = page.locator(f'.chat[data-conversation-id="{japanese.conversation_id}"]')
        await panel.locator(".composer-input").fill(
            "お待たせいたしました。担当のサムです。出金の状況をすぐにお調べします。"
        )
        await panel.locator(".composer-input").press("Enter")
        await panel.locator(".msg--agent:not(.is-pending)").wait_for(timeout=TIMEOUT_MS)
        await japanese.call(
            "message",
            {"text": "ありがとうございます。よろしくお願いします。", "client_id": "m9"},
            namespace="/customer",
        )

        await page.locator(".tab", has_text="Thai").click()
        panel = page.locator(f'.chat[data-conversation-id="{thai.conversation_id}"]')
        await panel.locator(".note-toggle").click()
        await panel.locator(".composer-input").fill(
            "Customer writes in Thai: reply in simple English, password reset steps."
        )
        await panel.locator(".composer-input").press("Enter")
        await panel.locator(".msg--note:not(.is-pending)").wait_for(timeout=TIMEOUT_MS)
        await panel.locator(".note-toggle").click()
        await panel.locator(".composer-input").fill("Hello! I can help you reset your MT5 password")
        # The waiting clocks run on: warnings, then a breach, reach the supervisor.
        await page.locator("#alerts .alert--breach").first.wait_for(timeout=30_000)
        await page.wait_for_timeout(1200)
        await page.screenshot(path=str(IMAGES / "console.png"))
        await context.close()
    finally:
        for client in clients:
            await client.disconnect()


@asynccontextmanager
async def widget_server() -> AsyncIterator[tuple[str, socketio.AsyncClient]]:
    """A server of its own for the widget's scene (so its agent and chat stay out of the
    console's), with an agent online who accepts the chat offered and answers it."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings.defaults(
            port=free_port(),
            database_url=f"sqlite:///{Path(scratch) / 'widget.sqlite3'}",
            faq_dir=ROOT / "faq",
            locales_dir=ROOT / "locales",
            agent_grace_seconds=0,
        )
        app = create_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.port).start()
        base = f"http://127.0.0.1:{settings.port}"
        username, name, languages = WIDGET_AGENT
        accounts = app[SERVICES].accounts
        await accounts.add(
            username=username,
            name=name,
            languages=languages,
            teams=("technical", "account", "trading"),
            capacity=3,
            role="agent",
            password=PASSWORD,
        )
        agent = await staff_online(base, accounts, username, "online")

        async def offered(offer: dict[str, Any]) -> None:
            conversation_id = offer["conversation_id"]
            await asyncio.sleep(1.5)  # a moment in the queue
            await agent.call("accept", {"conversation_id": conversation_id}, namespace="/agent")
            await asyncio.sleep(0.5)
            await agent.call(
                "message",
                {"conversation_id": conversation_id, "text": WIDGET_AGENT_REPLY},
                namespace="/agent",
            )

        agent.on("offer", offered, namespace="/agent")
        try:
            yield base, agent
        finally:
            await agent.disconnect()
            await asyncio.sleep(0.5)  # the agent goes offline (no grace) before the database
            await runner.cleanup()


async def widget_scene(browser: Any) -> None:
    """The customer asks the bot, then for a person: the queue, then the agent's answer."""
    async with widget_server() as (base, _agent):
        context = await browser.new_context(
            locale="ja-JP", viewport={"width": 400, "height": 720}, device_scale_factor=2
        )
        page = await context.new_page()
        await page.goto(f"{base}/widget/")
        await page.locator(".msg--bot").first.wait_for(timeout=TIMEOUT_MS)
        await converse(page, page, ["MT5のパスワードを忘れました"])
        await page.locator("#talk").click()
        await page.locator("#queue").wait_for(timeout=TIMEOUT_MS)
        await page.locator(".msg--agent").wait_for(timeout=TIMEOUT_MS)
        await page.locator("#input").fill("はい、お願いします。")
        await page.wait_for_timeout(400)  # let the last message's entrance animation finish
        await page.screenshot(path=str(IMAGES / "widget.png"))
        await context.close()


async def shoot(base: str, accounts: Accounts) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            await widget_scene(browser)

            context = await browser.new_context(
                locale="en-US", viewport={"width": 1280, "height": 800}
            )
            page = await context.new_page()
            await page.goto(f"{base}/")
            frame = page.frame_locator("#chat-frame")
            await frame.locator(".msg--bot").first.wait_for(timeout=TIMEOUT_MS)
            await converse(page, frame, ["How do I reset my MT5 password?"])
            await page.screenshot(path=str(IMAGES / "demo.png"))
            await context.close()

            await console_scene(browser, base, accounts)
        finally:
            await browser.close()


async def main() -> int:
    reason = missing_browser()
    if reason is not None:
        print(f"cannot take screenshots: {reason}", file=sys.stderr)
        return 1
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings.defaults(
            port=free_port(),
            database_url=f"sqlite:///{Path(scratch) / 'screens.sqlite3'}",
            faq_dir=ROOT / "faq",
            locales_dir=ROOT / "locales",
            identity_secret=IDENTITY_SECRET,
        )
        app = create_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.port).start()
        try:
            await shoot(f"http://127.0.0.1:{settings.port}", app[SERVICES].accounts)
        finally:
            await runner.cleanup()
    for name in ("widget.png", "demo.png", "console.png"):
        print(IMAGES / name)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
