"""The supervisors' dashboard in a real headless Chromium (Playwright) against the real
server: after a chat answered in 12 s and one answered in 45 s it shows 50% within 30 s,
by language and by hour; the breach raised before the supervisor logged in is in the
console's SLA alerts and on the dashboard; a new breach moves the figures without a reload;
the CSV has the day's figures. Skipped like the other browser tests without Chromium."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chatserver.keys import SETTINGS
from chatserver.settings import Settings
from tests import test_console_browser
from tests.test_console_browser import JAPANESE_LOGIN, SECRET, TIMEOUT_MS, Desk, expect, logged_in
from tests.test_handoff_e2e import Agent

clock = test_console_browser.clock
open_console = test_console_browser.open_console


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now, so that no test crosses the desk's
    midnight whenever it runs (and the desk's zone, not UTC, decides the day's hours)."""
    offset = 12 - now.hour
    if offset > 12:
        offset -= 24
    if offset < -11:
        offset += 24
    # Etc/GMT-9 is nine hours ahead of UTC (POSIX signs).
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


@pytest.fixture
async def desk(start_server, settings, clock, connect) -> AsyncIterator[Desk]:
    fields = {name: getattr(settings, name) for name in settings.__slots__}
    changes = {"identity_secret": SECRET, "timezone": noon_zone(clock.now())}
    server = await start_server(Settings.defaults(**{**fields, **changes}), clock=clock)
    desk = Desk(server, clock, connect)
    yield desk
    for agent in desk.agents:
        if agent.client.connected:
            await agent.client.disconnect()


def zone(desk: Desk) -> str:
    return str(desk.server.app[SETTINGS].timezone)


async def answered_after(desk: Desk, aiko: Agent, seconds: float, offers: int) -> tuple[str, int]:
    """A Japanese customer handed to Aiko, who answers `seconds` later: the chat and the
    desk's hour of its handoff."""
    waiting = await desk.customer(["ja"], JAPANESE_LOGIN)
    hour = desk.clock.now().astimezone(ZoneInfo(zone(desk))).hour
    offer = (await aiko.wait_pushed("offer", offers))[-1]
    assert offer["conversation_id"] == waiting.conversation_id
    assert (await aiko.call("accept", {"conversation_id": waiting.conversation_id}))["ok"]
    desk.clock.advance(seconds)
    if seconds > 30:
        sla = desk.services.dispatcher.sla_of
        async with asyncio.timeout(5):  # the server's ticker raises the breach
            while not sla(waiting.conversation_id).first_response.breached:
                await asyncio.sleep(0.01)
    sent = await aiko.call(
        "message",
        {
            "conversation_id": waiting.conversation_id,
            "text": "お待たせしました。",
            "client_id": "r",
        },
    )
    assert sent["ok"], sent
    return waiting.conversation_id, hour


async def test_the_dashboard_shows_half_within_30_s_and_the_breach_before_log_in(
    desk, open_console
):
    await desk.account("sam", "Sam Okafor", ["en"], role="supervisor", capacity=2)
    await desk.account("aiko", "Aiko Tanaka", ["ja", "en"])
    aiko = await desk.agent("aiko")
    hit, hit_hour = await answered_after(desk, aiko, 12, 1)
    missed, missed_hour = await answered_after(desk, aiko, 45, 2)

    console = await logged_in(desk, open_console, "sam")
    page = console.page
    # The console's SLA alerts list the breach raised before this log-in.
    alerts = page.locator("#supervisor #alerts .alert")
    await expect(alerts).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(alerts.nth(0)).to_have_class(re.compile(r"\balert--breach\b"))
    await expect(alerts.nth(0).locator(".alert-what")).to_contain_text("Japanese (ja)")

    toggle = page.locator("#dashboard-toggle")
    await expect(toggle).to_have_text("Dashboard")
    await toggle.click()
    board = page.locator("#dashboard")
    await expect(board).to_be_visible()
    await expect(page.locator("#chats-pane")).to_be_hidden()
    await expect(toggle).to_have_text("Back to chats")
    within = board.locator('[data-tile="within"]')
    await expect(within.locator(".dashboard-tile-value")).to_have_text("50%", timeout=TIMEOUT_MS)
    await expect(within.locator(".dashboard-tile-detail")).to_have_text("1 of 2")
    await expect(board.locator('#dashboard-by-language .bar[data-label="ja"]')).to_have_attribute(
        "data-value", "0.5"
    )
    expected: dict[int, list[bool]] = {}
    for hour, in_time in ((hit_hour, True), (missed_hour, False)):
        expected.setdefault(hour, []).append(in_time)
    for hour, outcomes in expected.items():
        bar = board.locator(f'#dashboard-by-hour .bar[data-label="{hour:02d}"]')
        share = sum(outcomes) / len(outcomes)
        await expect(bar).to_have_attribute("data-value", re.compile(rf"^{share:g}$"))
    # The bar is drawn: half the plot's height for 50%.
    if hit_hour == missed_hour:
        height = await board.locator(
            f'#dashboard-by-hour .bar[data-label="{hit_hour:02d}"] rect'
        ).get_attribute("height")
        plot = 180 - 10 - 22
        assert float(height or 0) == pytest.approx(plot / 2, abs=0.01)
    breach = board.locator(f'.dashboard-alerts .alert[data-conversation-id="{missed}"]')
    await expect(breach).to_have_class(re.compile(r"\balert--breach\b"))
    await expect(breach.locator(".alert-detail")).to_contain_text("Overdue by")
    aiko_row = board.locator('.dashboard-agents tr[data-status="online"]', has_text="Aiko Tanaka")
    await expect(aiko_row.locator(".num")).to_have_text("2 / 3")

    # Live: a third chat nobody answers breaches; the push brings the new figures.
    third = await desk.customer(["ja"], JAPANESE_LOGIN)
    desk.clock.advance(31)
    await expect(within.locator(".dashboard-tile-value")).to_have_text("33%", timeout=TIMEOUT_MS)
    await expect(
        board.locator(f'.dashboard-alerts .alert[data-conversation-id="{third.conversation_id}"]')
    ).to_be_visible()
    await expect(board.locator('[data-tile="waiting"] .dashboard-tile-value')).to_have_text("1")

    async with page.expect_download(timeout=TIMEOUT_MS) as info:
        await board.locator(".dashboard-csv").click()
    saved = await info.value
    text = await asyncio.to_thread(Path(await saved.path()).read_text, encoding="utf-8")
    assert saved.suggested_filename.startswith("dashboard-")
    assert "language,ja,share_within_target,0.3333" in text
    assert f"alert,{missed},breach:first_response," in text

    await toggle.click()
    await expect(board).to_be_hidden()
    await expect(page.locator("#chats-pane")).to_be_visible()
    assert hit != missed
    assert console.problems == []


async def test_agents_see_no_dashboard(desk, open_console):
    await desk.account("aiko", "Aiko Tanaka", ["ja"])
    console = await logged_in(desk, open_console, "aiko")
    await expect(console.page.locator("#dashboard-toggle")).to_be_hidden()
    await expect(console.page.locator("#dashboard")).to_be_hidden()
    assert console.problems == []
