"""Announcements in a real headless Chromium against the real server: the widget's banner
(in the customer's language, updated in place, resolved then dismissible) and the
supervisor's form in the console. Skipped without Chromium unless CHATSERVER_REQUIRE_SERVICES=1."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from chatserver.keys import SERVICES, SIO
from tests.browser import Network
from tests.test_console_browser import clock, desk, logged_in, open_console  # noqa: F401
from tests.test_handoff_e2e import open_console as agent_console
from tests.test_widget_browser import TIMEOUT_MS, expect, open_widget  # noqa: F401

PASSWORD = "a long supervisor password"


async def supervisor_token(server: Any) -> str:
    accounts = server.app[SERVICES].accounts
    await accounts.add(
        username="sam", name="Sam", languages=["en"], teams=["technical"],
        capacity=2, role="supervisor", password=PASSWORD,
    )  # fmt: skip
    return (await accounts.login("sam", PASSWORD)).token


async def announce(server: Any, token: str, path: str, body: Any) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.post(server.make_url(path), json=body) as response,
    ):
        assert response.status in (200, 201), await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def test_the_widget_shows_the_banner_in_the_customers_language(server, open_widget):  # noqa: F811
    token = await supervisor_token(server)
    widget = await open_widget(server.make_url("/widget/"), locale="ja-JP")
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    banners = page.locator("#announcements .announcement")
    await expect(banners).to_have_count(0)
    await expect(page.locator("#announcements")).to_be_hidden()

    posted = await announce(
        server, token, "/api/v1/announcements",
        {"severity": "critical", "texts": {"en": "MT5 is down.", "ja": "MT5が停止しています。"}},
    )  # fmt: skip
    banner = page.locator(f'#announcements [data-announcement="{posted["id"]}"]')
    await expect(banner.locator(".announcement-text")).to_have_text(
        "MT5が停止しています。", timeout=TIMEOUT_MS
    )
    await expect(banner).to_have_attribute("role", "alert")
    await expect(banner).to_have_class("announcement announcement--critical announcement--active")
    await expect(banner.locator(".announcement-label")).to_have_text("障害情報")
    await expect(banner.locator(".announcement-dismiss")).to_be_hidden()

    # A Thai visitor who comes later gets it at once, in English (no Thai text).
    thai = await open_widget(server.make_url("/widget/"), locale="th-TH")
    thai_banner = thai.page.locator(f'#announcements [data-announcement="{posted["id"]}"]')
    await expect(thai_banner.locator(".announcement-text")).to_have_text(
        "MT5 is down.", timeout=TIMEOUT_MS
    )
    await expect(thai_banner).to_have_attribute("lang", "en")

    await announce(
        server, token, f"/api/v1/announcements/{posted['id']}",
        {"severity": "warning", "texts": {"en": "Recovering.", "ja": "復旧中です。"}},
    )  # fmt: skip
    await expect(banner.locator(".announcement-text")).to_have_text(
        "復旧中です。", timeout=TIMEOUT_MS
    )
    await expect(banners).to_have_count(1)  # updated in place
    await expect(banner).to_have_attribute("role", "status")
    await expect(banner.locator(".announcement-label")).to_have_text("警告")

    await announce(server, token, f"/api/v1/announcements/{posted['id']}/resolve", {})
    await expect(banner.locator(".announcement-label")).to_have_text("解決済み", timeout=TIMEOUT_MS)
    await expect(banner.locator(".announcement-text")).to_have_text("復旧中です。")
    dismiss = banner.locator(".announcement-dismiss")
    await expect(dismiss).to_be_visible()
    await expect(dismiss).to_have_attribute("aria-label", "閉じる")
    await dismiss.click()
    await expect(banners).to_have_count(0)
    await expect(page.locator("#announcements")).to_be_hidden()
    assert widget.problems == []
    assert thai.problems == []


async def test_a_supervisor_posts_updates_and_resolves_from_the_console(desk, open_console):  # noqa: F811
    await desk.account("sam", "Sam Okafor", ["en"], role="supervisor")
    await desk.account("aiko", "Aiko Tanaka", ["ja", "en"])
    aiko = await desk.agent("aiko")
    console = await logged_in(desk, open_console, "sam")
    page = console.page
    section = page.locator("#announce-section")
    await expect(section.locator(".empty")).to_have_text(
        "No active announcement.", timeout=TIMEOUT_MS
    )

    # English is required: the form says so and nothing is sent.
    await page.locator("#announce-translation").fill("停止中")
    await section.locator("button[type=submit]").click()
    await expect(section.locator(".form-error")).to_contain_text("English")
    assert aiko.pushed("announcement") == []

    await page.locator("#announce-severity").select_option("critical")
    await page.locator("#announce-english").fill("Withdrawals are delayed.")
    await page.locator("#announce-language").select_option("ja")
    await page.locator("#announce-translation").fill("出金が遅れています。")
    await section.locator("button[type=submit]").click()

    banner = page.locator("#announcements .announcement")
    await expect(banner.locator(".announcement-text")).to_have_text(
        "Withdrawals are delayed.", timeout=TIMEOUT_MS
    )
    await expect(banner).to_have_attribute("role", "alert")
    (to_aiko,) = await aiko.wait_pushed("announcement")
    assert (to_aiko["text"], to_aiko["severity"]) == ("出金が遅れています。", "critical")
    item = section.locator(".announcement-item")
    await expect(item).to_have_count(1)
    await expect(item.locator("p")).to_have_text("Withdrawals are delayed.")
    await expect(section.locator(".form-error")).to_be_hidden()

    await item.get_by_role("button", name="Edit").click()
    await expect(page.locator("#announce-english")).to_have_value("Withdrawals are delayed.")
    await expect(page.locator("#announce-translation")).to_have_value("出金が遅れています。")
    await page.locator("#announce-severity").select_option("warning")
    await page.locator("#announce-english").fill("Withdrawals are back to normal speed.")
    await section.get_by_role("button", name="Update announcement").click()
    await expect(banner.locator(".announcement-text")).to_have_text(
        "Withdrawals are back to normal speed.", timeout=TIMEOUT_MS
    )
    await expect(banner).to_have_count(1)
    _, revised = await aiko.wait_pushed("announcement", 2)
    # The Japanese text the form kept is still there in the new version.
    assert (revised["severity"], revised["text"]) == ("warning", "出金が遅れています。")

    await item.get_by_role("button", name="Resolve").click()
    await expect(banner.locator(".announcement-label")).to_have_text("Resolved", timeout=TIMEOUT_MS)
    await expect(section.locator(".empty")).to_have_text("No active announcement.")
    await expect(item).to_have_count(0)
    *_, resolved = await aiko.wait_pushed("announcement", 3)
    assert resolved["status"] == "resolved"
    assert (await desk.services.announcements.active()) == []

    # A console opened afterwards shows nothing: the announcement is over.
    fresh = await agent_console(
        desk.server, (await desk.services.accounts.login("aiko", "aiko-password")).token
    )
    try:
        # Its first event's acknowledgement comes after anything pushed on connecting.
        assert (await fresh.call("status", {"status": "online"}))["ok"]
        assert fresh.pushed("announcement") == []
    finally:
        await fresh.client.disconnect()
    assert console.problems == []


async def test_a_banner_resolved_while_the_widget_was_away_goes_on_reconnect(server, open_widget):  # noqa: F811
    token = await supervisor_token(server)
    # The resolution never reaches the page, as if it came while its connection was down.
    network = Network(
        "/customer", drop=lambda name, data: name == "announcement" and data["status"] == "resolved"
    )
    widget = await open_widget(server.make_url("/widget/"), locale="ja-JP", network=network)
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    posted = await announce(
        server, token, "/api/v1/announcements", {"severity": "warning", "texts": {"en": "Slow."}}
    )
    banners = page.locator("#announcements .announcement")
    await expect(banners).to_have_count(1, timeout=TIMEOUT_MS)
    await announce(server, token, f"/api/v1/announcements/{posted['id']}/resolve", {})
    await asyncio.sleep(0.3)
    await expect(banners.locator(".announcement-label")).to_have_text("警告")  # still active here

    sio = server.app[SIO]
    (sid,) = [sid for sid, _ in sio.manager.get_participants("/customer", "lang:ja")]
    await sio.disconnect(sid, namespace="/customer")
    await network.wait_for("start", 2)
    await expect(banners).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator("#announcements")).to_be_hidden()
    assert widget.problems == []


async def test_a_console_drops_a_banner_resolved_while_it_was_away(desk, open_console):  # noqa: F811
    await desk.account("sam", "Sam Okafor", ["en"], role="supervisor")
    await desk.account("emma", "Emma Clarke", ["en", "de"])
    token = (await desk.services.accounts.login("sam", "sam-password")).token
    console = await logged_in(desk, open_console, "emma")
    # The resolution never reaches the page, as if it came while its connection was down.
    console.network.drop = lambda name, data: (
        name == "announcement" and data["status"] == "resolved"
    )
    banners = console.page.locator("#announcements .announcement")
    posted = await announce(
        desk.server, token, "/api/v1/announcements",
        {"severity": "info", "texts": {"en": "Maintenance at 22:00 UTC.", "de": "Wartung um 22:00 UTC."}},
    )  # fmt: skip
    await expect(banners.locator(".announcement-text")).to_have_text(
        "Maintenance at 22:00 UTC.", timeout=TIMEOUT_MS
    )
    await announce(desk.server, token, f"/api/v1/announcements/{posted['id']}/resolve", {})
    await asyncio.sleep(0.3)
    await expect(banners).to_have_count(1)

    sio = desk.server.app[SIO]
    (sid,) = [sid for sid, _ in sio.manager.get_participants("/agent", "consoles:en")]
    connections = console.network.connections
    await sio.disconnect(sid, namespace="/agent")
    async with asyncio.timeout(TIMEOUT_MS / 1000):
        while console.network.connections == connections:
            await asyncio.sleep(0.05)
    await expect(banners).to_have_count(0, timeout=TIMEOUT_MS)
    assert console.problems == []
