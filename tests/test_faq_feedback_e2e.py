"""The bot answers, and learns from customers: related topics and "did that help?" under an
answer, feedback stored and answered, declines recorded. Real python-socketio clients
against the real server and its SQLite file."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chatserver.bot import DECLINE, NOT_HELPFUL, NOT_HELPFUL_ALTERNATIVES
from chatserver.faq import MatchOutcome
from chatserver.keys import SERVICES
from chatserver.limits import Rate
from tests.conftest import Customer, FakeClock
from tests.test_handoff_e2e import connect_agent

# Questions the real FAQ answers outright, not word for word (an exact phrasing has no
# runners-up): the first of them the server's matcher answers with related topics is used.
ANSWERED_WITH_RELATED = (
    "Do you charge a commission?",
    "I moved house, how do I update my address",
    "Why did the spread widen? please",
    "install indicator please",
)
# Too vague for one answer: the real FAQ suggests entries.
AMBIGUOUS = {"ja": ("パスワード", "口座を解約したい"), "en": ("account", "password")}
OFF_TOPIC = "what is the capital of France"


def answered_with_related(server: Any) -> tuple[str, list[str]]:
    """A question the server's bot answers with related topics, and their ids."""
    matcher = server.app[SERVICES].bot.matcher
    for text in ANSWERED_WITH_RELATED:
        result = matcher.match(text, "en")
        if result.outcome is MatchOutcome.ANSWER and result.related and not result.is_urgent:
            return text, [entry.id for entry in result.related]
    pytest.fail(f"none of {ANSWERED_WITH_RELATED} is answered with related topics")


async def ask(customer: Customer, text: str, client_id: str) -> tuple[dict, dict]:
    """Send `text`; the stored customer message and the bot's reply to it."""
    before = len(customer.pushed("message"))
    ack = await customer.call("message", {"text": text, "client_id": client_id})
    assert ack["ok"] is True, ack
    reply = (await customer.wait_pushed("message", before + 1))[-1]
    assert reply["meta"]["in_reply_to"] == ack["message"]["seq"]
    return ack["message"], reply


async def an_answer(server: Any, customer: Customer) -> tuple[str, dict]:
    await customer.call("start", {"language": "en"})
    text, _ = answered_with_related(server)
    _, reply = await ask(customer, text, "q-1")
    return text, reply


async def suggestions(customer: Customer, language: str) -> tuple[str, dict]:
    """The customer's vague question and the bot's suggestions for it."""
    for n, text in enumerate(AMBIGUOUS[language]):
        _, reply = await ask(customer, text, f"vague-{n}")
        if reply["meta"]["kind"] == "suggest":
            return text, reply
    pytest.fail(f"none of {AMBIGUOUS[language]} gave suggestions")


def translated(server: Any, language: str, msgid: str) -> str:
    return str(server.app[SERVICES].catalogs.translator(language).gettext(msgid))


async def test_an_answer_carries_related_topics_and_asks_whether_it_helped(server, connect):
    customer = await connect(server)
    await customer.call("start", {"language": "en"})
    text, related = answered_with_related(server)
    _, reply = await ask(customer, text, "q-1")
    meta = reply["meta"]
    assert meta["kind"] == "answer"
    assert meta["ask_feedback"] is True
    faq = server.app[SERVICES].bot.matcher.faq
    assert meta["related"] == [
        {"faq_id": faq_id, "question": faq.entry(faq_id, "en").question} for faq_id in related
    ]
    assert meta["faq_id"] not in related
    # The answer itself is the entry's text: "did that help?" is the widget's to ask.
    assert reply["text"] == faq.entry(meta["faq_id"], "en").answer


async def test_yes_is_stored_with_the_question_and_the_first_word_stands(server, connect):
    customer = await connect(server)
    text, answer = await an_answer(server, customer)
    pushed = len(customer.pushed("message"))

    ack = await customer.call("faq_feedback", {"seq": answer["seq"], "helpful": True})
    assert ack == {"ok": True, "helpful": True, "duplicate": False}
    store = server.app[SERVICES].store
    stored = await store.faq_feedback(answer["conversation_id"], answer["seq"])
    assert stored is not None
    assert (stored.helpful, stored.query, stored.faq_id, stored.language) == (
        True,
        text,
        answer["meta"]["faq_id"],
        "en",
    )

    # A second word (another tab, a change of mind) changes nothing: the first stands.
    again = await customer.call("faq_feedback", {"seq": answer["seq"], "helpful": False})
    assert again == {"ok": True, "helpful": True, "duplicate": True}
    assert await store.faq_feedback(answer["conversation_id"], answer["seq"]) == stored
    assert len(customer.pushed("message")) == pushed  # "yes" gets no reply from the bot


async def test_no_is_stored_and_the_bot_offers_the_related_topics_and_a_person(server, connect):
    customer = await connect(server)
    text, answer = await an_answer(server, customer)
    pushed = len(customer.pushed("message"))

    ack = await customer.call("faq_feedback", {"seq": answer["seq"], "helpful": False})
    assert ack == {"ok": True, "helpful": False, "duplicate": False}
    reply = (await customer.wait_pushed("message", pushed + 1))[-1]
    assert reply["author"] == "bot"
    assert reply["meta"]["kind"] == "not_helpful"
    assert reply["meta"]["feedback_on"] == answer["seq"]
    assert reply["meta"]["offer_agent"] is True
    assert reply["meta"]["suggestions"] == answer["meta"]["related"]
    assert reply["text"] == NOT_HELPFUL_ALTERNATIVES
    stored = await server.app[SERVICES].store.faq_feedback(answer["conversation_id"], answer["seq"])
    assert stored is not None
    assert (stored.helpful, stored.query) == (False, text)

    # A resend is acknowledged as a duplicate, and the bot does not say it twice.
    again = await customer.call("faq_feedback", {"seq": answer["seq"], "helpful": False})
    assert again == {"ok": True, "helpful": False, "duplicate": True}
    assert len(customer.pushed("message")) == pushed + 1

    # An alternative is one tap away, and the pick remembers the customer's own words.
    alternative = reply["meta"]["suggestions"][0]
    picked = await customer.call("choose_suggestion", {"faq_id": alternative["faq_id"]})
    assert picked["ok"] is True, picked
    assert picked["message"]["meta"] == {"chose": alternative["faq_id"], "from_seq": reply["seq"]}
    answer_to_pick = (await customer.wait_pushed("message", pushed + 2))[-1]
    assert answer_to_pick["meta"]["faq_id"] == alternative["faq_id"]
    (choice,) = await server.app[SERVICES].store.faq_choices()
    assert (choice.query, choice.chosen) == (text, alternative["faq_id"])

    # And a person: the request-agent flow, as from any other button.
    assert (await customer.call("request_agent", {}))["ok"] is True
    assert customer.pushed("queued") or customer.pushed("offline")


async def test_picking_a_suggestion_answers_with_the_others_as_related_topics_and_no_replies_in_the_customers_language(
    server, connect
):
    customer = await connect(server)
    await customer.call("start", {"language": "ja"})
    vague, offer = await suggestions(customer, "ja")
    offered = offer["meta"]["suggestions"]
    pushed = len(customer.pushed("message"))
    ack = await customer.call("choose_suggestion", {"faq_id": offered[0]["faq_id"]})
    assert ack["ok"] is True
    answer = (await customer.wait_pushed("message", pushed + 1))[-1]
    assert answer["meta"]["kind"] == "answer"
    assert answer["meta"]["ask_feedback"] is True
    assert answer["meta"]["related"] == offered[1:3]

    # "No" is answered in the customer's language, with the other suggestions again ...
    await customer.call("faq_feedback", {"seq": answer["seq"], "helpful": False})
    reply = (await customer.wait_pushed("message", pushed + 2))[-1]
    assert reply["language"] == "ja"
    assert reply["text"] == translated(server, "ja", NOT_HELPFUL_ALTERNATIVES)
    assert reply["text"] != NOT_HELPFUL_ALTERNATIVES
    assert [s["faq_id"] for s in reply["meta"]["suggestions"]] == [
        s["faq_id"] for s in offered[1:3]
    ]
    # ... and what is stored is what the customer typed, not the FAQ question they picked.
    stored = await server.app[SERVICES].store.faq_feedback(answer["conversation_id"], answer["seq"])
    assert stored is not None
    assert stored.query == vague
    assert stored.query != offered[0]["question"]


ONE_ENTRY_FAQ = """\
language: en
entries:
  - id: commissions
    category: trading
    priority: low
    question: Do you charge commissions?
    answer: Standard accounts pay no commission; Raw accounts pay 3.5 USD per lot per side.
"""


async def test_no_without_related_topics_offers_another_wording_and_a_person(
    start_server, settings, connect, tmp_path
):
    faq_dir = tmp_path / "faq"
    faq_dir.mkdir()
    (faq_dir / "en.yaml").write_text(ONE_ENTRY_FAQ, encoding="utf-8")
    server = await start_server(replace(settings, faq_dir=faq_dir), clock=FakeClock())
    customer = await connect(server)
    await customer.call("start", {"language": "en"})
    # A FAQ of one entry has no runner-up to offer.
    _, answer = await ask(customer, "Do you charge commissions?", "exact")
    assert answer["meta"]["kind"] == "answer"
    assert "related" not in answer["meta"]
    pushed = len(customer.pushed("message"))
    await customer.call("faq_feedback", {"seq": answer["seq"], "helpful": False})
    reply = (await customer.wait_pushed("message", pushed + 1))[-1]
    assert reply["text"] == NOT_HELPFUL
    assert reply["meta"] == {
        "kind": "not_helpful",
        "offer_agent": True,
        "feedback_on": answer["seq"],
    }


async def test_no_while_waiting_for_a_person_is_stored_without_a_reply(server, connect):
    emma = await connect_agent(server, "emma", "Emma Clarke", ["en"])
    customer = await connect(server)
    _, answer = await an_answer(server, customer)
    assert (await customer.call("request_agent", {}))["ok"] is True
    await customer.wait_pushed("queued")
    pushed = len(customer.pushed("message"))
    ack = await customer.call("faq_feedback", {"seq": answer["seq"], "helpful": False})
    assert ack["ok"] is True
    stored = await server.app[SERVICES].store.faq_feedback(answer["conversation_id"], answer["seq"])
    assert stored is not None
    assert stored.helpful is False
    assert not [m for m in customer.pushed("message")[pushed:] if m["author"] == "bot"]
    await emma.client.disconnect()


async def test_feedback_on_anything_but_an_answer_of_this_conversation_is_refused(
    start_server, settings, connect
):
    # Rate limits off: a dozen refusals in a row is the point here (they have their test).
    server = await start_server(replace(settings, rate_messages=None), clock=FakeClock())
    customer = await connect(server)
    before_start = await customer.call("faq_feedback", {"seq": 1, "helpful": True})
    assert before_start["error"]["code"] == "not_started"
    _, answer = await an_answer(server, customer)
    question_seq = answer["meta"]["in_reply_to"]
    other = await connect(server)
    elsewhere = (await other.call("start", {}))["conversation"]["id"]

    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"seq": 1, "helpful": True}, "not_an_answer", None),  # the greeting
        ({"seq": question_seq, "helpful": True}, "not_an_answer", None),  # the customer's
        ({"seq": 99, "helpful": True}, "unknown_message", None),
        ({"seq": 2**53, "helpful": True}, "unknown_message", None),
        (
            {"seq": answer["seq"], "helpful": True, "conversation_id": elsewhere},
            "unknown_conversation",
            None,
        ),
        ({"seq": 0, "helpful": True}, "invalid_payload", "seq"),
        ({"seq": "3", "helpful": True}, "invalid_payload", "seq"),
        ({"seq": True, "helpful": True}, "invalid_payload", "seq"),
        ({"helpful": True}, "invalid_payload", "seq"),
        ({"seq": answer["seq"], "helpful": "yes"}, "invalid_payload", "helpful"),
        ({"seq": answer["seq"], "helpful": 1}, "invalid_payload", "helpful"),
        ({"seq": answer["seq"]}, "invalid_payload", "helpful"),
    ]
    for payload, code, field in cases:
        ack = await customer.call("faq_feedback", payload)
        assert ack["ok"] is False, payload
        assert ack["error"]["code"] == code, (payload, ack)
        if field is not None:
            assert f"'{field}'" in ack["error"]["message"], ack
    # Nothing was stored for any of them, and the other conversation is untouched.
    store = server.app[SERVICES].store
    assert await store.faq_feedback(answer["conversation_id"], answer["seq"]) is None
    assert await store.faq_feedback(elsewhere, answer["seq"]) is None

    await customer.call("end", {})
    closed = await customer.call("faq_feedback", {"seq": answer["seq"], "helpful": True})
    assert closed["error"]["code"] == "conversation_closed"


async def test_feedback_is_rate_limited_like_messages_and_a_refused_one_stores_nothing(
    start_server, settings, connect
):
    clock = FakeClock()
    server = await start_server(
        replace(settings, rate_messages=Rate(1.0, 1)), clock=clock, monotonic=clock.monotonic
    )
    customer = await connect(server)
    _, answer = await an_answer(server, customer)  # the question takes the one token
    pushed = len(customer.pushed("message"))
    refused = await customer.call("faq_feedback", {"seq": answer["seq"], "helpful": False})
    assert refused["error"]["code"] == "rate_limited"
    assert refused["error"]["retry_after"] == pytest.approx(1.0, abs=0.01)
    store = server.app[SERVICES].store
    assert await store.faq_feedback(answer["conversation_id"], answer["seq"]) is None
    assert len(customer.pushed("message")) == pushed

    clock.advance(refused["error"]["retry_after"])
    ack = await customer.call("faq_feedback", {"seq": answer["seq"], "helpful": False})
    assert ack["ok"] is True
    await customer.wait_pushed("message", pushed + 1)
    assert await store.faq_feedback(answer["conversation_id"], answer["seq"]) is not None


@pytest.mark.parametrize("language", ["en", "ja", "ar", "de"])
async def test_an_off_topic_question_is_declined_with_a_person_offered_and_recorded(
    server, connect, language
):
    customer = await connect(server)
    await customer.call("start", {"language": language})
    stored, reply = await ask(customer, OFF_TOPIC, "off")
    assert reply["meta"]["kind"] == "decline"
    assert reply["meta"]["offer_agent"] is True
    assert reply["language"] == language
    assert reply["text"] == translated(server, language, DECLINE)
    if language != "en":
        assert reply["text"] != DECLINE  # said in the customer's language
    (decline,) = await server.app[SERVICES].store.faq_declines()
    assert (decline.conversation_id, decline.message_seq, decline.query, decline.language) == (
        stored["conversation_id"],
        stored["seq"],
        OFF_TOPIC,
        language,
    )
    assert decline.score == reply["meta"]["score"]

    # A resend of the same message records nothing twice.
    again = await customer.call("message", {"text": OFF_TOPIC, "client_id": "off"})
    assert again["duplicate"] is True
    assert len(await server.app[SERVICES].store.faq_declines()) == 1
