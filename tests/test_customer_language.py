"""The conversation's language over the wire: greeting, answers, confirmation and choice."""

from __future__ import annotations

import re

import pytest

from tests.conftest import top_faq

THAI = re.compile(r"[\u0e00-\u0e7f]")
ARABIC = re.compile(r"[\u0600-\u06ff]")


async def test_a_thai_customer_is_greeted_and_answered_in_thai(server, connect):
    customer = await connect(server, headers={"Accept-Language": "th-TH,th;q=0.9"})
    started = await customer.call("start", {"languages": ["th-TH"]})
    assert started["conversation"]["language"] == "th"
    greeting = started["messages"][0]["text"]
    assert THAI.search(greeting), greeting
    await customer.call("message", {"text": "ลืมรหัสผ่านMT5ต้องทำยังไง", "client_id": "th-1"})
    (reply,) = await customer.wait_pushed("message")
    assert reply["language"] == "th"
    assert top_faq(reply) == "mt-password-reset"
    assert THAI.search(reply["text"])


async def test_an_arabic_customer_is_answered_right_to_left_in_arabic(server, connect):
    customer = await connect(server)
    started = await customer.call("start", {"languages": ["ar-SA"]})
    assert started["conversation"]["direction"] == "rtl"
    assert ARABIC.search(started["messages"][0]["text"])
    await customer.call("message", {"text": "كيف أسحب أموالي؟", "client_id": "ar-1"})
    (reply,) = await customer.wait_pushed("message")
    assert reply["language"] == "ar"
    assert top_faq(reply) == "withdrawal-how-to"
    assert ARABIC.search(reply["text"])


async def test_a_thai_message_in_an_english_browser_switches_to_thai(server, connect):
    customer = await connect(server, headers={"Accept-Language": "en-US"})
    await customer.call("start", {})
    await customer.call("message", {"text": "อยากถอนเงิน"})
    (reply,) = await customer.wait_pushed("message")
    assert reply["language"] == "th"
    assert top_faq(reply) == "withdrawal-how-to"


async def test_a_tiny_first_message_does_not_change_the_language_or_ask(server, connect):
    customer = await connect(server)
    await customer.call("start", {"languages": ["en-GB"]})
    await customer.call("message", {"text": "ok"})
    (reply,) = await customer.wait_pushed("message")
    assert reply["language"] == "en"
    await customer.call("message", {"text": "How do I withdraw money?"})
    replies = await customer.wait_pushed("message", 2)
    assert all(r["meta"]["kind"] != "language_confirm" for r in replies)


async def test_an_unsure_first_message_asks_which_language_then_follows_the_choice(server, connect):
    customer = await connect(server)
    await customer.call("start", {})
    # Indonesian and Malay share these words: the detector cannot tell, so it asks.
    await customer.call("message", {"text": "Bagaimana cara tarik dana", "client_id": "m1"})
    answer, question = await customer.wait_pushed("message", 2)
    assert question["meta"]["kind"] == "language_confirm"
    choices = question["meta"]["choices"]
    assert {c["language"] for c in choices} == {"id", "ms"}
    assert {c["name"] for c in choices} == {"Indonesia", "Melayu"}
    assert answer["language"] in {"id", "ms"}

    ack = await customer.call("choose_language", {"language": "ms"})
    assert ack["ok"] is True
    assert ack["conversation"]["language"] == "ms"
    assert ack["conversation"]["language_confirmed"] is True
    chosen = (await customer.wait_pushed("message", 3))[2]
    assert chosen["meta"]["kind"] == "language_chosen"
    assert chosen["language"] == "ms"

    # The choice holds even when a later message reads as another language.
    await customer.call("message", {"text": "How do I withdraw money from my account?"})
    last = (await customer.wait_pushed("message", 4))[3]
    assert last["language"] == "ms"


async def test_kanji_only_message_keeps_a_japanese_conversation_japanese(server, connect):
    customer = await connect(server)
    await customer.call("start", {})
    await customer.call("message", {"text": "MT5のパスワードを忘れました"})
    await customer.call("message", {"text": "出金"})
    first, second = await customer.wait_pushed("message", 2)
    assert first["language"] == "ja"
    assert second["language"] == "ja"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"language": "xx-YY"}, "unsupported_language"),
        ({"language": "ru"}, "unsupported_language"),
        ({}, "invalid_payload"),
        ({"language": 7}, "invalid_payload"),
    ],
)
async def test_bad_language_choices_are_refused(server, connect, payload, code):
    customer = await connect(server)
    await customer.call("start", {})
    ack = await customer.call("choose_language", payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] == code


async def test_choosing_a_language_before_start_is_refused(server, connect):
    customer = await connect(server)
    ack = await customer.call("choose_language", {"language": "ja"})
    assert ack["error"]["code"] == "not_started"


@pytest.mark.parametrize(
    "text",
    [
        "MT5のパスワードを忘れました",  # the bot answers in Japanese
        "オペレーターと話したいです",  # no bot reply: the chat goes to a person at once
    ],
)
async def test_the_message_acknowledgement_says_the_language_the_message_settled(
    server, connect, text
):
    customer = await connect(server, headers={"Accept-Language": "en-US"})
    started = await customer.call("start", {"languages": ["en-US"]})
    assert started["conversation"]["language"] == "en"
    ack = await customer.call("message", {"text": text, "client_id": "j1"})
    assert ack["ok"] is True
    assert ack["conversation"]["id"] == started["conversation"]["id"]
    assert ack["conversation"]["language"] == "ja"
    assert ack["conversation"]["direction"] == "ltr"
    assert ack["conversation"]["last_seq"] >= ack["message"]["seq"]


async def test_a_language_picked_before_writing_brings_the_greeting_again_in_it(server, connect):
    customer = await connect(server, headers={"Accept-Language": "en-US"})
    started = await customer.call("start", {"languages": ["en-US"]})
    (greeting,) = started["messages"]
    assert greeting["meta"]["kind"] == "greeting"
    assert greeting["language"] == "en"

    await customer.call("choose_language", {"language": "de"})
    (again,) = await customer.wait_pushed("message")
    assert again["meta"] == {"kind": "greeting", "replaces": greeting["seq"]}
    assert again["language"] == "de"
    assert again["text"].startswith("Hallo!"), again["text"]

    await customer.call("choose_language", {"language": "ja"})
    third = (await customer.wait_pushed("message", 2))[1]
    assert third["meta"] == {"kind": "greeting", "replaces": again["seq"]}
    assert third["language"] == "ja"

    # Once the customer has written, a choice is confirmed instead.
    await customer.call("message", {"text": "MT5のパスワードを忘れました", "client_id": "m1"})
    await customer.wait_pushed("message", 3)
    await customer.call("choose_language", {"language": "fr"})
    chosen = (await customer.wait_pushed("message", 4))[3]
    assert chosen["meta"]["kind"] == "language_chosen"
    assert chosen["language"] == "fr"
