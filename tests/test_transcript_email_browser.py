""" "Email me the transcript" in a real headless Chromium against the real server and a
real SMTP server: a Japanese customer in Tokyo has the chat mailed, sees it confirmed in
Japanese, and the mail holds the chat with Tokyo times; a desk without mail shows no item.

Skipped when Chromium or Playwright is missing, unless CHATSERVER_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import FakeClock, Mailbox
from tests.test_handoff_e2e import desk_settings
from tests.test_transcript_email_e2e import mail_settings
from tests.test_widget_browser import TIMEOUT_MS, expect

QUESTION = "MT5のパスワードを忘れました"


@pytest.fixture
async def japanese_page(browser: Any) -> AsyncIterator[tuple[Any, list[str]]]:
    """A Japanese browser in Tokyo (the server's clock says 09:00 UTC: 18:00 there)."""
    context = await browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield page, problems
    await context.close()


async def chat_once(page: Any, server: TestServer) -> None:
    await page.goto(str(server.make_url("/widget/")))
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await page.locator("#input").fill(QUESTION)
    await page.locator("#input").press("Enter")
    await expect(page.locator("#messages .msg")).to_have_count(3, timeout=TIMEOUT_MS)
    await expect(page.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)


async def test_the_customer_has_the_transcript_emailed_from_the_menu(
    start_server, settings, smtp: tuple[Mailbox, int], japanese_page
):
    mailbox, port = smtp
    server = await start_server(mail_settings(settings, port), clock=FakeClock())
    page, problems = japanese_page
    await chat_once(page, server)

    await page.locator("#menu-button").click()
    item = page.locator('#menu [data-transcript="email"]')
    await expect(item).to_have_text("会話履歴をメールで受け取る", timeout=TIMEOUT_MS)
    await item.click()
    dialog = page.locator("#transcript-email")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("h2")).to_have_text("会話履歴をメールで受け取る")
    await expect(dialog.locator("label")).to_have_text("メールアドレス")

    address = dialog.locator("#transcript-email-address")
    await address.fill("not an address")
    await dialog.locator('[data-action="send"]').click()
    status = dialog.locator(".transcript-email-status")
    await expect(status).to_have_text("有効なメールアドレスを入力してください。")
    await expect(address).to_have_attribute("aria-invalid", "true")
    assert mailbox.received == []

    await address.fill("yuki@example.jp")
    await dialog.locator('[data-action="send"]').click()
    await expect(status).to_have_text(
        "会話履歴を yuki@example.jp に送信しました。", timeout=TIMEOUT_MS
    )
    await expect(dialog.locator('[data-action="send"]')).to_be_hidden()
    (mail,) = await mailbox.wait(1)
    assert mail["To"] == "yuki@example.jp"
    assert mail["Subject"].startswith("会話履歴")
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    assert "タイムゾーン: Asia/Tokyo" in body  # the browser's zone
    assert f"[18:00] あなた:\n  {QUESTION}" in body

    await dialog.locator('[data-action="close"]').click()
    await expect(dialog).to_be_hidden()
    assert problems == []


async def test_a_desk_without_mail_does_not_offer_it(start_server, settings, japanese_page):
    server = await start_server(desk_settings(settings, smtp_host=""), clock=FakeClock())
    page, problems = japanese_page
    await chat_once(page, server)
    async with page.expect_response(
        lambda response: response.url.endswith("/transcript/email"), timeout=TIMEOUT_MS
    ) as asked:
        await page.locator("#menu-button").click()
    assert (await (await asked.value).json()) == {"enabled": False, "address": None}
    await expect(page.locator('#menu [data-transcript="txt"]')).to_be_enabled()
    await expect(page.locator('#menu [data-transcript="email"]')).to_be_hidden()
    assert problems == []
