"""The survey end to end: an agent closes a chat, the customer rates it over /customer, a
negative rating opens a follow-up that supervisors see live and over HTTP, handle with a
note, or miss after 24 hours on the desk's clock; the reports and /metrics count them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import aiohttp

from chatserver.keys import SERVICES
from tests.test_handoff_e2e import PASSWORD, clock, desk, metrics_text  # noqa: F401
from tests.test_handoff_e2e import agent_for as agent_for


async def closed_chat(desk: Any, connect: Any, agent: Any) -> tuple[Any, str]:  # noqa: F811
    """A Japanese customer's chat with `agent`, answered and then closed by the agent."""
    customer = await connect(desk)
    await customer.call("start", {"languages": ["ja"]})
    await customer.call("message", {"text": "オペレーターと話したい"})
    (offer,) = await agent.wait_pushed("offer")
    conversation_id = offer["conversation_id"]
    assert (await agent.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await agent.call(
        "message", {"conversation_id": conversation_id, "text": "はい", "client_id": "1"}
    )
    assert (await agent.call("close", {"conversation_id": conversation_id}))["ok"] is True
    (closed,) = await customer.wait_pushed("closed")
    assert closed["survey"] is True
    return customer, conversation_id


async def http(server: Any, method: str, path: str, token: str | None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.request(method, server.make_url(path), **kwargs) as response,
    ):
        return response.status, response.content_type, await response.text()


async def json_of(server: Any, method: str, path: str, token: str | None, **kwargs: Any) -> Any:
    status, _, body = await http(server, method, path, token, **kwargs)
    return status, json.loads(body)


async def test_a_negative_rating_is_followed_up_by_a_supervisor(
    desk,  # noqa: F811
    connect,
    agent_for,
    clock,  # noqa: F811
):
    aiko = await agent_for("aiko", "Aiko Tanaka", ["ja", "en"])
    sam = await agent_for("sam", "Sam Okafor", ["en"], role="supervisor")
    customer, conversation_id = await closed_chat(desk, connect, aiko)

    acked = await customer.call("rate", {"score": 2, "comment": "待ち時間が長すぎます"})
    assert acked == {"ok": True, "score": 2, "duplicate": False}
    (pushed,) = await sam.wait_pushed("followup")
    assert not aiko.pushed("followup")  # supervisors only
    assert pushed["conversation_id"] == conversation_id
    assert (pushed["score"], pushed["state"], pushed["agent_name"]) == (2, "open", "Aiko Tanaka")
    assert pushed["remaining_seconds"] == 24 * 3600.0

    # The first rating stands: another tab, or a resend, changes nothing.
    again = await customer.call("rate", {"score": 5})
    assert again == {"ok": True, "score": 2, "duplicate": True}

    token = (await desk.app[SERVICES].accounts.login("sam", PASSWORD)).token
    agent_token = (await desk.app[SERVICES].accounts.login("aiko", PASSWORD)).token
    for who in (agent_token, None):  # supervisors only
        for path in ("/api/v1/followups", "/api/v1/reports/csat", "/api/v1/reports/monthly"):
            assert (await json_of(desk, "GET", path, who))[0] == 403
    clock.advance(3600)
    status, listed = await json_of(desk, "GET", "/api/v1/followups", token)
    assert status == 200
    (item,) = listed["followups"]
    assert item["conversation_id"] == conversation_id
    assert item["tracking_number"]
    assert (item["comment"], item["language"], item["team"]) == (
        "待ち時間が長すぎます",
        "ja",
        "account",
    )
    assert item["remaining_seconds"] == 23 * 3600.0

    path = f"/api/v1/followups/{item['id']}/handled"
    assert (await json_of(desk, "POST", path, agent_token, json={"note": "x"}))[0] == 403
    assert (await json_of(desk, "POST", path, token, json={"note": ""}))[0] == 400
    assert (
        await json_of(desk, "POST", "/api/v1/followups/nope/handled", token, json={"note": "x"})
    )[0] == 404
    status, handled = await json_of(
        desk, "POST", path, token, json={"note": "お電話でお詫びしました"}
    )
    assert status == 200
    assert (handled["followup"]["state"], handled["followup"]["note"]) == (
        "handled",
        "お電話でお詫びしました",
    )
    assert (await json_of(desk, "POST", path, token, json={"note": "again"}))[0] == 409
    assert (await json_of(desk, "GET", "/api/v1/followups", token))[1] == {"followups": []}
    async with asyncio.timeout(5):
        while [f["state"] for f in sam.pushed("followup")] != ["open", "handled"]:
            await asyncio.sleep(0.01)

    text = await metrics_text(desk)
    assert 'chatserver_csat_ratings_total{language="ja",score="2"} 1.0' in text
    assert 'chatserver_csat_followups_total{language="ja",outcome="opened"} 1.0' in text
    assert 'chatserver_csat_followups_total{language="ja",outcome="handled_in_time"} 1.0' in text

    status, report = await json_of(desk, "GET", "/api/v1/reports/csat?group=agent", token)
    assert status == 200
    (row,) = report["rows"]
    assert (row["agent_name"], row["ratings"], row["average"], row["csat"]) == (
        "Aiko Tanaka",
        1,
        2.0,
        0.0,
    )
    status, kind, body = await http(
        desk, "GET", "/api/v1/reports/monthly?month=2026-11&format=csv", token
    )
    assert (status, kind) == (200, "text/csv")
    total = next(csv.DictReader(io.StringIO(body)))
    assert (total["chats"], total["ratings"], total["score_2"]) == ("1", "1", "1")
    assert (
        total["followups_opened"],
        total["followups_handled_in_time"],
        total["followups_missed"],
    ) == ("1", "1", "0")
    status, review = await json_of(desk, "GET", "/api/v1/reports/monthly?month=2026-11", token)
    assert review["by_language"][0]["language"] == "ja"
    assert review["total"]["frt_attainment"] == 1.0
    assert (await json_of(desk, "GET", "/api/v1/reports/monthly?month=11-2026", token))[0] == 400


async def test_a_follow_up_nobody_handles_in_24_hours_is_a_breach(
    desk,  # noqa: F811
    connect,
    agent_for,
    clock,  # noqa: F811
):
    aiko = await agent_for("aiko", "Aiko Tanaka", ["ja", "en"])
    sam = await agent_for("sam", "Sam Okafor", ["en"], role="supervisor")
    customer, conversation_id = await closed_chat(desk, connect, aiko)
    assert (await customer.call("rate", {"score": 1}))["ok"] is True
    await sam.wait_pushed("followup")

    clock.advance(24 * 3600 - 1)
    await asyncio.sleep(1.5)  # several looks of the ticker: not yet due
    assert [f["state"] for f in sam.pushed("followup")] == ["open"]
    clock.advance(1)
    (_, missed) = await sam.wait_pushed("followup", 2)
    assert (missed["state"], missed["conversation_id"]) == ("missed", conversation_id)
    await asyncio.sleep(1.5)
    assert len(sam.pushed("followup")) == 2  # a breach is told once

    token = (await desk.app[SERVICES].accounts.login("sam", PASSWORD)).token
    clock.advance(60)
    (item,) = (await json_of(desk, "GET", "/api/v1/followups", token))[1]["followups"]
    assert (item["state"], item["remaining_seconds"]) == ("missed", -60.0)  # still listed
    text = await metrics_text(desk)
    assert 'chatserver_csat_followups_total{language="ja",outcome="missed"} 1.0' in text
    _, review = await json_of(desk, "GET", "/api/v1/reports/monthly?month=2026-11", token)
    assert review["total"]["followups_missed"] == 1


async def test_rating_needs_a_closed_chat_and_a_valid_score(desk, connect):  # noqa: F811
    customer = await connect(desk)
    assert (await customer.call("rate", {"score": 3}))["error"]["code"] == "not_started"
    await customer.call("start", {"languages": ["en"]})
    assert (await customer.call("rate", {"score": 3}))["error"]["code"] == "not_closed"
    for bad in (
        {"score": 0},
        {"score": 6},
        {"score": "5"},
        {"score": True},
        {},
        [],
        {"score": 4, "comment": 7},
    ):
        refused = await customer.call("rate", bad)
        assert refused["ok"] is False
        assert refused["error"]["code"] == "invalid_payload", bad
