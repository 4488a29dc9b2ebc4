"""The periodic ticks' store time (issue 12): what one look of the follow-up and inbox ticks
reads, with N open inbox items and N open follow-ups, before (every open row, filtered in
Python; every offline request ever left, for the lost-item recovery) and after (only the
due rows, the gauge counted in SQL, the recovery's last window).

    python bench/ticks.py [--items 10000] [--followups 10000] [--repeat 50]
                          [--database-url sqlite:///...|postgresql+asyncpg://...]
                          [--write docs/benchmarks.md]

A fresh database (SQLite in a temporary directory unless `--database-url` names an empty
one) gets N conversations with an inbox item and its offline request each, and N negative
ratings with their follow-ups, spread like a desk with a backlog: most items breached
already (warned, then breached), some waiting with their deadlines in the next hours, a
few due now; follow-ups due over the past and next 24 hours, the past ones missed. Then
each variant runs `--repeat` times through the store as the tick calls it (on SQLite on
the event loop, as the server does), and the rules decide on what it read.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chatserver import inbox, inbox_sla
from chatserver.inbox import ChannelDesk, InboxKind
from chatserver.inbox_desk import RECOVER_AFTER
from chatserver.models import ConversationStatus, new_conversation
from chatserver.satisfaction import Rating, follow_up, newly_missed
from chatserver.sla import Channel
from chatserver.store import SqlStore, open_store, schema
from chatserver.store import ratings as rating_sql
from chatserver.store.inbox_sql import _item_values

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, percentile, write_section  # noqa: E402

MARKER = "ticks"
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def conversation_rows(n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        c = new_conversation(f"c{i}", language="ja", language_confirmed=True, now=NOW)
        rows.append(
            {
                "id": c.id,
                "status": str(ConversationStatus.RATED),
                "language": c.language,
                "language_confirmed": True,
                "language_source": "default",
                "token_hash": f"h{i}",
                "last_seq": 0,
                "tier": "standard",
                "tracking_number": f"T{i:08d}",
                "created_at": NOW - timedelta(days=2),
                "updated_at": NOW - timedelta(days=2),
            }
        )
    return rows


def item_rows(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Inbox items (90% of them breached, the rest waiting: left over the last hour, a few
    due around now) and the offline request of each."""
    items, requests = [], []
    email, callback = ChannelDesk(Channel.EMAIL), ChannelDesk(Channel.CALLBACK)
    for i in range(n):
        kind = InboxKind.CALLBACK if i % 4 == 0 else InboxKind.MESSAGE
        target = timedelta(minutes=15) if kind is InboxKind.CALLBACK else timedelta(hours=1)
        backlog = i % 10 != 0
        left = NOW - (timedelta(days=1, seconds=i) if backlog else target * (i % 97) / 97)
        item = inbox.new_item(
            item_id=f"i{i}",
            conversation_id=f"c{i}",
            tracking_number=f"T{i:08d}",
            kind=kind,
            language="ja",
            contact="taro@example.jp",
            text="出金がまだ届きません",
            preferred_time="",
            now=left,
            desk=callback if kind is InboxKind.CALLBACK else email,
            target=target,
        )
        if backlog:
            warned = inbox_sla.warn_at(item)
            item = inbox_sla.tick([item], warned).warned[0]
            item = inbox_sla.tick([item], item.due_at + timedelta(seconds=1)).breached[0]
        items.append(_item_values(item))
        requests.append(
            {
                "id": item.id,
                "conversation_id": item.conversation_id,
                "kind": "callback" if kind is InboxKind.CALLBACK else "email",
                "contact": item.contact,
                "text": item.text,
                "created_at": item.created_at,
            }
        )
    return items, requests


def followup_rows(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Negative ratings over the last 48 hours: due over the past and the next 24 hours;
    those past their deadline counted as missed already."""
    ratings, followups = [], []
    for i in range(n):
        rated_at = NOW - timedelta(hours=48) * (i / n)
        rating = Rating(f"r{i}", f"c{i}", 1, "", "ja", "trading", "a1", f"T{i:08d}", rated_at)
        opened = follow_up(rating, followup_id=f"f{i}")
        assert opened is not None
        if opened.due_at < NOW - timedelta(seconds=1):
            opened = opened.breach(NOW) or opened
        ratings.append(rating_sql._rating_values(rating))
        followups.append({**rating_sql._followup_values(opened), "id": opened.id})
    return ratings, followups


async def fill(store: SqlStore, items: int, followups: int) -> None:
    conversations = conversation_rows(max(items, followups))
    item_values, requests = item_rows(items)
    ratings, followup_values = followup_rows(followups)

    def insert(connection: Any) -> None:
        connection.execute(schema.conversations.insert(), conversations)
        if items:
            connection.execute(schema.offline_requests.insert(), requests)
            connection.execute(schema.inbox_items.insert(), item_values)
        if followups:
            connection.execute(schema.ratings.insert(), ratings)
            connection.execute(schema.followups.insert(), followup_values)

    await store.write(insert)


async def before(store: SqlStore) -> tuple[int, int]:
    """The ticks as they were: every unhandled follow-up and every open item, twice (the
    SLA's look and the gauge's), and every offline request ever left (the recovery)."""
    followups = await store.unhandled_followups()
    missed = newly_missed(followups, NOW)
    items = await store.open_inbox_items()
    changed = inbox_sla.tick(items, NOW)
    gauge = await store.open_inbox_items()
    lost = await store.offline_requests_without_item()
    read = len(followups) + len(items) + len(gauge) + len(lost)
    return read, len(missed) + len(changed.breached) + len(changed.warned)


async def after(store: SqlStore) -> tuple[int, int]:
    """The ticks now: the due rows only, the gauge's counts, the recovery's last window."""
    followups = await store.followups_due(NOW)
    missed = newly_missed(followups, NOW)
    items = await store.inbox_items_due(NOW)
    changed = inbox_sla.tick(items, NOW)
    counts = await store.inbox_counts()
    lost = await store.offline_requests_without_item(
        since=NOW - 2 * RECOVER_AFTER, until=NOW - RECOVER_AFTER
    )
    read = len(followups) + len(items) + len(counts) + len(lost)
    return read, len(missed) + len(changed.breached) + len(changed.warned)


async def timed(
    run: Callable[[SqlStore], Awaitable[tuple[int, int]]], store: SqlStore, repeat: int
) -> tuple[list[float], int, int]:
    await run(store)  # warm: statements compiled, pages cached
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        rows, decided = await run(store)
        times.append((time.perf_counter() - started) * 1000)
    return times, rows, decided


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/ticks.sqlite3"
        store = await open_store(url)
        try:
            await fill(store, args.items, args.followups)
            results = {
                "before: every open row": await timed(before, store, args.repeat),
                "after: due rows and counts": await timed(after, store, args.repeat),
            }
        finally:
            await store.close()
    decided = {result[2] for result in results.values()}
    if len(decided) != 1:
        print(f"before and after decided differently: {decided}", file=sys.stderr)
        return 1
    backend = url.split(":", 1)[0]
    command = "python bench/ticks.py " + " ".join(sys.argv[1:])
    body = (
        f"Command: `{command.strip()}`  \n"
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()}; "
        f"CPU: {cpu_model()} x {os.cpu_count()}; {backend}.  \n"
        f"{args.items} open inbox items (90% breached already) and {args.followups} unhandled "
        f"follow-ups (half missed already); one look of the follow-up and inbox ticks (the "
        "reads, the rules on what was read, and the lost-item recovery's read), "
        f"{args.repeat} times after a warm-up; "
        f"{decided.pop()} changes decided per look either way.\n\n"
        "| variant | rows read | p50 | p99 | max |\n|---|---|---|---|---|\n"
        + "".join(
            f"| {name} | {rows} | {statistics.median(times):.2f} ms | "
            f"{percentile(times, 0.99):.2f} ms | {max(times):.2f} ms |\n"
            for name, (times, rows, _) in results.items()
        )
    )
    print(body)
    if args.write:
        write_section(args.write, MARKER, "## Ticks\n\n" + body)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--followups", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--database-url", help="an empty database (default: SQLite, temporary)")
    parser.add_argument("--write", type=Path, help="markdown file whose ticks section is replaced")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
