"""The offline inbox in the store, on SQLite and PostgreSQL: items round-trip with every
field, change, are found by tracking number, and carry their email thread; a version 7
database gets the inbox tables."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import sqlalchemy as sa

from chatserver import inbox
from chatserver.inbox import ChannelDesk, InboxEntry, InboxKind, InboxStatus, Outcome
from chatserver.models import OfflineRequest
from chatserver.sla import Channel
from chatserver.store import open_store
from tests import test_store
from tests.test_store import (
    T0,
    a_conversation,
    back_to_version_10,
    back_to_version_12,
    run_sync,
)

# The store tests' fixtures: each test runs on SQLite and on PostgreSQL.
store_url = test_store.store_url
store = test_store.store


def an_item(item_id: str = "i1", kind: InboxKind = InboxKind.MESSAGE, **changes):
    item = inbox.new_item(
        item_id=item_id,
        conversation_id="c1",
        tracking_number="K7PX-4QR9-M",
        kind=kind,
        language="ja",
        contact="taro@example.jp",
        text="出金がまだ届きません",
        preferred_time="平日の午前",
        now=T0,
        desk=ChannelDesk(Channel.EMAIL),
        target=timedelta(hours=1),
    )
    return dataclasses.replace(item, **changes)


async def test_an_item_round_trips_and_changes(store):
    await a_conversation(store)
    item = an_item()
    await store.save_inbox_item(item, new=True)
    assert await store.inbox_item("i1") == item
    assert await store.inbox_item("nope") is None
    taken = inbox.take(item, "aiko", T0 + timedelta(minutes=5))
    done = inbox.answered(taken, "aiko", T0 + timedelta(minutes=6))
    await store.save_inbox_item(done)
    assert await store.inbox_item("i1") == done
    assert (await store.inbox_item("i1")).responded_at == T0 + timedelta(minutes=6)


async def test_open_items_leave_out_closed_ones_soonest_due_first(store):
    await a_conversation(store)
    later = an_item("i1", due_at=T0 + timedelta(hours=2))
    sooner = an_item("i2", kind=InboxKind.CALLBACK, due_at=T0 + timedelta(minutes=15))
    closed = an_item("i3", status=InboxStatus.CLOSED, outcome=Outcome.RESOLVED)
    for item in (later, sooner, closed):
        await store.save_inbox_item(item, new=True)
    assert [i.id for i in await store.open_inbox_items()] == ["i2", "i1"]
    found = await store.inbox_items_by_tracking_number("K7PX-4QR9-M")
    assert [i.id for i in found] == ["i1", "i2", "i3"]
    assert await store.inbox_items_by_tracking_number("AAAA-AAAA-A") == []


async def test_the_thread_comes_back_oldest_first(store):
    await a_conversation(store)
    await store.save_inbox_item(an_item(), new=True)
    reply = InboxEntry("e2", "i1", "in", None, "ありがとうございます", T0 + timedelta(hours=2))
    answer = InboxEntry("e1", "i1", "out", "aiko", "確認いたしました", T0 + timedelta(hours=1))
    await store.add_inbox_entry(reply)
    await store.add_inbox_entry(answer)
    assert await store.inbox_entries("i1") == [answer, reply]
    assert await store.inbox_entries("other") == []


async def test_several_threads_come_back_in_one_read_each_oldest_first(store):
    """What every console's inbox is built from: one query, not one per item and agent."""
    await a_conversation(store)
    ids = [f"i{n}" for n in range(1, 1203)]  # more than one IN list's worth
    for item_id in ids[:3]:
        await store.save_inbox_item(an_item(item_id), new=True)
    later = InboxEntry("e2", "i1", "in", None, "ありがとうございます", T0 + timedelta(hours=2))
    sooner = InboxEntry("e1", "i1", "out", "aiko", "確認いたしました", T0 + timedelta(hours=1))
    other = InboxEntry("e3", "i3", "out", "aiko", "折り返しお電話します", T0)
    for entry in (later, sooner, other):
        await store.add_inbox_entry(entry)
    threads = await store.inbox_threads(ids)
    assert threads["i1"] == [sooner, later]
    assert threads["i2"] == []
    assert threads["i3"] == [other]
    assert set(threads) == set(ids)
    assert await store.inbox_threads([]) == {}


async def test_a_version_10_database_gets_the_inbox_with_the_requests_left_before(store_url):
    fresh = await open_store(store_url)
    conversation = await a_conversation(fresh)
    await fresh.save_conversation(dataclasses.replace(conversation, tracking_number="K7PX-4QR9-M"))
    await fresh.record_offline_request(
        OfflineRequest("r1", "c1", "callback", "+81 90 1234 5678", "電話ください", T0)
    )
    await fresh.close()
    await run_sync(store_url, back_to_version_10)
    upgraded = await open_store(store_url)
    try:
        versions = await upgraded.read(
            lambda c: c.execute(sa.text("SELECT version FROM schema_migrations")).scalars().all()
        )
        assert 11 in versions
        (carried,) = await upgraded.open_inbox_items()
        assert carried == inbox.InboxItem(
            id="r1",
            conversation_id="c1",
            tracking_number="K7PX-4QR9-M",
            kind=InboxKind.CALLBACK,
            language="ja",
            contact="+81 90 1234 5678",
            text="電話ください",
            preferred_time="",
            created_at=T0,
            due_at=T0 + timedelta(minutes=15),
            updated_at=T0,
        )
        await upgraded.save_inbox_item(an_item(), new=True)
        assert (await upgraded.inbox_item("i1")) == an_item()
    finally:
        await upgraded.close()


async def test_an_items_sla_fields_round_trip(store):
    await a_conversation(store)
    item = an_item(policy="email/-/standard/medium")
    assert item.target_seconds == 3600
    await store.save_inbox_item(item, new=True)
    assert await store.inbox_item("i1") == item
    warned_at, breached_at = T0 + timedelta(minutes=40), T0 + timedelta(minutes=61)
    assert await store.mark_inbox_item("i1", "warned_at", warned_at) is True
    assert await store.mark_inbox_item("i1", "warned_at", breached_at) is False  # once
    assert await store.mark_inbox_item("i1", "breached_at", breached_at) is True
    assert await store.mark_inbox_item("i1", "breached_at", breached_at) is False
    marked = dataclasses.replace(item, warned_at=warned_at, breached_at=breached_at)
    assert await store.inbox_item("i1") == marked


async def test_a_step_on_a_stale_copy_keeps_the_marks_and_a_mark_spares_the_answer(store):
    await a_conversation(store)
    item = an_item()
    await store.save_inbox_item(item, new=True)
    # An agent read the item before the tick marked it breached, then takes it.
    assert await store.mark_inbox_item("i1", "breached_at", T0 + timedelta(hours=2))
    taken = inbox.take(item, "aiko", T0 + timedelta(hours=2))
    await store.save_inbox_item(taken)
    stored = await store.inbox_item("i1")
    assert (stored.status, stored.breached_at) == (InboxStatus.TAKEN, T0 + timedelta(hours=2))
    # An item answered after the tick read it is not warned or breached.
    other = an_item("i2")
    await store.save_inbox_item(other, new=True)
    await store.save_inbox_item(inbox.answered(inbox.take(other, "aiko", T0), "aiko", T0))
    assert await store.mark_inbox_item("i2", "warned_at", T0) is False
    assert await store.mark_inbox_item("i2", "breached_at", T0) is False
    assert (await store.inbox_item("i2")).breached_at is None
    assert await store.mark_inbox_item("nope", "breached_at", T0) is False


async def test_items_left_in_a_range_closed_ones_too(store):
    await a_conversation(store)
    closed = an_item("i1", status=InboxStatus.CLOSED, outcome=Outcome.RESOLVED)
    later = an_item("i2", created_at=T0 + timedelta(days=1))
    for item in (closed, later):
        await store.save_inbox_item(item, new=True)
    assert [i.id for i in await store.inbox_items_left(T0, T0 + timedelta(hours=1))] == ["i1"]
    everything = await store.inbox_items_left(T0 - timedelta(days=1), T0 + timedelta(days=2))
    assert [i.id for i in everything] == ["i1", "i2"]


async def test_requests_whose_item_was_not_saved_are_found(store):
    await a_conversation(store)
    for request_id in ("r1", "r2"):
        await store.record_offline_request(
            OfflineRequest(request_id, "c1", "email", "taro@example.jp", "出金", T0)
        )
    await store.save_inbox_item(an_item("r1"), new=True)
    (lost,) = await store.offline_requests_without_item()
    assert (lost["id"], lost["conversation_id"], lost["kind"]) == ("r2", "c1", "email")
    assert (lost["contact"], lost["text"], lost["created_at"]) == ("taro@example.jp", "出金", T0)
    await store.save_inbox_item(an_item("r2"), new=True)
    assert await store.offline_requests_without_item() == []


def back_to_version_11(connection: sa.Connection) -> None:
    """The database as version 11 left it: inbox items without their SLA cell and clocks."""
    back_to_version_12(connection)
    for column in ("policy", "frt_target_seconds", "warned_at", "breached_at"):
        connection.execute(sa.text(f"ALTER TABLE inbox_items DROP COLUMN {column}"))
    connection.execute(sa.text("DELETE FROM schema_migrations WHERE version > 11"))


async def test_a_version_11_database_gets_the_inbox_sla_columns(store_url):
    fresh = await open_store(store_url)
    await a_conversation(fresh)
    await fresh.save_inbox_item(an_item(), new=True)
    await fresh.close()
    await run_sync(store_url, back_to_version_11)
    upgraded = await open_store(store_url)
    try:
        versions = await upgraded.read(
            lambda c: c.execute(sa.text("SELECT version FROM schema_migrations")).scalars().all()
        )
        assert 12 in versions
        kept = await upgraded.inbox_item("i1")
        assert kept == dataclasses.replace(an_item(), target_seconds=None)
        assert await upgraded.mark_inbox_item("i1", "breached_at", T0 + timedelta(hours=2))
        breached = dataclasses.replace(kept, breached_at=T0 + timedelta(hours=2))
        assert await upgraded.inbox_item("i1") == breached
    finally:
        await upgraded.close()
