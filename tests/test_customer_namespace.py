"""The /customer namespace through a real python-socketio client against a real server."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest

from chatserver.keys import SIO
from chatserver.settings import Settings
from chatserver.store import ExchangeResult, SqlStore, open_store
from tests.conftest import FakeClock, top_faq


async def test_start_creates_a_conversation_with_a_token_and_a_greeting(server, connect):
    customer = await connect(server)
    ack = await customer.call("start", {})
    assert ack["ok"] is True
    conversation = ack["conversation"]
    assert len(conversation["id"]) == 32
    assert conversation["status"] == "bot"
    assert conversation["language"] == "en"
    assert len(ack["token"]) >= 40
    assert ack["resumed"] is False
    (greeting,) = ack["messages"]
    assert greeting["author"] == "bot"
    assert greeting["seq"] == 1
    assert greeting["meta"]["kind"] == "greeting"
    assert "assistant" in greeting["text"]


async def test_greeting_follows_the_browser_language(server, connect):
    customer = await connect(server, headers={"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.8"})
    ack = await customer.call("start", {})
    assert ack["conversation"]["language"] == "ja"
    assert "アシスタント" in ack["messages"][0]["text"]


async def test_explicit_language_choice_wins_over_the_browser(server, connect):
    customer = await connect(server, headers={"Accept-Language": "en-US"})
    ack = await customer.call("start", {"language": "ja", "languages": ["en-US"]})
    assert ack["conversation"]["language"] == "ja"


async def test_japanese_question_gets_a_japanese_faq_answer(server, connect):
    customer = await connect(server)
    await customer.call("start", {"languages": ["en-US"]})
    ack = await customer.call(
        "message", {"text": "MT5のパスワードを忘れました", "client_id": "c-1"}
    )
    assert ack["ok"] is True
    assert ack["duplicate"] is False
    assert ack["message"]["seq"] == 2
    assert ack["message"]["author"] == "customer"
    (reply,) = await customer.wait_pushed("message")
    assert reply["seq"] == 3
    assert reply["author"] == "bot"
    assert reply["language"] == "ja"
    assert reply["meta"]["kind"] == "answer"
    assert top_faq(reply) == "mt-password-reset"
    assert "パスワード" in reply["text"]


async def test_english_question_gets_an_english_answer(server, connect):
    customer = await connect(server)
    await customer.call("start", {})
    await customer.call("message", {"text": "I forgot my MT5 password", "client_id": "e-1"})
    (reply,) = await customer.wait_pushed("message")
    assert reply["language"] == "en"
    assert reply["meta"]["kind"] == "answer"
    assert top_faq(reply) == "mt-password-reset"
    assert "password" in reply["text"].lower()


async def test_unknown_question_is_declined_in_the_customers_language(server, connect):
    customer = await connect(server, headers={"Accept-Language": "ja"})
    await customer.call("start", {})
    await customer.call("message", {"text": "今日の東京の天気と、おすすめのラーメン屋は？"})
    (reply,) = await customer.wait_pushed("message")
    assert reply["meta"]["kind"] in {"decline", "suggest"}
    assert reply["language"] == "ja"


async def test_resend_with_the_same_client_id_is_stored_once(server, connect):
    customer = await connect(server)
    started = await customer.call("start", {})
    first = await customer.call("message", {"text": "I forgot my MT5 password", "client_id": "dup"})
    second = await customer.call(
        "message", {"text": "I forgot my MT5 password", "client_id": "dup"}
    )
    assert second["ok"] is True
    assert second["duplicate"] is True
    assert second["message"]["id"] == first["message"]["id"]
    assert second["message"]["seq"] == first["message"]["seq"]
    # One bot reply only, and one customer message in the stored history.
    await customer.wait_pushed("message")
    history = await customer.call("start", {"token": started["token"]})
    assert [m["author"] for m in history["messages"]] == ["bot", "customer", "bot"]


async def test_resume_returns_what_was_missed_after_last_seq(server, connect):
    first = await connect(server)
    started = await first.call("start", {})
    await first.call("message", {"text": "How do I install MT5?", "client_id": "a"})
    await first.wait_pushed("message")
    await first.client.disconnect()

    second = await connect(server)
    ack = await second.call("start", {"token": started["token"], "last_seq": 1})
    assert ack["ok"] is True
    assert ack["resumed"] is True
    assert ack["conversation"]["id"] == started["conversation"]["id"]
    assert [m["seq"] for m in ack["messages"]] == [2, 3]
    assert [m["author"] for m in ack["messages"]] == ["customer", "bot"]


async def test_other_tabs_of_the_customer_see_the_conversation(server, connect):
    tab1 = await connect(server)
    started = await tab1.call("start", {})
    tab2 = await connect(server)
    await tab2.call("start", {"token": started["token"], "last_seq": 1})
    await tab1.call("message", {"text": "How do I install MT5?", "client_id": "t"})
    customer_echo, bot_reply = await tab2.wait_pushed("message", 2)
    assert customer_echo["author"] == "customer"
    assert bot_reply["author"] == "bot"
    assert [m["author"] for m in await tab1.wait_pushed("message")] == ["bot"]


async def test_conversation_survives_a_server_restart(start_server, settings, connect):
    first_server = await start_server(settings, clock=FakeClock())
    customer = await connect(first_server)
    started = await customer.call("start", {"languages": ["ja"]})
    await customer.call("message", {"text": "MT5のパスワードを忘れました", "client_id": "r1"})
    await customer.wait_pushed("message")
    await customer.client.disconnect()
    await first_server.close()

    second_server = await start_server(settings, clock=FakeClock())
    again = await connect(second_server)
    ack = await again.call("start", {"token": started["token"]})
    assert ack["ok"] is True
    assert [m["seq"] for m in ack["messages"]] == [1, 2, 3]
    assert ack["messages"][1]["text"] == "MT5のパスワードを忘れました"
    assert ack["messages"][2]["meta"]["faq_id"] == "mt-password-reset"


async def test_long_polling_transport_works_too(server, connect):
    customer = await connect(server, transport="polling")
    ack = await customer.call("start", {})
    assert ack["ok"] is True
    await customer.call("message", {"text": "How do I install MT5?"})
    (reply,) = await customer.wait_pushed("message")
    assert top_faq(reply) == "mt5-install"
    # Shutting the server down closes the long poll at once (graceful shutdown).
    await server.close()
    async with asyncio.timeout(5):
        while customer.client.connected:
            await asyncio.sleep(0.01)


# --- bad input: every refusal has a code and loses nothing -------------------------------


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("just a string", "invalid_payload"),
        ([1, 2], "invalid_payload"),
        ({"text": 42}, "invalid_payload"),
        ({"text": "   "}, "invalid_payload"),
        ({}, "invalid_payload"),
        ({"text": "hi", "client_id": ""}, "invalid_payload"),
        ({"text": "hi", "client_id": "x" * 65}, "invalid_payload"),
        ({"text": "x" * 501}, "text_too_long"),
        ({"text": "hi", "conversation_id": "someone-else"}, "unknown_conversation"),
    ],
)
async def test_bad_message_payloads_get_an_error_code(server, connect, payload, code):
    customer = await connect(server)
    await customer.call("start", {})
    ack = await customer.call("message", payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] == code
    assert ack["error"]["message"]
    # The conversation still works afterwards.
    assert (await customer.call("message", {"text": "hello"}))["ok"] is True


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("nope", "invalid_payload"),
        ({"last_seq": -1}, "invalid_payload"),
        ({"last_seq": "3"}, "invalid_payload"),
        ({"languages": "ja"}, "invalid_payload"),
        ({"languages": ["x" * 40]}, "invalid_payload"),
        ({"token": 5}, "invalid_payload"),
        ({"token": "not-a-real-token"}, "unknown_conversation"),
    ],
)
async def test_bad_start_payloads_get_an_error_code(server, connect, payload, code):
    customer = await connect(server)
    ack = await customer.call("start", payload)
    assert ack == {"ok": False, "error": {"code": code, "message": ack["error"]["message"]}}


async def test_message_before_start_is_refused(server, connect):
    customer = await connect(server)
    ack = await customer.call("message", {"text": "hello"})
    assert ack["error"]["code"] == "not_started"


async def test_unknown_event_gets_an_error_reply(server, connect):
    customer = await connect(server)
    ack = await customer.call("teleport", {"to": "mars"})
    assert ack["error"]["code"] == "unknown_event"


async def test_more_than_one_argument_is_refused(server, connect):
    customer = await connect(server)
    ack = await customer.client.call("start", ({}, {}), namespace="/customer", timeout=5)
    assert ack["error"]["code"] == "invalid_payload"


async def test_errors_are_counted_in_metrics(server, connect):
    customer = await connect(server)
    await customer.call("message", {"text": "hello"})
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.make_url("/metrics")) as response,
    ):
        text = await response.text()
    assert 'chatserver_event_errors_total{code="not_started",event="message"} 1.0' in text


async def test_the_conversation_follows_a_clear_change_of_language(server, connect):
    customer = await connect(server)
    await customer.call("start", {})
    await customer.call("message", {"text": "MT5のパスワードを忘れました", "client_id": "1"})
    await customer.call("message", {"text": "How do I withdraw money from my account?"})
    japanese, english = await customer.wait_pushed("message", 2)
    assert japanese["language"] == "ja"
    assert english["language"] == "en"
    top = english["meta"].get("faq_id") or english["meta"]["suggestions"][0]["faq_id"]
    assert top == "withdrawal-how-to"


async def test_an_explicit_choice_is_never_overridden_by_detection(server, connect):
    customer = await connect(server)
    await customer.call("start", {"language": "ja"})
    await customer.call("message", {"text": "How do I withdraw money from my account?"})
    (reply,) = await customer.wait_pushed("message")
    assert reply["language"] == "ja"


class HeldStore(SqlStore):
    """The real store, whose bot exchanges wait until the test lets them go."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held = asyncio.Event()
        self.waiting = 0

    async def append_exchange(self, *args: Any, **kwargs: Any) -> ExchangeResult:
        self.waiting += 1
        await self.held.wait()
        return await super().append_exchange(*args, **kwargs)


async def test_a_tab_closed_while_its_message_is_answered_loses_nothing_and_logs_no_error(
    start_server, settings, connect, caplog
) -> None:
    stores: list[HeldStore] = []

    async def held_store(settings: Settings) -> SqlStore:
        store = await open_store(settings.database_url, store_class=HeldStore)
        assert isinstance(store, HeldStore)
        stores.append(store)
        return store

    server = await start_server(settings, clock=FakeClock(), store_factory=held_store)
    customer = await connect(server)
    started = await customer.call("start", {"languages": ["en"]})
    store = stores[0]
    body = {"text": "How do I install MT5?", "client_id": "m1"}
    await customer.client.emit("message", body, namespace="/customer")
    async with asyncio.timeout(5):
        while store.waiting == 0:  # the message is being answered...
            await asyncio.sleep(0.01)
    sio = server.app[SIO]
    sid = next(iter(sio.manager.rooms["/customer"][None]))
    await customer.client.disconnect()  # ... when the tab closes
    async with asyncio.timeout(5):
        while sio.manager.is_connected(sid, "/customer"):
            await asyncio.sleep(0.01)
    caplog.set_level(logging.INFO, logger="chatserver.sockets.base")
    store.held.set()
    conversation_id = started["conversation"]["id"]
    async with asyncio.timeout(5):
        while len(await store.messages(conversation_id)) < 3:  # greeting, message, answer
            await asyncio.sleep(0.01)

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert any("the client left before its answer" in r.getMessage() for r in caplog.records)
    # Back in a new tab: the message and its answer are there, and a resend is a duplicate.
    again = await connect(server)
    resumed = await again.call("start", {"token": started["token"]})
    shown = [(m["author"], m["seq"]) for m in resumed["messages"]]
    assert shown[-2:] == [("customer", 2), ("bot", 3)]
    resent = await again.call("message", body)
    assert resent["duplicate"] is True
    assert resent["message"]["seq"] == 2
