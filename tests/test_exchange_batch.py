"""The bot's exchanges that reach the store in one turn of the loop share a statement
(PostgreSQL): grouping on its own, then through the store on a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from chatserver.models import Author, Message, NewMessage
from chatserver.store import Answer, ExchangeResult, open_store
from chatserver.store.exchange_batch import ExchangeBatches, PlainExchange
from chatserver.store.sql import SqlStore
from tests.services import fresh_postgres
from tests.test_store import T0, a_conversation, customer_message


def plain(cid: str, read_seq: int = 0) -> PlainExchange:
    return PlainExchange(cid, read_seq, [{"seq": read_seq + 1}, {"seq": read_seq + 2}])


VERSION = 7  # a row's version after a write


class Writes:
    """What `ExchangeBatches` is given to write with: the groups it was asked to write,
    the conversations whose seq has moved, and a failure on demand."""

    def __init__(self, moved: frozenset[str] = frozenset(), refuse: str | None = None) -> None:
        self.groups: list[list[str]] = []
        self.moved = moved
        self.refuse = refuse  # a conversation whose exchange the database refuses
        self.broken = False

    async def one(self, exchange: PlainExchange) -> int | None:
        self.groups.append([exchange.conversation_id])
        if exchange.conversation_id == self.refuse:
            raise IntegrityError("INSERT", {}, Exception("duplicate client_id"))
        return None if exchange.conversation_id in self.moved else VERSION

    async def many(self, exchanges: list[PlainExchange]) -> dict[str, int]:
        ids = [e.conversation_id for e in exchanges]
        self.groups.append(ids)
        if self.broken:
            raise ConnectionError("the database is gone")
        if self.refuse in ids:
            raise IntegrityError("INSERT", {}, Exception("duplicate client_id"))
        return {cid: VERSION for cid in ids if cid not in self.moved}


async def test_the_exchanges_of_one_turn_are_written_as_one_group() -> None:
    writes = Writes(moved=frozenset({"c2"}))
    batches = ExchangeBatches(writes.one, writes.many, largest=3)
    written = await asyncio.gather(*(batches.write(plain(f"c{i}")) for i in range(5)))
    # Capped at `largest`; each caller learns whether its own row had moved.
    assert writes.groups == [["c0", "c1", "c2"], ["c3", "c4"]]
    assert written == [VERSION, VERSION, None, VERSION, VERSION]
    # Alone on a quiet desk: a group of one, written as one exchange.
    assert await batches.write(plain("c9")) == VERSION
    assert writes.groups[-1] == ["c9"]


async def test_a_conversation_is_in_a_group_once() -> None:
    writes = Writes()
    batches = ExchangeBatches(writes.one, writes.many)
    written = await asyncio.gather(
        batches.write(plain("c1")), batches.write(plain("c2")), batches.write(plain("c1"))
    )
    # The second of c1 goes alone, at once; the group holds c1's first.
    assert sorted(writes.groups) == [["c1"], ["c1", "c2"]]
    assert written == [VERSION, VERSION, VERSION]


async def test_a_refused_exchange_reaches_its_caller_alone() -> None:
    writes = Writes(refuse="c1")
    batches = ExchangeBatches(writes.one, writes.many)
    results = await asyncio.gather(
        *(batches.write(plain(f"c{i}")) for i in range(3)), return_exceptions=True
    )
    assert isinstance(results[1], IntegrityError)
    assert results[0] == VERSION
    assert results[2] == VERSION
    assert writes.groups == [["c0", "c1", "c2"], ["c0"], ["c1"], ["c2"]]


async def test_a_failure_reaches_its_group_and_a_cancelled_caller_is_left_out() -> None:
    writes = Writes()
    writes.broken = True
    batches = ExchangeBatches(writes.one, writes.many)
    results = await asyncio.gather(
        batches.write(plain("c1")), batches.write(plain("c2")), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)

    writes.broken = False
    cancelled = asyncio.create_task(batches.write(plain("c3")))
    kept = asyncio.create_task(batches.write(plain("c4")))
    await asyncio.sleep(0)  # both wait for the end of the turn
    cancelled.cancel()
    assert await kept == VERSION
    assert writes.groups[-1] == ["c4"]
    with pytest.raises(asyncio.CancelledError):
        await cancelled


# --------------------------------------------------------------- through the store


@pytest.fixture
async def postgres_store() -> AsyncIterator[SqlStore]:
    async with fresh_postgres() as url:
        opened = await open_store(url)
        try:
            yield opened
        finally:
            await opened.close()


class Statements:
    """The statements the store's engine sent, by their first words."""

    def __init__(self, store: SqlStore) -> None:
        self.sent: list[str] = []
        engine = store._runner.engine.sync_engine  # type: ignore[attr-defined]
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        self.sent.append(" ".join(statement.split()[:3]))

    def exchanges(self) -> list[str]:
        return [s for s in self.sent if s.startswith("WITH")]


META = {"in_reply_to": 1, "faq_id": "deposit-time", "scores": [0.5, 1], "note": "ü 入金"}


def answered_by(text: str, cid: str):  # type: ignore[no-untyped-def]
    def answer(stored: Message) -> Answer:
        meta = {**META, "in_reply_to": stored.seq}
        return Answer(
            replies=[NewMessage(f"r-{stored.id}", cid, Author.BOT, text, T0, "en", meta=meta)]
        )

    return answer


async def conversations(store: SqlStore, count: int) -> None:
    for i in range(count):
        await a_conversation(store, f"c{i}", f"h{i}")


async def exchanges_at_once(
    store: SqlStore, count: int, prefix: str = "m", read: dict[int, int] | None = None
) -> list[ExchangeResult]:
    """A message (`<prefix><i>`, client_id `k<i>`) and the bot's answer in each of the
    conversations c0, c1, ... at once, as customers writing in the same moment; each after
    the last seq its caller read (`read`, 0 if not given)."""
    return await asyncio.gather(
        *(
            store.append_exchange(
                customer_message(f"{prefix}{i}", f"question {i}", client_id=f"k{i}", cid=f"c{i}"),
                answered_by(f"answer {i}", f"c{i}"),
                last_seq=(read or {}).get(i, 0),
            )
            for i in range(count)
        )
    )


def _unnamed(message: Message) -> Message:
    """A message without what tells one exchange of the test from another."""
    return replace(message, id="", conversation_id="", text="", client_id=None)


async def test_exchanges_of_one_turn_share_a_statement_and_are_stored_as_alone(
    postgres_store: SqlStore,
) -> None:
    store = postgres_store
    await conversations(store, 6)
    statements = Statements(store)
    done = await exchanges_at_once(store, 6)
    assert len(statements.exchanges()) == 1
    # The same exchange alone, on the same store: rows as the shared statement stored them.
    await a_conversation(store, "alone", "h-alone")
    await store.append_exchange(
        customer_message("m-alone", "question 0", client_id="k0", cid="alone"),
        answered_by("answer 0", "alone"),
        last_seq=0,
    )
    assert len(statements.exchanges()) == 2
    alone = await store.messages("alone")
    for i, exchanged in enumerate(done):
        assert (exchanged.created, exchanged.answered) == (True, True)
        assert [exchanged.message.seq, *(r.seq for r in exchanged.replies)] == [1, 2]
        stored = await store.messages(f"c{i}")
        assert stored == [exchanged.message, *exchanged.replies]
        assert [_unnamed(m) for m in stored] == [_unnamed(m) for m in alone]
        assert stored[1].meta == {**META, "in_reply_to": 1}
        assert (await store.get_conversation(f"c{i}")).last_seq == 2  # type: ignore[union-attr]


async def test_a_resend_among_them_is_answered_as_a_resend_and_the_others_are_stored(
    postgres_store: SqlStore,
) -> None:
    store = postgres_store
    await conversations(store, 3)
    first = await store.append_exchange(
        customer_message("m1", "question", client_id="k1", cid="c1"),
        answered_by("answer", "c1"),
        last_seq=0,
    )
    done = await exchanges_at_once(store, 3, prefix="n", read={1: 2})
    assert (done[1].created, done[1].answered) == (False, False)
    assert done[1].message.id == first.message.id
    assert [m.id for m in await store.messages("c1")] == ["m1", "r-m1"]
    for i in (0, 2):
        assert (done[i].created, done[i].answered) == (True, True)
        assert [m.id for m in await store.messages(f"c{i}")] == [f"n{i}", f"r-n{i}"]


async def test_a_conversation_that_moved_is_numbered_after_and_the_others_are_not_held(
    postgres_store: SqlStore,
) -> None:
    store = postgres_store
    await conversations(store, 3)
    # Another process wrote in c1 after this one read its last seq (0).
    await store.append_message(customer_message("agent-side", "hello", cid="c1"))
    done = await exchanges_at_once(store, 3)
    assert [m.seq for m in await store.messages("c1")] == [1, 2, 3]
    assert done[1].message.seq == 2
    assert done[1].replies[0].meta["in_reply_to"] == 2
    for i in (0, 2):
        assert done[i].message.seq == 1
        assert [m.seq for m in await store.messages(f"c{i}")] == [1, 2]
