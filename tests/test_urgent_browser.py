"""Urgent chats in the console, in a real headless Chromium (Playwright) against the real
server: the red banner, its button that takes the chat, and the banner going away when the
chat is taken elsewhere. Skipped like the other browser tests when Chromium is missing."""

from __future__ import annotations

from tests import test_console_browser
from tests.test_console_browser import THAI_HACKED, TIMEOUT_MS, expect, logged_in

# The console tests' clock, desk and browser pages.
clock = test_console_browser.clock
desk = test_console_browser.desk
open_console = test_console_browser.open_console


async def test_an_urgent_chat_shows_a_red_banner_whose_button_takes_it(desk, open_console):
    await desk.account("emma", "Emma Clarke", ["en", "de"])
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    # Nobody online speaks Thai: the English agent it is widened to is alerted.
    thai = await desk.customer(["th-TH"], THAI_HACKED, request=False)
    number = await desk.tracking_number(thai.conversation_id)
    banner = page.locator(f'.urgent-alert[data-conversation-id="{thai.conversation_id}"]')
    await expect(banner).to_be_visible(timeout=TIMEOUT_MS)
    await expect(banner.locator(".urgent-alert-text")).to_contain_text(
        f"Urgent chat waiting: {number}"
    )
    await expect(page.locator("#urgent-alerts")).to_have_attribute("role", "alert")
    background = await banner.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(179, 38, 30)"  # red

    await banner.locator(".urgent-alert-take").click()
    await expect(console.panel(thai.conversation_id)).to_be_visible(timeout=TIMEOUT_MS)
    await expect(banner).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator("#urgent-alerts")).to_be_hidden()
    assert console.network.events("accept") == [{"conversation_id": thai.conversation_id}]
    assert console.problems == []


async def test_the_banner_goes_away_when_someone_else_takes_the_chat(desk, open_console):
    await desk.account("emma", "Emma Clarke", ["en"])
    await desk.account("noah", "Noah Hill", ["en"])
    console = await logged_in(desk, open_console, "emma")
    noah = await desk.agent("noah")
    thai = await desk.customer(["th-TH"], THAI_HACKED, request=False)
    banner = console.page.locator(".urgent-alert")
    await expect(banner).to_have_count(1, timeout=TIMEOUT_MS)
    await noah.wait_pushed("urgent")
    assert (await noah.call("accept", {"conversation_id": thai.conversation_id}))["ok"] is True
    await expect(banner).to_have_count(0, timeout=TIMEOUT_MS)
    assert console.problems == []
