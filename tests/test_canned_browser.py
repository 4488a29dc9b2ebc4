"""Supervisors manage canned replies in the console (static/console/canned_admin.js), in a
real headless Chromium against the real server: a refused entry shows the server's reason
next to its field and keeps what was typed; a Thai reply is added with {customer_name}
inserted from the placeholder list, previewed, edited; an agent's composer offers it filled
for the chat, and no longer once it is deleted. Agents have no such view. Skipped like the
other browser tests without Chromium."""

from __future__ import annotations

from tests import test_console_browser
from tests.test_console_browser import THAI_HACKED, TIMEOUT_MS, expect, logged_in

desk = test_console_browser.desk
clock = test_console_browser.clock
open_console = test_console_browser.open_console

GREETING = "ทักทาย"  # "greeting"
HELLO = "สวัสดีค่ะ คุณ"  # "hello, (Khun)"
WELCOME = " ยินดีให้บริการค่ะ"  # " happy to help"


async def test_a_supervisor_adds_edits_and_deletes_a_thai_reply_agents_pick_it(desk, open_console):
    await desk.account("sam", "Sam Okafor", ["en", "th"], role="supervisor")
    await desk.account("emma", "Emma Clarke", ["en", "th"])
    store = desk.services.store
    sam = await logged_in(desk, open_console, "sam")
    emma = await logged_in(desk, open_console, "emma")
    page = sam.page
    await expect(emma.page.locator("#canned-admin-toggle")).to_be_hidden()

    toggle = page.locator("#canned-admin-toggle")
    await expect(toggle).to_have_text("Canned replies")
    await toggle.click()
    view = page.locator("#canned-admin")
    await expect(view).to_be_visible()
    await expect(page.locator("#chats-pane")).to_be_hidden()
    await expect(toggle).to_have_text("Back to chats")
    await expect(view.locator(".canned-admin-empty")).to_be_visible(timeout=TIMEOUT_MS)
    await page.locator("#canned-admin-language").select_option("th")
    await expect(page.locator("#canned-form-language")).to_have_value("th")
    # The placeholders are explained beside their buttons.
    helps = view.locator(".canned-admin-placeholder")
    await expect(helps).to_have_count(3)
    await expect(helps.nth(0)).to_contain_text("{customer_name}")
    await expect(helps.nth(0)).to_contain_text("The customer's name")

    title, text = page.locator("#canned-form-title"), page.locator("#canned-form-text")
    submit = page.locator("#canned-form-submit")
    # No title: refused, the reason beside the title, the text kept.
    await text.fill(HELLO + "{customer_name} {ticket}")
    await submit.click()
    await expect(page.locator("#canned-form-title-error")).to_have_text(
        "Write a title of at most 120 characters.", timeout=TIMEOUT_MS
    )
    await expect(title).to_have_attribute("aria-invalid", "true")
    await expect(text).to_have_value(HELLO + "{customer_name} {ticket}")
    # An unknown placeholder: refused, named beside the text; both fields kept.
    await title.fill(GREETING)
    await submit.click()
    await expect(page.locator("#canned-form-text-error")).to_have_text(
        "{ticket} is not a placeholder. "
        "Use one of: {customer_name}, {tracking_number}, {agent_name}.",
        timeout=TIMEOUT_MS,
    )
    await expect(page.locator("#canned-form-title-error")).to_be_hidden()
    await expect(title).to_have_value(GREETING)
    await expect(text).to_have_value(HELLO + "{customer_name} {ticket}")
    assert await store.canned_replies() == []

    # Typed again; {customer_name} inserted at the caret from the list; the preview fills it.
    await text.fill(HELLO)
    await text.press("End")
    await view.locator('.canned-admin-insert[data-placeholder="customer_name"]').click()
    await expect(text).to_have_value(HELLO + "{customer_name}")
    preview = page.locator("#canned-admin-preview")
    await expect(preview).to_have_text(HELLO + "สมชาย")
    await submit.click()
    item = view.locator(".canned-admin-item")
    await expect(item).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(item.locator(".canned-admin-item-title")).to_have_text(GREETING)
    await expect(title).to_have_value("")
    (saved,) = await store.canned_replies()
    assert (saved.language, saved.title, saved.text) == ("th", GREETING, HELLO + "{customer_name}")

    # Edited: the form holds it, the preview follows the typing, Save changes it.
    await item.locator(".canned-admin-edit").click()
    await expect(view.locator(".canned-admin-form-title")).to_have_text("Edit reply")
    await expect(text).to_have_value(HELLO + "{customer_name}")
    await text.press("End")
    await text.press_sequentially(WELCOME)
    await expect(preview).to_have_text(HELLO + "สมชาย" + WELCOME)
    # Emptied text: refused, the title kept.
    await text.fill(" ")
    await submit.click()
    await expect(page.locator("#canned-form-text-error")).to_have_text(
        "Write the reply, at most 2000 characters.", timeout=TIMEOUT_MS
    )
    await expect(title).to_have_value(GREETING)
    await text.fill(HELLO + "{customer_name}" + WELCOME)
    await expect(submit).to_have_text("Save changes")
    await submit.click()
    await expect(item.locator(".canned-admin-item-text")).to_have_text(
        HELLO + "{customer_name}" + WELCOME, timeout=TIMEOUT_MS
    )
    (edited,) = await store.canned_replies()
    assert (edited.id, edited.text) == (saved.id, HELLO + "{customer_name}" + WELCOME)
    # Other languages' lists do not hold it.
    await page.locator("#canned-admin-language").select_option("en")
    await expect(item).to_have_count(0)
    await page.locator("#canned-admin-language").select_option("")
    await expect(item).to_have_count(1)

    # The agent's composer offers it, filled for the chat (a VIP customer named Somchai).
    thai = await desk.customer(["th-TH"], THAI_HACKED, vip=True, request=False)
    await emma.item(thai.conversation_id).locator(".accept").click(timeout=TIMEOUT_MS)
    panel = emma.panel(thai.conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    box = panel.locator(".composer-input")
    option = panel.locator(f'.canned-item[data-key="canned:{saved.id}"]')
    await box.press_sequentially("/" + GREETING)
    await expect(option).to_contain_text(HELLO + "Somchai" + WELCOME, timeout=TIMEOUT_MS)
    await box.press("Escape")
    await box.fill("")

    # Deleted, after a confirm (Keep leaves it): gone from the list, the store and the picker.
    await item.locator(".canned-admin-delete").click()
    await item.locator(".canned-admin-confirm-keep").click()
    await expect(item.locator(".canned-admin-confirm")).to_have_count(0)
    await item.locator(".canned-admin-delete").click()
    await expect(item.locator(".canned-admin-confirm")).to_have_text("Delete this reply?")
    await item.locator(".canned-admin-confirm-delete").click()
    await expect(item).to_have_count(0, timeout=TIMEOUT_MS)
    assert await store.canned_replies() == []
    await box.press_sequentially("/")
    await expect(panel.locator(".canned-item").first).to_be_visible(timeout=TIMEOUT_MS)
    await expect(panel.locator(".canned-item--canned")).to_have_count(0)
    await box.press_sequentially(GREETING)
    await expect(option).to_have_count(0)

    # Back to the chats.
    await toggle.click()
    await expect(view).to_be_hidden()
    await expect(page.locator("#chats-pane")).to_be_visible()
    assert sam.problems == []
    assert emma.problems == []
