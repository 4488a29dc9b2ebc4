"""The periodic ticks read only what is due (issue 12): the store's due-only queries return
exactly the rows the pure rules (`satisfaction.newly_missed`, `inbox_sla.tick`) change at
boundary times, on SQLite and PostgreSQL; on SQLite each is a range of its index; the inbox
gauge is counted in SQL; a version 13 database gets the warning times of its items."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import sqlalchemy as sa

from chatserver import inbox, inbox_sla
from chatserver.inbox import ChannelDesk, InboxKind, InboxStatus, Outcome
from chatserver.models import ConversationStatus, OfflineRequest
from chatserver.satisfaction import FOLLOW_UP_WITHIN, follow_up, newly_missed, rate
from chatserver.sla import Channel
from chatserver.store import open_store
from chatserver.store import ratings as rating_sql
from chatserver.store.inbox_sql import _COUNTS, _TO_BREACH, _TO_WARN, _without_item
from tests.test_satisfaction_store import closed
from tests.test_store import (  # noqa: F401
    T0,
    a_conversation,
    back_to_version_13,
    run_sync,
    store,
    store_url,
)
from tests.test_store_inbox import an_item

NOW = T0 + timedelta(days=2)
TICK = timedelta(microseconds=1)  # the smallest step both databases keep


async def rated_negatively(store, cid: str, at: datetime):  # noqa: F811
    """A follow-up opened by a rating at `at`, so due FOLLOW_UP_WITHIN later."""
    conversation = await closed(store, cid, f"h-{cid}")
    rating = rate(conversation, 1, "", rating_id=f"r-{cid}", now=at)
    opened = follow_up(rating, followup_id=f"f-{cid}")
    assert opened is not None
    await store.record_rating(rating, opened, conversation.transition(ConversationStatus.RATED, at))
    return opened


async def test_follow_ups_due_are_the_unhandled_uncounted_ones_due_by_now(store):  # noqa: F811
    due_now = await rated_negatively(store, "due-now", NOW - FOLLOW_UP_WITHIN)
    overdue = await rated_negatively(store, "overdue", NOW - FOLLOW_UP_WITHIN - TICK)
    not_yet = await rated_negatively(store, "not-yet", NOW - FOLLOW_UP_WITHIN + TICK)
    handled = await rated_negatively(store, "handled", T0)
    await store.save_followup(handled.handle("phoned", by="sam", now=T0 + timedelta(hours=1)))
    missed = await rated_negatively(store, "missed", T0)
    counted = missed.breach(NOW)
    assert counted is not None
    await store.save_followup(counted)

    due = await store.followups_due(NOW)
    assert due == [overdue, due_now]  # soonest first; not_yet, handled and missed left out
    everything = [f for f in await store.unhandled_followups() if not f.breached]
    assert not_yet in everything
    # Exactly what the rule counts as newly missed among all of them at this instant.
    assert newly_missed(due, NOW) == newly_missed(everything, NOW)
    for followup in newly_missed(due, NOW):
        await store.save_followup(followup)
    assert await store.followups_due(NOW) == []
    assert await store.followups_due(NOW + TICK) == [dataclasses.replace(not_yet)]


def email(item_id: str, due_at: datetime, **changes):
    """An email item (target 1 h: warned 20 minutes before its deadline) due at `due_at`."""
    return an_item(item_id, due_at=due_at, **changes)


WARN = timedelta(minutes=20)


async def test_inbox_items_due_are_exactly_those_the_sla_tick_changes(store):  # noqa: F811
    await a_conversation(store)
    items = [
        # Breached strictly after the deadline: at due == now only if not warned yet.
        email("breach-at-now", NOW, warned_at=NOW - WARN),
        email("breach-after", NOW - TICK, warned_at=NOW - WARN),
        email("late-unwarned", NOW - timedelta(hours=3)),
        # Warned from warn_at == now on.
        email("warn-at-now", NOW + WARN),
        email("warn-not-yet", NOW + WARN + TICK),
        email("warned-already", NOW + WARN - TICK, warned_at=NOW - TICK),
        # Recorded, answered or closed: no decision left.
        email("breached-already", NOW - timedelta(hours=2), breached_at=NOW - timedelta(hours=1)),
        email(
            "answered",
            NOW - timedelta(hours=2),
            status=InboxStatus.ANSWERED,
            responded_at=NOW - timedelta(hours=3),
        ),
        email(
            "reopened-after-answer",
            NOW - timedelta(hours=2),
            status=InboxStatus.OPEN,
            responded_at=NOW - timedelta(hours=3),
        ),
        email(
            "closed", NOW - timedelta(hours=2), status=InboxStatus.CLOSED, outcome=Outcome.RESOLVED
        ),
        email("taken-late", NOW - TICK, status=InboxStatus.TAKEN, taken_by="aiko", warned_at=T0),
    ]
    for item in items:
        await store.save_inbox_item(item, new=True)

    due = await store.inbox_items_due(NOW)
    assert [item.id for item in due] == [
        "late-unwarned",
        "breach-after",
        "taken-late",
        "warn-at-now",
    ]
    # The domain decides on them exactly as it would on every open item.
    on_all = inbox_sla.tick(await store.open_inbox_items(), NOW)
    on_due = inbox_sla.tick(due, NOW)
    assert on_due == on_all
    assert [i.id for i in on_due.breached] == ["late-unwarned", "breach-after", "taken-late"]
    assert [i.id for i in on_due.warned] == ["warn-at-now"]
    for item in on_due.warned:
        assert await store.mark_inbox_item(item.id, "warned_at", NOW)
    for item in on_due.breached:
        assert await store.mark_inbox_item(item.id, "breached_at", NOW)
    assert await store.inbox_items_due(NOW) == []
    later = [item.id for item in await store.inbox_items_due(NOW + TICK)]
    assert later == ["breach-at-now", "warn-not-yet"]


async def test_a_new_deadline_moves_the_warning_time(store):  # noqa: F811
    await a_conversation(store)
    item = email("i1", NOW + timedelta(minutes=5), warned_at=None)
    await store.save_inbox_item(item, new=True)
    assert [i.id for i in await store.inbox_items_due(NOW)] == ["i1"]
    # The customer wrote back: due an hour from now, so warned 40 minutes from now.
    reopened = inbox.reopen(item, NOW, desk=ChannelDesk(Channel.EMAIL), target=timedelta(hours=1))
    await store.save_inbox_item(reopened)
    assert await store.inbox_items_due(NOW + timedelta(minutes=40) - TICK) == []
    assert [i.id for i in await store.inbox_items_due(NOW + timedelta(minutes=40))] == ["i1"]


async def test_the_inbox_gauge_is_counted_by_kind_and_status(store):  # noqa: F811
    await a_conversation(store)
    for item in (
        an_item("m1"),
        an_item("m2", status=InboxStatus.TAKEN, taken_by="aiko"),
        an_item("m3", status=InboxStatus.TAKEN, taken_by="aiko"),
        an_item("c1", kind=InboxKind.CALLBACK, status=InboxStatus.ANSWERED),
        an_item("c2", kind=InboxKind.CALLBACK, status=InboxStatus.CLOSED),
    ):
        await store.save_inbox_item(item, new=True)
    assert await store.inbox_counts() == {
        (InboxKind.MESSAGE, InboxStatus.OPEN): 1,
        (InboxKind.MESSAGE, InboxStatus.TAKEN): 2,
        (InboxKind.CALLBACK, InboxStatus.ANSWERED): 1,
    }


async def test_the_recovery_reads_the_requests_left_in_its_window(store):  # noqa: F811
    await a_conversation(store)
    for n, left in enumerate((NOW - timedelta(minutes=2), NOW - TICK, NOW, NOW + TICK)):
        await store.record_offline_request(
            OfflineRequest(f"r{n}", "c1", "email", "taro@example.jp", "出金", left)
        )
    await store.save_inbox_item(an_item("r1"), new=True)  # saved: not lost

    def ids(found):
        return [request["id"] for request in found]

    assert ids(await store.offline_requests_without_item()) == ["r0", "r2", "r3"]
    window = await store.offline_requests_without_item(since=NOW - TICK, until=NOW)
    assert ids(window) == ["r2"]  # both bounds included
    assert ids(await store.offline_requests_without_item(until=NOW - TICK)) == ["r0"]
    assert ids(await store.offline_requests_without_item(since=NOW + TICK)) == ["r3"]


def _plan(connection: sa.Connection, statement: sa.Select) -> str:
    """SQLite's plan of the statement as the store runs it (`now` written in)."""
    compiled = statement.params(now=NOW).compile(
        dialect=connection.dialect, compile_kwargs={"literal_binds": True}
    )
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}")
    return "\n".join(row[-1] for row in rows)


async def test_each_due_query_is_a_range_of_its_index_on_sqlite(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path / 'plan.sqlite3'}")  # noqa: F811
    try:
        plans = await store.read(
            lambda c: {
                "breach": _plan(c, _TO_BREACH),
                "warn": _plan(c, _TO_WARN),
                "followups": _plan(c, rating_sql._DUE),
                "counts": _plan(c, _COUNTS),
                "recovery": _plan(c, _without_item(NOW - timedelta(minutes=2), NOW)),
            }
        )
    finally:
        await store.close()
    assert "SEARCH inbox_items USING INDEX ix_inbox_items_breach_due" in plans["breach"]
    assert "due_at<?" in plans["breach"]
    assert "SEARCH inbox_items USING INDEX ix_inbox_items_warn_due" in plans["warn"]
    assert "warn_at<?" in plans["warn"]
    assert "SEARCH followups USING INDEX ix_followups_due" in plans["followups"]
    assert "due_at<?" in plans["followups"]
    assert "SEARCH ratings USING INDEX" in plans["followups"]  # its primary key, per row
    assert "USING COVERING INDEX ix_inbox_items_status_kind" in plans["counts"]
    recovery = "SEARCH offline_requests USING INDEX ix_offline_requests_created_at"
    assert recovery in plans["recovery"]
    assert "SEARCH inbox_items USING" in plans["recovery"]  # its primary key, per request
    for plan in plans.values():
        assert "SCAN inbox_items" not in plan, plan
        assert "SCAN followups" not in plan, plan
        assert "SCAN offline_requests" not in plan, plan


async def test_a_version_13_database_gets_the_warning_time_of_its_items(store_url):  # noqa: F811
    fresh = await open_store(store_url)
    await a_conversation(fresh)
    item = email("i1", NOW)
    await fresh.save_inbox_item(item, new=True)
    await fresh.close()
    await run_sync(store_url, back_to_version_13)
    upgraded = await open_store(store_url)
    try:
        assert await upgraded.inbox_items_due(NOW - WARN - TICK) == []
        assert await upgraded.inbox_items_due(NOW - WARN) == [item]
        assert await upgraded.inbox_item("i1") == item
    finally:
        await upgraded.close()
