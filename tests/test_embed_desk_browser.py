"""One customer's journey through the one tag, with a person on the other side: a plain
host page on another origin embeds the widget with `<script src="DESK/widget.js" async>`
(the `host` fixture of tests/test_embed_browser.py), a Thai customer opens it with the
launcher and asks for a person, and an agent who reads English and Thai answers from the
real console in another page of the same headless Chromium.

Skipped when Chromium or Playwright is missing, unless CHATSERVER_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import re

from chatserver.canned import CannedReply
from chatserver.keys import SERVICES
from tests.test_console_browser import open_console  # noqa: F401
from tests.test_embed_browser import (  # noqa: F401
    Host,
    HostPage,
    host,
    msgstr,
    open_host,
    ready,
)
from tests.test_widget_browser import expect

TIMEOUT_MS = 15_000
THAI_PASSWORD = "ลืมรหัสผ่านMT5ต้องทำยังไง"  # mt-password-reset
THAI_ACCOUNT_NUMBER = "เลขบัญชีของฉันคือ 12345"  # "my account number is 12345"
THAI_GREETING = "สวัสดีค่ะ คุณ{customer_name} ({tracking_number})"
ENGLISH_GREETING = "Hello {customer_name}"


async def add_emma(desk_host: Host) -> None:
    """An agent who reads English and Thai, with a Thai and an English canned greeting."""
    services = desk_host.desk.app[SERVICES]
    await services.accounts.add(
        username="emma",
        name="Emma Clarke",
        languages=["en", "th"],
        teams=["technical", "account", "trading"],
        capacity=3,
        role="agent",
        password="emma-password",
    )
    now = desk_host.clock.now()
    for reply_id, language, text in (
        ("r-th", "th", THAI_GREETING),
        ("r-en", "en", ENGLISH_GREETING),
    ):
        await services.store.save_canned_reply(
            CannedReply(reply_id, language, "Greeting", text, "sam", now, now)
        )


async def agent_messages_heard(host_page: HostPage, count: int) -> list[str]:
    """The texts of the first `count` agent messages the host page heard as
    `chatserver:message`, waiting for them."""

    async def agents() -> list[str]:
        heard = await host_page.events("chatserver:message")
        return [m["text"] for m in heard if m["author"] == "agent"]

    async with asyncio.timeout(TIMEOUT_MS / 1000):
        while len(await agents()) < count:
            await host_page.page.wait_for_timeout(50)
    return (await agents())[:count]


async def test_a_thai_customer_on_a_host_page_is_answered_in_thai_from_the_console(
    host,  # noqa: F811
    open_host,  # noqa: F811
    open_console,  # noqa: F811
):
    await add_emma(host)
    console = await open_console(str(host.desk.make_url("/console/")))
    cpage = console.page
    await console.login("emma", "emma-password")
    await expect(cpage.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )

    # The host page: its logged-in customer (signed) and the widget in Thai, then the tag.
    call = host.signed_user("cust-th-1")
    before = (
        "window.$chatserver = window.$chatserver || [];\n"
        f"$chatserver.push(['setUser', ...{call}], ['setLocale', 'th']);"
    )
    host_page = await open_host(host.page_with("thai", before))
    await ready(host_page)
    frame_element = host_page.page.locator("#chatserver-frame")
    await expect(frame_element).to_be_hidden()
    await host_page.launcher.click()
    await expect(frame_element).to_be_visible()
    frame = host_page.frame
    await expect(frame.locator("html")).to_have_attribute("lang", "th")
    await expect(frame.locator("#title")).to_have_text(msgstr("th", "Customer support"))

    # The bot answers first; the customer still wants a person.
    await frame.locator("#input").fill(THAI_PASSWORD)
    await frame.locator("#input").press("Enter")
    await expect(frame.locator(".msg--bot")).to_have_count(2, timeout=TIMEOUT_MS)
    # "Did that help?" under the answer offers a person; the chip below waits meanwhile.
    await expect(frame.locator("#talk")).to_be_hidden()
    await frame.locator(".msg--bot").nth(1).locator("[data-action=agent]").click()
    item = cpage.locator(".qitem").first
    await expect(item).to_be_visible(timeout=TIMEOUT_MS)
    await expect(item.locator(".lang-tag")).to_have_text("th")
    conversation_id = await item.get_attribute("data-conversation-id")
    assert conversation_id
    await item.locator(".accept").click()
    panel = console.panel(conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await expect(panel.locator(".msg--customer").first).to_have_text(
        re.compile(re.escape(THAI_PASSWORD)), timeout=TIMEOUT_MS
    )
    await expect(frame.locator("#chat")).to_have_attribute(
        "data-handoff", "assigned", timeout=TIMEOUT_MS
    )

    # The customer types inside the frame: the console says so under the chat.
    typing_line = panel.locator(".chat-typing")
    await expect(typing_line).to_be_hidden()
    await frame.locator("#input").press_sequentially(THAI_ACCOUNT_NUMBER, delay=20)
    await expect(typing_line).to_be_visible(timeout=TIMEOUT_MS)
    await expect(typing_line).to_have_text("Customer is typing…")
    await frame.locator("#input").press("Enter")
    await expect(typing_line).to_be_hidden(timeout=TIMEOUT_MS)
    await expect(panel.locator(".msg--customer").last).to_have_text(
        re.compile(re.escape(THAI_ACCOUNT_NUMBER)), timeout=TIMEOUT_MS
    )

    # The agent types: the frame says so, in Thai, with the agent's name.
    box = panel.locator(".composer-input")
    agent_typing = frame.locator("#typing")
    await expect(agent_typing).to_be_hidden()
    await box.press_sequentially("One moment", delay=20)
    await expect(agent_typing).to_be_visible(timeout=TIMEOUT_MS)
    await expect(agent_typing).to_have_text(
        msgstr("th", "{name} is typing…").replace("{name}", "Emma Clarke")
    )
    await box.fill("")

    # "/" and Enter insert the Thai canned reply, filled for this chat; Enter sends it.
    tracking_number = (
        await host.desk.app[SERVICES].store.get_conversation(conversation_id)
    ).tracking_number
    assert tracking_number
    await box.press_sequentially("/greet")
    await expect(panel.locator(".canned-item").first).to_contain_text(
        "Greeting", timeout=TIMEOUT_MS
    )
    await box.press("Enter")
    greeting = f"สวัสดีค่ะ คุณSomchai ({tracking_number})"
    await expect(box).to_have_value(greeting)
    await box.press("Enter")

    # Ctrl+K, the FAQ searched by its English question; a click inserts the Thai answer.
    faq = host.desk.app[SERVICES].bot.matcher.faq
    entry = "mt-password-reset"
    question, answer = faq.native("en")[entry].question, faq.native("th")[entry].answer.strip()
    await box.press("Control+k")
    await expect(box).to_have_value("/")
    await box.press_sequentially(question)
    option = panel.locator(f'.canned-item[data-key="faq:{entry}"]')
    await expect(option).to_be_visible(timeout=TIMEOUT_MS)
    await option.click()
    await expect(box).to_have_value(answer)
    await box.press("Enter")
    await expect(panel.locator(".msg--agent[data-seq]")).to_have_count(2, timeout=TIMEOUT_MS)

    # Inside the embedded frame the customer reads both in Thai, and no one is typing.
    bubbles = frame.locator(".msg--agent .msg-bubble")
    await expect(bubbles).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(bubbles.nth(0)).to_have_text(greeting)
    await expect(bubbles.nth(1)).to_have_text(answer)
    await expect(agent_typing).to_be_hidden(timeout=TIMEOUT_MS)
    # The host page heard them as `chatserver:message`, as the frame shows them.
    assert await agent_messages_heard(host_page, 2) == [greeting, answer]
    assert host_page.problems == []
    assert console.problems == []
