"""What an agent sees of a customer, end to end (real Socket.IO clients, real server, real
SQLite): the customer's latest question in the queue, the matched FAQ entry in the agent's
language under each customer message, and system lines in the agent's language."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatserver.preview import PREVIEW_CHARS
from chatserver.settings import Settings
from tests.conftest import FakeClock, ServerFactory
from tests.test_handoff_e2e import Agent, connect_agent, desk_settings

AgentFactory = Callable[..., Awaitable[Agent]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def desk(start_server: ServerFactory, settings: Settings, clock: FakeClock) -> TestServer:
    return await start_server(desk_settings(settings), clock=clock)


@pytest.fixture
async def agent_for(desk: TestServer) -> AsyncIterator[AgentFactory]:
    """An agent's account and console, connected: online from then on."""
    agents: list[Agent] = []

    async def make(username: str, name: str, languages: list[str]) -> Agent:
        agents.append(await connect_agent(desk, username, name, languages))
        return agents[-1]

    yield make
    for agent in agents:
        if agent.client.connected:
            await agent.client.disconnect()


async def queued_item(
    agent: Agent, conversation_id: str, until: Callable[[dict[str, Any]], bool] = bool
) -> dict[str, Any]:
    """The first queue item of `conversation_id` pushed to `agent` for which `until` holds."""
    async with asyncio.timeout(5):
        while True:
            for snapshot in agent.pushed("queue"):
                for item in snapshot["waiting"]:
                    if item["conversation_id"] == conversation_id and until(item):
                        return item
            await asyncio.sleep(0.01)


async def test_a_queue_item_shows_the_customers_latest_question_and_follows_it(
    desk, connect, agent_for
):
    aiko = await agent_for("aiko", "Aiko Tanaka", ["ja"])
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["ja"]})
    conversation_id = started["conversation"]["id"]
    await customer.call("message", {"text": "MT5のパスワードを\n忘れました", "client_id": "q1"})
    assert (await customer.call("request_agent", {}))["ok"] is True

    item = await queued_item(aiko, conversation_id)
    assert item["preview"] == "MT5のパスワードを 忘れました"  # on one line

    await customer.call("message", {"text": "まだですか？", "client_id": "q2"})
    item = await queued_item(aiko, conversation_id, lambda i: i["preview"] != item["preview"])
    assert item["preview"] == "まだですか？"

    long = "パスワードをリセットしたいのですが、" * 20
    await customer.call("message", {"text": long, "client_id": "q3"})
    item = await queued_item(aiko, conversation_id, lambda i: i["preview"].startswith("パス"))
    assert len(item["preview"]) == PREVIEW_CHARS
    assert item["preview"].endswith("…")
    assert long.startswith(item["preview"][:-1])


async def test_a_customer_who_has_not_written_has_no_preview(desk, connect, agent_for):
    aiko = await agent_for("aiko", "Aiko Tanaka", ["ja"])
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["ja"]})
    await customer.call("request_agent", {})
    item = await queued_item(aiko, started["conversation"]["id"])
    assert item["preview"] is None
