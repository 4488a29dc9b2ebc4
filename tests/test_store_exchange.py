"""A customer message and the bot's answer in one transaction (`append_exchange`): written
all or nothing, numbered without gaps, idempotent on client_id, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from chatserver.models import Author, FaqDecline, Message, NewMessage
from chatserver.store import Answer, open_store
from tests import test_store
from tests.test_store import T0, a_conversation, customer_message

# The store tests' fixtures: each test runs on SQLite and on PostgreSQL.
store_url = test_store.store_url
store = test_store.store


class Broken(RuntimeError):
    pass


def bot_reply(mid: str, text: str, in_reply_to: int, cid: str = "c1") -> NewMessage:
    return NewMessage(mid, cid, Author.BOT, text, T0, meta={"in_reply_to": in_reply_to})


def replies(*texts: str, prefix: str = "r") -> Callable[[Message], Answer]:
    """The bot's answer: one reply per text, each naming the customer's seq."""
    return lambda stored: Answer(
        replies=[
            bot_reply(f"{prefix}{i}-{stored.id}", text, stored.seq) for i, text in enumerate(texts)
        ]
    )


def decline_of(stored: Message, did: str = "d1") -> FaqDecline:
    return FaqDecline(
        id=did,
        conversation_id=stored.conversation_id,
        message_seq=stored.seq,
        language="en",
        query=stored.text,
        nearest=None,
        score=0.1,
        created_at=T0,
    )


async def test_the_message_its_replies_and_the_conversation_are_written_together(store):
    conversation = await a_conversation(store)
    await store.append_message(customer_message("m0", "earlier"))
    changed = conversation.with_language("en", confirmed=True, source="statistical", now=T0)
    done = await store.append_exchange(
        customer_message("m1", "hello", client_id="k1"),
        replies("Hi!", "Which language?"),
        conversation=changed,
    )
    assert (done.created, done.answered) == (True, True)
    assert done.message.seq == 2
    assert [(r.seq, r.text, r.meta["in_reply_to"]) for r in done.replies] == [
        (3, "Hi!", 2),
        (4, "Which language?", 2),
    ]
    assert [m.id for m in await store.messages("c1")] == ["m0", "m1", "r0-m1", "r1-m1"]
    assert await store.get_conversation("c1") == replace(changed, last_seq=4)


async def test_a_failing_answer_leaves_nothing_behind(store):
    conversation = await a_conversation(store)
    changed = conversation.with_language("en", confirmed=True, source="statistical", now=T0)

    def broken(stored: Message) -> Answer:
        raise Broken(f"no answer to {stored.seq}")

    with pytest.raises(Broken):
        await store.append_exchange(
            customer_message("m1", "hello", client_id="k1"), broken, conversation=changed
        )
    assert await store.messages("c1") == []
    assert await store.get_conversation("c1") == conversation  # last_seq 0: no seq taken
    # The resend is the first copy that counts: stored and answered once, from seq 1.
    again = await store.append_exchange(
        customer_message("m2", "hello", client_id="k1"), replies("Hi!"), conversation=changed
    )
    assert (again.created, again.message.seq, [r.seq for r in again.replies]) == (True, 1, [2])


async def test_a_reply_the_database_refuses_takes_the_message_back_with_it(store):
    await a_conversation(store)
    await store.append_message(NewMessage("taken", "c1", Author.BOT, "x", T0))

    def clashing(stored: Message) -> Answer:
        return Answer(replies=[bot_reply("taken", "Hi!", stored.seq)])  # the id is taken

    with pytest.raises(IntegrityError):
        await store.append_exchange(customer_message("m1", "hello", client_id="k1"), clashing)
    assert [m.id for m in await store.messages("c1")] == ["taken"]
    assert (await store.get_conversation("c1")).last_seq == 1  # type: ignore[union-attr]


async def test_a_resend_of_an_answered_message_writes_nothing(store):
    conversation = await a_conversation(store)
    first = await store.append_exchange(
        customer_message("m1", "hello", client_id="k1"), replies("Hi!")
    )
    called: list[Message] = []

    def answer(stored: Message) -> Answer:
        called.append(stored)
        return Answer(replies=[bot_reply("again", "Hi again!", stored.seq)])

    changed = conversation.with_language("en", confirmed=True, source="statistical", now=T0)
    resent = await store.append_exchange(
        customer_message("m2", "hello", client_id="k1"), answer, conversation=changed
    )
    assert (resent.created, resent.answered, resent.replies) == (False, False, [])
    assert resent.message == first.message
    # Nothing it answered was kept (the store may have asked before it saw the resend).
    assert all(stored.id == "m2" for stored in called)
    assert [m.id for m in await store.messages("c1")] == ["m1", "r0-m1"]
    assert (await store.get_conversation("c1")).language == "ja"  # type: ignore[union-attr]


async def test_a_resend_of_a_message_never_answered_is_answered_once(store):
    """The first copy was stored alone (by `append_message`: the server stopped before the
    bot answered, as earlier versions could): the resend answers it, and only it."""
    await a_conversation(store)
    await store.append_message(customer_message("m1", "hello", client_id="k1"))
    asking = replace(customer_message("m2", "hello", client_id="k1"), meta={"faq_id": "greet"})
    resent = await store.append_exchange(
        asking, lambda stored: Answer(replies=[bot_reply("r1", "Hi!", stored.seq)])
    )
    assert (resent.created, resent.answered) == (False, True)
    assert (resent.message.id, resent.message.meta) == ("m1", {"faq_id": "greet"})
    assert [r.seq for r in resent.replies] == [2]
    third = await store.append_exchange(asking, replies("Hi!", prefix="x"))
    assert (third.created, third.answered) == (False, False)
    stored = await store.messages("c1")
    assert [(m.id, m.seq) for m in stored] == [("m1", 1), ("r1", 2)]
    assert stored[0].meta == {"faq_id": "greet"}


async def test_a_decline_is_recorded_with_its_message_once(store):
    await a_conversation(store)

    def declined(stored: Message) -> Answer:
        return Answer(
            replies=[bot_reply(f"r-{stored.id}", "Sorry", stored.seq)],
            decline=decline_of(stored, f"d-{stored.id}"),
        )

    first = await store.append_exchange(customer_message("m1", "??", client_id="k1"), declined)
    await store.append_exchange(customer_message("m2", "??", client_id="k1"), declined)
    (recorded,) = await store.faq_declines()
    assert (recorded.id, recorded.message_seq) == ("d-m1", first.message.seq)


async def test_a_decline_recorded_before_the_answer_is_not_recorded_twice(store):
    """An earlier version recorded the decline, then stored the reply: a resend after a
    failure in between answers the message without a second decline."""
    await a_conversation(store)
    stored = (await store.append_message(customer_message("m1", "??", client_id="k1"))).message
    assert await store.record_faq_decline(decline_of(stored, "d-old"))
    resent = await store.append_exchange(
        customer_message("m2", "??", client_id="k1"),
        lambda s: Answer(replies=[bot_reply("r1", "Sorry", s.seq)], decline=decline_of(s, "d2")),
    )
    assert resent.answered
    assert [d.id for d in await store.faq_declines()] == ["d-old"]


async def test_concurrent_resends_store_one_message_and_one_answer(store):
    await a_conversation(store)
    results = await asyncio.gather(
        *(
            store.append_exchange(
                customer_message(f"m{i}", "hello", client_id="same"), replies("Hi!")
            )
            for i in range(5)
        )
    )
    assert sum(r.created for r in results) == 1
    assert sum(r.answered for r in results) == 1
    assert {r.message.id for r in results} == {results[0].message.id}
    stored = await store.messages("c1")
    assert [(m.author, m.seq) for m in stored] == [(Author.CUSTOMER, 1), (Author.BOT, 2)]


async def test_concurrent_exchanges_of_one_conversation_are_numbered_without_gaps(store):
    await a_conversation(store)
    results = await asyncio.gather(
        *(
            store.append_exchange(customer_message(f"m{i}", str(i)), replies("a", "b"))
            for i in range(10)
        )
    )
    for result in results:  # each message is followed by its own replies
        assert [r.seq for r in result.replies] == [result.message.seq + 1, result.message.seq + 2]
    assert [m.seq for m in await store.messages("c1")] == list(range(1, 31))
    assert (await store.get_conversation("c1")).last_seq == 30  # type: ignore[union-attr]


async def test_the_changed_conversation_must_be_the_messages(store):
    await a_conversation(store, "c1", "h1")
    other = await a_conversation(store, "c2", "h2")
    with pytest.raises(ValueError, match="not the message"):
        await store.append_exchange(customer_message("m1", "x"), replies(), conversation=other)


async def test_append_message_tells_a_resend_the_conversations_last_seq(store):
    await a_conversation(store)
    first = await store.append_message(customer_message("m1", "hello", client_id="k1"))
    assert first.last_seq == 1
    again = await store.append_message(customer_message("m2", "hello", client_id="k1"))
    assert (again.created, again.message.seq, again.last_seq) == (False, 1, 1)
    await store.append_message(NewMessage("b1", "c1", Author.BOT, "Hi!", T0))
    third = await store.append_message(customer_message("m3", "hello", client_id="k1"))
    assert (third.created, third.last_seq) == (False, 2)


class Answers:
    """`replies(...)`, remembering the seq of every message it was asked to answer."""

    def __init__(self, *texts: str) -> None:
        self.asked: list[int] = []
        self._answer = replies(*texts)

    def __call__(self, stored: Message) -> Answer:
        self.asked.append(stored.seq)
        return self._answer(stored)


async def test_numbered_after_the_last_seq_the_caller_read_while_it_still_is(store):
    conversation = await a_conversation(store)
    await store.append_message(customer_message("m0", "earlier"))
    changed = conversation.with_language("en", confirmed=True, source="statistical", now=T0)
    answers = Answers("Hi!", "Which language?")
    done = await store.append_exchange(
        customer_message("m1", "hello", client_id="k1"), answers, conversation=changed, last_seq=1
    )
    assert answers.asked == [2]
    assert (done.message.seq, [(r.seq, r.meta["in_reply_to"]) for r in done.replies]) == (
        2,
        [(3, 2), (4, 2)],
    )
    assert [m.seq for m in await store.messages("c1")] == [1, 2, 3, 4]
    assert await store.get_conversation("c1") == replace(changed, last_seq=4)


async def test_a_last_seq_another_write_has_moved_is_read_again_and_answered_again(store):
    conversation = await a_conversation(store)  # read by the caller: last_seq 0
    await store.append_message(NewMessage("a1", "c1", Author.AGENT, "I'm here", T0))  # seq 1
    changed = conversation.with_language("en", confirmed=True, source="statistical", now=T0)
    answers = Answers("Hi!")
    done = await store.append_exchange(
        customer_message("m1", "hello", client_id="k1"), answers, conversation=changed, last_seq=0
    )
    assert answers.asked == [1, 2]  # asked for seq 1, which was taken; then for seq 2
    assert (done.message.seq, [(r.seq, r.meta["in_reply_to"]) for r in done.replies]) == (
        2,
        [(3, 2)],
    )
    assert [m.id for m in await store.messages("c1")] == ["a1", "m1", "r0-m1"]
    assert await store.get_conversation("c1") == replace(changed, last_seq=3)


async def test_a_resend_numbered_after_the_last_seq_read_changes_nothing(store):
    conversation = await a_conversation(store)
    await store.append_exchange(
        customer_message("m1", "hello", client_id="k1"), replies("Hi!"), last_seq=0
    )
    changed = conversation.with_language("en", confirmed=True, source="statistical", now=T0)
    resent = await store.append_exchange(
        customer_message("m2", "hello", client_id="k1"),
        replies("Hi again!", prefix="x"),
        conversation=changed,
        last_seq=2,
    )
    assert (resent.created, resent.answered, resent.message.id) == (False, False, "m1")
    assert [m.id for m in await store.messages("c1")] == ["m1", "r0-m1"]
    assert await store.get_conversation("c1") == replace(conversation, last_seq=2)


async def test_concurrent_exchanges_that_read_one_last_seq_are_numbered_without_gaps(store):
    await a_conversation(store)
    results = await asyncio.gather(
        *(
            store.append_exchange(customer_message(f"m{i}", str(i)), replies("a", "b"), last_seq=0)
            for i in range(10)
        )
    )
    for result in results:
        assert [r.seq for r in result.replies] == [result.message.seq + 1, result.message.seq + 2]
        assert {r.meta["in_reply_to"] for r in result.replies} == {result.message.seq}
    assert [m.seq for m in await store.messages("c1")] == list(range(1, 31))
    assert (await store.get_conversation("c1")).last_seq == 30  # type: ignore[union-attr]


async def test_a_decline_numbered_after_the_last_seq_read_is_stored_with_it_or_not_at_all(store):
    """On PostgreSQL the exchange after a current last seq is one statement (the row, the
    messages, the decline): all of it, or, when the seq has moved, none of it."""
    await a_conversation(store)

    def declined(stored: Message) -> Answer:
        return Answer(
            replies=[bot_reply(f"r-{stored.id}-{stored.seq}", "Sorry", stored.seq)],
            decline=decline_of(stored, f"d-{stored.id}-{stored.seq}"),
        )

    first = await store.append_exchange(customer_message("m1", "??"), declined, last_seq=0)
    assert (first.message.seq, [r.seq for r in first.replies]) == (1, [2])
    # Another message moved the last seq past the one read (2): numbered after it instead.
    await store.append_message(NewMessage("a1", "c1", Author.AGENT, "Let me see", T0))
    second = await store.append_exchange(customer_message("m2", "??"), declined, last_seq=2)
    assert (second.message.seq, [r.seq for r in second.replies]) == (4, [5])
    assert sorted((d.id, d.message_seq) for d in await store.faq_declines()) == [
        ("d-m1-1", 1),
        ("d-m2-4", 4),
    ]
    assert [m.seq for m in await store.messages("c1")] == [1, 2, 3, 4, 5]
    assert (await store.get_conversation("c1")).last_seq == 5  # type: ignore[union-attr]


async def test_rows_written_on_sqlites_driver_are_stored_as_sqlalchemy_stores_them(tmp_path):
    """The hot writes run on the driver (chatserver/store/driver.py): a message (alone and
    in an exchange), a conversation's row and an SLA's clocks are stored byte for byte as
    SQLAlchemy Core stores the same values (written here through it, beside them), and
    read back equal: time zone, flags, JSON and nulls included."""
    from chatserver import sla as sla_clock
    from chatserver.models import Priority, Team
    from chatserver.store import sql as store_sql
    from chatserver.store.schema import applied_slas, conversations, messages

    path = tmp_path / "store.sqlite3"
    store = await open_store(f"sqlite:///{path}")
    at = T0.replace(microsecond=123456)
    meta = {"faq_id": "mt-password-reset", "score": 0.91, "note": "é 答え", "n": None}

    def message(mid: str, client_id: str, cid: str = "c1") -> NewMessage:
        return NewMessage(
            mid, cid, Author.BOT, "答え ✓", at, language="ja", client_id=client_id,
            internal=True, meta=meta,
        )  # fmt: skip

    try:
        conversation = await a_conversation(store)
        await a_conversation(store, "c2", "h2")  # its rows are written by SQLAlchemy below
        alone = (await store.append_message(message("a", "ka"))).message
        changed = replace(
            conversation.with_language("en", confirmed=True, source="chosen", now=at),
            team=Team.TECHNICAL, priority=Priority.HIGH, handed_off_at=at, customer_email=None,
        )  # fmt: skip
        exchanged = await store.append_exchange(
            message("b", "kb"), lambda stored: Answer(replies=[]), last_seq=alone.seq
        )
        await store.save_conversation(changed)
        applied = sla_clock.apply(
            sla_clock.policy_for(sla_clock.Channel.CHAT, Priority.HIGH), "c1", at
        )
        await store.save_sla(applied, changed, new=True)
        answered, _ = sla_clock.on_agent_message(
            applied, at + timedelta(seconds=12), "agent-1", internal=False
        )
        await store.save_sla(answered, changed)  # the update
        loaded = {m.id: m for m in await store.messages("c1")}
        assert loaded["a"] == alone
        assert loaded["b"] == exchanged.message
        assert loaded["b"] == replace(alone, id="b", seq=2, client_id="kb")
        assert await store.get_conversation("c1") == replace(changed, last_seq=2)
        assert await store.sla("c1") == answered
    finally:
        await store.close()

    # The same values for c2, through SQLAlchemy Core's own execution.
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        for mid, client_id, seq in (("x", "ka", 1), ("y", "kb", 2)):
            row = store_sql._message_row(message(mid, client_id, "c2"), seq)
            connection.execute(messages.insert(), row)
        values = {**store_sql._conversation_values(replace(changed, id="c2")), "last_seq": 2}
        connection.execute(conversations.update().where(conversations.c.id == "c2"), values)
        sla_of_c1 = sa.select(applied_slas).where(applied_slas.c.conversation_id == "c1")
        sla_row = dict(connection.execute(sla_of_c1).mappings().one())
        connection.execute(applied_slas.insert(), {**sla_row, "conversation_id": "c2"})
    engine.dispose()

    def raw_rows(table: str, columns: str, key: str) -> dict[str, tuple[object, ...]]:
        typed = ", ".join(f"{c}, typeof({c})" for c in columns.split(", "))
        with contextlib.closing(sqlite3.connect(path)) as raw:
            return {
                row[0]: row[1:]
                for row in raw.execute(f"SELECT {key}, {typed} FROM {table} ORDER BY {key}")
            }

    by_id = raw_rows(
        "messages",
        "conversation_id, seq, client_id, author, text, language, internal, meta, created_at",
        "id",
    )
    assert by_id["a"][2:] == by_id["x"][2:]
    assert by_id["b"][2:] == by_id["y"][2:]
    assert (by_id["a"][:2], by_id["x"][:2]) == (("c1", "text"), ("c2", "text"))
    columns = ", ".join(
        c.name for c in conversations.c if c.name not in ("id", "token_hash", "tracking_number")
    )
    conversation_rows = raw_rows("conversations", columns, "id")
    assert conversation_rows["c1"] == conversation_rows["c2"]
    sla_columns = ", ".join(c.name for c in applied_slas.c if c.name != "conversation_id")
    sla_rows = raw_rows("applied_slas", sla_columns, "conversation_id")
    assert sla_rows["c1"] == sla_rows["c2"]
