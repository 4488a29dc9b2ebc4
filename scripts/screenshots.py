"""Screenshots for the docs (docs/images), one scene (`--only` name) after another:

    .venv/bin/python scripts/screenshots.py
    .venv/bin/python scripts/screenshots.py --only embed,customer   # some scenes only

Starts the server in this process on a free port with a throw-away database, then drives
Debian's headless Chromium with Playwright (as the browser tests do), staging each scene
with real Socket.IO customers and agents; most scenes run on a server of their own.

- `widget` (widget.png): a Japanese conversation in the widget on its own, handed to a
  person (an agent accepts it and answers).
- `embed` (widget-phone-ja.png, widget-phone-ar.png, widget-desktop-ja.png,
  widget-desktop-ar.png): the demo broker page at `/`, which embeds the widget with the one
  script tag, on a phone (375x740, the open chat a full-height sheet) and a desktop
  (1280x800, opened from the launcher), the widget in the browser's language, Japanese or
  Arabic (right to left), with a question the bot answered.
- `demo` (demo.png): the demo broker page in English with the widget open.
- `console` (console.png): a supervisor's console with two chats (one widened from Thai),
  a waiting queue and SLA alerts (it takes about 40 seconds, so the clocks have something
  to show).
- `customer` (console-customer.png): an agent's console with a VIP's chat and the customer
  panel beside it: name, email, tier and account manager from the signed identity, and two
  earlier chats with their tracking numbers, staged days before on a clock that jumps.
- `survey` (survey.png): the satisfaction survey a Japanese customer is asked after the
  agent closed the chat.
- `announcement` (announcement.png): a warning about delayed withdrawals in Chinese above
  a conversation in the widget.
- `followups` (followups.png): a supervisor's console with a rating of 1 to follow up, its
  24-hour countdown, and the announcement posted.
- `inbox` (inbox.png): an agent's console with the offline Inbox (a Japanese message taken
  and its email reply being written, a callback with a preferred time, their countdowns; a
  local aiosmtpd server so mail is on) beside a live chat.
- `transcript` (transcript.png): a customer's Japanese transcript, the HTML page in Tokyo
  time.
- `dashboard` (dashboard.png): a supervisor's dashboard at a Tokyo desk in the afternoon,
  its day of chats staged on a clock that jumps an hour at a time.

A few minutes in all (`embed` and `customer` together take about 45 seconds). Japanese, Chinese, Thai and Arabic need fonts on the machine
(`apt-get install fonts-noto-cjk fonts-thai-tlwg fonts-noto-core`), or they are drawn as
empty boxes.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
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

# The survey's scene: the agent answers a withdrawal question, then closes the chat.
SURVEY_QUESTION = "出金申請から3日経ちましたが、まだ着金していません"
SURVEY_AGENT_REPLIES = (
    "お待たせいたしました。担当の田中です。12月2日の出金申請は本日処理が完了しており、"
    "ご登録の銀行口座へは1〜2営業日で着金する見込みです。",
)
SURVEY_THANKS = "わかりました。ありがとうございました！"
SURVEY_COMMENT = "出金の状況をすぐに調べてくださり、説明も丁寧で安心しました。"
# The desk's warning: English (required) and the languages of the customers it reaches.
WITHDRAWALS_DELAYED = {
    "en": "Bank withdrawals are delayed by up to 24 hours while our payment provider "
    "is under maintenance. Your funds are safe; there is no need to submit a request again.",
    "zh-Hans": "由于支付服务商正在进行系统维护，银行出金可能延迟最多 24 小时。"
    "您的资金安全，无需重复提交出金申请。",
    "ja": "決済代行会社のシステムメンテナンスのため、銀行への出金が最大24時間遅れています。"
    "お客様の資金は安全に保管されており、出金申請を再度行う必要はありません。",
}
# The follow-ups' scene: a negative rating of Aiko's chat (language, question, score,
# comment), the supervisor's note on it being written, then the live chat the supervisor
# answers (customer, supervisor, customer).
NEGATIVE_RATING = (
    "ja-JP",
    "出金申請から3日経ちましたが、まだ着金していません",
    1,
    "3日待っても着金せず、遅れている理由の説明もありませんでした。",
)
FOLLOWUP_NOTE = "Called her back in Japanese: the bank transfer was held for a name check"
# Customers still waiting behind it (Thai, widened to English at once).
FOLLOWUPS_WAITING = (
    ("de-DE", "Wie lange dauert eine Auszahlung per Banküberweisung im Moment?"),
    ("th-TH", "ถอนเงินเข้าบัญชีธนาคารตั้งแต่เมื่อวาน ยังไม่ได้รับเงินเลยค่ะ"),
)
FOLLOWUPS_CHAT = (
    "Is the withdrawal delay also affecting withdrawals to cards?",
    "Hi, I'm Sam. Card withdrawals are not affected: only bank transfers are delayed today.",
    "Great, thanks. I'll withdraw to my card then.",
)
# The inbox's scene: what Japanese and English customers left while nobody could chat
# (kind, language, contact, text, preferred time), and Aiko's reply being written.
INBOX_LEFT = (
    (
        "email",
        "ja",
        "kenji.sato@example.jp",
        "12月2日に申請した出金がまだ口座に届いていません。状況を確認していただけますか？",
        "",
    ),
    (
        "callback",
        "ja",
        "+81 90 1234 5678",
        "レバレッジの変更について電話で相談したいです。",
        "平日の午後3時以降",
    ),
    ("email", "en", "l.moreau@example.com", "How do I add a second MT5 account?", ""),
)
INBOX_REPLY = "佐藤様、出金は本日処理が完了しました。1〜2営業日で着金する見込みです。"
# The live chat Aiko holds beside the inbox once she is online (customer, Aiko, customer).
INBOX_CHAT = (
    "MT5にログインできません。「無効な口座」と表示されます。",
    "お待たせいたしました。担当の田中です。ログイン時のサーバー名をご確認いただけますか？",
    "「Demo」と表示されています。",
)
# The transcript's scene: the customer's question to the bot, then to Aiko, and thanks.
TRANSCRIPT_QUESTION = "12月2日に出金したお金がまだ届いていません"
TRANSCRIPT_AGENT_REPLIES = (
    "お待たせいたしました。担当の田中です。お調べしますので少々お待ちください。",
    "12月2日の出金申請は本日処理が完了しました。ご登録の銀行口座へは1〜2営業日で着金する"
    "見込みです。",
)
TRANSCRIPT_THANKS = "わかりました。ありがとうございました！"
# The embed's scenes: the demo broker page (the one tag) on a phone and a desktop, in the
# language of the visitor's browser, a question answered by the bot: (language, browser
# locale, question), and the devices (viewport, a phone's touch screen).
EMBED_LANGUAGES = (
    ("ja", "ja-JP", "出金にはどのくらいかかりますか？"),
    ("ar", "ar-EG", "متى يصلني مبلغ السحب؟"),
)
EMBED_DEVICES: dict[str, dict[str, Any]] = {
    "phone": {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}
# Scrolls the widget's message log so that this message is at its top.
SCROLL_TO_TOP = """message => {
  const log = document.getElementById("messages");
  log.scrollTop += message.getBoundingClientRect().top - log.getBoundingClientRect().top - 12;
}"""
# Online while the customers ask, so that the widget's header says agents are there.
EMBED_STAFF = (STAFF[2], STAFF[4])
# The customer panel's scene: a Japanese VIP whose signed identity names Aiko as her account
# manager; two earlier chats with Aiko (days before, by the clock), then today's.
PANEL_CUSTOMER = {
    "customer_id": "C-20931",
    "name": "佐藤 由紀",
    "email": "yuki@example.jp",
    "balance_usd": 86_000,
    "lots_month": 120,
    "manager": "aiko",
}
PANEL_EARLIER = (  # (days before today, the customer's question, Aiko's answer)
    (12, "入金が口座に反映されていません", "佐藤様、入金は先ほど反映されました。ご確認ください。"),
    (3, "口座タイプをECN口座に変更したいです", "承知しました。ECN口座への変更を手配いたしました。"),
)
PANEL_CHAT = (
    "レバレッジを500倍に変更したいのですが、可能ですか？",
    "佐藤様、いつもお世話になっております。担当の田中です。レバレッジの変更を承ります。"
    "対象の口座番号を教えていただけますか？",
    "口座番号は 81234567 です。よろしくお願いします。",
)
IMAGE_NAMES: dict[str, tuple[str, ...]] = {
    "widget": ("widget.png",),
    "embed": tuple(
        f"widget-{device}-{language}.png"
        for device in EMBED_DEVICES
        for language, _locale, _question in EMBED_LANGUAGES
    ),
    "survey": ("survey.png",),
    "announcement": ("announcement.png",),
    "followups": ("followups.png",),
    "demo": ("demo.png",),
    "console": ("console.png",),
    "customer": ("console-customer.png",),
    "inbox": ("inbox.png",),
    "transcript": ("transcript.png",),
    "dashboard": ("dashboard.png",),
}


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


async def ask_for_a_person(widget: Any) -> None:
    """Press "Talk to a person": the newest message's own button when it has one ("Did
    that help?", a decline), else the chip under the conversation."""
    inline = widget.locator(
        "#messages > :last-child :is([data-action=agent], .msg-choices[data-kind=agent] button)"
    )
    await (inline if await inline.count() else widget.locator("#talk")).click()


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
    await add_staff(accounts, STAFF)
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


def signed_customer(clock: JumpingClock) -> dict[str, Any]:
    """PANEL_CUSTOMER signed as the host site's server would, issued now by `clock`."""
    fields = {**PANEL_CUSTOMER, "issued_at": clock.now().isoformat()}
    return {**fields, "signature": sign(fields, IDENTITY_SECRET)}


async def customer_scene(browser: Any) -> None:
    """Aiko's console with a VIP's chat (offered to her as the customer's account manager)
    and the customer panel beside it: name, email, tier and account manager from the signed
    identity, this chat's tracking number, and two earlier chats with theirs."""
    now = datetime.now(UTC)
    clock = JumpingClock(now - timedelta(days=PANEL_EARLIER[0][0], hours=5))
    mail = {  # mail on, so that the Inbox beside the chat is as on a desk with email
        "smtp_host": "127.0.0.1",
        "smtp_port": free_port(),
        "smtp_tls": "none",
        "smtp_sender": "support@desk.example",
    }
    async with serve("customer", clock=clock, identity_secret=IDENTITY_SECRET, **mail) as (
        base,
        accounts,
    ):
        await add_staff(accounts, (STAFF[2], STAFF[1]))
        for number, (days, question, answer) in enumerate(PANEL_EARLIER):
            # Days later by the clock: a log-in of that day (the last one has expired).
            clock.jump((now - timedelta(days=days) - clock.now()).total_seconds())
            aiko = await staff_online(base, accounts, "aiko", "online")
            earlier = await customer(base, "ja-JP", [question], identity=signed_customer(clock))
            try:
                await accept(aiko, earlier.conversation_id)
                reply = {"conversation_id": earlier.conversation_id, "text": answer}
                await aiko.call("message", {**reply, "client_id": f"e{number}"}, namespace="/agent")
                await aiko.call(
                    "close", {"conversation_id": earlier.conversation_id}, namespace="/agent"
                )
            finally:
                await earlier.disconnect()
                await aiko.disconnect()
        clock.jump((now - clock.now()).total_seconds())
        emma = await staff_online(base, accounts, "emma", "online")
        clients = [emma]
        try:
            context = await browser.new_context(
                locale="en-US", viewport={"width": 1440, "height": 820}, device_scale_factor=1
            )
            page = await context.new_page()
            await page.goto(f"{base}/console/")
            await page.locator("#username").fill("aiko")
            await page.locator("#password").fill(PASSWORD)
            await page.locator("#login-submit").click()
            await page.locator('#connection[data-state="online"]').wait_for(timeout=TIMEOUT_MS)
            today = await customer(base, "ja-JP", [PANEL_CHAT[0]], identity=signed_customer(clock))
            clients.append(today)
            item = page.locator(f'.qitem[data-conversation-id="{today.conversation_id}"]')
            await item.locator(".accept").click(timeout=TIMEOUT_MS)
            panel = page.locator(f'.chat[data-conversation-id="{today.conversation_id}"]')
            await panel.wait_for(timeout=TIMEOUT_MS)
            await panel.locator(".composer-input").fill(PANEL_CHAT[1])
            await panel.locator(".composer-input").press("Enter")
            await panel.locator(".msg--agent:not(.is-pending)").wait_for(timeout=TIMEOUT_MS)
            await today.call(
                "message", {"text": PANEL_CHAT[2], "client_id": "m9"}, namespace="/customer"
            )
            await panel.locator(".msg--customer").nth(1).wait_for(timeout=TIMEOUT_MS)
            previous = panel.locator(".customer-panel .customer-previous-item")
            await previous.nth(len(PANEL_EARLIER) - 1).wait_for(timeout=TIMEOUT_MS)
            # The offer's toast goes by itself.
            await page.locator(".toast").first.wait_for(state="detached", timeout=30_000)
            await page.wait_for_timeout(800)
            await page.screenshot(path=str(IMAGES / "console-customer.png"))
            await context.close()
        finally:
            for client in clients:
                await client.disconnect()
            await asyncio.sleep(0.5)


@asynccontextmanager
async def serve(
    name: str, *, clock: Any = None, **overrides: Any
) -> AsyncIterator[tuple[str, Accounts]]:
    """A server in this process on a free port with a throw-away database: its address and
    its accounts (on `clock`, the system's by default)."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings.defaults(
            port=free_port(),
            database_url=f"sqlite:///{Path(scratch) / f'{name}.sqlite3'}",
            faq_dir=ROOT / "faq",
            locales_dir=ROOT / "locales",
            **overrides,
        )
        app = create_app(settings, clock=clock)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.port).start()
        try:
            yield f"http://127.0.0.1:{settings.port}", app[SERVICES].accounts
        finally:
            await runner.cleanup()


async def add_staff(accounts: Accounts, staff: tuple[tuple[Any, ...], ...]) -> None:
    for username, name, languages, role, capacity in staff:
        await accounts.add(
            username=username,
            name=name,
            languages=languages,
            teams=("technical", "account", "trading"),
            capacity=capacity,
            role=role,
            password=PASSWORD,
        )


@asynccontextmanager
async def widget_server(
    replies: tuple[str, ...] = (WIDGET_AGENT_REPLY,),
) -> AsyncIterator[tuple[str, socketio.AsyncClient, list[str]]]:
    """A server of its own for a widget's scene (so its agent and chat stay out of the
    console's), with an agent online who accepts the chat offered and answers it with
    `replies`; the chats accepted are listed as they come."""
    async with serve("widget", agent_grace_seconds=0) as (base, accounts):
        username, name, languages = WIDGET_AGENT
        await add_staff(accounts, ((username, name, languages, "agent", 3),))
        agent = await staff_online(base, accounts, username, "online")
        accepted: list[str] = []

        async def offered(offer: dict[str, Any]) -> None:
            conversation_id = offer["conversation_id"]
            await asyncio.sleep(1.5)  # a moment in the queue
            await agent.call("accept", {"conversation_id": conversation_id}, namespace="/agent")
            accepted.append(conversation_id)
            for reply in replies:
                await asyncio.sleep(0.5)
                await agent.call(
                    "message",
                    {"conversation_id": conversation_id, "text": reply},
                    namespace="/agent",
                )

        agent.on("offer", offered, namespace="/agent")
        try:
            yield base, agent, accepted
        finally:
            await agent.disconnect()
            await asyncio.sleep(0.5)  # the agent goes offline (no grace) before the database


async def widget_scene(browser: Any) -> None:
    """The customer asks the bot, then for a person: the queue, then the agent's answer."""
    async with widget_server() as (base, _agent, _accepted):
        context = await browser.new_context(
            locale="ja-JP", viewport={"width": 400, "height": 720}, device_scale_factor=2
        )
        page = await context.new_page()
        await page.goto(f"{base}/widget/")
        await page.locator(".msg--bot").first.wait_for(timeout=TIMEOUT_MS)
        await converse(page, page, ["MT5のパスワードを忘れました"])
        await ask_for_a_person(page)
        await page.locator("#queue").wait_for(timeout=TIMEOUT_MS)
        await page.locator(".msg--agent").wait_for(timeout=TIMEOUT_MS)
        await page.locator("#input").fill("はい、お願いします。")
        await page.wait_for_timeout(400)  # let the last message's entrance animation finish
        await page.screenshot(path=str(IMAGES / "widget.png"))
        await context.close()


async def embed_scene(browser: Any) -> None:
    """The demo broker page with the widget embedded by its one tag, on a phone (the open
    chat a full-height sheet) and on a desktop (opened from the launcher in the corner), in
    Japanese and in Arabic (right to left): a question the bot answers at once."""
    async with serve("embed") as (base, accounts):
        await add_staff(accounts, EMBED_STAFF)
        agents = [await staff_online(base, accounts, staff[0], "online") for staff in EMBED_STAFF]
        try:
            for device, options in EMBED_DEVICES.items():
                for language, locale, question in EMBED_LANGUAGES:
                    context = await browser.new_context(
                        locale=locale, device_scale_factor=1, **options
                    )
                    page = await context.new_page()
                    await page.goto(f"{base}/")
                    await page.locator(".chatserver-embed .launcher").click(timeout=TIMEOUT_MS)
                    frame = page.frame_locator("#chatserver-frame")
                    await frame.locator(".msg--bot").first.wait_for(timeout=TIMEOUT_MS)
                    await converse(page, frame, [question])
                    # The question at the top of the log, the bot's answer under it.
                    await frame.locator(".msg--customer").last.evaluate(SCROLL_TO_TOP)
                    await page.wait_for_timeout(300)
                    await page.screenshot(path=str(IMAGES / f"widget-{device}-{language}.png"))
                    await context.close()
        finally:
            for agent in agents:
                await agent.disconnect()
            await asyncio.sleep(0.5)


async def survey_scene(browser: Any) -> None:
    """A Japanese customer's withdrawal question, answered by the agent, who closes the chat:
    the survey, a score picked and a comment written."""
    async with widget_server(SURVEY_AGENT_REPLIES) as (base, agent, accepted):
        context = await browser.new_context(
            locale="ja-JP", viewport={"width": 400, "height": 860}, device_scale_factor=2
        )
        page = await context.new_page()
        await page.goto(f"{base}/widget/")
        await page.locator(".msg--bot").first.wait_for(timeout=TIMEOUT_MS)
        await converse(page, page, [SURVEY_QUESTION])
        # A missing payment is handed over at once; otherwise the customer asks.
        if await page.locator("#chat").get_attribute("data-handoff") == "bot":
            await ask_for_a_person(page)
        answered = page.locator(".msg--agent").nth(len(SURVEY_AGENT_REPLIES) - 1)
        await answered.wait_for(timeout=TIMEOUT_MS)
        await page.locator("#input").fill(SURVEY_THANKS)
        await page.locator("#input").press("Enter")
        await page.locator(".msg.is-pending").first.wait_for(state="detached", timeout=TIMEOUT_MS)
        (conversation_id,) = accepted
        await agent.call("close", {"conversation_id": conversation_id}, namespace="/agent")
        survey = page.locator("#survey")
        await survey.wait_for(timeout=TIMEOUT_MS)
        await survey.locator(".survey-score").nth(4).click()
        await survey.locator("textarea").fill(SURVEY_COMMENT)
        await page.wait_for_timeout(600)  # the card's entrance animation
        # The card takes the lower half: the conversation's end, not its middle, above it.
        await page.locator("#messages").evaluate("log => log.scrollTo(0, log.scrollHeight)")
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(IMAGES / "survey.png"))
        await context.close()


async def announce(base: str, accounts: Accounts, severity: str, texts: dict[str, str]) -> None:
    """Post an announcement as the supervisor `sam` would from the console."""
    token = (await accounts.login("sam", PASSWORD)).token
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.post(
            f"{base}/api/v1/announcements", json={"severity": severity, "texts": texts}
        ) as response,
    ):
        response.raise_for_status()


async def announcement_scene(browser: Any) -> None:
    """A Chinese customer asking the bot about a withdrawal while the desk's warning about
    delayed withdrawals is up, in Chinese."""
    async with serve("announcement") as (base, accounts):
        await add_staff(accounts, (STAFF[0],))
        context = await browser.new_context(
            locale="zh-CN", viewport={"width": 400, "height": 760}, device_scale_factor=2
        )
        page = await context.new_page()
        await page.goto(f"{base}/widget/")
        await page.locator(".msg--bot").first.wait_for(timeout=TIMEOUT_MS)
        await announce(base, accounts, "warning", WITHDRAWALS_DELAYED)
        await page.locator("#announcements .announcement").wait_for(timeout=TIMEOUT_MS)
        await converse(page, page, ["我昨天申请的出金什么时候能到账？"])
        await page.screenshot(path=str(IMAGES / "announcement.png"))
        await context.close()


async def rated(
    base: str, agent: socketio.AsyncClient, language: str, text: str, score: int, comment: str
) -> None:
    """A customer's chat that `agent` takes and closes, then rated `score` with `comment`."""
    client = await customer(base, language, [text])
    try:
        accepted = await agent.call(
            "accept", {"conversation_id": client.conversation_id}, namespace="/agent"
        )
        if not accepted.get("ok"):
            raise RuntimeError(f"accept refused: {accepted}")
        await agent.call("close", {"conversation_id": client.conversation_id}, namespace="/agent")
        answer = await client.call(
            "rate", {"score": score, "comment": comment}, namespace="/customer"
        )
        if not answer.get("ok"):
            raise RuntimeError(f"rating refused: {answer}")
    finally:
        await client.disconnect()


async def followups_scene(browser: Any) -> None:
    """A supervisor's console: a negative rating to follow up within 24 hours, counting
    down, a live chat, customers waiting and the withdrawals warning posted."""
    async with serve("followups") as (base, accounts):
        await add_staff(accounts, STAFF)
        aiko = await staff_online(base, accounts, "aiko", "online")
        emma = await staff_online(base, accounts, "emma", "online")
        clients = [aiko, emma]
        try:
            await rated(base, aiko, *NEGATIVE_RATING)
            await announce(base, accounts, "warning", WITHDRAWALS_DELAYED)

            context = await browser.new_context(
                locale="en-US", viewport={"width": 1440, "height": 968}, device_scale_factor=1
            )
            page = await context.new_page()
            await page.goto(f"{base}/console/")
            await page.locator("#username").fill("sam")
            await page.locator("#password").fill(PASSWORD)
            await page.locator("#login-submit").click()
            await page.locator('#connection[data-state="online"]').wait_for(timeout=TIMEOUT_MS)
            followup = page.locator("#followups .followup")
            await followup.wait_for(timeout=TIMEOUT_MS)

            waiting = await customer(base, "en-GB", [FOLLOWUPS_CHAT[0]])
            clients.append(waiting)
            item = page.locator(f'.qitem[data-conversation-id="{waiting.conversation_id}"]')
            await item.locator(".accept").click(timeout=TIMEOUT_MS)
            panel = page.locator(f'.chat[data-conversation-id="{waiting.conversation_id}"]')
            await panel.wait_for(timeout=TIMEOUT_MS)
            await panel.locator(".composer-input").fill(FOLLOWUPS_CHAT[1])
            await panel.locator(".composer-input").press("Enter")
            await panel.locator(".msg--agent:not(.is-pending)").wait_for(timeout=TIMEOUT_MS)
            await waiting.call(
                "message", {"text": FOLLOWUPS_CHAT[2], "client_id": "m9"}, namespace="/customer"
            )
            await panel.locator(".msg--customer").nth(1).wait_for(timeout=TIMEOUT_MS)
            for language, text in FOLLOWUPS_WAITING:
                clients.append(await customer(base, language, [text]))
                await asyncio.sleep(1)
            last = page.locator(".qitem").nth(len(FOLLOWUPS_WAITING) - 1)
            await last.wait_for(timeout=TIMEOUT_MS)
            await followup.locator(".followup-note").fill(FOLLOWUP_NOTE)
            # The supervisor's panel scrolled to the announcement posted and the follow-ups.
            await page.locator("#announce-section").evaluate("part => part.scrollIntoView()")
            await page.wait_for_timeout(1200)
            await page.screenshot(path=str(IMAGES / "followups.png"))
            await context.close()
        finally:
            for client in clients:
                await client.disconnect()
            await asyncio.sleep(0.5)


class Mailbox:
    """aiosmtpd's handler for the inbox's scene: accepts every message and keeps none."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 Message accepted for delivery"


async def leave(base: str, kind: str, language: str, contact: str, text: str, when: str) -> None:
    """A customer nobody can chat with leaves a message or asks for a call back."""
    client = socketio.AsyncClient(reconnection=False)
    offline = asyncio.Event()
    client.on("offline", lambda *_: offline.set(), namespace="/customer")
    await client.connect(base, namespaces=["/customer"], transports=["websocket"])
    try:
        await client.call("start", {"languages": [language]}, namespace="/customer")
        await client.call("request_agent", {}, namespace="/customer")
        await asyncio.wait_for(offline.wait(), TIMEOUT_MS / 1000)
        extra = {"preferred_time": when} if when else {}
        left = await client.call(
            "leave_message",
            {"kind": kind, "contact": contact, "text": text, **extra},
            namespace="/customer",
        )
        if not left.get("ok"):
            raise RuntimeError(f"leave_message refused: {left}")
    finally:
        await client.disconnect()


async def inbox_scene(browser: Any) -> None:
    """Aiko's console: the Inbox with what customers left while nobody was online (a
    Japanese message, a callback with a preferred time, an English message), each counting
    down, the Japanese message taken and her email reply being written."""
    from aiosmtpd.controller import Controller

    smtp_port = free_port()
    controller = Controller(Mailbox(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        async with serve(
            "inbox",
            callback_hours="24/7",  # a callback's countdown whatever the day
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_tls="none",
            smtp_sender="support@desk.example",
        ) as (base, accounts):
            for left in INBOX_LEFT:
                await leave(base, *left)
                await asyncio.sleep(1)
            await add_staff(accounts, (STAFF[2],))
            context = await browser.new_context(
                locale="en-US", viewport={"width": 1440, "height": 900}, device_scale_factor=1
            )
            page = await context.new_page()
            await page.goto(f"{base}/console/")
            await page.locator("#username").fill("aiko")
            await page.locator("#password").fill(PASSWORD)
            await page.locator("#login-submit").click()
            await page.locator('#connection[data-state="online"]').wait_for(timeout=TIMEOUT_MS)
            inbox = page.locator("#inbox-pane")
            await inbox.locator(".inbox-item").nth(len(INBOX_LEFT) - 1).wait_for(timeout=TIMEOUT_MS)
            # A customer comes while she is online: a chat of hers beside the inbox.
            chatting = await customer(base, "ja-JP", [INBOX_CHAT[0]])
            try:
                item = page.locator(f'.qitem[data-conversation-id="{chatting.conversation_id}"]')
                await item.locator(".accept").click(timeout=TIMEOUT_MS)
                panel = page.locator(f'.chat[data-conversation-id="{chatting.conversation_id}"]')
                await panel.wait_for(timeout=TIMEOUT_MS)
                await panel.locator(".composer-input").fill(INBOX_CHAT[1])
                await panel.locator(".composer-input").press("Enter")
                await panel.locator(".msg--agent:not(.is-pending)").wait_for(timeout=TIMEOUT_MS)
                await chatting.call(
                    "message", {"text": INBOX_CHAT[2], "client_id": "m9"}, namespace="/customer"
                )
                await panel.locator(".msg--customer").nth(1).wait_for(timeout=TIMEOUT_MS)
                message = inbox.locator(".inbox-item", has_text=INBOX_LEFT[0][2])
                await message.locator('button[data-action="take"]').click()
                message = inbox.locator(".inbox-item", has_text=INBOX_LEFT[0][2])
                await message.locator("textarea.inbox-reply").fill(INBOX_REPLY, timeout=TIMEOUT_MS)
                # The offer's toast goes by itself.
                await page.locator(".toast").first.wait_for(state="detached", timeout=30_000)
                await page.wait_for_timeout(600)
                await page.screenshot(path=str(IMAGES / "inbox.png"))
                await context.close()
            finally:
                await chatting.disconnect()
    finally:
        controller.stop()


async def transcript_scene(browser: Any) -> None:
    """The transcript a Japanese customer downloads of their chat with the bot and Aiko, as
    the printable HTML page in Tokyo time."""
    async with widget_server(TRANSCRIPT_AGENT_REPLIES) as (base, _agent, _accepted):
        client = socketio.AsyncClient(reconnection=False)
        answers: list[Any] = []
        answered = asyncio.Event()

        def heard(message: dict[str, Any]) -> None:
            if message.get("author") == "agent":
                answers.append(message)
            if len(answers) == len(TRANSCRIPT_AGENT_REPLIES):
                answered.set()

        client.on("message", heard, namespace="/customer")
        await client.connect(base, namespaces=["/customer"], transports=["websocket"])
        try:
            started = await client.call("start", {"languages": ["ja"]}, namespace="/customer")
            await client.call(
                "message",
                {"text": TRANSCRIPT_QUESTION, "client_id": "m0"},
                namespace="/customer",
            )
            await client.call("request_agent", {}, namespace="/customer")
            await asyncio.wait_for(answered.wait(), TIMEOUT_MS / 1000)
            await client.call(
                "message", {"text": TRANSCRIPT_THANKS, "client_id": "m1"}, namespace="/customer"
            )
            conversation_id = started["conversation"]["id"]
            async with (
                aiohttp.ClientSession(
                    headers={"Authorization": f"Bearer {started['token']}"}
                ) as session,
                session.get(
                    f"{base}/api/v1/conversations/{conversation_id}/transcript",
                    params={"format": "html", "tz": "Asia/Tokyo"},
                ) as response,
            ):
                response.raise_for_status()
                html = await response.text()
        finally:
            await client.disconnect()
        context = await browser.new_context(
            locale="ja-JP", viewport={"width": 820, "height": 900}, device_scale_factor=2
        )
        page = await context.new_page()
        await page.set_content(html)
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(IMAGES / "transcript.png"), full_page=True)
        await context.close()


class JumpingClock:
    """Real time from a chosen start, moved on by `jump` (a day's chats staged in a minute)."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.began = time.monotonic()
        self.jumped = timedelta(0)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began) + self.jumped

    def jump(self, seconds: float) -> None:
        self.jumped += timedelta(seconds=seconds)


# The dashboard's day at a Tokyo desk: per desk hour from 09:00, the chats of each language
# (language, seconds to the first answer, CSAT score or 0 for none); None for a customer who
# left the queue before anyone answered.
DASHBOARD_DESK = (
    ("aiko", "Aiko Tanaka", ("ja", "en"), "agent", 3),
    ("emma", "Emma Clarke", ("en", "de", "fr", "th", "ko"), "agent", 4),
    ("mei", "Mei Lin", ("zh-Hans", "zh-Hant", "en"), "agent", 3),
    ("rizal", "Rizal Hakim", ("ms", "id", "en"), "agent", 3),
    ("sam", "Sam Okafor", ("en", "ja"), "supervisor", 2),
)
DASHBOARD_HANDLER = {"ja": "aiko", "en": "emma", "th": "emma", "ko": "emma", "zh-Hans": "mei"}
DASHBOARD_QUESTION = {
    "ja": "MT5のパスワードを忘れました",
    "en": "How do I change my account leverage?",
    "zh-Hans": "出金什么时候到账？",
    "th": "ลืมรหัสผ่าน MT5 ค่ะ",
    "ko": "출금이 아직 안 들어왔어요",
}
DASHBOARD_HOURS: tuple[tuple[tuple[str, float | None, int], ...], ...] = (
    (("ja", 9, 5), ("en", 14, 5), ("ja", 21, 4)),  # 09:00
    (("ja", 11, 5), ("zh-Hans", 26, 4), ("en", 41, 2), ("th", 18, 0)),  # 10:00
    (("ja", 8, 5), ("ja", 36, 3), ("en", 12, 4), ("zh-Hans", 17, 5), ("ko", 28, 0)),
    (("ja", 15, 4), ("en", 22, 5), ("th", 44, 1), ("zh-Hans", None, 0)),  # 12:00
    (("ja", 10, 5), ("ja", 13, 0), ("en", 52, 3), ("zh-Hans", 33, 2), ("ko", 19, 4)),
    (("ja", 7, 5), ("en", 16, 4), ("zh-Hans", 24, 5), ("th", None, 0)),  # 14:00
    (("ja", 12, 5), ("en", 9, 0)),  # 15:00, so far
)


async def dashboard_scene(browser: Any) -> None:
    """A supervisor's dashboard at a Tokyo desk in the afternoon: the day's chats answered
    within 30 s by language and by hour, abandonment and CSAT, agents by presence and load,
    queues with their oldest wait, and a breach raised before the supervisor logged in."""
    zone = ZoneInfo("Asia/Tokyo")
    opening = datetime.now(zone).replace(hour=9, minute=2, second=0, microsecond=0)
    clock = JumpingClock(opening.astimezone(UTC))
    async with serve("dashboard", clock=clock, timezone="Asia/Tokyo") as (base, accounts):
        await add_staff(accounts, DASHBOARD_DESK)
        agents = {
            name: await staff_online(base, accounts, name, "online")
            for name in ("aiko", "emma", "mei")
        }
        clients: list[Any] = list(agents.values())
        try:
            for chats in DASHBOARD_HOURS:
                hour_began = clock.now()
                for language, seconds, score in chats:
                    await dashboard_chat(clock, base, agents, language, seconds, score)
                    clock.jump(240)
                if chats is not DASHBOARD_HOURS[-1]:
                    clock.jump(3600 - (clock.now() - hour_began).total_seconds())
            # Now: Emma and Aiko hold a chat each, Aiko stepped away; a Thai customer has
            # waited past the target (a breach before Sam logs in), a Japanese one just came.
            for language in ("en", "ja"):
                held = await customer(base, language, [DASHBOARD_QUESTION[language]])
                clients.append(held)
                agent = agents[DASHBOARD_HANDLER[language]]
                await accept(agent, held.conversation_id)
                reply = {"conversation_id": held.conversation_id, "text": "Hello, I can help."}
                await agent.call("message", {**reply, "client_id": "held"}, namespace="/agent")
            await agents["aiko"].call("status", {"status": "away"}, namespace="/agent")
            clients.append(await customer(base, "th-TH", [DASHBOARD_QUESTION["th"]]))
            clock.jump(37)
            await asyncio.sleep(1)
            clients.append(await customer(base, "ja-JP", ["口座タイプを変更したいです"]))
            clock.jump(6)

            context = await browser.new_context(
                locale="en-US",
                timezone_id="Asia/Tokyo",
                viewport={"width": 1440, "height": 790},
                device_scale_factor=1,
            )
            page = await context.new_page()
            await page.goto(f"{base}/console/")
            await page.locator("#username").fill("sam")
            await page.locator("#password").fill(PASSWORD)
            await page.locator("#login-submit").click()
            await page.locator('#connection[data-state="online"]').wait_for(timeout=TIMEOUT_MS)
            await page.locator("#dashboard-toggle").click()
            await page.locator(".dashboard-alerts .alert--breach").first.wait_for(
                timeout=TIMEOUT_MS
            )
            await page.wait_for_timeout(800)
            await page.screenshot(path=str(IMAGES / "dashboard.png"))
            await context.close()
        finally:
            for client in clients:
                await client.disconnect()
            await asyncio.sleep(0.5)


async def accept(agent: Any, conversation_id: str) -> None:
    answer = await agent.call("accept", {"conversation_id": conversation_id}, namespace="/agent")
    if not answer.get("ok"):
        raise RuntimeError(f"accept refused: {answer}")


async def dashboard_chat(
    clock: JumpingClock,
    base: str,
    agents: dict[str, Any],
    language: str,
    seconds: float | None,
    score: int,
) -> None:
    """One chat of the dashboard's day: answered after `seconds` (None: the customer left
    the queue first), closed, and rated `score` (0: not rated)."""
    client = await customer(base, language, [DASHBOARD_QUESTION[language]])
    try:
        if seconds is None:
            clock.jump(20)
            await client.call("end", {}, namespace="/customer")
            return
        agent = agents[DASHBOARD_HANDLER[language]]
        await accept(agent, client.conversation_id)
        clock.jump(seconds)
        reply = {"conversation_id": client.conversation_id, "text": "Hello, I can help."}
        await agent.call(
            "message", {**reply, "client_id": f"r{time.monotonic_ns()}"}, namespace="/agent"
        )
        clock.jump(180)
        await agent.call("close", {"conversation_id": client.conversation_id}, namespace="/agent")
        if score:
            await client.call("rate", {"score": score, "comment": ""}, namespace="/customer")
    finally:
        await client.disconnect()


async def shoot(base: str, accounts: Accounts, only: set[str]) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            if "widget" in only:
                await widget_scene(browser)
            if "embed" in only:
                await embed_scene(browser)
            if "survey" in only:
                await survey_scene(browser)
            if "announcement" in only:
                await announcement_scene(browser)
            if "followups" in only:
                await followups_scene(browser)
            if "inbox" in only:
                await inbox_scene(browser)
            if "transcript" in only:
                await transcript_scene(browser)
            if "dashboard" in only:
                await dashboard_scene(browser)
            if "customer" in only:
                await customer_scene(browser)

            if "demo" in only:
                context = await browser.new_context(
                    locale="en-US", viewport={"width": 1280, "height": 800}
                )
                page = await context.new_page()
                await page.goto(f"{base}/")
                await page.locator(".chatserver-embed .launcher").click(timeout=TIMEOUT_MS)
                frame = page.frame_locator("#chatserver-frame")
                await frame.locator(".msg--bot").first.wait_for(timeout=TIMEOUT_MS)
                await converse(page, frame, ["How do I reset my MT5 password?"])
                await page.screenshot(path=str(IMAGES / "demo.png"))
                await context.close()

            if "console" in only:
                await console_scene(browser, base, accounts)
        finally:
            await browser.close()


def scenes_asked(argv: list[str]) -> set[str]:
    """The scenes named by `--only a,b` (every scene without it)."""
    parser = argparse.ArgumentParser(description="Screenshots for the docs (docs/images).")
    parser.add_argument(
        "--only",
        default=",".join(IMAGE_NAMES),
        help=f"comma-separated scenes to shoot, of: {', '.join(IMAGE_NAMES)} (default: all)",
    )
    asked = {name.strip() for name in parser.parse_args(argv).only.split(",") if name.strip()}
    unknown = asked - IMAGE_NAMES.keys()
    if unknown or not asked:
        parser.error(f"unknown scenes: {', '.join(sorted(unknown)) or '(none)'}")
    return asked


async def main(only: set[str]) -> int:
    reason = missing_browser()
    if reason is not None:
        print(f"cannot take screenshots: {reason}", file=sys.stderr)
        return 1
    IMAGES.mkdir(parents=True, exist_ok=True)
    async with serve("screens", identity_secret=IDENTITY_SECRET) as (base, accounts):
        await shoot(base, accounts, only)
    for scene, names in IMAGE_NAMES.items():
        if scene in only:
            for name in names:
                print(IMAGES / name)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(scenes_asked(sys.argv[1:]))))
