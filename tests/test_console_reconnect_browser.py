"""The status an agent chose survives their console's reconnect, in a real headless
Chromium against the real server: an agent away whose socket drops (the server closes it,
or the page goes offline) comes back away, in the page and in the server's presence, and
no waiting chat is offered to them on the way; with two consoles, one that comes back
remembering "online" does not undo the other's "away", and each shows the other's choice.
Skipped like the other browser tests without Chromium."""

from __future__ import annotations

import asyncio
from typing import Any

from chatserver.keys import SIO
from tests import test_console_browser
from tests.test_console_browser import GERMAN_INSTALL, TIMEOUT_MS, Desk, expect, logged_in, until

desk = test_console_browser.desk
clock = test_console_browser.clock
open_console = test_console_browser.open_console


async def a_waiting_german_chat(desk: Desk) -> str:
    """A German chat that waits, offered to nobody: its keeper steps away."""
    await desk.account("kim", "Kim Keeper", ["de"])
    keeper = await desk.agent("kim")
    german = await desk.customer(["de"], GERMAN_INSTALL)
    assert (await keeper.call("status", {"status": "away"}))["ok"]
    return german.conversation_id


async def away_with_offers_watched(desk: Desk, open_console: Any) -> tuple[Any, str, list[Any]]:
    """Emma (who speaks German) logged in and away; every offer that reaches her page."""
    emma_id = await desk.account("emma", "Emma Clarke", ["en", "de"])
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    await page.locator(".status-option[data-status=away]").click()
    await until(lambda: str(desk.services.dispatcher.router.agent_status(emma_id)) == "away")
    offers: list[Any] = []
    console.network.drop = lambda name, data: offers.append(data) if name == "offer" else False
    return console, emma_id, offers


async def still_away(desk: Desk, console: Any, emma_id: str, offers: list[Any]) -> None:
    page = console.page
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await expect(page.locator(".status-option[data-status=away]")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(page.locator("#status-switch")).to_have_attribute("data-status", "away")
    router = desk.services.dispatcher.router
    await asyncio.sleep(0.5)  # time for an offer, had there been one
    assert str(router.agent_status(emma_id)) == "away"
    assert offers == []
    await expect(page.locator(".qitem.is-offered")).to_have_count(0)
    assert console.problems == []


async def test_away_survives_the_server_closing_the_socket(desk, open_console):
    waiting = await a_waiting_german_chat(desk)
    console, emma_id, offers = await away_with_offers_watched(desk, open_console)
    await expect(console.item(waiting)).to_be_visible(timeout=TIMEOUT_MS)
    sio = desk.server.app[SIO]
    (sid,) = [sid for sid, _ in sio.manager.get_participants("/agent", f"agent:{emma_id}")]
    await sio.disconnect(sid, namespace="/agent")
    await until(lambda: console.network.connections == 2)
    await still_away(desk, console, emma_id, offers)
    # The chat is still there for her to take by hand, and nobody was offered it.
    await expect(console.item(waiting)).to_be_visible()
    conversation = await desk.services.store.get_conversation(waiting)
    assert str(conversation.status) == "queued"


async def test_away_survives_the_page_going_offline_and_back(desk, open_console):
    await a_waiting_german_chat(desk)
    console, emma_id, offers = await away_with_offers_watched(desk, open_console)
    page = console.page
    await page.context.set_offline(True)
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "reconnecting", timeout=TIMEOUT_MS
    )
    await page.context.set_offline(False)
    await still_away(desk, console, emma_id, offers)


async def test_a_tab_that_missed_the_agent_stepping_away_does_not_bring_them_back(
    desk, open_console
):
    """Two consoles of Emma's (two tabs, or a laptop and a phone): she steps away in one
    while the other is offline. The other comes back remembering "online"; she stays away,
    and that tab says so."""
    waiting = await a_waiting_german_chat(desk)
    emma_id = await desk.account("emma", "Emma Clarke", ["en", "de"])
    first = await logged_in(desk, open_console, "emma")
    second = await logged_in(desk, open_console, "emma")
    await expect(second.page.locator("#status-switch")).to_have_attribute("data-status", "online")
    offers: list[Any] = []
    second.network.drop = lambda name, data: offers.append(data) if name == "offer" else False

    # The first tab's choice shows in the second.
    await first.page.locator(".status-option[data-status=away]").click()
    await expect(second.page.locator("#status-switch")).to_have_attribute(
        "data-status", "away", timeout=TIMEOUT_MS
    )
    await first.page.locator(".status-option[data-status=online]").click()
    await expect(second.page.locator("#status-switch")).to_have_attribute(
        "data-status", "online", timeout=TIMEOUT_MS
    )

    await second.page.context.set_offline(True)
    await expect(second.page.locator("#connection")).to_have_attribute(
        "data-state", "reconnecting", timeout=TIMEOUT_MS
    )
    await first.page.locator(".status-option[data-status=away]").click()
    await until(lambda: str(desk.services.dispatcher.router.agent_status(emma_id)) == "away")
    offers.clear()  # online a moment ago, she was offered the waiting chat
    await second.page.context.set_offline(False)
    await still_away(desk, second, emma_id, offers)
    await expect(first.page.locator("#status-switch")).to_have_attribute("data-status", "away")
    conversation = await desk.services.store.get_conversation(waiting)
    assert str(conversation.status) == "queued"
