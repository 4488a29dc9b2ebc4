"""The conversation rows a SQLite desk keeps (chatserver/store/conversation_cache.py):
after every kind of write, the kept copy is what the database holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from chatserver.models import Author, ConversationStatus, Message, NewMessage, Team
from chatserver.satisfaction import rate
from chatserver.store import Answer, SqlStore, open_store
from chatserver.store.conversation_cache import ConversationCache
from tests import test_store
from tests.test_store import T0, customer_message
from tests.test_store_exchange import Broken, replies

store_url = test_store.store_url
store = test_store.store


@pytest.fixture
async def database(store_url) -> AsyncIterator[SqlStore]:
    """A second store on the same database: it keeps nothing the first wrote."""
    opened = await open_store(store_url)
    yield opened
    await opened.close()


async def test_the_kept_row_is_the_stored_row_after_every_kind_of_write(store, database):
    async def same() -> None:
        kept = await store.get_conversation("c1")
        assert kept == await database.conversation_by_token("h1")  # always read

    conversation = new = test_store.new_conversation(
        "c1", language="ja", language_confirmed=False, now=T0
    )
    await store.create_conversation(
        new, "h1", first=[NewMessage("g1", "c1", Author.BOT, "Hello", T0)]
    )
    await same()
    await store.append_message(customer_message("m1", "hi", client_id="k1"))
    await same()
    await store.append_message(customer_message("m1-again", "hi", client_id="k1"))  # a resend
    await same()
    changed = conversation.with_language("en", confirmed=True, source="statistical", now=T0)
    await store.append_exchange(
        customer_message("m2", "hello", client_id="k2"),
        replies("Hi!", "Which one?"),
        conversation=changed,
        last_seq=2,
    )
    await same()
    assert (await store.get_conversation("c1")).last_seq == 5  # type: ignore[union-attr]
    # The last seq read has moved since (another message came): the locked path.
    await store.append_exchange(
        customer_message("m3", "again", client_id="k3"), replies("Yes?"), last_seq=2
    )
    await same()
    # A resend of a message already answered: nothing is written, changes included.
    await store.append_exchange(
        customer_message("m3-again", "again", client_id="k3"),
        replies("Yes?", prefix="again"),
        conversation=replace(changed, language="fr"),
    )
    await same()

    # A resend of the latest message, which was never answered: answered now, with changes.
    await store.append_message(customer_message("m5", "still there?", client_id="k5"))
    await same()
    await store.append_exchange(
        customer_message("m5-again", "still there?", client_id="k5"),
        replies("Yes!", prefix="late"),
        conversation=replace(changed, language="it"),
    )
    await same()
    assert (await store.get_conversation("c1")).language == "it"  # type: ignore[union-attr]

    def broken(stored: Message) -> Answer:
        raise Broken(f"no answer to {stored.seq}")

    with pytest.raises(Broken):
        await store.append_exchange(
            customer_message("m4", "x"), broken, conversation=replace(changed, language="de")
        )
    await same()
    queued = replace(
        changed.transition(ConversationStatus.QUEUED, T0), team=Team.TRADING, agent_id="a1"
    )
    await store.save_conversation(queued)
    await same()
    closed = queued.transition(ConversationStatus.ASSIGNED, T0).transition(
        ConversationStatus.CLOSED, T0
    )
    await store.save_conversation(closed)
    rating = rate(closed, 4, "", rating_id="r1", now=T0)
    await store.record_rating(rating, None, closed.transition(ConversationStatus.RATED, T0))
    await same()
    assert (await store.get_conversation("c1")).status is ConversationStatus.RATED  # type: ignore[union-attr]


def test_the_oldest_kept_row_makes_room_and_a_kept_row_moves_last():
    rows = ConversationCache(size=2)
    a, b, c = (
        test_store.new_conversation(cid, language="en", language_confirmed=True, now=T0)
        for cid in "abc"
    )
    rows.keep(a)
    rows.keep(b)
    rows.moved("a", 3)  # a written again: now the newest
    rows.keep(c)
    assert (rows.get("a"), rows.get("b"), rows.get("c")) == (replace(a, last_seq=3), None, c)
    assert len(rows) == 2
    rows.saved(replace(c, language="fr", last_seq=9))  # last_seq is not save's to write
    assert rows.get("c") == replace(c, language="fr")
    rows.forget("c")
    assert rows.get("c") is None
