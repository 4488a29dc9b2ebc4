"""The dashboard through the real server: customers hand off over Socket.IO, an agent answers
one in 12 s and the other in 45 s, and a supervisor who logs in afterwards reads 50% within
30 s, the breach raised before they came, the agent's load, as JSON and as CSV.

Real server, real python-socketio clients, the server's own ticker; the clock moves only
when the test says so."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import aiohttp

from chatserver.keys import SERVICES
from tests import test_handoff_e2e
from tests.conftest import Customer
from tests.test_handoff_e2e import PASSWORD, Agent

# The handoff tests' clock, desk and consoles.
clock = test_handoff_e2e.clock
desk = test_handoff_e2e.desk
agent_for = test_handoff_e2e.agent_for


async def hand_off(desk: Any, connect: Any, agent: Agent, offers: int) -> tuple[Customer, str]:
    """A Japanese customer asks for a person and `agent` takes the chat."""
    customer = await connect(desk)
    await customer.call("start", {"languages": ["ja"]})
    assert (await customer.call("request_agent", {}))["ok"] is True
    offer = (await agent.wait_pushed("offer", offers))[-1]
    conversation_id = offer["conversation_id"]
    assert (await agent.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    await customer.wait_pushed("assigned")
    return customer, conversation_id


async def reply(agent: Agent, customer: Customer, conversation_id: str, text: str) -> None:
    sent = await agent.call(
        "message", {"conversation_id": conversation_id, "text": text, "client_id": text}
    )
    assert sent["ok"] is True
    async with asyncio.timeout(5):
        while not any(m["text"] == text for m in customer.pushed("message")):
            await asyncio.sleep(0.01)


async def get(desk: Any, path: str, token: str) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(desk.make_url(path), headers=headers) as answer,
    ):
        return answer.status, await answer.text()


async def test_a_hit_and_a_miss_read_fifty_percent_and_the_earlier_breach(
    desk, connect, agent_for, clock
):
    aiko = await agent_for("aiko", "Aiko Tanaka", ["ja", "en"])
    first, hit = await hand_off(desk, connect, aiko, 1)
    clock.advance(12)
    await reply(aiko, first, hit, "お待たせしました。")

    second, missed = await hand_off(desk, connect, aiko, 2)
    clock.advance(45)
    dispatcher = desk.app[SERVICES].dispatcher
    async with asyncio.timeout(5):  # the server's ticker raises the breach
        while not dispatcher.sla_of(missed).first_response.breached:
            await asyncio.sleep(0.01)
    await reply(aiko, second, missed, "大変お待たせしました。")

    # The supervisor logs in only now, with no console open.
    accounts = desk.app[SERVICES].accounts
    await accounts.add(
        username="sam",
        name="Sam Okafor",
        languages=["en"],
        teams=["technical", "account", "trading"],
        capacity=2,
        role="supervisor",
        password=PASSWORD,
    )
    token = (await accounts.login("sam", PASSWORD)).token
    status, body = await get(desk, "/api/v1/dashboard", token)
    assert status == 200
    figures = json.loads(body)
    first_response = figures["first_response"]
    assert first_response["share_within_target"] == 0.5
    assert first_response["by_language"] == [
        {
            "language": "ja",
            "handoffs": 2,
            "within_target": 1,
            "missed": 1,
            "share_within_target": 0.5,
        }
    ]
    nine = next(h for h in first_response["by_hour"] if h["hour"] == 9)  # the fake clock's
    assert nine["share_within_target"] == 0.5
    (breach,) = figures["alerts"]
    assert breach["type"] == "breach"
    assert breach["conversation_id"] == missed
    assert breach["language"] == "ja"
    assert breach["remaining_seconds"] < 0
    aiko_row = next(a for a in figures["agents"]["agents"] if a["name"] == "Aiko Tanaka")
    assert (aiko_row["status"], aiko_row["load"]) == ("online", 2)
    assert figures["agents"]["counts"]["offline"] == 1  # sam, without a console
    assert figures["abandonment"] == {"handoffs": 2, "abandoned": 0, "share": 0.0}

    # The console reads the same alerts when it connects.
    status, body = await get(desk, "/api/v1/dashboard/alerts", token)
    assert status == 200
    assert [a["conversation_id"] for a in json.loads(body)["alerts"]] == [missed]

    status, body = await get(desk, "/api/v1/dashboard?format=csv", token)
    assert status == 200
    table = list(csv.reader(io.StringIO(body)))
    assert ["language", "ja", "share_within_target", "0.5"] in table
    assert ["hour", "09:00", "missed", "1"] in table


async def test_only_supervisors_read_the_dashboard(desk, agent_for):
    await agent_for("aiko", "Aiko Tanaka", ["ja"])
    token = (await desk.app[SERVICES].accounts.login("aiko", PASSWORD)).token
    for path in ("/api/v1/dashboard", "/api/v1/dashboard/alerts"):
        status, body = await get(desk, path, token)
        assert status == 403, body
        status, _ = await get(desk, path, "not-a-token")
        assert status == 403
