"""What an agent sees of a customer, end to end (real Socket.IO clients, real server, real
SQLite): the customer's latest question in the queue, the matched FAQ entry in the agent's
language under each customer message, and system lines in the agent's language."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatserver.keys import SERVICES
from chatserver.preview import PREVIEW_CHARS
from chatserver.settings import Settings
from tests.conftest import FakeClock, ServerFactory, top_faq
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


THAI = re.compile(r"[\u0e00-\u0e7f]")


def by_seq(messages: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {m["seq"]: m for m in messages}


async def agent_message(agent: Agent, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first `message` pushed to `agent` for which `until` holds."""
    async with asyncio.timeout(5):
        while True:
            found = next((m for m in agent.pushed("message") if until(m)), None)
            if found is not None:
                return found
            await asyncio.sleep(0.01)


async def test_an_english_agent_sees_what_a_thai_customer_asked_and_the_desks_lines_in_english(
    desk, connect, agent_for, clock
):
    emma = await agent_for("emma", "Emma Clarke", ["en"])
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["th-TH"]})
    conversation_id = started["conversation"]["id"]
    asked = await customer.call("message", {"text": "ลืมรหัสผ่านMT5ต้องทำยังไง", "client_id": "t1"})
    (reply,) = await customer.wait_pushed("message")
    assert reply["author"] == "bot"
    assert top_faq(reply) == "mt-password-reset"
    assert (await customer.call("request_agent", {}))["ok"] is True

    await emma.wait_pushed("offer")  # nobody speaks Thai: widened to English
    assert (await emma.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    (briefing,) = await emma.wait_pushed("conversation")
    assert briefing["agent_language"] == "en"
    seen = by_seq(briefing["messages"])

    # Under the customer's question: the entry it matched, in English.
    question = seen[asked["message"]["seq"]]
    assert question["text"] == "ลืมรหัสผ่านMT5ต้องทำยังไง"
    assert question["faq"] == {
        "id": "mt-password-reset",
        "question": "I forgot my MT5 password. How can I reset it?",
        "language": "en",
    }
    assert "faq" not in seen[reply["seq"]]  # the bot's answer is not a question

    # The desk's lines as Emma reads them, and as the customer read them (in Thai).
    told = {m["seq"]: m for m in customer.pushed("message") if m["author"] == "system"}
    assert len(told) >= 3, told
    english = {seq: seen[seq]["text"] for seq in told}
    assert (
        "No colleague who speaks Thai is free right now, so a colleague will answer you in "
        "English." in english.values()
    )
    assert "I am connecting you with a member of our team. You are number 1 in line." in (
        english.values()
    )
    for seq, message in told.items():
        assert THAI.search(message["text"]), message
        assert not THAI.search(english[seq]), english[seq]
        assert seen[seq]["language"] == "en"
        assert seen[seq]["meta"]["kind"] == message["meta"]["kind"]
    joined = await agent_message(emma, lambda m: m["meta"].get("kind") == "assigned")
    assert joined["text"] == "Emma Clarke has joined the conversation."
    assert THAI.search(told[joined["seq"]]["text"])
    assert "Emma Clarke" in told[joined["seq"]]["text"]

    # A question written while Emma has the chat comes with its entry too.
    clock.advance(5)
    later = await customer.call("message", {"text": "ถอนเงินต้องใช้เวลากี่วัน", "client_id": "t2"})
    pushed = await agent_message(emma, lambda m: m["seq"] == later["message"]["seq"])
    assert pushed["faq"] == {
        "id": "withdrawal-processing-time",
        "question": "How long does a withdrawal take?",
        "language": "en",
    }
    assert later["message"]["meta"] == {"faq_id": "withdrawal-processing-time"}
    assert "faq" not in later["message"]  # the customer is not shown it

    # The customer leaves for good: Emma is told in English, the customer's copy is Thai.
    await customer.client.disconnect()
    clock.advance(61)
    left = await agent_message(emma, lambda m: m["meta"].get("kind") == "customer_left")
    assert left["text"].startswith("You were away for a while")
    stored = await desk.app[SERVICES].store.messages(conversation_id)
    assert THAI.search(next(m for m in stored if m.seq == left["seq"]).text)


async def test_an_agent_who_speaks_the_customers_language_reads_the_transcript_as_it_is(
    desk, connect, agent_for
):
    aiko = await agent_for("aiko", "Aiko Tanaka", ["ja", "en"])
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["ja"]})
    conversation_id = started["conversation"]["id"]
    await customer.call("message", {"text": "MT5のパスワードを忘れました", "client_id": "j1"})
    await customer.call("request_agent", {})
    await aiko.wait_pushed("offer")
    await aiko.call("accept", {"conversation_id": conversation_id})
    (briefing,) = await aiko.wait_pushed("conversation")
    assert briefing["agent_language"] == "ja"
    stored = await desk.app[SERVICES].store.messages(conversation_id)
    # The same text as the customer's; no FAQ line under a question she can read herself.
    assert [(m["seq"], m["text"]) for m in briefing["messages"]] == [
        (m.seq, m.text) for m in stored if not m.internal
    ]
    assert not any("faq" in m for m in briefing["messages"])
    asked = next(m for m in briefing["messages"] if m["author"] == "customer")
    assert asked["meta"]["faq_id"] == "mt-password-reset"  # recorded all the same
