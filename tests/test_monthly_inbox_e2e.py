"""The monthly service-quality review's offline inbox, through the real server: items left,
answered within target and breached, per channel, in JSON and CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import aiohttp
import pytest

from chatserver.keys import SERVICES
from tests.conftest import FakeClock
from tests.test_handoff_e2e import PASSWORD, connect_agent, desk_settings
from tests.test_inbox_e2e import left_message
from tests.test_inbox_sla_e2e import MINUTE, T0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)  # Tuesday 09:00 UTC: callbacks' hours


@pytest.fixture
async def desk(start_server, settings, clock):
    return await start_server(desk_settings(settings), clock=clock)


async def monthly(desk, **params: str) -> tuple[int, str, Any]:
    token = (await desk.app[SERVICES].accounts.login("sam", PASSWORD)).token
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(desk.make_url("/api/v1/reports/monthly"), params=params) as response,
    ):
        if response.content_type == "application/json":
            return response.status, response.content_type, await response.json()
        return response.status, response.content_type, await response.text()


async def test_the_monthly_review_counts_the_inbox_per_channel(desk, connect, clock):
    await left_message(desk, connect, "email", "kenji@example.com")
    await left_message(desk, connect, "callback", "+81 90 1234 5678")
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja"])
    await connect_agent(desk, "sam", "Sam Okafor", ["en"], role="supervisor")
    items = (await aiko.wait_pushed("inbox"))[-1]["items"]
    callback = next(i for i in items if i["kind"] == "callback")
    email = next(i for i in items if i["kind"] == "message")
    clock.advance(5 * MINUTE)  # the callback is answered in 5 of its 15 minutes
    await aiko.call("inbox_take", {"item_id": callback["id"]})
    answered = await aiko.call(
        "inbox_outcome", {"item_id": callback["id"], "outcome": "called_back"}
    )
    assert answered["item"]["status"] == "answered"
    clock.advance(60 * MINUTE)  # nobody answers the email within its hour: breached
    store = desk.app[SERVICES].store
    async with asyncio.timeout(5):
        while (await store.inbox_item(email["id"])).breached_at is None:
            await asyncio.sleep(0.05)

    status, _kind, review = await monthly(desk, month="2026-11")
    assert status == 200
    assert review["inbox"] == [
        {
            "channel": "email",
            "received": 1,
            "within_target": 0,
            "breached": 1,
            "pending": 0,
            "attainment": 0.0,
        },
        {
            "channel": "callback",
            "received": 1,
            "within_target": 1,
            "breached": 0,
            "pending": 0,
            "attainment": 1.0,
        },
    ]
    status, kind, body = await monthly(desk, month="2026-11", format="csv")
    assert (status, kind) == (200, "text/csv")
    rows = {row["key"]: row for row in csv.DictReader(io.StringIO(body)) if row["scope"] == "inbox"}
    assert set(rows) == {"email", "callback"}
    assert (
        rows["email"]["inbox_received"],
        rows["email"]["inbox_within_target"],
        rows["email"]["inbox_breached"],
    ) == ("1", "0", "1")
    assert (rows["callback"]["inbox_within_target"], rows["callback"]["inbox_attainment"]) == (
        "1",
        "1.0",
    )
    assert rows["callback"]["chats"] == ""  # chat columns stay empty on inbox rows

    # Another month: both channels are listed, with nothing in them.
    _status, _kind, october = await monthly(desk, month="2026-10")
    assert [(line["channel"], line["received"]) for line in october["inbox"]] == [
        ("email", 0),
        ("callback", 0),
    ]
    await aiko.client.disconnect()
