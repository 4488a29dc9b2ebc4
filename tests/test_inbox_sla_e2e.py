"""The offline inbox's SLA end to end: a real server on a fake clock, real Socket.IO
customers and consoles, /metrics and the report over HTTP; the store that loses an item
is the real one made to fail (tests/faulty.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from chatserver.keys import SERVICES
from tests.conftest import FakeClock
from tests.faulty import FaultyStores
from tests.test_handoff_e2e import PASSWORD, connect_agent, desk_settings, metrics_text
from tests.test_inbox_e2e import left_message
from tests.test_isolation import until

# Tuesday 2026-11-24 09:00 UTC.
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MINUTE = 60


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def desk(start_server, settings, clock):
    return await start_server(desk_settings(settings), clock=clock)


async def report(desk, username: str, **params: str) -> tuple[int, Any]:
    token = (await desk.app[SERVICES].accounts.login(username, PASSWORD)).token
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(desk.make_url("/api/v1/reports/inbox"), params=params) as response,
    ):
        body = await response.text()
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, body


async def test_a_message_nobody_answers_warns_then_breaches_once(desk, connect, clock):
    await left_message(desk, connect, "email", "kenji@example.com")
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja", "en"])
    emma = await connect_agent(desk, "emma", "Emma Clarke", ["en", "de"])
    sam = await connect_agent(desk, "sam", "Sam Okafor", ["en"], role="supervisor")
    (item,) = (await aiko.wait_pushed("inbox"))[-1]["items"]
    # The gauge is refreshed every second.
    await shows(desk, 'chatserver_inbox_items{channel="email",status="open"} 1.0')
    await shows(desk, 'chatserver_inbox_items{channel="callback",status="open"} 0.0')

    # 40 minutes in: a third of the hour is left; the agents who see the item are warned.
    clock.advance(40 * MINUTE)
    (warning,) = await aiko.wait_pushed("sla_warning")
    assert warning == {
        "conversation_id": warning["conversation_id"],
        "kind": "first_response",
        "due_at": "2026-11-24T10:00:00+00:00",
        "remaining_seconds": warning["remaining_seconds"],
        "item_id": item["id"],
        "channel": "email",
        "tracking_number": item["tracking_number"],
    }
    assert 1190 <= warning["remaining_seconds"] <= 1200
    await sam.wait_pushed("sla_warning")  # supervisors see every item
    assert emma.pushed("sla_warning") == []  # not in her languages
    assert sam.pushed("sla_breach") == []

    # Past the hour without an answer: the supervisors get the breach, once.
    clock.advance(21 * MINUTE)
    (breach,) = await sam.wait_pushed("sla_breach")
    assert (breach["item_id"], breach["channel"], breach["language"]) == (item["id"], "email", "ja")
    assert (breach["kind"], breach["due_at"]) == ("first_response", "2026-11-24T10:00:00+00:00")
    await asyncio.sleep(1.5)  # more looks at the inbox: still one of each
    assert len(sam.pushed("sla_breach")) == 1
    assert len(aiko.pushed("sla_warning")) == 1
    assert aiko.pushed("sla_breach") == []  # breaches are the supervisors'
    assert latest(aiko)[0]["overdue"] is True
    stored = await desk.app[SERVICES].store.inbox_item(item["id"])
    assert stored.breached_at == clock.now()  # marked at the look after the deadline

    metrics = await metrics_text(desk)
    assert 'chatserver_inbox_breaches_total{channel="email",language="ja"} 1.0' in metrics

    # The report: one email item in Japanese, missed, in the email cell with its target.
    status, body = await report(desk, "sam", since="2026-11-24T00:00:00Z")
    assert status == 200
    (row,) = body["rows"]
    assert (row["channel"], row["language"], row["cell"]) == (
        "email",
        "ja",
        "email/account/standard/medium",
    )
    assert (row["items"], row["within_target"], row["missed"], row["pending"]) == (1, 0, 1, 0)
    assert (row["share_within_target"], row["frt_target_seconds"]) == (0.0, 3600.0)
    status, text = await report(desk, "sam", since="2026-11-24T00:00:00Z", format="csv")
    assert text.splitlines()[0].startswith("channel,language,cell,frt_target_seconds,items")
    assert text.splitlines()[1].startswith(
        "email,ja,email/account/standard/medium,3600.0,1,0,0,1,0"
    )
    assert (await report(desk, "aiko"))[0] == 403
    refused = await report(desk, "sam", since="yesterday")
    assert (refused[0], refused[1]["error"]["code"]) == (400, "invalid_query")
    for agent in (aiko, emma, sam):
        await agent.client.disconnect()


async def test_a_callback_answered_in_time_counts_its_first_response(desk, connect, clock):
    await left_message(desk, connect, "callback", "+81 90 1234 5678")
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja"])
    (item,) = (await aiko.wait_pushed("inbox"))[-1]["items"]
    clock.advance(5 * MINUTE)
    await aiko.call("inbox_take", {"item_id": item["id"]})
    called = await aiko.call("inbox_outcome", {"item_id": item["id"], "outcome": "called_back"})
    assert called["item"]["status"] == "answered"
    # A second outcome on the answered item is no second first response.
    await aiko.call("inbox_outcome", {"item_id": item["id"], "outcome": "resolved"})
    metrics = await metrics_text(desk)
    assert 'chatserver_inbox_first_response_seconds_count{channel="callback"} 1.0' in metrics
    assert 'chatserver_inbox_first_response_seconds_sum{channel="callback"} 300.0' in metrics
    assert "chatserver_inbox_breaches_total{" not in metrics
    assert (await report(desk, "aiko"))[0] == 403
    await connect_agent(desk, "sam", "Sam Okafor", ["en"], role="supervisor")
    (row,) = (await report(desk, "sam", since="2026-11-24T00:00:00Z"))[1]["rows"]
    assert (row["channel"], row["within_target"], row["missed"]) == ("callback", 1, 0)
    assert row["frt_p50_seconds"] == 300.0
    await asyncio.sleep(1.5)  # closed, answered in time: never breached
    clock.advance(3 * 24 * 60 * MINUTE)
    await asyncio.sleep(1.5)
    assert (await desk.app[SERVICES].store.inbox_item(item["id"])).breached_at is None
    await aiko.client.disconnect()


async def test_a_message_whose_item_could_not_be_saved_reaches_the_inbox(
    start_server, settings, connect
):
    stores = FaultyStores()
    clock = FakeClock(T0)
    desk = await start_server(desk_settings(settings), clock=clock, store_factory=stores)
    stores.last.fail_new_inbox_item = True
    clock.advance(5 * MINUTE)
    # The customer's message is recorded and acknowledged with its tracking number...
    _, number = await left_message(desk, connect, "email", "kenji@example.com")
    assert not stores.last.fail_new_inbox_item  # the fault happened
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja"])
    await aiko.wait_pushed("inbox")
    await asyncio.sleep(1.5)  # a request just left may have its item being saved: let be
    assert latest(aiko) == []
    # ...and a minute on, the tick puts it in the inbox, due an hour after it was left.
    clock.advance(MINUTE)
    await until(lambda: bool(latest(aiko)))
    (item,) = latest(aiko)
    assert (item["tracking_number"], item["contact"]) == (number, "kenji@example.com")
    assert item["due_at"] == "2026-11-24T10:05:00+00:00"
    assert item["text"] == "出金がまだです"
    await asyncio.sleep(1.5)  # recovered once
    assert len(await desk.app[SERVICES].store.open_inbox_items()) == 1
    await aiko.client.disconnect()


async def test_a_recovery_that_fails_is_tried_again_after_its_window_moved_on(
    start_server, settings, connect
):
    """The recovery reads only the requests of its last minutes; one whose recovery failed
    stays in its window until it succeeds, however far the clock moved meanwhile."""
    stores = FaultyStores()
    clock = FakeClock(T0)
    desk = await start_server(desk_settings(settings), clock=clock, store_factory=stores)
    stores.last.fail_new_inbox_item = True
    clock.advance(5 * MINUTE)
    _, number = await left_message(desk, connect, "email", "kenji@example.com")
    assert not stores.last.fail_new_inbox_item  # the item was lost
    aiko = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja"])
    await aiko.wait_pushed("inbox")
    await asyncio.sleep(1.5)  # looked at while too recent
    # Three minutes on, the recovery's own save fails: its window (the two minutes up to
    # a minute ago) would have left the request behind at the next look.
    stores.last.fail_new_inbox_item = True
    clock.advance(3 * MINUTE)
    await until(lambda: not stores.last.fail_new_inbox_item)
    await until(lambda: bool(latest(aiko)))
    (item,) = latest(aiko)
    assert item["tracking_number"] == number
    assert item["due_at"] == "2026-11-24T10:05:00+00:00"
    assert 'chatserver_isolated_failures_total{stage="inbox_recover"} 1.0' in await metrics_text(
        desk
    )
    await aiko.client.disconnect()


async def shows(desk, line: str, timeout: float = 5) -> None:
    """Wait until /metrics has `line` (series refreshed by the tick)."""
    async with asyncio.timeout(timeout):
        while line not in await metrics_text(desk):
            await asyncio.sleep(0.1)


def latest(agent) -> list[dict[str, Any]]:
    return agent.pushed("inbox")[-1]["items"]


async def test_a_breach_that_cannot_be_stored_stops_no_other_and_is_told_later(
    start_server, settings, connect
):
    stores = FaultyStores()
    clock = FakeClock(T0)
    desk = await start_server(desk_settings(settings), clock=clock, store_factory=stores)
    await left_message(desk, connect, "email", "kenji@example.com")
    await left_message(desk, connect, "callback", "+81 90 1234 5678")
    sam = await connect_agent(desk, "sam", "Sam Okafor", ["en"], role="supervisor")
    await sam.wait_pushed("inbox")
    clock.advance(3 * 24 * 60 * MINUTE)  # both long past due
    stores.last.fail_write(1)  # the first breach's save fails
    await sam.wait_pushed("sla_breach")
    await until(lambda: len(sam.pushed("sla_breach")) == 2)
    assert {b["channel"] for b in sam.pushed("sla_breach")} == {"email", "callback"}
    metrics = await metrics_text(desk)
    assert 'chatserver_isolated_failures_total{stage="inbox_sla"} 1.0' in metrics
    await asyncio.sleep(1.5)  # each breached and told once
    assert len(sam.pushed("sla_breach")) == 2
    assert 'chatserver_inbox_breaches_total{channel="callback",language="ja"} 1.0' in (
        await metrics_text(desk)
    )
    await sam.client.disconnect()
