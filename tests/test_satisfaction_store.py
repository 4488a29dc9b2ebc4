"""Ratings and follow-ups in the SQL store, on a real SQLite file and real PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from chatserver.models import ConversationStatus, Team
from chatserver.satisfaction import follow_up, rate
from chatserver.store import open_store
from chatserver.store.migrations import SCHEMA_VERSION
from tests.test_store import (  # noqa: F401
    T0,
    a_conversation,
    back_to_version_9,
    run_sync,
    scalar,
    store,
    store_url,
)


async def closed(store, cid: str, token_hash: str):  # noqa: F811
    conversation = await a_conversation(store, cid, token_hash)
    conversation = replace(
        conversation, status=ConversationStatus.CLOSED, team=Team.TRADING, agent_id="a1"
    )
    await store.save_conversation(conversation)
    return conversation


async def test_a_rating_is_stored_once_with_its_follow_up_and_the_chat_rated(store):  # noqa: F811
    conversation = await closed(store, "c1", "h1")
    rating = rate(conversation, 1, "nobody answered", rating_id="r1", now=T0)
    opened = follow_up(rating, followup_id="f1")
    rated = conversation.transition(ConversationStatus.RATED, T0)
    assert await store.record_rating(rating, opened, rated) == (rating, opened, True)
    assert (await store.get_conversation("c1")).status is ConversationStatus.RATED
    assert await store.rating("c1") == (rating, opened)
    assert await store.followup("f1") == opened
    again = rate(conversation, 5, "", rating_id="r2", now=T0 + timedelta(minutes=1))
    assert await store.record_rating(again, None, rated) == (rating, opened, False)
    assert await store.unhandled_followups() == [opened]


async def test_follow_ups_are_listed_until_handled_and_read_by_time(store):  # noqa: F811
    first = await closed(store, "c1", "h1")
    second = await closed(store, "c2", "h2")
    third = await closed(store, "c3", "h3")
    later = T0 + timedelta(hours=1)
    r1 = rate(first, 2, "", rating_id="r1", now=later)
    r2 = rate(second, 1, "slow", rating_id="r2", now=T0)
    r3 = rate(third, 5, "great", rating_id="r3", now=T0 + timedelta(days=40))
    f1, f2 = follow_up(r1, followup_id="f1"), follow_up(r2, followup_id="f2")
    for r, f, c in ((r1, f1, first), (r2, f2, second), (r3, None, third)):
        await store.record_rating(r, f, c.transition(ConversationStatus.RATED, r.created_at))
    assert await store.unhandled_followups() == [f2, f1]  # soonest deadline first
    assert f2 is not None
    assert f1 is not None
    missed = f2.breach(T0 + timedelta(hours=24))
    assert missed is not None
    await store.save_followup(missed)
    handled = f1.handle("phoned the customer", by="sam", now=later + timedelta(hours=2))
    await store.save_followup(handled)
    assert await store.unhandled_followups() == [missed]
    assert await store.followup("f1") == handled
    month = (T0 - timedelta(days=1), T0 + timedelta(days=30))
    assert await store.ratings_between(*month) == [r2, r1]
    assert await store.followups_between(*month) == [missed, handled]
    assert await store.followup("nope") is None
    assert await store.rating("c3") == (r3, None)


async def test_a_version_9_database_gets_the_rating_tables(store_url):  # noqa: F811
    fresh = await open_store(store_url)
    await closed(fresh, "c1", "h1")
    await fresh.close()
    await run_sync(store_url, back_to_version_9)
    upgraded = await open_store(store_url)
    try:
        version = await upgraded.read(scalar("SELECT max(version) FROM schema_migrations"))
        assert version == SCHEMA_VERSION
        conversation = await upgraded.get_conversation("c1")
        assert conversation is not None
        rating = rate(conversation, 2, "", rating_id="r1", now=T0)
        opened = follow_up(rating, followup_id="f1")
        rated = conversation.transition(ConversationStatus.RATED, T0)
        assert (await upgraded.record_rating(rating, opened, rated))[2] is True
        assert await upgraded.unhandled_followups() == [opened]
    finally:
        await upgraded.close()
