"""The console's Inbox in a real headless Chromium, against the real server: messages and
callback requests left when nobody could chat, their countdowns, taking one, replying by
email (received by a real SMTP server) and recording a callback's outcome."""

from __future__ import annotations

import re

import pytest

from chatserver.settings import Settings
from tests import test_console_browser
from tests.test_console_browser import TIMEOUT_MS, Desk, expect, logged_in, seconds

# The console tests' clock and browser pages, and the inbox tests' SMTP server.
clock = test_console_browser.clock
open_console = test_console_browser.open_console


@pytest.fixture
async def desk(start_server, settings, clock, connect, smtp) -> Desk:
    _, port = smtp
    fields = {name: getattr(settings, name) for name in settings.__slots__}
    server = await start_server(
        Settings.defaults(
            **{
                **fields,
                "callback_hours": "24/7",  # the countdown must not depend on today's date
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_tls": "none",
                "smtp_sender": "support@desk.example",
            }
        ),
        clock=clock,
    )
    return Desk(server, clock, connect)


async def leave(desk: Desk, kind: str, contact: str, text: str, **extra: str) -> str:
    """A Japanese customer nobody can chat with leaves a message; its tracking number."""
    customer = await desk.connect(desk.server)
    await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    await customer.wait_pushed("offline")
    left = await customer.call(
        "leave_message", {"kind": kind, "contact": contact, "text": text, **extra}
    )
    assert left["ok"], left
    return str(left["tracking_number"])


async def test_the_inbox_counts_down_and_agents_answer_by_email_and_phone(desk, open_console, smtp):
    mailbox, _ = smtp
    message_number = await leave(desk, "email", "kenji@example.com", "出金がまだ届きません")
    callback_number = await leave(
        desk, "callback", "+81 90 1234 5678", "電話してください", preferred_time="午後3時以降"
    )
    await desk.account("aiko", "Aiko Tanaka", ["ja", "en"])
    console = await logged_in(desk, open_console, "aiko")
    page = console.page
    inbox = page.locator("#inbox-pane")
    await expect(inbox.locator("#inbox-title")).to_have_text("Inbox")
    await expect(inbox.locator(".inbox-item")).to_have_count(2, timeout=TIMEOUT_MS)
    # Soonest due first: the callback (15 minutes) before the message (an hour).
    callback, message = inbox.locator(".inbox-item").nth(0), inbox.locator(".inbox-item").nth(1)
    await expect(callback.locator(".inbox-number")).to_have_text(callback_number)
    await expect(callback.locator(".inbox-kind")).to_have_text("Callback")
    await expect(callback.locator(".inbox-preferred")).to_have_text("Preferred time: 午後3時以降")
    await expect(message.locator(".inbox-number")).to_have_text(message_number)
    await expect(message.locator(".inbox-contact")).to_have_text("kenji@example.com")
    first = seconds(await callback.locator(".inbox-countdown").inner_text())
    assert 14 * 60 <= first <= 15 * 60
    # An hour, as the page drew it (a tick may have passed since).
    assert await message.locator(".inbox-countdown").inner_text() in {"1:00:00", "59:59", "59:58"}
    # The countdown runs in the browser between snapshots.
    await page.wait_for_timeout(2200)
    assert seconds(await callback.locator(".inbox-countdown").inner_text()) < first

    # The message: take it, write, send.
    await message.locator('button[data-action="take"]').click()
    message = inbox.locator(".inbox-item", has_text=message_number)
    await expect(message.locator(".inbox-status")).to_have_text("Taken", timeout=TIMEOUT_MS)
    await message.locator("textarea.inbox-reply").fill("本日中に着金予定です。")
    await message.locator('button[data-action="reply"]').click()
    await expect(message.locator(".inbox-status")).to_have_text(
        "Answered by email", timeout=TIMEOUT_MS
    )
    await expect(message.locator(".inbox-entry")).to_have_text("Email sent: 本日中に着金予定です。")
    (mail,) = await mailbox.wait()
    assert mail["To"] == "kenji@example.com"
    assert message_number in mail["Subject"]
    assert "本日中に着金予定です。" in mail.get_content()

    # The callback: take it, nobody answers, call again, then resolved.
    callback = inbox.locator(".inbox-item", has_text=callback_number)
    await callback.locator('button[data-action="take"]').click()
    await callback.locator('button[data-action="no_answer"]').click()
    await expect(callback.locator(".inbox-status")).to_have_text(
        "No answer: call again", timeout=TIMEOUT_MS
    )
    await callback.locator('button[data-action="take"]').click()
    await callback.locator('button[data-action="called_back"]').click()
    await expect(callback.locator(".inbox-status")).to_have_text("Called back", timeout=TIMEOUT_MS)
    await callback.locator('button[data-action="resolved"]').click()
    await expect(inbox.locator(".inbox-item")).to_have_count(1, timeout=TIMEOUT_MS)
    assert console.problems == []


async def test_the_inbox_speaks_the_agents_language_and_says_when_mail_is_off(
    start_server, settings, clock, connect, open_console
):
    server = await start_server(settings, clock=clock)
    desk = Desk(server, clock, connect)
    await leave(desk, "email", "kenji@example.com", "出金がまだ届きません")
    await desk.account("aiko", "Aiko Tanaka", ["ja"])
    console = await logged_in(desk, open_console, "aiko", locale="ja-JP")
    inbox = console.page.locator("#inbox-pane")
    await expect(inbox.locator("#inbox-title")).to_have_text("受信箱", timeout=TIMEOUT_MS)
    await expect(inbox.locator(".inbox-notice")).to_have_text(
        "メールは無効です：メールサーバーが設定されていません。"
    )
    item = inbox.locator(".inbox-item")
    await expect(item.locator(".inbox-kind")).to_have_text("メッセージ")
    # The notice's words start where the pane's title does, and the cards sit inside the
    # pane as the queue's do, not against its edges.
    lefts = await console.page.evaluate(
        """() => {
            const pane = document.querySelector("#queue-pane").getBoundingClientRect();
            const words = (selector) => {
                const range = document.createRange();
                range.selectNodeContents(document.querySelector(selector));
                return range.getBoundingClientRect().left;
            };
            const card = document.querySelector(".inbox-item").getBoundingClientRect();
            return {
                title: words("#inbox-title"),
                notice: words(".inbox-notice"),
                card: card.left - pane.left,
                cardRight: pane.right - card.right,
            };
        }"""
    )
    assert abs(lefts["notice"] - lefts["title"]) < 1, lefts
    assert lefts["card"] >= 8, lefts
    assert lefts["cardRight"] >= 8, lefts
    await item.locator('button[data-action="take"]').click()
    await expect(item.locator(".inbox-status")).to_have_text("対応中", timeout=TIMEOUT_MS)
    # No email to send: only the outcome.
    await expect(item.locator('button[data-action="reply"]')).to_have_count(0)
    await expect(item.locator('button[data-action="resolved"]')).to_have_text("解決済み")
    assert console.problems == []


async def test_a_supervisor_sees_a_late_message_among_the_sla_alerts(desk, open_console):
    number = await leave(desk, "email", "kenji@example.com", "出金がまだ届きません")
    await desk.account("sam", "Sam Okafor", ["en"], role="supervisor")
    console = await logged_in(desk, open_console, "sam")
    page = console.page
    alerts = page.locator("#supervisor #alerts .alert")
    await expect(page.locator("#inbox-pane .inbox-item")).to_have_count(1, timeout=TIMEOUT_MS)
    # 40 minutes in: the warning; past the hour: the breach, once, naming the message.
    desk.clock.advance(40 * 60)
    await expect(alerts).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(alerts.nth(0)).to_have_class(re.compile(r"\balert--warning\b"))
    await expect(alerts.nth(0).locator(".alert-what")).to_have_text(f"Message · {number}")
    desk.clock.advance(21 * 60)
    await expect(alerts).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(alerts.nth(0)).to_have_class(re.compile(r"\balert--breach\b"))
    await expect(alerts.nth(0).locator(".alert-what")).to_have_text(f"Message · {number}")
    await expect(alerts.nth(0).locator(".alert-kind")).to_have_text("First response")
    await expect(page.locator("#alerts-count")).to_have_text("1")
    await page.wait_for_timeout(1500)  # more looks at the inbox: still one breach
    await expect(alerts).to_have_count(2)
