"""Transcripts in a real headless Chromium against the real server: the file the widget's
"Download transcript" saves holds the conversation, in the customer's language and time
zone; the console's "Export" saves the agent's copy, notes marked.

Skipped when Chromium or Playwright is missing, unless CHATSERVER_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests import test_console_browser as console_tests
from tests.test_console_browser import GERMAN_INSTALL, logged_in
from tests.test_widget_browser import TIMEOUT_MS, expect

# The console tests' desk (a real server on a fake clock) and page.
clock = console_tests.clock
desk = console_tests.desk
open_console = console_tests.open_console

QUESTION = "MT5のパスワードを忘れました <b>至急</b>"


@pytest.fixture
async def tokyo_page(browser: Any) -> AsyncIterator[tuple[Any, list[str]]]:
    """A Japanese browser in Tokyo (the server's clock says 09:00 UTC: 18:00 there)."""
    context = await browser.new_context(
        locale="ja-JP", timezone_id="Asia/Tokyo", accept_downloads=True
    )
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


async def download(page: Any, format_: str) -> tuple[str, str]:
    """Open the menu, pick the transcript in `format_`: the saved file's name and text."""
    await page.locator("#menu-button").click()
    item = page.locator(f'#menu [data-transcript="{format_}"]')
    await expect(item).to_be_enabled()
    async with page.expect_download(timeout=TIMEOUT_MS) as info:
        await item.click()
    saved = await info.value
    return saved.suggested_filename, await read_saved(saved)


async def read_saved(saved: Any) -> str:
    path = Path(await saved.path())
    return await asyncio.to_thread(path.read_text, encoding="utf-8")


async def test_the_widget_downloads_the_conversation_in_the_customers_language_and_zone(
    server, tokyo_page
):
    page, problems = tokyo_page
    await page.goto(str(server.make_url("/widget/")))
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await page.locator("#input").fill(QUESTION)
    await page.locator("#input").press("Enter")
    await expect(page.locator("#messages .msg")).to_have_count(3, timeout=TIMEOUT_MS)
    await expect(page.locator(".msg.is-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    await page.locator("#menu-button").click()
    await expect(page.locator('#menu [data-transcript="html"]')).to_have_text(
        "会話履歴をダウンロード"
    )
    await page.locator("#menu-button").click()

    name, text = await download(page, "txt")
    assert name == "transcript-2026-11-24.txt"  # no tracking number: the day, in Tokyo
    assert text.startswith("会話履歴\n")
    assert "タイムゾーン: Asia/Tokyo" in text
    assert f"[18:00] あなた:\n  {QUESTION}" in text
    assert "[18:00] バーチャルアシスタント:" in text

    name, html = await download(page, "html")
    assert name == "transcript-2026-11-24.html"
    assert '<html lang="ja" dir="ltr">' in html
    assert "MT5のパスワードを忘れました &lt;b&gt;至急&lt;/b&gt;" in html
    assert ">18:00</time>" in html
    await expect(page.locator("#menu")).to_be_hidden()
    await expect(page.locator("#banner")).to_be_hidden()

    # After the chat has ended the menu still has it.
    await page.locator("#menu-button").click()
    await page.locator("#end-chat").click()
    await page.locator("#confirm-end-yes").click()
    await expect(page.locator("#input")).to_be_disabled(timeout=TIMEOUT_MS)
    name, text = await download(page, "txt")
    assert name == "transcript-2026-11-24.txt"
    assert f"[18:00] あなた:\n  {QUESTION}" in text
    assert problems == []


async def test_the_console_exports_a_chat_with_its_notes_marked(desk, open_console):
    await desk.account("emma", "Emma Clarke", ["en", "de"])
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    german = await desk.customer(["de"], GERMAN_INSTALL)
    await console.item(german.conversation_id).locator(".accept").click(timeout=TIMEOUT_MS)
    panel = console.panel(german.conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await panel.locator(".note-toggle").click()
    await panel.locator(".composer-input").fill("Kunde wirkt verärgert <i>vorsichtig</i>")
    await panel.locator(".composer-input").press("Enter")
    await expect(panel.locator(".transcript .msg", has_text="verärgert")).to_be_visible(
        timeout=TIMEOUT_MS
    )

    export = panel.locator(".chat-export")
    await expect(export).to_have_text("Export")
    async with page.expect_download(timeout=TIMEOUT_MS) as info:
        await export.click()
    saved = await info.value
    number = await desk.tracking_number(german.conversation_id)
    assert saved.suggested_filename == f"transcript-{number}.html"
    html = await read_saved(saved)
    assert '<html lang="en" dir="ltr">' in html  # Emma's first language
    assert GERMAN_INSTALL in html
    assert '<li class="agent note">' in html
    assert "Kunde wirkt verärgert &lt;i&gt;vorsichtig&lt;/i&gt;" in html
    assert console.problems == []
