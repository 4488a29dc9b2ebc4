"""The customer's use cases (chatserver/desk.py) called directly: no server, no Socket.IO.

The desk is built as `chatserver.app` builds it, over a real SQLite store, the real FAQ
(ROOT/faq, its matcher cached by `load_matcher`) and a FakeClock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from chatserver import sla
from chatserver.agents import AgentAccount
from chatserver.app import load_detector
from chatserver.bot import Bot, ReplyKind
from chatserver.desk import (
    SUGGESTION_LOOKBACK,
    ConversationClosed,
    Desk,
    NotAnAnswer,
    Received,
    UnknownMessage,
    UnknownSuggestion,
)
from chatserver.faq import FaqMatcher
from chatserver.faq_reload import faq_fingerprint, load_matcher
from chatserver.i18n import Catalogs
from chatserver.metrics import Metrics
from chatserver.models import (
    Author,
    Conversation,
    ConversationStatus,
    Message,
    NewMessage,
    Priority,
    Role,
    Team,
    UnknownConversation,
    UnsupportedLanguage,
)
from chatserver.protocol import ServerEvent
from chatserver.settings import Settings
from chatserver.store import SqlStore, open_store
from chatserver.wiring import build_desk
from tests.conftest import FakeClock, counting_ids
from tests.faulty import StoreFault, open_faulty
from tests.test_faq_embedding import pytestmark as needs_encoder

OFF_TOPIC = ("what is the capital of France", "Which river flows through Paris")
WITHDRAW = "How do I withdraw money?"
URGENT = "got a margin call email, is my money gone??"


@dataclass
class Fixture:
    desk: Desk
    store: SqlStore
    clock: FakeClock


@pytest.fixture
async def built(settings: Settings) -> AsyncIterator[Fixture]:
    """A desk wired the way `chatserver.app._faq`, `_store` and `_desk` wire it (the desk
    itself by the app's recipe, `chatserver.wiring.build_desk`)."""
    store = await open_store(settings.database_url)
    try:
        yield await desk_over(settings, store)
    finally:
        await store.close()


async def desk_over(settings: Settings, store: SqlStore) -> Fixture:
    _, matcher = load_matcher(
        settings.faq_dir,
        faq_fingerprint(settings.faq_dir),
        settings.faq_skip_invalid,
        settings.faq_embeddings,
    )
    catalogs = Catalogs.load(settings.locales_dir, settings.languages, settings.default_language)
    bot = Bot(matcher, catalogs)
    detector = load_detector(
        settings.languages, settings.language_backend, settings.default_language
    )
    clock = FakeClock()
    desk = build_desk(
        settings,
        store=store,
        bot=bot,
        detector=detector,
        clock=clock,
        new_id=counting_ids(),
        policies=sla.default_policies(),
        observe=Metrics.create().observe,
    )
    await desk.dispatcher.restore(agent_grace=timedelta(seconds=settings.agent_grace_seconds))
    return Fixture(desk, store, clock)


async def agent_online(built: Fixture) -> None:
    """An English agent of every team, online: a handoff queues rather than goes offline."""
    account = AgentAccount(
        id="agent-emma",
        username="emma",
        name="Emma Clarke",
        languages=("en",),
        teams=tuple(Team),
        capacity=2,
        role=Role.AGENT,
        password_hash="-",
        created_at=built.clock.now(),
    )
    await built.store.create_agent(account)
    await built.desk.dispatcher.agent_online(account)


async def conversation(built: Fixture, language: str = "en") -> Conversation:
    started = await built.desk.start(choice=language)
    return started.conversation


async def stored(built: Fixture, conversation_id: str) -> Conversation:
    found = await built.store.get_conversation(conversation_id)
    assert found is not None
    return found


def reply(received: Received) -> Message:
    """The bot's first reply to a customer message."""
    assert received.replies, received
    return received.replies[0]


async def suggested(built: Fixture) -> tuple[Conversation, Message]:
    """A conversation whose last bot reply offers suggestions."""
    for language, text in [("ja", "パスワード"), ("en", "account"), ("en", "password")]:
        started = await conversation(built, language)
        offer = reply(await built.desk.receive(started.id, text, None))
        if offer.meta["kind"] == ReplyKind.SUGGEST:
            return started, offer
    pytest.fail("no ambiguous question gave suggestions")


async def answered(built: Fixture) -> tuple[Conversation, Message]:
    """A conversation the bot answered with related topics under the answer."""
    started = await conversation(built)
    answer = reply(await built.desk.receive(started.id, WITHDRAW, "w1"))
    assert answer.meta["kind"] == ReplyKind.ANSWER
    assert answer.meta.get("related"), answer.meta
    return started, answer


# start and resume


async def test_a_new_conversation_gets_a_token_and_the_greeting_in_the_chosen_language(built):
    started = await built.desk.start(choice="ja", hints=["en"])
    assert not started.resumed
    assert started.conversation.language == "ja"
    assert started.conversation.language_confirmed is True
    assert started.conversation.language_source == "choice"
    (greeting,) = started.messages
    assert (greeting.seq, greeting.author, greeting.language) == (1, Author.BOT, "ja")
    assert greeting.meta["kind"] == ReplyKind.GREETING
    assert greeting.text == built.desk.bot.greeting("ja").text
    assert started.notifications == []
    again = await built.desk.start(token=started.token)
    assert again.conversation.id == started.conversation.id
    assert started.token != (await built.desk.start()).token


@pytest.mark.parametrize(
    ("choice", "hints", "language", "source"),
    [
        (None, ["th-TH", "en"], "th", "hint"),
        ("xx", ["de"], "de", "hint"),  # a choice the desk does not serve counts as none
        (None, ["xx"], "en", "default"),
        (None, [], "en", "default"),
    ],
)
async def test_without_a_choice_the_language_is_negotiated_from_the_hints(
    built, choice, hints, language, source
):
    started = await built.desk.start(choice=choice, hints=hints)
    assert started.conversation.language == language
    assert started.conversation.language_source == source
    assert started.conversation.language_confirmed is False
    assert started.messages[0].language == language


async def test_resuming_returns_what_was_missed_after_the_last_seen_message(built):
    started = await built.desk.start(choice="en")
    await built.desk.receive(started.conversation.id, WITHDRAW, "c1")
    resumed = await built.desk.start(token=started.token, last_seq=1)
    assert resumed.resumed
    assert resumed.token == started.token
    assert resumed.conversation.id == started.conversation.id
    assert [(m.seq, m.author) for m in resumed.messages] == [(2, Author.CUSTOMER), (3, Author.BOT)]
    everything = await built.desk.start(token=started.token, last_seq=0)
    assert [m.seq for m in everything.messages] == [1, 2, 3]
    assert (await built.desk.start(token=started.token, last_seq=3)).messages == []


async def test_an_unknown_token_is_refused(built):
    with pytest.raises(UnknownConversation):
        await built.desk.start(token="not-a-token")


# receive


async def test_a_question_the_faq_knows_is_answered(built):
    started = await conversation(built)
    received = await built.desk.receive(started.id, WITHDRAW, "c1")
    assert not received.duplicate
    assert (received.message.author, received.message.text) == (Author.CUSTOMER, WITHDRAW)
    assert received.message.meta["faq_id"] == "withdrawal-how-to"
    (answer,) = received.replies
    assert answer.meta["kind"] == ReplyKind.ANSWER
    assert answer.meta["faq_id"] == "withdrawal-how-to"
    assert answer.meta["in_reply_to"] == received.message.seq
    assert answer.meta["ask_feedback"] is True
    (shown,) = received.notifications
    assert (shown.target, shown.event) == (started.id, ServerEvent.MESSAGE)
    assert shown.payload["seq"] == answer.seq
    # What the desk returns is what it stored.
    stored_messages = await built.store.messages(started.id)
    assert [m.id for m in stored_messages[-2:]] == [received.message.id, answer.id]
    assert stored_messages[-2].meta["faq_id"] == "withdrawal-how-to"


@needs_encoder
async def test_questions_asked_at_once_are_embedded_in_one_pass_and_answered_as_alone(built):
    """Several customers' questions that need the sentence encoder wait for one pass
    (`QueryBatches`); each gets the reply it gets asked alone."""
    from tests.test_query_batch import PassLog

    bot = built.desk.bot
    encoder = PassLog()
    bot.matcher = FaqMatcher.of_indexes(bot.matcher.faq, bot.matcher.indexes, encoder)
    asked = [
        ("en", "my card hasn't shown up"),
        ("de", "wann ist mein Geld endlich da"),
        ("ja", "口座の書類はどこで出せますか"),
    ]
    for language, text in asked:
        assert bot.matcher.pending(text, language).embed == text  # TF-IDF alone is unsure
    alone = [bot.reply(text, language) for language, text in asked]
    encoder.passes.clear()
    started = [await conversation(built, language) for language, _ in asked]
    received = await asyncio.gather(
        *(
            built.desk.receive(c.id, text, f"c{i}")
            for i, (c, (_, text)) in enumerate(zip(started, asked, strict=True))
        )
    )
    assert encoder.passes == [[text for _, text in asked]]
    for got, expected in zip(received, alone, strict=True):
        (answer,) = got.replies
        assert answer.text == expected.text
        assert answer.meta["kind"] == expected.kind


async def test_an_ambiguous_question_gets_suggestions_and_records_the_first(built):
    started, offer = await suggested(built)
    choices = offer.meta["suggestions"]
    assert len(choices) >= 2
    customer = (await built.store.messages(started.id))[-2]
    assert customer.author is Author.CUSTOMER
    assert customer.meta["faq_id"] == choices[0]["faq_id"]
    assert (await stored(built, started.id)).status is ConversationStatus.BOT


async def test_a_question_the_faq_does_not_know_is_declined_and_recorded(built):
    started = await conversation(built)
    received = await built.desk.receive(started.id, OFF_TOPIC[0], "c1")
    decline = reply(received)
    assert decline.meta["kind"] == ReplyKind.DECLINE
    assert decline.meta["offer_agent"] is True
    (recorded,) = await built.store.faq_declines()
    assert (recorded.query, recorded.message_seq) == (OFF_TOPIC[0], received.message.seq)
    assert (await stored(built, started.id)).status is ConversationStatus.BOT


async def test_a_resend_is_stored_and_answered_once(built):
    started = await conversation(built)
    first = await built.desk.receive(started.id, WITHDRAW, "c1")
    again = await built.desk.receive(started.id, WITHDRAW, "c1")
    assert again.duplicate
    assert again.message.id == first.message.id
    assert again.replies == []
    assert again.notifications == []
    assert [m.seq for m in await built.store.messages(started.id)] == [1, 2, 3]


async def test_a_resend_of_a_message_the_bot_never_answered_gets_its_answer_once(built):
    """The server stopped between storing the customer's message and replying."""
    started = await conversation(built)
    await built.store.append_message(
        NewMessage(
            id="first-copy",
            conversation_id=started.id,
            author=Author.CUSTOMER,
            text=WITHDRAW,
            created_at=built.clock.now(),
            client_id="c1",
        )
    )
    resent = await built.desk.receive(started.id, WITHDRAW, "c1")
    assert resent.duplicate
    assert reply(resent).meta["faq_id"] == "withdrawal-how-to"
    third = await built.desk.receive(started.id, WITHDRAW, "c1")
    assert third.duplicate
    assert third.replies == []
    authors = [m.author for m in await built.store.messages(started.id)]
    assert authors == [Author.BOT, Author.CUSTOMER, Author.BOT]


async def test_a_message_the_bot_answers_is_one_write_with_its_answer(settings):
    """The customer's message, the language it settles and the bot's reply: one transaction,
    so a failure stores none of them and the resend gets the one answer."""
    store = await open_faulty(settings.database_url)
    try:
        built = await desk_over(settings, store)
        started = (await built.desk.start()).conversation  # English by default, not confirmed
        before = store.writes
        received = await built.desk.receive(started.id, "ลืมรหัสผ่านMT5ต้องทำยังไง", "c1")
        assert store.writes == before + 1
        assert reply(received).language == "th"
        assert (await stored(built, started.id)).language == "th"

        store.fail_write()
        with pytest.raises(StoreFault):
            await built.desk.receive(started.id, "ฝากเงินยังไง", "c2")
        assert [m.seq for m in await store.messages(started.id)] == [1, 2, 3]
        assert (await stored(built, started.id)).last_seq == 3
        again = await built.desk.receive(started.id, "ฝากเงินยังไง", "c2")
        assert not again.duplicate
        assert [m.seq for m in again.replies] == [5]
        assert [m.seq for m in await store.messages(started.id)] == [1, 2, 3, 4, 5]
    finally:
        await store.close()


async def test_the_language_follows_the_customer_until_it_is_chosen(built):
    started = await built.desk.start()  # English by default, not confirmed
    received = await built.desk.receive(started.conversation.id, "ลืมรหัสผ่านMT5ต้องทำยังไง", None)
    assert received.conversation is not None
    assert received.conversation.language == "th"
    assert reply(received).language == "th"
    assert (await stored(built, started.conversation.id)).language == "th"

    chosen = await conversation(built, "ja")
    kept = await built.desk.receive(chosen.id, "ลืมรหัสผ่านMT5ต้องทำยังไง", None)
    assert kept.conversation is not None
    assert kept.conversation.language == "ja"
    assert (await stored(built, chosen.id)).language == "ja"


async def test_two_declines_in_a_row_hand_the_conversation_to_a_person(built):
    await agent_online(built)
    started = await conversation(built)
    first = await built.desk.receive(started.id, OFF_TOPIC[0], None)
    assert reply(first).meta["kind"] == ReplyKind.DECLINE
    assert (await stored(built, started.id)).status is ConversationStatus.BOT
    second = await built.desk.receive(started.id, OFF_TOPIC[1], None)
    assert reply(second).meta["kind"] == ReplyKind.DECLINE
    handed = await stored(built, started.id)
    assert handed.status is ConversationStatus.QUEUED, handed.status
    assert handed.handed_off_at == built.clock.now()
    # The bot's reply first, then what the handoff tells.
    assert second.notifications[0].payload["seq"] == reply(second).seq
    assert len(second.notifications) > 1


async def test_declines_with_an_answer_between_them_do_not_hand_off(built):
    await agent_online(built)
    started = await conversation(built)
    await built.desk.receive(started.id, OFF_TOPIC[0], None)
    await built.desk.receive(started.id, WITHDRAW, None)
    third = await built.desk.receive(started.id, OFF_TOPIC[1], None)
    assert reply(third).meta["kind"] == ReplyKind.DECLINE
    assert (await stored(built, started.id)).status is ConversationStatus.BOT


async def test_an_urgent_message_goes_to_a_person_at_once_with_the_bot_reply(built):
    await agent_online(built)
    started = await conversation(built)
    received = await built.desk.receive(started.id, URGENT, None)
    assert received.replies  # the FAQ's advice to read while waiting
    handed = await stored(built, started.id)
    assert handed.status is ConversationStatus.QUEUED, handed.status
    assert handed.priority is Priority.URGENT
    assert received.message.meta.get("faq_id")  # the urgent topic it asks about


async def test_after_the_handoff_the_bot_stays_out_and_the_team_hears_the_customer(built):
    await agent_online(built)
    started = await conversation(built)
    await built.desk.receive(started.id, URGENT, None)
    assert (await stored(built, started.id)).is_open
    later = await built.desk.receive(started.id, WITHDRAW, None)
    assert later.replies == []
    # With a person, the FAQ entry asked about is recorded as the message is stored.
    assert later.message.meta["faq_id"] == "withdrawal-how-to"


async def test_asking_for_a_person_hands_off_with_the_topic_the_bot_last_suggested(built):
    await agent_online(built)
    started, offer = await suggested(built)
    topic = offer.meta["suggestions"][0]["faq_id"]
    notifications = await built.desk.request_agent(started.id)
    assert notifications
    handed = await stored(built, started.id)
    assert handed.status is ConversationStatus.QUEUED, handed.status
    entry = built.desk.bot.matcher.faq.entry(topic, started.language)
    assert entry is not None
    assert (handed.team, handed.priority) == (entry.category, entry.priority)
    assert await built.desk.request_agent(started.id) == []  # already with the team


async def test_an_unknown_conversation_is_refused(built):
    with pytest.raises(UnknownConversation):
        await built.desk.receive("nope", WITHDRAW, None)


# choose_suggestion


async def test_picking_a_suggestion_answers_it_and_records_the_words_behind_it(built):
    started, offer = await suggested(built)
    asked = (await built.store.messages(started.id))[-2].text
    picked = offer.meta["suggestions"][1]
    received = await built.desk.choose_suggestion(started.id, picked["faq_id"], "p1")
    assert not received.duplicate
    assert received.message.author is Author.CUSTOMER
    assert received.message.text == picked["question"]
    assert received.message.meta == {"chose": picked["faq_id"], "from_seq": offer.seq}
    answer = reply(received)
    assert answer.meta["kind"] == ReplyKind.ANSWER
    assert answer.meta["faq_id"] == picked["faq_id"]
    assert answer.meta["in_reply_to"] == received.message.seq
    (choice,) = await built.store.faq_choices()
    assert choice.chosen == picked["faq_id"]
    assert choice.query == asked
    assert choice.suggested == tuple(s["faq_id"] for s in offer.meta["suggestions"])

    again = await built.desk.choose_suggestion(started.id, picked["faq_id"], "p1")
    assert again.duplicate
    assert again.replies == []
    assert len(await built.store.faq_choices()) == 1


async def test_picking_an_entry_never_offered_is_refused(built):
    started = await conversation(built)
    with pytest.raises(UnknownSuggestion):
        await built.desk.choose_suggestion(started.id, "withdrawal-how-to", None)


async def test_a_topic_under_an_answer_can_be_picked(built):
    started, answer = await answered(built)
    related = answer.meta["related"][0]["faq_id"]
    received = await built.desk.choose_suggestion(started.id, related, None)
    assert received.message.meta["from_seq"] == answer.seq
    assert reply(received).meta["faq_id"] == related


# feedback


async def test_yes_is_stored_with_the_question_and_the_first_word_stands(built):
    started, answer = await answered(built)
    given = await built.desk.feedback(started.id, answer.seq, True)
    assert not given.duplicate
    assert given.replies == []
    assert given.notifications == []
    assert (given.feedback.helpful, given.feedback.query) == (True, WITHDRAW)
    assert given.feedback.faq_id == "withdrawal-how-to"
    again = await built.desk.feedback(started.id, answer.seq, False)
    assert again.duplicate
    assert again.feedback.helpful is True
    assert again.replies == []


async def test_no_gets_the_related_topics_and_a_person_once(built):
    started, answer = await answered(built)
    given = await built.desk.feedback(started.id, answer.seq, False)
    (offer,) = given.replies
    assert offer.meta["kind"] == ReplyKind.NOT_HELPFUL
    assert offer.meta["feedback_on"] == answer.seq
    assert offer.meta["offer_agent"] is True
    related = [s["faq_id"] for s in answer.meta["related"]]
    assert [s["faq_id"] for s in offer.meta["suggestions"]] == related[
        : len(offer.meta["suggestions"])
    ]
    assert given.notifications[0].payload["seq"] == offer.seq
    again = await built.desk.feedback(started.id, answer.seq, False)
    assert again.duplicate
    assert again.replies == []

    # A pick from that reply answers it; "no" on that answer is kept with the first words.
    picked = await built.desk.choose_suggestion(started.id, related[0], None)
    no_again = await built.desk.feedback(started.id, reply(picked).seq, False)
    assert no_again.feedback.query == WITHDRAW
    assert (await built.store.faq_choices())[0].query == WITHDRAW


async def test_feedback_on_anything_but_an_answer_is_refused(built):
    started, answer = await answered(built)
    with pytest.raises(NotAnAnswer):
        await built.desk.feedback(started.id, 1, True)  # the greeting
    with pytest.raises(NotAnAnswer):
        await built.desk.feedback(started.id, answer.seq - 1, True)  # the customer's words
    with pytest.raises(UnknownMessage):
        await built.desk.feedback(started.id, answer.seq + 1, True)
    assert await built.store.faq_feedback(started.id, answer.seq) is None


# choose_language


async def test_a_language_chosen_before_a_word_is_said_greets_again_in_it(built):
    started = await conversation(built)
    chosen = await built.desk.choose_language(started.id, "de")
    assert chosen.conversation.language == "de"
    assert chosen.conversation.language_confirmed is True
    assert chosen.conversation.language_source == "choice"
    (greeting,) = chosen.replies
    assert greeting.meta["kind"] == ReplyKind.GREETING
    assert greeting.meta["replaces"] == 1
    assert greeting.language == "de"
    assert (await stored(built, started.id)).language == "de"
    assert chosen.notifications[0].payload["seq"] == greeting.seq


async def test_a_language_chosen_later_is_confirmed_and_sticks(built):
    started = await conversation(built)
    await built.desk.receive(started.id, WITHDRAW, None)
    chosen = await built.desk.choose_language(started.id, "fr")
    (said,) = chosen.replies
    assert said.meta["kind"] == ReplyKind.LANGUAGE_CHOSEN
    assert said.language == "fr"
    after = await built.desk.receive(started.id, WITHDRAW, None)
    assert reply(after).language == "fr"


async def test_a_language_the_desk_does_not_serve_is_refused(built):
    started = await conversation(built)
    with pytest.raises(UnsupportedLanguage):
        await built.desk.choose_language(started.id, "xx")
    assert (await stored(built, started.id)).language == "en"


async def test_a_closed_conversation_takes_nothing_more(built):
    started = await conversation(built)
    closed = started.transition(ConversationStatus.CLOSED, built.clock.now())
    await built.store.save_conversation(closed)
    with pytest.raises(ConversationClosed):
        await built.desk.receive(started.id, WITHDRAW, None)


async def test_a_resend_after_the_chat_closed_is_acknowledged_as_the_duplicate_it_is(built):
    started = await conversation(built)
    first = await built.desk.receive(started.id, WITHDRAW, "c1")
    closed = (await stored(built, started.id)).transition(
        ConversationStatus.CLOSED, built.clock.now()
    )
    await built.store.save_conversation(closed)
    resent = await built.desk.receive(started.id, WITHDRAW, "c1")
    assert resent.duplicate
    assert resent.message == first.message
    assert resent.replies == []
    assert resent.conversation == closed
    with pytest.raises(ConversationClosed):
        await built.desk.receive(started.id, WITHDRAW, "c2")
    assert [m.seq for m in await built.store.messages(started.id)] == [1, 2, 3]


async def test_a_suggestion_scrolled_out_of_the_lookback_can_no_longer_be_picked(built):
    started, offer = await suggested(built)
    picked = offer.meta["suggestions"][0]["faq_id"]
    while (await stored(built, started.id)).last_seq - offer.seq < SUGGESTION_LOOKBACK:
        await built.desk.receive(started.id, WITHDRAW, None)
    with pytest.raises(UnknownSuggestion):
        await built.desk.choose_suggestion(started.id, picked, None)
