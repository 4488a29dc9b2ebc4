"""The customer panel of an anonymous customer, in a real headless Chromium against the
real server: a customer without a signed identity who chatted before from the same socket
is shown no earlier conversation, and the panel says plainly why (translated). Skipped like
the other browser tests without Chromium."""

from __future__ import annotations

from tests import test_console_browser
from tests.test_console_browser import THAI_HACKED, TIMEOUT_MS, expect, logged_in

desk = test_console_browser.desk
clock = test_console_browser.clock
open_console = test_console_browser.open_console


async def test_an_anonymous_customer_is_said_to_be_anonymous_with_no_history(desk, open_console):
    await desk.account("emma", "Emma Clarke", ["en", "th"])
    emma = await desk.agent("emma")
    earlier = await desk.customer(["th-TH"], THAI_HACKED, request=False)
    assert (await emma.call("accept", {"conversation_id": earlier.conversation_id}))["ok"]
    assert (await emma.call("close", {"conversation_id": earlier.conversation_id}))["ok"]
    # The same customer socket starts again: a new conversation, linked to nothing.
    customer = earlier.customer
    again = await customer.call("start", {"languages": ["th-TH"]})
    assert (await customer.call("message", {"text": THAI_HACKED, "client_id": "c2"}))["ok"]

    console = await logged_in(desk, open_console, "emma", locale="th-TH")
    item = console.item(again["conversation"]["id"])
    await item.locator(".accept").click(timeout=TIMEOUT_MS)
    card = console.panel(again["conversation"]["id"]).locator(".customer-panel")
    note = card.locator(".customer-anonymous")
    await expect(note).to_be_visible(timeout=TIMEOUT_MS)
    await expect(note.locator(".customer-anonymous-title")).to_have_text("ลูกค้าไม่ระบุตัวตน")
    await expect(note.locator(".customer-anonymous-why")).to_contain_text("เว็บไซต์ไม่ได้ระบุตัวตน")
    await expect(card.locator(".customer-previous-item")).to_have_count(0)
    await expect(card.locator(".customer-previous-empty")).to_be_hidden()
    assert console.problems == []
