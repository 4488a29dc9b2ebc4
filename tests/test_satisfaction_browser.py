"""The survey and the follow-ups in headless Chromium against the real server: the widget
asks a Japanese customer, in Japanese, to rate the chat an agent closed and sends the
rating; a supervisor's console lists the negative one with its countdown, gets a new one
live, and marks it handled with a note."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from chatserver.keys import SERVICES
from tests.test_console_browser import clock, desk, open_console  # noqa: F401
from tests.test_handoff_e2e import Agent
from tests.test_widget_browser import TIMEOUT_MS, agent_for, expect, open_widget  # noqa: F401


async def test_the_widget_asks_for_a_rating_after_the_agent_closes_the_chat(
    server,
    open_widget,  # noqa: F811
    agent_for,  # noqa: F811
):
    agent = await agent_for("aiko", "Aiko Tanaka", ["ja", "en"])
    widget = await open_widget(server.make_url("/widget/"), locale="ja-JP")
    page = widget.page
    await expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=TIMEOUT_MS
    )
    await page.locator("#talk").click()
    offer = await agent.next_offer()
    conversation_id = offer["conversation_id"]
    assert (await agent.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await agent.call(
        "message", {"conversation_id": conversation_id, "text": "こんにちは", "client_id": "a1"}
    )
    survey = page.locator("#survey")
    await expect(survey).to_be_hidden()
    assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"] is True

    await expect(survey).to_be_visible(timeout=TIMEOUT_MS)
    await expect(survey.locator(".survey-title")).to_have_text("今回のチャットはいかがでしたか？")
    await page.reload()  # the closed chat comes back from the server: still asked
    await expect(page.locator("#notice")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(survey).to_be_visible(timeout=TIMEOUT_MS)
    await expect(survey.locator(".survey-title")).to_have_text("今回のチャットはいかがでしたか？")
    send = survey.locator(".survey-send")
    await expect(send).to_have_text("評価を送信")
    await expect(send).to_be_disabled()  # no score yet
    scores = survey.locator(".survey-score")
    await expect(scores).to_have_count(5)
    await expect(scores.nth(1)).to_have_attribute("aria-label", "5段階中 2")
    await scores.nth(1).click()
    await expect(scores.nth(1)).to_have_attribute("aria-checked", "true")
    await survey.locator("textarea").fill("  回答が遅かったです ")
    await send.click()
    thanks = survey.locator(".survey-thanks")
    await expect(thanks).to_have_text(
        "チャットの評価をありがとうございました。", timeout=TIMEOUT_MS
    )
    await expect(survey.locator("form")).to_be_hidden()

    assert ("rate", {"score": 2, "comment": "回答が遅かったです"}) in widget.emitted
    stored = await server.app[SERVICES].store.rating(conversation_id)
    assert stored is not None
    rating, followup = stored
    assert (rating.score, rating.comment, rating.language) == (2, "回答が遅かったです", "ja")
    assert followup is not None

    await page.locator("#notice-action").click()  # a new conversation: no survey
    await expect(survey).to_be_hidden(timeout=TIMEOUT_MS)
    assert widget.problems == []


async def closed_and_rated(desk: Any, agent: Agent, score: int, comment: str) -> str:  # noqa: F811
    waiting = await desk.customer(["ja"], "MT5にログインできません")
    conversation_id = waiting.conversation_id
    async with asyncio.timeout(TIMEOUT_MS / 1000):
        while conversation_id not in {o["conversation_id"] for o in agent.pushed("offer")}:
            await asyncio.sleep(0.02)
    assert (await agent.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"] is True
    await waiting.customer.wait_pushed("closed")
    assert (await waiting.customer.call("rate", {"score": score, "comment": comment}))["ok"]
    return conversation_id


async def test_a_supervisor_sees_follow_ups_count_down_and_marks_one_handled(
    desk,  # noqa: F811
    open_console,  # noqa: F811
):
    await desk.account("aiko", "Aiko Tanaka", ["ja", "en"])
    await desk.account("sam", "Sam Okafor", ["en"], role="supervisor")
    aiko = await desk.agent("aiko")
    first = await closed_and_rated(desk, aiko, 1, "誰も答えてくれなかった")

    console = await open_console(desk.url())
    page = console.page
    await console.login("sam", "sam-password")
    section = page.locator("#followups-section")
    await expect(section.locator("h2")).to_have_text("Follow-ups", timeout=TIMEOUT_MS)
    item = section.locator(f'.followup[data-conversation-id="{first}"]')
    await expect(item).to_be_visible(timeout=TIMEOUT_MS)
    await expect(item.locator(".followup-score")).to_have_text("1 out of 5")
    await expect(item.locator(".followup-comment")).to_have_text("誰も答えてくれなかった")
    await expect(item.locator(".followup-who")).to_have_text("Chat with Aiko Tanaka")
    countdown = item.locator(".followup-countdown")
    await expect(countdown).to_have_text(re.compile(r"^2[34]:\d\d:\d\d$"))
    await expect(countdown).to_have_attribute("data-level", "ok")

    # Another negative rating arrives while the console is open: pushed, no reload.
    second = await closed_and_rated(desk, aiko, 2, "")
    await expect(section.locator(".followup")).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(section.locator("#followups-count")).to_have_text("2")

    await item.locator(".followup-submit").click()  # no note: refused in the form
    await expect(item.locator(".followup-error")).to_be_visible()
    await item.locator(".followup-note").fill("お電話でお詫びし、ログイン方法をご案内しました")
    await item.locator(".followup-submit").click()
    await expect(item).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(section.locator(f'.followup[data-conversation-id="{second}"]')).to_be_visible()

    async with asyncio.timeout(TIMEOUT_MS / 1000):
        while (await desk.services.store.unhandled_followups())[0].conversation_id != second:
            await asyncio.sleep(0.05)
    (left,) = await desk.services.store.unhandled_followups()
    assert left.conversation_id == second
    stored = await desk.services.store.rating(first)
    assert stored is not None
    handled = stored[1]
    assert handled is not None
    assert handled.handled_at is not None
    assert handled.note == "お電話でお詫びし、ログイン方法をご案内しました"
    assert console.problems == []
