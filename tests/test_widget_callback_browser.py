"""The widget's callback request in a real headless Chromium, against the real server: the
customer says when a call suits them, and it reaches the agents' inbox."""

from __future__ import annotations

from chatserver.keys import SERVICES
from tests import test_widget_browser
from tests.test_widget_browser import TIMEOUT_MS, expect

open_widget = test_widget_browser.open_widget


async def test_a_callback_request_carries_the_time_that_suits_the_customer(server, open_widget):
    widget = await open_widget(server.make_url("/widget/"), locale="ja-JP")
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await page.locator("#talk").click()  # nobody is online: leave a message instead
    await expect(page.locator("#leave-form")).to_be_visible(timeout=TIMEOUT_MS)
    when = page.locator("#leave-when")
    await expect(when).to_be_hidden()  # an email needs no time
    await page.locator('input[name="kind"][value="callback"]').check()
    await expect(when).to_be_visible()
    await expect(page.locator("#leave-when-label")).to_have_text("ご都合のよい時間（任意）")
    await page.locator("#leave-contact").fill("+81 90-1234-5678")
    await when.fill("  平日の午後3時以降  ")
    await page.locator("#leave-text").fill("口座について相談したいです")
    await page.locator("#leave-submit").click()
    number = page.locator("#leave-tracking .tracking-number")
    await expect(number).to_be_visible(timeout=TIMEOUT_MS)
    assert widget.sent("leave_message") == [
        {
            "kind": "callback",
            "contact": "+81 90-1234-5678",
            "text": "口座について相談したいです",
            "preferred_time": "平日の午後3時以降",
        }
    ]
    (item,) = await server.app[SERVICES].store.inbox_items_by_tracking_number(
        await number.inner_text()
    )
    assert (item.kind, item.preferred_time, item.language) == (
        "callback",
        "平日の午後3時以降",
        "ja",
    )
    assert widget.problems == []
