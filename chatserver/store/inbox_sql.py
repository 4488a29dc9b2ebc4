"""The offline inbox's rows (tables `inbox_items`, `inbox_entries`): a mixin of SqlStore,
kept apart so that the inbox's queries live beside each other and not among the chats'."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from chatserver.inbox import InboxEntry, InboxItem, InboxKind, InboxStatus, Outcome
from chatserver.inbox_sla import warn_at
from chatserver.store.schema import conversations, inbox_entries, inbox_items, offline_requests

T = TypeVar("T")
# The columns only `mark_inbox_item` changes after the insert.
SLA_MARKS = ("warned_at", "breached_at")
# Item ids per `IN (...)` list: well under SQLite's bound-parameter limit.
_IN_CHUNK = 500
_WAITING = [str(InboxStatus.OPEN), str(InboxStatus.TAKEN)]
_NOT_CLOSED = [str(InboxStatus.OPEN), str(InboxStatus.TAKEN), str(InboxStatus.ANSWERED)]
# Waiting for a first answer and not breached: the items whose SLA clock still runs. Each
# query below is one range of its index (`ix_inbox_items_breach_due`, `..._warn_due`).
_MEASURED = (
    inbox_items.c.responded_at.is_(None),
    inbox_items.c.breached_at.is_(None),
    inbox_items.c.status.in_(_WAITING),
)
_TO_BREACH = sa.select(inbox_items).where(
    *_MEASURED, inbox_items.c.due_at < sa.bindparam("now", type_=inbox_items.c.due_at.type)
)
_TO_WARN = sa.select(inbox_items).where(
    inbox_items.c.warned_at.is_(None),
    *_MEASURED,
    inbox_items.c.warn_at <= sa.bindparam("now", type_=inbox_items.c.warn_at.type),
)
_COUNTS = (
    sa.select(inbox_items.c.status, inbox_items.c.kind, sa.func.count().label("n"))
    .where(inbox_items.c.status.in_(_NOT_CLOSED))
    .group_by(inbox_items.c.status, inbox_items.c.kind)
)


class _Runs(Protocol):
    async def read(self, operation: Callable[[sa.Connection], T]) -> T: ...

    async def write(self, operation: Callable[[sa.Connection], T]) -> T: ...


class InboxRows:
    """Store methods of the inbox (see `Store` in store/base.py)."""

    async def save_inbox_item(self: _Runs, item: InboxItem, *, new: bool = False) -> None:
        """Insert or update the item; an update leaves its SLA marks (`mark_inbox_item`)."""
        values = _item_values(item)
        if new:
            await self.write(lambda c: c.execute(inbox_items.insert(), values))
            return
        for mark in SLA_MARKS:
            del values[mark]
        update = inbox_items.update().where(inbox_items.c.id == item.id).values(values)
        await self.write(lambda c: c.execute(update))

    async def mark_inbox_item(self: _Runs, item_id: str, mark: str, at: datetime) -> bool:
        """Set `warned_at` or `breached_at` of an item still waiting for its first answer
        and not so marked yet; True if this call set it. Only this changes the marks, so the
        tick and an agent's step on the same item at once overwrite neither's change."""
        if mark not in SLA_MARKS:
            raise ValueError(f"not an SLA mark: {mark}")
        update = (
            inbox_items.update()
            .where(
                inbox_items.c.id == item_id,
                inbox_items.c[mark].is_(None),
                inbox_items.c.responded_at.is_(None),
                inbox_items.c.status.in_(_WAITING),
            )
            .values({mark: at})
        )
        return bool(await self.write(lambda c: c.execute(update).rowcount == 1))

    async def inbox_item(self: _Runs, item_id: str) -> InboxItem | None:
        query = sa.select(inbox_items).where(inbox_items.c.id == item_id)
        row = await self.read(lambda c: c.execute(query).first())
        return None if row is None else _item(row._mapping)

    async def inbox_items_by_tracking_number(self: _Runs, number: str) -> list[InboxItem]:
        query = (
            sa.select(inbox_items)
            .where(inbox_items.c.tracking_number == number)
            .order_by(inbox_items.c.created_at, inbox_items.c.id)
        )
        rows = await self.read(lambda c: c.execute(query).all())
        return [_item(row._mapping) for row in rows]

    async def open_inbox_items(self: _Runs) -> list[InboxItem]:
        query = (
            sa.select(inbox_items)
            .where(inbox_items.c.status != str(InboxStatus.CLOSED))
            .order_by(inbox_items.c.due_at, inbox_items.c.id)
        )
        rows = await self.read(lambda c: c.execute(query).all())
        return [_item(row._mapping) for row in rows]

    async def inbox_items_due(self: _Runs, now: datetime) -> list[InboxItem]:
        """Items whose SLA clock has something to say at `now`: past the deadline (breach,
        strictly after `due_at`) or at their warning time and not warned, neither recorded
        yet; soonest due first. `inbox_sla.tick` still decides; this only narrows."""

        def due(connection: sa.Connection) -> list[Any]:
            rows = {row.id: row for row in connection.execute(_TO_BREACH, {"now": now})}
            for row in connection.execute(_TO_WARN, {"now": now}):
                rows.setdefault(row.id, row)
            return sorted(rows.values(), key=lambda row: (row.due_at, row.id))

        return [_item(row._mapping) for row in await self.read(due)]

    async def inbox_counts(self: _Runs) -> dict[tuple[InboxKind, InboxStatus], int]:
        """Items not closed by kind and status (only the pairs that have some), counted in
        the database: the gauge needs no rows."""
        rows = await self.read(lambda c: c.execute(_COUNTS).all())
        return {(InboxKind(row.kind), InboxStatus(row.status)): int(row.n) for row in rows}

    async def inbox_items_left(self: _Runs, since: datetime, until: datetime) -> list[InboxItem]:
        """Every item (closed too) left in [since, until), oldest first, for the reports."""
        query = (
            sa.select(inbox_items)
            .where(inbox_items.c.created_at >= since, inbox_items.c.created_at < until)
            .order_by(inbox_items.c.created_at, inbox_items.c.id)
        )
        rows = await self.read(lambda c: c.execute(query).all())
        return [_item(row._mapping) for row in rows]

    async def offline_requests_without_item(
        self: _Runs, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Left messages and callback requests whose inbox item (same id) was never saved
        (the write after the request failed), left in [since, until] (either open: no
        bound), oldest first; bounded, a range of `ix_offline_requests_created_at`."""
        query = _without_item(since, until)
        rows = await self.read(lambda c: c.execute(query).all())
        return [dict(row._mapping) for row in rows]

    async def add_inbox_entry(self: _Runs, entry: InboxEntry) -> None:
        values = {
            "id": entry.id,
            "item_id": entry.item_id,
            "direction": entry.direction,
            "author": entry.author,
            "text": entry.text,
            "at": entry.at,
        }
        await self.write(lambda c: c.execute(inbox_entries.insert(), values))

    async def inbox_entries(self: _Runs, item_id: str) -> list[InboxEntry]:
        return (await _threads(self, [item_id]))[item_id]

    async def inbox_threads(self: _Runs, item_ids: Sequence[str]) -> dict[str, list[InboxEntry]]:
        return await _threads(self, item_ids)


async def _threads(store: _Runs, item_ids: Sequence[str]) -> dict[str, list[InboxEntry]]:
    threads: dict[str, list[InboxEntry]] = {item_id: [] for item_id in item_ids}
    for start in range(0, len(item_ids), _IN_CHUNK):
        for row in await _entries_of(store, item_ids[start : start + _IN_CHUNK]):
            threads[row.item_id].append(
                InboxEntry(
                    id=row.id,
                    item_id=row.item_id,
                    direction=row.direction,
                    author=row.author,
                    text=row.text,
                    at=row.at,
                )
            )
    return threads


async def _entries_of(store: _Runs, item_ids: Sequence[str]) -> Sequence[sa.Row[Any]]:
    query = (
        sa.select(inbox_entries)
        .where(inbox_entries.c.item_id.in_(item_ids))
        .order_by(inbox_entries.c.at, inbox_entries.c.id)
    )
    return await store.read(lambda c: c.execute(query).all())


def _without_item(since: datetime | None, until: datetime | None) -> sa.Select[Any]:
    """Requests left in [since, until] (a bound None: open) that have no inbox item."""
    query = (
        sa.select(
            offline_requests.c.id,
            offline_requests.c.conversation_id,
            offline_requests.c.kind,
            offline_requests.c.contact,
            offline_requests.c.text,
            offline_requests.c.created_at,
        )
        .outerjoin(inbox_items, inbox_items.c.id == offline_requests.c.id)
        .join(conversations, conversations.c.id == offline_requests.c.conversation_id)
        .where(inbox_items.c.id.is_(None))
        .order_by(offline_requests.c.created_at, offline_requests.c.id)
    )
    if since is not None:
        query = query.where(offline_requests.c.created_at >= since)
    if until is not None:
        query = query.where(offline_requests.c.created_at <= until)
    return query


def _item_values(item: InboxItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "conversation_id": item.conversation_id,
        "tracking_number": item.tracking_number,
        "kind": str(item.kind),
        "language": item.language,
        "contact": item.contact,
        "text": item.text,
        "preferred_time": item.preferred_time,
        "status": str(item.status),
        "outcome": None if item.outcome is None else str(item.outcome),
        "taken_by": item.taken_by,
        "created_at": item.created_at,
        "due_at": item.due_at,
        "responded_at": item.responded_at,
        "updated_at": item.updated_at,
        "policy": item.policy,
        "frt_target_seconds": item.target_seconds,
        "warned_at": item.warned_at,
        "breached_at": item.breached_at,
        "warn_at": warn_at(item),
    }


def _item(row: Any) -> InboxItem:
    responded_at: datetime | None = row["responded_at"]
    return InboxItem(
        id=row["id"],
        conversation_id=row["conversation_id"],
        tracking_number=row["tracking_number"],
        kind=InboxKind(row["kind"]),
        language=row["language"],
        contact=row["contact"],
        text=row["text"],
        preferred_time=row["preferred_time"],
        created_at=row["created_at"],
        due_at=row["due_at"],
        status=InboxStatus(row["status"]),
        outcome=None if row["outcome"] is None else Outcome(row["outcome"]),
        taken_by=row["taken_by"],
        responded_at=responded_at,
        updated_at=row["updated_at"],
        policy=row["policy"],
        target_seconds=row["frt_target_seconds"],
        warned_at=row["warned_at"],
        breached_at=row["breached_at"],
    )
