"""Typing notices, seen receipts and the widget's header in headless Chromium against the
real server: the widget and the console side by side (docs/protocol.md, `typing`, `seen`,
`availability`)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from chatserver.keys import SERVICES
from tests.test_console_browser import open_console  # noqa: F401
from tests.test_handoff_e2e import open_console as agent_console
from tests.test_widget_browser import TIMEOUT_MS, expect, open_widget  # noqa: F401

AGENTS_AWAY = "Our assistant will help you; agents are away"


async def add_emma(server: Any) -> None:
    await server.app[SERVICES].accounts.add(
        username="emma",
        name="Emma Clarke",
        languages=["en"],
        teams=["technical", "account", "trading"],
        capacity=3,
        role="agent",
        password="emma-password",
    )


async def test_typing_shows_on_both_sides_and_the_agent_sees_seen(
    start_server,
    settings,
    open_widget,  # noqa: F811
    open_console,  # noqa: F811
):
    server = await start_server(settings)  # the system clock: the pages' timers are real
    await add_emma(server)
    widget = await open_widget(server.make_url("/widget/"))
    page = widget.page
    status = page.locator("#status-text")
    # Nobody online yet: the header says so, not "Online".
    await expect(status).to_have_text(AGENTS_AWAY, timeout=TIMEOUT_MS)
    await expect(page.locator("#status")).to_have_attribute("data-agents", "away")

    console = await open_console(str(server.make_url("/console/")))
    cpage = console.page
    await console.login("emma", "emma-password")
    await expect(cpage.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await expect(status).to_have_text("Agents available", timeout=TIMEOUT_MS)  # pushed

    await page.locator("#talk").click()
    item = cpage.locator(".qitem").first
    await expect(item).to_be_visible(timeout=TIMEOUT_MS)
    conversation_id = await item.get_attribute("data-conversation-id")
    await item.locator(".accept").click()
    panel = console.panel(conversation_id)
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#chat")).to_have_attribute(
        "data-handoff", "assigned", timeout=TIMEOUT_MS
    )

    # The customer types: the console says so under that chat, and nothing of the draft.
    typing_line = panel.locator(".chat-typing")
    await expect(typing_line).to_be_hidden()
    await page.locator("#input").press_sequentially("my account number is 12345", delay=20)
    await expect(typing_line).to_be_visible(timeout=TIMEOUT_MS)
    await expect(typing_line).to_have_text("Customer is typing…")
    notices = widget.sent("typing")
    assert notices
    assert all(notice == {"typing": True} for notice in notices), notices
    assert len(notices) <= 2, f"one notice every 2.5 s at most, got {len(notices)}"
    await page.locator("#input").press("Enter")  # sent: a false, and the message
    await expect(typing_line).to_be_hidden(timeout=TIMEOUT_MS)
    assert widget.sent("typing")[-1] == {"typing": False}
    await expect(panel.locator(".msg--customer").last).to_have_text(
        re.compile("my account number is 12345"), timeout=TIMEOUT_MS
    )

    # The agent types: the widget shows "Emma Clarke is typing…".
    widget_line = page.locator("#typing")
    composer = panel.locator(".composer-input")
    await composer.press_sequentially("Let me check", delay=20)
    await expect(widget_line).to_be_visible(timeout=TIMEOUT_MS)
    await expect(widget_line).to_have_text("Emma Clarke is typing…")
    await composer.press_sequentially(" that for you.", delay=20)
    await composer.press("Enter")
    await expect(page.locator(".msg--agent").last).to_have_text(
        re.compile("Let me check that for you."), timeout=TIMEOUT_MS
    )
    await expect(widget_line).to_be_hidden(timeout=TIMEOUT_MS)

    # The widget is visible and shows the reply: the console marks it seen.
    agent_message = panel.locator(".msg--agent").last
    await expect(agent_message.locator(".msg-seen")).to_have_text("Seen", timeout=TIMEOUT_MS)
    seq = int(await agent_message.get_attribute("data-seq") or 0)
    assert {"seq": seq} in widget.sent("seen")
    assert widget.problems == []
    assert console.problems == []


async def test_the_header_says_no_agents_when_the_only_one_leaves(
    start_server,
    settings,
    open_widget,  # noqa: F811
):
    server = await start_server(settings)
    await add_emma(server)
    token = (await server.app[SERVICES].accounts.login("emma", "emma-password")).token
    emma = await agent_console(server, token)
    widget = await open_widget(server.make_url("/widget/"), locale="ja-JP")
    status = widget.page.locator("#status-text")
    await expect(status).to_have_text("担当者が対応できます", timeout=TIMEOUT_MS)
    assert (await emma.call("status", {"status": "offline"}))["ok"] is True
    await expect(status).to_have_text(
        "現在担当者は不在です。アシスタントがお手伝いします", timeout=TIMEOUT_MS
    )
    await emma.client.disconnect()
    await asyncio.sleep(0)
    assert widget.problems == []
