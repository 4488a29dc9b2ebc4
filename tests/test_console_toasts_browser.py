"""The console's toasts never cover the composer, in a real headless Chromium against the
real server: with a chat open and a toast shown (a second chat offered), the toast's box
meets neither the composer's nor its Send button's, on a laptop screen (1280x800) and at
900 px, where the panes stack (the chat's header fits the window there too); and one offer
is one toast, however often it is pushed. Skipped like the other browser tests without
Chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chatserver.keys import SIO
from chatserver.protocol import ServerEvent, offer
from chatserver.sockets.base import AGENT_NAMESPACE, agent_room
from tests import test_console_browser
from tests.test_console_browser import (
    GERMAN_INSTALL,
    THAI_HACKED,
    TIMEOUT_MS,
    expect,
    logged_in,
)

desk = test_console_browser.desk
clock = test_console_browser.clock
open_console = test_console_browser.open_console


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


async def box(locator: Any) -> dict[str, float]:
    found = await locator.bounding_box()
    assert found is not None, "not laid out"
    return dict(found)


@pytest.mark.parametrize("width", [1280, 900])
async def test_a_toast_never_covers_the_composer_or_its_send_button(desk, open_console, width):
    await desk.account("emma", "Emma Clarke", ["en", "th", "de"])
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    await page.set_viewport_size({"width": width, "height": 800})
    thai = await desk.customer(["th-TH"], THAI_HACKED, request=False)
    await console.item(thai.conversation_id).locator(".accept").click(timeout=TIMEOUT_MS)
    panel = console.panel(thai.conversation_id)
    composer = panel.locator(".composer")
    send = panel.locator(".composer-send")
    await expect(send).to_be_visible(timeout=TIMEOUT_MS)
    await panel.locator(".composer-input").fill("Hello")
    # The chat's header fits: its buttons wrap under the title rather than push the page
    # wider than the window.
    viewport = page.viewport_size
    for button in await panel.locator(".chat-head button:visible").all():
        placed = await box(button)
        assert placed["x"] >= 0, placed
        assert placed["x"] + placed["width"] <= viewport["width"], placed
    assert await page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    ), "the page scrolls sideways"
    # Where the panes stack the composer is further down the page: the agent is at it.
    await send.scroll_into_view_if_needed()
    await expect(page.locator(".toast")).to_have_count(0, timeout=TIMEOUT_MS)

    await desk.customer(["de"], GERMAN_INSTALL)  # offered to Emma: a toast says so
    toast = page.locator(".toast", has_text="A chat is offered to you.")
    await expect(toast).to_be_visible(timeout=TIMEOUT_MS)
    await page.wait_for_timeout(300)  # its entrance animation is over
    shown, under = await box(toast), [await box(composer), await box(send)]
    assert shown["x"] >= 0, shown
    assert shown["x"] + shown["width"] <= viewport["width"], shown
    assert shown["y"] >= 0, shown
    assert shown["y"] + shown["height"] <= viewport["height"], shown
    assert under[1]["y"] + under[1]["height"] <= viewport["height"], "Send is in view"
    assert not any(overlap(shown, each) for each in under), (shown, under)
    # The Send button is what a click there reaches.
    middle = (under[1]["x"] + under[1]["width"] / 2, under[1]["y"] + under[1]["height"] / 2)
    hit = await page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y)?.closest('.composer-send') !== null",
        list(middle),
    )
    assert hit
    assert console.problems == []


async def test_an_offer_pushed_twice_is_announced_once(desk, open_console):
    emma = await desk.account("emma", "Emma Clarke", ["en", "de"])
    console = await logged_in(desk, open_console, "emma")
    page = console.page
    # Every toast shown, counted as it comes (each goes away by itself after a while).
    await page.evaluate(
        """() => {
          window.toastsShown = [];
          new MutationObserver((changes) => {
            for (const change of changes) {
              for (const node of change.addedNodes) window.toastsShown.push(node.textContent);
            }
          }).observe(document.getElementById("toasts"), { childList: true });
        }"""
    )
    german = await desk.customer(["de"], GERMAN_INSTALL)  # offered to Emma
    toast = page.locator(".toast", has_text="A chat is offered to you.")
    await expect(toast).to_have_count(1, timeout=TIMEOUT_MS)
    item = console.item(german.conversation_id)
    await expect(item.locator(".offer-timer")).to_have_text(re.compile(r"Offered to you · \d+ s"))

    # The server pushes the offer again, as a console can hear one twice on a shared desk
    # (here with a later deadline, to see it arrive; the console counts down by the wall
    # clock): the console shows the new deadline, and says "offered" once.
    (view,) = desk.services.dispatcher.router.views([german.conversation_id], desk.clock.now())
    expires_at = datetime.now(UTC) + timedelta(seconds=120)
    await desk.server.app[SIO].emit(
        ServerEvent.OFFER,
        offer(german.conversation_id, view.queue, expires_at),
        room=agent_room(emma),
        namespace=AGENT_NAMESPACE,
    )
    await expect(item.locator(".offer-timer")).to_have_text(
        re.compile(r"Offered to you · 1[01]\d s"), timeout=TIMEOUT_MS
    )
    assert await page.evaluate("() => window.toastsShown") == ["A chat is offered to you."]
    assert console.problems == []
