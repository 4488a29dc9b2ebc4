"""The holding history in the SQL store: written with the conversation row, all or nothing,
taken back step by step, and added to an older database by migration 13."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from chatserver.holdings import Holding, HoldingChange, HoldingEnd, change
from chatserver.models import ConversationStatus
from chatserver.store import open_store
from chatserver.store.migrations import SCHEMA_VERSION
from tests import test_store
from tests.test_store import T0, a_conversation, back_to_version_12, run_sync, scalar

# The store tests' fixtures: each test runs on SQLite and on PostgreSQL.
store_url = test_store.store_url
store = test_store.store
S = ConversationStatus


async def test_each_stretch_is_written_with_the_row_that_changed_the_holder(store):
    queued = (await a_conversation(store)).transition(S.QUEUED, T0)
    await store.save_conversation(queued)
    steps = [
        (replace(queued, status=S.ASSIGNED, agent_id="emma"), T0 + timedelta(minutes=2)),
        (replace(queued, status=S.ACTIVE, agent_id="emma"), T0 + timedelta(minutes=3)),
        (replace(queued, status=S.ACTIVE, agent_id="carlos"), T0 + timedelta(minutes=7)),
        (replace(queued, status=S.CLOSED, agent_id="carlos"), T0 + timedelta(minutes=20)),
    ]
    was = queued
    for now, at in steps:
        step = change(was, now, at)
        await store.save_conversation(now, holdings=(step,) if step else ())
        was = now
    assert await store.holdings("c1") == [
        Holding(
            "c1",
            "emma",
            T0 + timedelta(minutes=2),
            T0 + timedelta(minutes=7),
            HoldingEnd.TRANSFERRED,
        ),
        Holding(
            "c1", "carlos", T0 + timedelta(minutes=7), T0 + timedelta(minutes=20), HoldingEnd.CLOSED
        ),
    ]
    assert await store.holdings("other") == []


async def test_an_undone_step_reopens_the_old_stretch_and_removes_the_new(store):
    active = replace((await a_conversation(store)), status=S.ACTIVE, agent_id="emma")
    await store.save_conversation(active, holdings=[HoldingChange("c1", T0, opens="emma")])
    at = T0 + timedelta(minutes=5)
    requeued = replace(active, status=S.QUEUED, agent_id=None)
    back = HoldingChange("c1", at, closes="emma", ended=HoldingEnd.REQUEUED)
    await store.save_conversation(requeued, holdings=[back])
    taken = replace(active, agent_id="carlos")
    to_carlos = HoldingChange("c1", at, opens="carlos")
    await store.save_conversation(taken, holdings=[to_carlos])
    assert [h.agent_id for h in await store.holdings("c1")] == ["emma", "carlos"]
    # The unit failed: the row goes back, and both steps are taken back, latest first.
    await store.save_conversation(active, holdings=[to_carlos.undone(), back.undone()])
    assert await store.holdings("c1") == [Holding("c1", "emma", T0)]
    assert await store.get_conversation("c1") == active


async def test_a_step_that_cannot_be_written_leaves_the_row_unsaved_too(store):
    conversation = await a_conversation(store)
    assigned = replace(conversation.transition(S.QUEUED, T0), status=S.ASSIGNED, agent_id="emma")
    # A step for a conversation that does not exist breaks its foreign key: one transaction,
    # so the conversation's own change is not kept either.
    with pytest.raises(sa.exc.IntegrityError):
        await store.save_conversation(assigned, holdings=[HoldingChange("ghost", T0, opens="emma")])
    assert await store.get_conversation("c1") == conversation
    assert await store.holdings("c1") == []


async def test_a_version_12_database_gets_the_holdings_table(store_url):
    fresh = await open_store(store_url)
    await a_conversation(fresh)
    held_then = replace(
        await a_conversation(fresh, "c2", "h2"),
        status=S.ACTIVE,
        agent_id="aiko",
        updated_at=T0 + timedelta(minutes=3),
    )
    await fresh.save_conversation(held_then)
    closed_then = replace(held_then, id="c3", status=S.CLOSED)
    await a_conversation(fresh, "c3", "h3")
    await fresh.save_conversation(closed_then)
    await fresh.close()
    await run_sync(store_url, back_to_version_12)
    upgraded = await open_store(store_url)
    try:
        assert await upgraded.read(scalar("SELECT max(version) FROM schema_migrations")) == (
            SCHEMA_VERSION
        )
        assert await upgraded.holdings("c1") == []  # chats from before have no history ...
        assert await upgraded.holdings("c3") == []
        # ... but one held as the migration ran gets an open stretch from its last change.
        assert await upgraded.holdings("c2") == [Holding("c2", "aiko", T0 + timedelta(minutes=3))]
        conversation = await upgraded.get_conversation("c1")
        assert conversation is not None
        held = replace(conversation, status=S.ASSIGNED, agent_id="emma")
        await upgraded.save_conversation(held, holdings=[HoldingChange("c1", T0, opens="emma")])
        assert await upgraded.holdings("c1") == [Holding("c1", "emma", T0)]
    finally:
        await upgraded.close()
