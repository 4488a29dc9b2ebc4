"""PostgreSQL: the bot's path works from the copy of the conversation's row this process
kept, without reading it for every message, and sees what another process changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from chatserver.desk import ConversationClosed
from chatserver.models import ConversationStatus, Priority, Team
from chatserver.settings import Settings
from chatserver.store import SqlStore, StaleConversation, open_store
from tests.services import fresh_postgres
from tests.test_desk import Fixture, conversation, desk_over, reply
from tests.test_exchange_batch import Statements, answered_by
from tests.test_store import T0, a_conversation, customer_message

QUESTION = "How do I withdraw money?"


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with fresh_postgres() as url:
        yield url


@pytest.fixture
async def desk(settings: Settings, database: str) -> AsyncIterator[Fixture]:
    store = await open_store(database)
    try:
        yield await desk_over(replace(settings, database_url=database), store)
    finally:
        await store.close()


@pytest.fixture
async def other_process(database: str) -> AsyncIterator[SqlStore]:
    """The same database through another pool: what another server process writes."""
    store = await open_store(database)
    try:
        yield store
    finally:
        await store.close()


def conversation_reads(statements: Statements) -> int:
    return sum(s.startswith("SELECT conversations.id") for s in statements.sent)


async def test_the_bot_works_from_the_copy_kept_since_the_conversation_was_created(
    desk: Fixture,
) -> None:
    started = await conversation(desk)
    statements = Statements(desk.store)
    answers = [await desk.desk.receive(started.id, QUESTION, f"k{n}") for n in range(3)]
    assert conversation_reads(statements) == 0
    assert [reply(a).meta.get("faq_id") for a in answers] == [reply(answers[0]).meta["faq_id"]] * 3
    assert [a.message.seq for a in answers] == [2, 4, 6]
    kept = desk.store.kept_conversation(started.id)
    assert kept == await desk.store.get_conversation(started.id)
    assert kept is not None
    assert kept.last_seq == 7


@pytest.mark.parametrize("status", [ConversationStatus.CLOSED, ConversationStatus.QUEUED])
async def test_a_change_another_process_made_is_seen_before_the_bot_answers(
    desk: Fixture, other_process: SqlStore, status: ConversationStatus
) -> None:
    started = await conversation(desk)
    await desk.desk.receive(started.id, QUESTION, "k1")  # kept by this process from here
    # Another process changes the row without a message: its last seq does not move.
    row = await other_process.get_conversation(started.id)
    assert row is not None
    if status is ConversationStatus.CLOSED:
        changed = replace(row, status=status, closed_at=T0)
    else:
        changed = replace(row, status=status, team=Team.ACCOUNT, priority=Priority.MEDIUM)
    await other_process.save_conversation(changed)
    before = await desk.store.messages(started.id)

    if status is ConversationStatus.CLOSED:
        with pytest.raises(ConversationClosed):
            await desk.desk.receive(started.id, QUESTION, "k2")
        assert await desk.store.messages(started.id) == before
    else:  # waiting for a person: the bot stays out of it
        received = await desk.desk.receive(started.id, QUESTION, "k2")
        assert received.replies == []
        after = await desk.store.messages(started.id)
        assert [m.text for m in after[len(before) :]] == [QUESTION]
    # What the process keeps now, if anything, is the row as it stands.
    kept = desk.store.kept_conversation(started.id)
    assert kept in (None, await other_process.get_conversation(started.id))


async def test_an_exchange_on_a_copy_the_row_has_moved_from_writes_nothing(
    database: str, other_process: SqlStore
) -> None:
    store = await open_store(database)
    try:
        created = await a_conversation(store)
        await store.get_conversation("c1")  # read: kept with its version
        assert store.kept_conversation("c1") == created
        await other_process.save_conversation(replace(created, language="de"))
        with pytest.raises(StaleConversation):
            await store.append_exchange(
                customer_message("m1", "question", client_id="k1"),
                answered_by("answer", "c1"),
                last_seq=0,
                kept=True,
            )
        assert await store.messages("c1") == []
        assert store.kept_conversation("c1") is None  # read again next time
        # Without a kept copy, the caller read the row itself: written as before.
        done = await store.append_exchange(
            customer_message("m1", "question", client_id="k1"),
            answered_by("answer", "c1"),
            last_seq=0,
        )
        assert [m.id for m in await store.messages("c1")] == ["m1", "r-m1"]
        assert done.message.seq == 1
    finally:
        await store.close()
