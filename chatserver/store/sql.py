"""The SQL `Store`: SQLAlchemy Core on SQLite (embedded default) or PostgreSQL.

Every store method is one synchronous operation on a SQLAlchemy connection, run in one
transaction: on SQLite in this process (see `_SqliteRunner`), on PostgreSQL through asyncpg
with `run_sync`, where the row lock on the conversation orders appends. One SQL text serves
both databases.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from chatserver.agents import AgentAccount, Session
from chatserver.announcements import Announcement, Severity
from chatserver.canned import CannedReply
from chatserver.holdings import Holding, HoldingChange, HoldingEnd
from chatserver.models import (
    Author,
    Conversation,
    ConversationStatus,
    FaqChoice,
    FaqDecline,
    FaqFeedback,
    Message,
    NewMessage,
    OfflineRequest,
    Priority,
    Role,
    Team,
    Tier,
)
from chatserver.satisfaction import FollowUp, Rating
from chatserver.sla import AppliedSla, next_deadline
from chatserver.store import driver
from chatserver.store import ratings as rating_sql
from chatserver.store.base import (
    Answer,
    AppendResult,
    DuplicateAgent,
    ExchangeResult,
    StaleConversation,
)
from chatserver.store.conversation_cache import ConversationCache, RowVersions
from chatserver.store.exchange_batch import ExchangeBatches, PlainExchange
from chatserver.store.exchange_statement import (
    MESSAGE_COLUMNS,
    ROW_VERSION,
    batched_exchanges,
    exchange_statement,
)
from chatserver.store.inbox_sql import InboxRows
from chatserver.store.migrations import migrate
from chatserver.store.schema import (
    agent_sessions,
    agents,
    announcements,
    applied_slas,
    canned_replies,
    conversations,
    faq_choices,
    faq_declines,
    faq_feedback,
    messages,
    offline_requests,
)
from chatserver.store.schema import holdings as holding_rows

# WAL lets readers run while one writer commits. synchronous: NORMAL makes a commit
# survive a crash of this process (what "stored before acknowledged" must survive in
# practice) at ~0.1 ms; FULL also survives a power cut at ~1.2 ms a commit here, which
# caps the desk at a few dozen handoffs a second. CHATSERVER_SQLITE_SYNCHRONOUS chooses.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


log = logging.getLogger(__name__)

# With commits on the event loop, the WAL is moved into the database this often, off it.
CHECKPOINT_INTERVAL = 1.0
# PostgreSQL: a pooled connection unused this long is pinged before use (`_ping_after_idle`).
PING_AFTER_IDLE = 2.0
# PostgreSQL: connections a process keeps open, and no more. With room to open extra ones
# for a busy moment (SQLAlchemy's `max_overflow`), each was closed again as soon as it was
# handed back to a full pool: under the bot benchmark a process opened about 18 connections a
# second, each a new backend and asyncpg's set-up; two processes did 530-538 messages a second
# with them, 603-708 without (docs/benchmarks.md). An operation now waits for a connection.
POOL_SIZE = 20

# Statements built once: their compiled form is cached, and only parameters change on the
# hot paths (every message and every change of a conversation).
_CONVERSATION_BY = {
    column: sa.select(conversations).where(conversations.c[column] == sa.bindparam("key"))
    for column in ("id", "token_hash", "tracking_number")
}
# PostgreSQL: with the row's version (exchange_statement.py).
_VERSIONED_CONVERSATION = sa.select(conversations, ROW_VERSION.label("version")).where(
    conversations.c.id == sa.bindparam("key")
)
_INSERT_CONVERSATION = conversations.insert()
_INSERT_CONVERSATION_VERSIONED = _INSERT_CONVERSATION.returning(ROW_VERSION)
_SAVE_CONVERSATION = conversations.update().where(conversations.c.id == sa.bindparam("b_id"))
_NEXT_SEQ = (
    conversations.update()
    .where(conversations.c.id == sa.bindparam("b_id"))
    .values(last_seq=conversations.c.last_seq + 1)
    .returning(conversations.c.last_seq)
)
# A conversation's row changed only while its last seq is still the one the caller read.
_SAVE_CONVERSATION_AFTER = _SAVE_CONVERSATION.where(
    conversations.c.last_seq == sa.bindparam("b_last_seq")
)
# The conversation's last seq, its row locked (PostgreSQL; SQLite's write lock is the whole
# database) until the transaction ends: a resend decides on it and writes after it.
_LAST_SEQ = sa.select(conversations.c.last_seq).where(conversations.c.id == sa.bindparam("b_id"))
_LAST_SEQ_LOCKED = _LAST_SEQ.with_for_update()
_INSERT_MESSAGE = messages.insert()
_INSERT_DECLINE = faq_declines.insert()
_SET_META = messages.update().where(messages.c.id == sa.bindparam("b_id"))
_DECLINE_OF = sa.select(faq_declines.c.id).where(
    faq_declines.c.conversation_id == sa.bindparam("conversation_id"),
    faq_declines.c.message_seq == sa.bindparam("message_seq"),
)
_MESSAGE_BY_CLIENT_ID = sa.select(messages).where(
    messages.c.conversation_id == sa.bindparam("conversation_id"),
    messages.c.sender == sa.bindparam("sender"),
    messages.c.client_id == sa.bindparam("client_id"),
)
# A conversation's messages after a seq, oldest first (resume, briefing, transcript pages).
_MESSAGES_AFTER = (
    sa.select(messages)
    .where(
        messages.c.conversation_id == sa.bindparam("conversation_id"),
        messages.c.seq > sa.bindparam("after_seq"),
    )
    .order_by(messages.c.seq)
    .limit(sa.bindparam("limit"))
)
# Each listed conversation's latest customer message (a handoff's preview, a restart).
_LATEST_FROM_CUSTOMER = (
    sa.select(messages.c.conversation_id, sa.func.max(messages.c.seq).label("seq"))
    .where(
        messages.c.conversation_id.in_(sa.bindparam("ids", expanding=True)),
        messages.c.author == str(Author.CUSTOMER),
    )
    .group_by(messages.c.conversation_id)
    .subquery()
)
_LAST_CUSTOMER_MESSAGES = sa.select(messages).join(
    _LATEST_FROM_CUSTOMER,
    sa.and_(
        messages.c.conversation_id == _LATEST_FROM_CUSTOMER.c.conversation_id,
        messages.c.seq == _LATEST_FROM_CUSTOMER.c.seq,
    ),
)
_HOLDINGS_OF = (
    sa.select(holding_rows)
    .where(holding_rows.c.conversation_id == sa.bindparam("conversation_id"))
    .order_by(holding_rows.c.since, holding_rows.c.id)
)
# One agent's stretches holding a conversation: ended, or (undone) reopened or removed.
_HOLDING = holding_rows.c
_ONE_AGENTS_HOLDING = sa.and_(
    _HOLDING.conversation_id == sa.bindparam("b_conversation_id"),
    _HOLDING.agent_id == sa.bindparam("b_agent_id"),
)
_END_HOLDING = holding_rows.update().where(_ONE_AGENTS_HOLDING, _HOLDING.until.is_(None))
_UNDO_OPEN_HOLDING = holding_rows.delete().where(
    _ONE_AGENTS_HOLDING, _HOLDING.since == sa.bindparam("b_at"), _HOLDING.until.is_(None)
)
_UNDO_END_HOLDING = holding_rows.update().where(
    _ONE_AGENTS_HOLDING, _HOLDING.until == sa.bindparam("b_at")
)
_OPEN_HOLDING = holding_rows.insert()
_SLA_OF = sa.select(applied_slas.c.state).where(
    applied_slas.c.conversation_id == sa.bindparam("conversation_id")
)
_SAVE_SLA = applied_slas.update().where(
    applied_slas.c.conversation_id == sa.bindparam("b_conversation_id")
)
_INSERT_SLA = applied_slas.insert()


class StoreClosed(RuntimeError):
    pass


T = TypeVar("T")
# Ids per `IN (...)` list: far below any database's limit on bound parameters.
_IN_CHUNK = 500
Operation = Callable[[sa.Connection], T]


class _Runner(Protocol):
    """Runs a synchronous operation in one transaction."""

    async def read(self, operation: Operation[T]) -> T: ...

    async def write(self, operation: Operation[T]) -> T: ...

    async def read_bulk(self, operation: Operation[T]) -> T:
        """A read that may take milliseconds (reports): never on the event loop."""
        ...

    async def close(self) -> None: ...


class _SqliteRunner:
    """SQLite in this process, through the standard library driver.

    With synchronous=NORMAL a statement or a commit takes tens of microseconds: less than
    handing the work to another thread and back, which also waits for the GIL whenever the
    event loop is busy (measured: the handoff benchmark's p99 was dominated by such waits).
    So operations run on the event loop itself, and what can take milliseconds runs on one
    thread of its own: long reads, WAL checkpoints (they fsync), and, with synchronous=FULL
    where every commit is an fsync, everything.

    The operations on the loop run one after another, so they share one connection, kept
    open: taking one from the pool and giving it back cost about as much as a statement.
    A read ends SQLAlchemy's transaction at once, so the next operation starts clean and
    no reader holds back the checkpoints.

    Writes share their commit (group commit). A commit writes every page the transaction
    changed to the WAL, a system call each, and was the largest single part of a bot
    message's CPU (11 %). The writes of one turn of the loop (many, on a busy desk) run
    in one transaction, each inside a savepoint of its own, and commit together at the
    start of the next turn; each write returns only once that commit is done, so nothing
    is acknowledged before it is stored. A write that fails rolls back to its savepoint
    and fails alone (the turn's first write takes none: failing, it rolls back the turn
    it is alone in). If the commit itself fails (a full disk), every write of the turn
    fails with it, and their clients resend. A read between a write and its commit sees
    the write: this process is the database's only writer, and the commit is at most one
    turn away.
    """

    def __init__(self, make_engine: Callable[..., sa.Engine], *, inline: bool) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._background = make_engine(autocheckpoint=not inline)
        self._inline = make_engine(autocheckpoint=False) if inline else None
        self._checkpoints: asyncio.Task[None] | None = None
        self._written = False
        self._connection: sa.Connection | None = None
        # The writes of this turn of the loop: their transaction, and its commit to wait for.
        self._transaction: sa.RootTransaction | None = None
        self._committed: asyncio.Future[None] | None = None

    @property
    def inline(self) -> bool:
        """Every operation but the long reads runs on the loop, one after another."""
        return self._inline is not None

    def start(self) -> None:
        if self._inline is not None:
            self._checkpoints = asyncio.create_task(self._checkpoint_now_and_then())

    async def read(self, operation: Operation[T]) -> T:
        if self._inline is not None:
            connection = self._on_loop(self._inline)
            if self._transaction is not None:
                return operation(connection)  # in this turn's writes, which it sees
            try:
                return operation(connection)
            finally:
                connection.rollback()  # ends the read transaction SQLAlchemy began
        return await self.read_bulk(operation)

    async def write(self, operation: Operation[T]) -> T:
        if self._inline is None:
            return await self._off_loop(_in_transaction, self._background, operation)
        self._written = True
        connection = self._on_loop(self._inline)
        if self._committed is None:  # the turn's first write: alone, it needs no savepoint
            committed = self._open_turn(connection)
            try:
                result = operation(connection)
            except BaseException:
                self._end_turn(rolled_back=True)
                raise
        else:
            committed = self._committed
            raw = connection.connection.driver_connection
            raw.execute("SAVEPOINT write")  # type: ignore[union-attr]
            try:
                result = operation(connection)
            except BaseException as error:
                try:
                    raw.execute("ROLLBACK TO write")  # type: ignore[union-attr]
                    raw.execute("RELEASE write")  # type: ignore[union-attr]
                except Exception:  # the connection is gone, and this turn's writes with it
                    self._end_turn(error)
                raise
            raw.execute("RELEASE write")  # type: ignore[union-attr]
        await asyncio.shield(committed)  # the caller's own cancellation stops only its wait
        return result

    def _open_turn(self, connection: sa.Connection) -> asyncio.Future[None]:
        """Begin this turn's transaction; its commit runs at the start of the next turn."""
        if connection.in_transaction():
            connection.rollback()  # what a failed read may have left
        self._transaction = connection.begin()
        connection.connection.driver_connection.execute("BEGIN")  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        self._committed = loop.create_future()
        loop.call_soon(self._end_turn)
        return self._committed

    def _end_turn(self, lost: BaseException | None = None, *, rolled_back: bool = False) -> None:
        """Commit this turn's writes (or, `lost`, fail them all) and let them return;
        `rolled_back`: its only write failed, so it ends with nothing to commit."""
        transaction, committed = self._transaction, self._committed
        if transaction is None or committed is None:
            return
        self._transaction = self._committed = None
        if rolled_back:
            with contextlib.suppress(Exception):
                transaction.rollback()
            committed.set_result(None)
            return
        failure = lost
        if failure is None:
            try:
                transaction.commit()
            except BaseException as error:
                failure = error
        if failure is None:
            committed.set_result(None)
            return
        with contextlib.suppress(Exception):
            transaction.rollback()
        committed.set_exception(failure)
        committed.exception()  # retrieved here: a turn whose writes all failed awaits none

    def _on_loop(self, engine: sa.Engine) -> sa.Connection:
        """The connection the operations on the loop share. One that a failure invalidated
        is replaced by SQLAlchemy on its next use (tests/test_store.py)."""
        if self._connection is None:
            self._connection = engine.connect()
        return self._connection

    async def read_bulk(self, operation: Operation[T]) -> T:
        return await self._off_loop(_in_connection, self._background, operation)

    async def _off_loop(
        self,
        run: Callable[[sa.Engine, Operation[T]], T],
        engine: sa.Engine,
        operation: Operation[T],
    ) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, run, engine, operation
        )

    async def _checkpoint_now_and_then(self) -> None:
        """Move the WAL into the database off the loop (commits on the loop never do it)."""
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL)
            if not self._written:
                continue
            self._written = False
            try:
                await self._off_loop(_in_connection, self._background, _checkpoint("PASSIVE"))
            except sa.exc.SQLAlchemyError:
                log.warning("WAL checkpoint failed; the next one will retry", exc_info=True)

    async def close(self) -> None:
        self._end_turn()  # the last turn's writes, committed before the connection closes
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
        if self._inline is not None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            self._inline.dispose()
            await self._off_loop(_in_connection, self._background, _checkpoint("TRUNCATE"))
        await asyncio.get_running_loop().run_in_executor(self._thread, self._background.dispose)
        self._thread.shutdown(wait=True)


def _in_connection(engine: sa.Engine, operation: Operation[T]) -> T:
    with engine.connect() as connection:
        return operation(connection)


def _in_transaction(engine: sa.Engine, operation: Operation[T]) -> T:
    with engine.begin() as connection:
        return operation(connection)


def _ping_after_idle(engine: sa.Engine, idle: float) -> None:
    """Check a pooled connection before use only when it sat unused for `idle` seconds.

    SQLAlchemy's `pool_pre_ping` costs a round trip before every transaction (7 % of a
    process's CPU under the bot benchmark on PostgreSQL). A connection that was working a
    moment ago almost always still is; one idle long enough to have been dropped by a
    restart or a proxy's timeout is checked, and replaced (with every older one) if dead.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < idle:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise sa.exc.InvalidatePoolError("a pooled connection is dead") from error


def _checkpoint(mode: str) -> Operation[Any]:
    return lambda c: c.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})").first()


class _AsyncRunner:
    """PostgreSQL through asyncpg: the same synchronous operations, run with `run_sync`
    (SQLAlchemy drives the async driver from them), on a pool of connections.

    A connection found dead (the server restarted, a proxy dropped it) fails one
    operation at most: SQLAlchemy then drops every older pooled connection, and a read is
    tried once more on a new one. A write is not: whether a commit that lost its
    connection happened is unknown, and the client's resend (same `client_id`) is what
    settles it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        """`engine`: created with `isolation_level="AUTOCOMMIT"` (`open_store`).

        Reads and single statements, a bot reply's whole path, run outside a transaction:
        under READ COMMITTED each statement sees its own snapshot anyway, so BEGIN and
        ROLLBACK would be two round trips that buy nothing. Being the engine's own level,
        taking a connection for them changes nothing on it. Taking one for a transaction
        sets READ COMMITTED, and giving it back sets autocommit again (as switching the
        other way round for every read did: about 80 µs of CPU a read)."""
        self.engine = engine
        self._transactions = engine.execution_options(isolation_level="READ COMMITTED")

    async def read(self, operation: Operation[T]) -> T:
        try:
            return await self._read(operation)
        except sa.exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise
            log.warning("a PostgreSQL connection was lost; reading again on a new one")
            return await self._read(operation)

    async def _read(self, operation: Operation[T]) -> T:
        async with self.engine.connect() as connection:
            return await connection.run_sync(operation)

    async def write(self, operation: Operation[T]) -> T:
        async with self._transactions.begin() as connection:
            return await connection.run_sync(operation)

    async def write_statement(self, operation: Operation[T]) -> T:
        """One statement, atomic by itself: no BEGIN and COMMIT round trips. Not tried
        again on a lost connection (as `write`)."""
        async with self.engine.connect() as connection:
            return await connection.run_sync(operation)

    async def read_bulk(self, operation: Operation[T]) -> T:
        return await self.read(operation)

    async def close(self) -> None:
        await self.engine.dispose()


class SqlStore(InboxRows):
    """Each method is one synchronous operation (one transaction) handed to the runner."""

    def __init__(self, runner: _Runner, dialect: str) -> None:
        self._runner = runner
        self.dialect = dialect
        self._closed = False
        # Rows kept only where this process is the only writer and runs each statement on
        # the loop (chatserver/store/conversation_cache.py).
        self._rows = (
            ConversationCache() if isinstance(runner, _SqliteRunner) and runner.inline else None
        )
        # PostgreSQL: conversations as last read or written, with their rows' versions.
        self._versions = RowVersions() if isinstance(runner, _AsyncRunner) else None
        # PostgreSQL: the bot's exchanges of one turn of the loop share a statement.
        self._exchanges = (
            ExchangeBatches(self._exchange_alone, self._exchanges_together)
            if isinstance(runner, _AsyncRunner)
            else None
        )

    async def read(self, operation: Operation[T]) -> T:
        self._check_open()
        return await self._runner.read(operation)

    @contextlib.contextmanager
    def _changing(self, conversation_id: str, *, always: bool = False) -> Iterator[None]:
        """A write to the conversation's row: its kept copy is dropped if the write fails
        (or `always`: the caller does not work out the row's new state). A copy kept with
        its version (PostgreSQL) is dropped: the write gives the row a new one."""
        self._forget_version(conversation_id)
        try:
            yield
        except BaseException:
            if self._rows is not None:
                self._rows.forget(conversation_id)
            raise
        if always and self._rows is not None:
            self._rows.forget(conversation_id)

    async def write(self, operation: Operation[T]) -> T:
        self._check_open()
        return await self._runner.write(operation)

    async def read_bulk(self, operation: Operation[T]) -> T:
        self._check_open()
        return await self._runner.read_bulk(operation)

    async def migrate(self) -> list[int]:
        return await self.write(migrate)

    async def create_conversation(
        self, conversation: Conversation, token_hash: str, *, first: Sequence[NewMessage] = ()
    ) -> list[Message]:
        if any(message.conversation_id != conversation.id for message in first):
            raise ValueError("a first message belongs to another conversation")
        numbered = [(message, conversation.last_seq + n) for n, message in enumerate(first, 1)]
        values = {
            "id": conversation.id,
            "token_hash": token_hash,
            "last_seq": conversation.last_seq + len(numbered),
            "created_at": conversation.created_at,
            **_conversation_values(conversation),
        }

        versioned = self._versions is not None

        def create(connection: sa.Connection) -> int | None:
            """The row's version where one is kept (PostgreSQL)."""
            version: int | None = None
            if versioned:
                version = connection.execute(_INSERT_CONVERSATION_VERSIONED, values).scalar_one()
            else:
                driver.execute(connection, _INSERT_CONVERSATION, values)
            if numbered:
                driver.execute(
                    connection, _INSERT_MESSAGE, [_message_row(m, seq) for m, seq in numbered]
                )
            return version

        version = await self.write(create)
        created = dataclasses.replace(conversation, last_seq=values["last_seq"])
        if self._rows is not None:
            self._rows.keep(created)
        if self._versions is not None and version is not None:
            self._versions.keep(created, version)  # its first message need not read it
        return [_message_from(message, seq) for message, seq in numbered]

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        if self._rows is not None and (kept := self._rows.get(conversation_id)) is not None:
            return kept
        if self._versions is None:
            return await self._one_conversation("id", conversation_id)

        def find(connection: sa.Connection) -> tuple[Conversation, int] | None:
            row = connection.execute(_VERSIONED_CONVERSATION, {"key": conversation_id}).first()
            return None if row is None else (_conversation(row._mapping), row.version)

        found = await self.read(find)
        if found is None:
            self._versions.forget(conversation_id)
            return None
        self._versions.keep(*found)
        return found[0]

    def observe_with(self, observe: Callable[[str, dict[str, Any]], None]) -> None:
        """Where the store reports what it measures: on PostgreSQL, the exchanges each
        statement wrote ("exchange_group")."""
        if self._exchanges is not None:
            self._exchanges.observe = observe

    def kept_conversation(self, conversation_id: str) -> Conversation | None:
        seen = self._versions.get(conversation_id) if self._versions is not None else None
        return seen[0] if seen is not None else None

    def _forget_version(self, conversation_id: str) -> None:
        if self._versions is not None:
            self._versions.forget(conversation_id)

    def _keep_version(
        self,
        seen: tuple[Conversation, int] | None,
        changed: Conversation | None,
        exchanged: ExchangeResult,
        version: int,
    ) -> None:
        """After an exchange written on a row whose version was checked (it was `seen`):
        the row is now the copy with the exchange's changes, at `version`. Unchecked, what
        the row holds besides them is not known, and no copy is kept."""
        if self._versions is None:
            return
        conversation_id = exchanged.message.conversation_id
        if seen is None:
            self._versions.forget(conversation_id)
            return
        last = exchanged.replies[-1].seq if exchanged.replies else exchanged.message.seq
        row = changed if changed is not None else seen[0]
        self._versions.keep(dataclasses.replace(row, last_seq=last), version)

    async def conversation_by_token(self, token_hash: str) -> Conversation | None:
        return await self._one_conversation("token_hash", token_hash)

    async def customer_conversations(self, customer_id: str, limit: int) -> list[Conversation]:
        c = conversations.c
        query = (
            sa.select(conversations)
            .where(c.customer_id == customer_id)
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(limit)
        )
        rows = await self.read(lambda connection: connection.execute(query).all())
        return [_conversation(row._mapping) for row in rows]

    async def conversation_by_tracking_number(self, number: str) -> Conversation | None:
        return await self._one_conversation("tracking_number", number)

    async def _one_conversation(self, column: str, key: str) -> Conversation | None:
        def find(connection: sa.Connection) -> Conversation | None:
            row = connection.execute(_CONVERSATION_BY[column], {"key": key}).first()
            return _conversation(row._mapping) if row is not None else None

        found = await self.read(find)
        if found is not None and self._rows is not None:
            self._rows.keep(found)
        return found

    async def save_conversation(
        self, conversation: Conversation, *, holdings: Sequence[HoldingChange] = ()
    ) -> None:
        """The row, and the steps of its holding history, in one transaction."""
        values = {"b_id": conversation.id, **_conversation_values(conversation)}

        def save(connection: sa.Connection) -> None:
            driver.execute(connection, _SAVE_CONVERSATION, values)
            for step in holdings:
                _write_holding(connection, step)

        with self._changing(conversation.id):
            await self.write(save)
        if self._rows is not None:
            self._rows.saved(conversation)

    async def holdings(self, conversation_id: str) -> list[Holding]:
        values = {"conversation_id": conversation_id}
        rows = await self.read(lambda c: c.execute(_HOLDINGS_OF, values).all())
        return [
            Holding(
                conversation_id=row.conversation_id,
                agent_id=row.agent_id,
                since=row.since,
                until=row.until,
                ended=HoldingEnd(row.ended) if row.ended else None,
            )
            for row in rows
        ]

    async def open_handoffs(self) -> list[Conversation]:
        """Conversations with the team (queued, assigned, active), oldest handoff first: the
        live queue to rebuild after a restart."""
        handed_off = (
            ConversationStatus.QUEUED,
            ConversationStatus.ASSIGNED,
            ConversationStatus.ACTIVE,
        )
        query = (
            sa.select(conversations)
            .where(conversations.c.status.in_([str(s) for s in handed_off]))
            .order_by(conversations.c.handed_off_at, conversations.c.id)
        )
        rows = await self.read_bulk(lambda c: c.execute(query).all())
        return [_conversation(row._mapping) for row in rows]

    async def save_sla(
        self, sla: AppliedSla, conversation: Conversation, *, new: bool = False
    ) -> None:
        """Store an SLA's clocks (insert or replace): deadlines outlive the process. `new`:
        the caller knows there is no row yet, so it is inserted at once."""
        frt = sla.first_response
        values = {
            "state": sla.to_dict(),
            "next_deadline": next_deadline(sla),
            "language": conversation.language,
            "team": str(conversation.team or ""),
            "priority": str(conversation.priority or ""),
            "handed_off_at": frt.started_at,
            "frt_status": str(frt.status),
            "policy": sla.policy.name,
            "frt_target_seconds": sla.policy.first_response.total_seconds(),
            # Only an agent's answer is a first response: a chat that ended without one
            # (abandoned, closed unanswered) has no response time.
            "frt_seconds": (
                (frt.stopped_at - frt.started_at).total_seconds()
                if frt.stopped_at and sla.first_responder is not None
                else None
            ),
        }

        def save(connection: sa.Connection) -> None:
            if not new:
                updated = driver.execute(
                    connection, _SAVE_SLA, {"b_conversation_id": sla.conversation_id, **values}
                )
                if updated:
                    return
            driver.execute(
                connection, _INSERT_SLA, {"conversation_id": sla.conversation_id, **values}
            )

        await self.write(save)

    async def sla(self, conversation_id: str) -> AppliedSla | None:
        values = {"conversation_id": conversation_id}
        state = await self.read(lambda c: c.execute(_SLA_OF, values).scalar())
        return AppliedSla.from_dict(state) if state is not None else None

    async def pending_slas(self) -> list[AppliedSla]:
        """Every SLA with a deadline still to come (to re-arm timers after a restart)."""
        query = sa.select(applied_slas.c.state).where(applied_slas.c.next_deadline.is_not(None))
        states = await self.read(lambda c: c.execute(query).scalars().all())
        return [AppliedSla.from_dict(state) for state in states]

    async def sla_rows(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Per-conversation first-response facts handed off in [since, until), with the
        conversation's status (abandoned ones are counted apart), for reports."""
        query = (
            sa.select(
                applied_slas.c.conversation_id,
                applied_slas.c.language,
                applied_slas.c.team,
                applied_slas.c.priority,
                applied_slas.c.handed_off_at,
                applied_slas.c.frt_status,
                applied_slas.c.frt_seconds,
                applied_slas.c.policy,
                applied_slas.c.frt_target_seconds,
                conversations.c.status,
            )
            .select_from(
                applied_slas.outerjoin(
                    conversations, conversations.c.id == applied_slas.c.conversation_id
                )
            )
            .where(applied_slas.c.handed_off_at >= since, applied_slas.c.handed_off_at < until)
            .order_by(applied_slas.c.handed_off_at)
        )
        rows = await self.read_bulk(lambda c: c.execute(query).all())
        return [dict(row._mapping) for row in rows]

    async def record_offline_request(self, request: OfflineRequest) -> None:
        values = {
            "id": request.id,
            "conversation_id": request.conversation_id,
            "kind": request.kind,
            "contact": request.contact,
            "text": request.text,
            "created_at": request.created_at,
        }
        await self.write(lambda c: c.execute(offline_requests.insert(), values))

    async def append_message(self, message: NewMessage) -> AppendResult:
        def append(connection: sa.Connection) -> AppendResult:
            stored = _insert_message(connection, message)
            return AppendResult(stored, created=True, last_seq=stored.seq)

        try:
            # Most messages are new: written without looking for an earlier copy first.
            with self._changing(message.conversation_id):
                appended = await self.write(append)
        except IntegrityError as error:
            # A resend (or two sends of one client_id that raced): the unique key on
            # (conversation, sender, client_id) refused it, all of it rolled back, and the
            # copy stored first is the one.
            existing, last_seq = await self._resent(message, error)
            return AppendResult(existing, created=False, last_seq=last_seq)
        if self._rows is not None:
            self._rows.moved(message.conversation_id, appended.last_seq)
        return appended

    async def append_exchange(
        self,
        message: NewMessage,
        answer: Callable[[Message], Answer],
        *,
        conversation: Conversation | None = None,
        last_seq: int | None = None,
        kept: bool = False,
    ) -> ExchangeResult:
        """The customer's message, the conversation's changes and the bot's answer in one
        transaction (see `Store.append_exchange`): one commit, no seq taken by a reply
        that was never stored, and no resend answered twice."""
        if conversation is not None and conversation.id != message.conversation_id:
            raise ValueError("the conversation changed is not the message's")
        changes = _conversation_values(conversation) if conversation is not None else {}
        read = last_seq  # the last seq the caller read, until it is found to have moved
        # PostgreSQL: the copy of the row this process keeps, if it is the one the caller
        # read (its last seq), and its version, which the write checks.
        seen = self._versions.get(message.conversation_id) if self._versions else None
        if seen is not None and seen[0].last_seq != read:
            seen = None
        if kept and (seen is None or read is None):
            self._forget_version(message.conversation_id)
            raise StaleConversation(message.conversation_id)

        async def at_once(read: int) -> tuple[ExchangeResult, int] | None:
            """PostgreSQL, numbered after the last seq read: one statement, no transaction
            (chatserver/store/exchange_statement.py), shared with the other conversations'
            exchanges of this turn where it changes nothing else (exchange_batch.py). The
            result and the row's new version; None if that seq (or the version of the
            copy `seen`) has moved."""
            version = seen[1] if seen is not None else None
            stored = _message_from(message, read + 1)
            answered = answer(stored)
            numbered = _numbered(message, stored, answered)
            rows = [_message_row(each, seq) for each, seq in numbered]
            replies = [_message_from(reply, seq) for reply, seq in numbered[1:]]
            exchanged = ExchangeResult(stored, created=True, answered=True, replies=replies)
            if not changes and answered.decline is None and self._exchanges is not None:
                plain = PlainExchange(message.conversation_id, read, rows, version)
                written = await self._exchanges.write(plain)
                return None if written is None else (exchanged, written)
            values = _exchange_values(message.conversation_id, read, version, rows, changes)
            if answered.decline is not None:
                values.update({f"d_{k}": v for k, v in _decline_values(answered.decline).items()})
            statement = exchange_statement(
                len(rows), tuple(changes), answered.decline is not None, version is not None
            )
            moved = await self._write_statement(
                lambda connection: connection.execute(statement, values).scalar_one_or_none()
            )
            return None if moved is None else (exchanged, moved)

        def fresh(connection: sa.Connection) -> ExchangeResult:
            """A message not stored before (if it was, its client_id's unique key refuses
            it and `resent` runs instead). Numbered after the `last_seq` the caller read,
            two statements: the conversation's row, updated only if that is still its last
            seq (on PostgreSQL this also locks it), then the messages. Otherwise three:
            the last seq read with the row locked, the messages, the row."""
            if read is not None:
                stored = _message_from(message, read + 1)
                answered = answer(stored)
                moved = driver.execute(
                    connection,
                    _SAVE_CONVERSATION_AFTER,
                    {
                        "b_id": message.conversation_id,
                        "b_last_seq": read,
                        **changes,
                        "last_seq": stored.seq + len(answered.replies),
                    },
                )
                if moved == 1:
                    return _insert_exchange(connection, message, stored, answered)
            stored = _message_from(message, _last_seq(connection, message.conversation_id) + 1)
            answered = answer(stored)
            result = _insert_exchange(connection, message, stored, answered)
            driver.execute(
                connection,
                _SAVE_CONVERSATION,
                {
                    "b_id": message.conversation_id,
                    **changes,
                    "last_seq": stored.seq + len(result.replies),
                },
            )
            return result

        def resent(connection: sa.Connection) -> ExchangeResult:
            existing = (
                _by_client_id(connection, message, message.client_id)
                if message.client_id is not None
                else None
            )
            if existing is None:
                stored, created = _insert_message(connection, message), True
            else:
                # Answered already, or the conversation went on: the client has (or will
                # resume) whatever followed it, so nothing is written.
                if existing.seq != _last_seq(connection, message.conversation_id):
                    return ExchangeResult(existing, created=False, answered=False, replies=[])
                stored, created = existing, False
                meta = {**existing.meta, **message.meta}
                if meta != existing.meta:
                    connection.execute(_SET_META, {"b_id": existing.id, "meta": meta})
                    stored = dataclasses.replace(existing, meta=meta)
            if conversation is not None:
                connection.execute(
                    _SAVE_CONVERSATION,
                    {"b_id": conversation.id, **changes},
                )
            answered = answer(stored)
            decline = answered.decline
            if decline is not None and (
                created
                or connection.execute(
                    _DECLINE_OF,
                    {
                        "conversation_id": decline.conversation_id,
                        "message_seq": decline.message_seq,
                    },
                ).first()
                is None
            ):
                connection.execute(faq_declines.insert(), _decline_values(decline))
            replies = [_insert_message(connection, reply) for reply in answered.replies]
            return ExchangeResult(stored, created=created, answered=True, replies=replies)

        try:
            # Most messages are new: written without looking for an earlier copy first.
            exchanged = None
            if read is not None and isinstance(self._runner, _AsyncRunner):
                self._check_open()
                written = await at_once(read)
                if written is None:
                    self._forget_version(message.conversation_id)
                    if kept:  # what the caller worked out may no longer hold
                        raise StaleConversation(message.conversation_id)
                else:
                    exchanged, version = written
                    self._keep_version(seen, conversation, exchanged, version)
                read = None  # if it moved, `fresh` reads it again
            if exchanged is None:
                with self._changing(message.conversation_id):
                    exchanged = await self.write(fresh)
        except IntegrityError:
            if message.client_id is None:
                raise
        else:
            if self._rows is not None:
                last = exchanged.replies[-1].seq if exchanged.replies else exchanged.message.seq
                if conversation is not None:
                    self._rows.saved(conversation, last)
                else:
                    self._rows.moved(message.conversation_id, last)
            return exchanged
        try:
            # A resend may write (the conversation's changes, the answer it never got).
            with self._changing(message.conversation_id, always=True):
                return await self.write(resent)
        except IntegrityError as error:
            # Two sends of one client_id raced (PostgreSQL, two connections): the other
            # one stored the message and its answer, all or nothing, and is the one.
            existing, _ = await self._resent(message, error)
            return ExchangeResult(existing, created=False, answered=False, replies=[])

    async def _write_statement(self, operation: Operation[T]) -> T:
        """One statement, atomic by itself (PostgreSQL: `_AsyncRunner.write_statement`)."""
        assert isinstance(self._runner, _AsyncRunner)
        return await self._runner.write_statement(operation)

    async def _exchange_alone(self, exchange: PlainExchange) -> int | None:
        values = _exchange_values(
            exchange.conversation_id, exchange.read_seq, exchange.version, exchange.rows
        )
        statement = exchange_statement(len(exchange.rows), (), False, exchange.version is not None)
        moved: int | None = await self._write_statement(
            lambda connection: connection.execute(statement, values).scalar_one_or_none()
        )
        return moved

    async def _exchanges_together(self, exchanges: list[PlainExchange]) -> dict[str, int]:
        values: dict[str, list[Any]] = {
            "c_id": [e.conversation_id for e in exchanges],
            "c_b_last_seq": [e.read_seq for e in exchanges],
            "c_b_version": [e.version for e in exchanges],
            "c_last_seq": [e.last_seq for e in exchanges],
        }
        rows = [row for e in exchanges for row in e.rows]
        for column in MESSAGE_COLUMNS:
            cells = [row[column] for row in rows]
            if column == "meta":  # as SQLAlchemy's JSON type writes it (exchange_statement.py)
                cells = [json.dumps(cell) for cell in cells]
            values[f"m_{column}"] = cells
        statement = batched_exchanges()
        moved = await self._write_statement(
            lambda connection: connection.execute(statement, values).all()
        )
        return {row.id: row.version for row in moved}

    async def _resent(self, message: NewMessage, error: IntegrityError) -> tuple[Message, int]:
        """After a unique key refused `message`: the copy stored under its client_id, and
        the conversation's last seq (`error` again if it was refused for another reason)."""
        client_id = message.client_id
        if client_id is None:
            raise error

        def find(connection: sa.Connection) -> tuple[Message | None, int]:
            existing = _by_client_id(connection, message, client_id)
            return existing, _last_seq(connection, message.conversation_id, lock=False)

        existing, last_seq = await self.read(find)
        if existing is None:
            raise error
        return existing, last_seq

    async def messages(
        self, conversation_id: str, *, after_seq: int = 0, limit: int = 500
    ) -> list[Message]:
        values = {"conversation_id": conversation_id, "after_seq": after_seq, "limit": limit}
        rows = await self.read(lambda c: c.execute(_MESSAGES_AFTER, values).all())
        return [_message(row._mapping) for row in rows]

    async def sent_before(self, message: NewMessage) -> Message | None:
        """The message its sender already stored under `message.client_id` (None: none, or
        no client id): a resend, recognised without storing anything."""
        client_id = message.client_id
        if client_id is None:
            return None
        return await self.read(lambda c: _by_client_id(c, message, client_id))

    async def set_message_meta(self, message_id: str, meta: Mapping[str, Any]) -> None:
        values = {"b_id": message_id, "meta": dict(meta)}
        await self.write(lambda c: c.execute(_SET_META, values))

    async def last_customer_messages(self, conversation_ids: Sequence[str]) -> dict[str, Message]:
        """Each conversation's latest customer message, by conversation id (none for one
        where the customer has not written)."""
        found: dict[str, Message] = {}
        ids = list(dict.fromkeys(conversation_ids))
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = {"ids": ids[start : start + _IN_CHUNK]}
            for row in await self.read(_all_rows(_LAST_CUSTOMER_MESSAGES, chunk)):
                found[row.conversation_id] = _message(row._mapping)
        return found

    async def record_faq_choice(self, choice: FaqChoice) -> None:
        values = {
            "id": choice.id,
            "conversation_id": choice.conversation_id,
            "language": choice.language,
            "query": choice.query,
            "suggested": list(choice.suggested),
            "chosen": choice.chosen,
            "created_at": choice.created_at,
        }
        await self.write(lambda c: c.execute(faq_choices.insert(), values))

    async def faq_choices(self, *, limit: int = 1000) -> list[FaqChoice]:
        query = sa.select(faq_choices).order_by(faq_choices.c.created_at.desc()).limit(limit)
        rows = await self.read_bulk(lambda c: c.execute(query).all())
        return [
            FaqChoice(
                id=row.id,
                conversation_id=row.conversation_id,
                language=row.language,
                query=row.query,
                suggested=tuple(row.suggested),
                chosen=row.chosen,
                created_at=row.created_at,
            )
            for row in rows
        ]

    async def record_faq_feedback(self, feedback: FaqFeedback) -> tuple[FaqFeedback, bool]:
        """Store the customer's word on an answer unless one is stored already (the first
        stands): the stored feedback, and whether it is this one."""
        values = {
            "id": feedback.id,
            "conversation_id": feedback.conversation_id,
            "answer_seq": feedback.answer_seq,
            "language": feedback.language,
            "faq_id": feedback.faq_id,
            "query": feedback.query,
            "helpful": feedback.helpful,
            "created_at": feedback.created_at,
        }
        key = (feedback.conversation_id, feedback.answer_seq)

        def record(connection: sa.Connection) -> tuple[FaqFeedback, bool]:
            existing = _feedback_of(connection, *key)
            if existing is not None:
                return existing, False
            connection.execute(faq_feedback.insert(), values)
            return feedback, True

        try:
            return await self.write(record)
        except IntegrityError:
            # Two tabs raced (PostgreSQL, two connections): the other one's word stands.
            existing = await self.read(lambda c: _feedback_of(c, *key))
            if existing is None:
                raise
            return existing, False

    async def faq_feedback(self, conversation_id: str, answer_seq: int) -> FaqFeedback | None:
        return await self.read(lambda c: _feedback_of(c, conversation_id, answer_seq))

    async def record_faq_decline(self, decline: FaqDecline) -> bool:
        """Record a declined question; False when this message's decline is stored already
        (the bot answered a resend)."""
        values = _decline_values(decline)
        stored = sa.select(faq_declines.c.id).where(
            faq_declines.c.conversation_id == decline.conversation_id,
            faq_declines.c.message_seq == decline.message_seq,
        )

        def record(connection: sa.Connection) -> bool:
            if connection.execute(stored).first() is not None:
                return False
            connection.execute(faq_declines.insert(), values)
            return True

        try:
            return await self.write(record)
        except IntegrityError:
            return False  # recorded by a concurrent resend

    async def faq_declines(self, *, limit: int = 1000) -> list[FaqDecline]:
        query = sa.select(faq_declines).order_by(faq_declines.c.created_at.desc()).limit(limit)
        rows = await self.read_bulk(lambda c: c.execute(query).all())
        return [
            FaqDecline(
                id=row.id,
                conversation_id=row.conversation_id,
                message_seq=row.message_seq,
                language=row.language,
                query=row.query,
                nearest=row.nearest,
                score=row.score,
                created_at=row.created_at,
            )
            for row in rows
        ]

    async def faq_gap_rows(
        self, since: datetime, until: datetime, language: str | None = None
    ) -> list[dict[str, Any]]:
        """The FAQ's learning signals recorded in [since, until), optionally in one language:
        declined questions, answers marked not helpful, suggestions picked. Each row:
        `kind` (declined, not_helpful, picked), `language`, `query`, `faq_id` (the nearest
        entry, the answer, the pick), `created_at`."""
        selects = (
            (
                "declined",
                faq_declines,
                faq_declines.c.nearest,
                faq_declines.c.query,
                sa.true(),
            ),
            (
                "not_helpful",
                faq_feedback,
                faq_feedback.c.faq_id,
                faq_feedback.c.query,
                faq_feedback.c.helpful.is_(False),
            ),
            ("picked", faq_choices, faq_choices.c.chosen, faq_choices.c.query, sa.true()),
        )
        queries = []
        for kind, table, entry, text, condition in selects:
            where = [
                condition,
                table.c.created_at >= since,
                table.c.created_at < until,
            ]
            if language is not None:
                where.append(table.c.language == language)
            columns = (table.c.language, text.label("query"), entry.label("faq_id"))
            queries.append((kind, sa.select(*columns, table.c.created_at).where(*where)))

        def read(connection: sa.Connection) -> list[dict[str, Any]]:
            return [
                {"kind": kind, **row._mapping}
                for kind, query in queries
                for row in connection.execute(query)
            ]

        return await self.read_bulk(read)

    async def record_rating(
        self, rating: Rating, followup: FollowUp | None, rated: Conversation
    ) -> tuple[Rating, FollowUp | None, bool]:
        try:
            with self._changing(rated.id, always=True):
                return await self.write(lambda c: rating_sql.record(c, rating, followup, rated))
        except IntegrityError:
            # Two tabs raced (PostgreSQL, two connections): the other one's rating stands.
            existing = await self.rating(rating.conversation_id)
            if existing is None:
                raise
            return (*existing, False)

    async def rating(self, conversation_id: str) -> tuple[Rating, FollowUp | None] | None:
        return await self.read(lambda c: rating_sql.rating_of(c, conversation_id))

    async def followup(self, followup_id: str) -> FollowUp | None:
        return await self.read(lambda c: rating_sql.followup(c, followup_id))

    async def unhandled_followups(self) -> list[FollowUp]:
        return await self.read(rating_sql.unhandled)

    async def followups_due(self, now: datetime) -> list[FollowUp]:
        return await self.read(lambda c: rating_sql.due(c, now))

    async def save_followup(self, followup: FollowUp) -> None:
        await self.write(lambda c: rating_sql.save_followup(c, followup))

    async def ratings_between(self, since: datetime, until: datetime) -> list[Rating]:
        return await self.read_bulk(lambda c: rating_sql.ratings_between(c, since, until))

    async def followups_between(self, since: datetime, until: datetime) -> list[FollowUp]:
        return await self.read_bulk(lambda c: rating_sql.followups_between(c, since, until))

    async def create_agent(self, account: AgentAccount) -> None:
        values = {
            "id": account.id,
            "username": account.username,
            "name": account.name,
            "languages": list(account.languages),
            "teams": [str(t) for t in account.teams],
            "capacity": account.capacity,
            "role": str(account.role),
            "password_hash": account.password_hash,
            "disabled": account.disabled,
            "created_at": account.created_at,
            "takes_chats": account.takes_chats,
        }
        try:
            await self.write(lambda c: c.execute(agents.insert(), values))
        except IntegrityError:
            raise DuplicateAgent(account.username) from None

    async def agent(self, agent_id: str) -> AgentAccount | None:
        return await self._one_agent(agents.c.id == agent_id)

    async def agent_by_username(self, username: str) -> AgentAccount | None:
        return await self._one_agent(agents.c.username == username)

    async def _one_agent(self, where: sa.ColumnElement[bool]) -> AgentAccount | None:
        row = await self.read(lambda c: c.execute(sa.select(agents).where(where)).first())
        return _agent(row._mapping) if row is not None else None

    async def agents(self) -> list[AgentAccount]:
        query = sa.select(agents).order_by(agents.c.username)
        rows = await self.read(lambda c: c.execute(query).all())
        return [_agent(row._mapping) for row in rows]

    async def set_takes_chats(self, agent_id: str, on: bool) -> None:
        query = agents.update().where(agents.c.id == agent_id).values(takes_chats=on)
        await self.write(lambda c: c.execute(query))

    async def create_session(self, session: Session) -> None:
        def create(connection: sa.Connection) -> None:
            # Expired sessions are swept on the way; they are never valid again.
            connection.execute(
                agent_sessions.delete().where(agent_sessions.c.expires_at < session.created_at)
            )
            connection.execute(
                agent_sessions.insert(),
                {
                    "token_hash": session.token_hash,
                    "agent_id": session.agent_id,
                    "created_at": session.created_at,
                    "expires_at": session.expires_at,
                },
            )

        await self.write(create)

    async def session(self, token_hash: str) -> Session | None:
        query = sa.select(agent_sessions).where(agent_sessions.c.token_hash == token_hash)
        row = await self.read(lambda c: c.execute(query).first())
        if row is None:
            return None
        return Session(row.token_hash, row.agent_id, row.created_at, row.expires_at)

    async def delete_session(self, token_hash: str) -> None:
        query = agent_sessions.delete().where(agent_sessions.c.token_hash == token_hash)
        await self.write(lambda c: c.execute(query))

    async def delete_agent_sessions(self, agent_id: str) -> int:
        query = agent_sessions.delete().where(agent_sessions.c.agent_id == agent_id)
        return int(await self.write(lambda c: c.execute(query).rowcount))

    async def canned_replies(self) -> list[CannedReply]:
        c = canned_replies.c
        query = sa.select(canned_replies).order_by(c.language, c.title, c.id)
        rows = await self.read(lambda connection: connection.execute(query).all())
        return [_canned(row._mapping) for row in rows]

    async def canned_reply(self, reply_id: str) -> CannedReply | None:
        query = sa.select(canned_replies).where(canned_replies.c.id == reply_id)
        row = await self.read(lambda connection: connection.execute(query).first())
        return _canned(row._mapping) if row is not None else None

    async def save_canned_reply(self, reply: CannedReply) -> None:
        values = {
            "id": reply.id,
            "language": reply.language,
            "title": reply.title,
            "text": reply.text,
            "created_by": reply.created_by,
            "created_at": reply.created_at,
            "updated_at": reply.updated_at,
        }

        def save(connection: sa.Connection) -> None:
            where = canned_replies.c.id == reply.id
            if connection.execute(canned_replies.update().where(where), values).rowcount == 0:
                connection.execute(canned_replies.insert(), values)

        await self.write(save)

    async def delete_canned_reply(self, reply_id: str) -> bool:
        query = canned_replies.delete().where(canned_replies.c.id == reply_id)
        return bool(await self.write(lambda connection: connection.execute(query).rowcount))

    async def save_announcement(self, announcement: Announcement) -> None:
        values = {
            "id": announcement.id,
            "severity": str(announcement.severity),
            "texts": dict(announcement.texts),
            "resolution": dict(announcement.resolution),
            "version": announcement.version,
            "by": announcement.by,
            "created_at": announcement.created_at,
            "updated_at": announcement.updated_at,
            "resolved_at": announcement.resolved_at,
        }

        def save(connection: sa.Connection) -> None:
            updated = connection.execute(
                announcements.update().where(announcements.c.id == announcement.id), values
            )
            if updated.rowcount == 0:
                connection.execute(announcements.insert(), values)

        await self.write(save)

    async def announcement(self, announcement_id: str) -> Announcement | None:
        query = sa.select(announcements).where(announcements.c.id == announcement_id)
        row = await self.read(lambda c: c.execute(query).first())
        return _announcement(row._mapping) if row is not None else None

    async def active_announcements(self) -> list[Announcement]:
        query = (
            sa.select(announcements)
            .where(announcements.c.resolved_at.is_(None))
            .order_by(announcements.c.created_at, announcements.c.id)
        )
        rows = await self.read(lambda c: c.execute(query).all())
        return [_announcement(row._mapping) for row in rows]

    async def ping(self) -> None:
        await self.read(lambda c: c.execute(sa.text("SELECT 1")))

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._exchanges is not None:
            await self._exchanges.drain()  # exchanges already taken are written, not dropped
        await self._runner.close()

    def _check_open(self) -> None:
        """A handler still running while the server stops must not reopen the database."""
        if self._closed:
            raise StoreClosed("the store is closed: the server is stopping")


def _by_client_id(connection: sa.Connection, message: NewMessage, client_id: str) -> Message | None:
    """The stored message with this client_id from the same sender (customer, agent)."""
    row = connection.execute(
        _MESSAGE_BY_CLIENT_ID,
        {
            "conversation_id": message.conversation_id,
            "sender": message.sender,
            "client_id": client_id,
        },
    ).first()
    return _message(row._mapping) if row is not None else None


def _last_seq(connection: sa.Connection, conversation_id: str, *, lock: bool = True) -> int:
    """The conversation's last seq (`lock`: its row locked until the transaction ends)."""
    query = _LAST_SEQ_LOCKED if lock else _LAST_SEQ
    return int(connection.execute(query, {"b_id": conversation_id}).scalar_one())


def _insert_message(connection: sa.Connection, message: NewMessage) -> Message:
    """Store `message` with its conversation's next sequence number."""
    seq = driver.scalar_one(connection, _NEXT_SEQ, {"b_id": message.conversation_id})
    driver.execute(connection, _INSERT_MESSAGE, _message_row(message, seq))
    return _message_from(message, seq)


def _numbered(
    message: NewMessage, stored: Message, answered: Answer
) -> list[tuple[NewMessage, int]]:
    """The customer's message numbered as `stored`, then the replies after it."""
    return [(message, stored.seq)] + [
        (reply, stored.seq + n) for n, reply in enumerate(answered.replies, start=1)
    ]


def _message_row(message: NewMessage, seq: int) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "seq": seq,
        "author": str(message.author),
        "text": message.text,
        "language": message.language,
        "client_id": message.client_id,
        "internal": message.internal,
        "meta": dict(message.meta),
        "created_at": message.created_at,
        "sender": message.sender,
    }


def _insert_exchange(
    connection: sa.Connection, message: NewMessage, stored: Message, answered: Answer
) -> ExchangeResult:
    """The customer's message numbered as `stored`, the replies after it (one statement),
    and the decline, if any."""
    numbered = _numbered(message, stored, answered)
    driver.execute(connection, _INSERT_MESSAGE, [_message_row(m, seq) for m, seq in numbered])
    if answered.decline is not None:
        driver.execute(connection, _INSERT_DECLINE, _decline_values(answered.decline))
    replies = [_message_from(reply, seq) for reply, seq in numbered[1:]]
    return ExchangeResult(stored, created=True, answered=True, replies=replies)


def _exchange_values(
    conversation_id: str,
    read_seq: int,
    version: int | None,
    rows: Sequence[Mapping[str, Any]],
    changes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The parameters of `exchange_statement`, but a decline's: the row's key, the last seq
    (and version) read, its changed columns, its new last seq, and the messages."""
    values: dict[str, Any] = {
        "b_id": conversation_id,
        "b_last_seq": read_seq,
        "b_version": version,
        **(changes or {}),
        "last_seq": rows[-1]["seq"],
    }
    for i, row in enumerate(rows):
        values.update({f"m{i}_{k}": v for k, v in row.items()})
    return values


def _decline_values(decline: FaqDecline) -> dict[str, Any]:
    return {
        "id": decline.id,
        "conversation_id": decline.conversation_id,
        "message_seq": decline.message_seq,
        "language": decline.language,
        "query": decline.query,
        "nearest": decline.nearest,
        "score": decline.score,
        "created_at": decline.created_at,
    }


def _write_holding(connection: sa.Connection, step: HoldingChange) -> None:
    """End the old holder's open stretch and open the new one's (or, undone, the reverse)."""
    of = {"b_conversation_id": step.conversation_id}
    if step.undo:
        if step.opens is not None:
            connection.execute(
                _UNDO_OPEN_HOLDING, {**of, "b_agent_id": step.opens, "b_at": step.at}
            )
        if step.closes is not None:
            connection.execute(
                _UNDO_END_HOLDING,
                {**of, "b_agent_id": step.closes, "b_at": step.at, "until": None, "ended": None},
            )
        return
    if step.closes is not None:
        connection.execute(
            _END_HOLDING,
            {
                **of,
                "b_agent_id": step.closes,
                "until": step.at,
                "ended": str(step.ended) if step.ended else None,
            },
        )
    if step.opens is not None:
        connection.execute(
            _OPEN_HOLDING,
            {"conversation_id": step.conversation_id, "agent_id": step.opens, "since": step.at},
        )


def _feedback_of(
    connection: sa.Connection, conversation_id: str, answer_seq: int
) -> FaqFeedback | None:
    row = connection.execute(
        sa.select(faq_feedback).where(
            faq_feedback.c.conversation_id == conversation_id,
            faq_feedback.c.answer_seq == answer_seq,
        )
    ).first()
    if row is None:
        return None
    return FaqFeedback(
        id=row.id,
        conversation_id=row.conversation_id,
        answer_seq=row.answer_seq,
        language=row.language,
        faq_id=row.faq_id,
        query=row.query,
        helpful=bool(row.helpful),
        created_at=row.created_at,
    )


def _conversation_values(conversation: Conversation) -> dict[str, Any]:
    """The columns a conversation's changes touch (not last_seq: only appends move it)."""
    return {
        "status": str(conversation.status),
        "language": conversation.language,
        "language_confirmed": conversation.language_confirmed,
        "language_source": conversation.language_source,
        "updated_at": conversation.updated_at,
        "tier": str(conversation.tier),
        "customer_id": conversation.customer_id,
        "manager": conversation.manager,
        "team": str(conversation.team) if conversation.team else None,
        "priority": str(conversation.priority) if conversation.priority else None,
        "handed_off_at": conversation.handed_off_at,
        "agent_id": conversation.agent_id,
        "tracking_number": conversation.tracking_number,
        "closed_at": conversation.closed_at,
        "customer_name": conversation.customer_name,
        "customer_email": conversation.customer_email,
    }


def _conversation(row: sa.RowMapping) -> Conversation:
    return Conversation(
        id=row["id"],
        status=ConversationStatus(row["status"]),
        language=row["language"],
        language_confirmed=bool(row["language_confirmed"]),
        language_source=row["language_source"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_seq=row["last_seq"],
        tier=Tier(row["tier"]),
        customer_id=row["customer_id"],
        manager=row["manager"],
        team=Team(row["team"]) if row["team"] else None,
        priority=Priority(row["priority"]) if row["priority"] else None,
        handed_off_at=row["handed_off_at"],
        agent_id=row["agent_id"],
        tracking_number=row["tracking_number"],
        closed_at=row["closed_at"],
        customer_name=row["customer_name"],
        customer_email=row["customer_email"],
    )


def _agent(row: sa.RowMapping) -> AgentAccount:
    return AgentAccount(
        id=row["id"],
        username=row["username"],
        name=row["name"],
        languages=tuple(row["languages"]),
        teams=tuple(Team(t) for t in row["teams"]),
        capacity=row["capacity"],
        role=Role(row["role"]),
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        disabled=bool(row["disabled"]),
        takes_chats=bool(row["takes_chats"]),
    )


def _canned(row: sa.RowMapping) -> CannedReply:
    return CannedReply(
        id=row["id"],
        language=row["language"],
        title=row["title"],
        text=row["text"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _announcement(row: sa.RowMapping) -> Announcement:
    return Announcement(
        id=row["id"],
        severity=Severity(row["severity"]),
        texts=dict(row["texts"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        by=row["by"],
        version=row["version"],
        resolved_at=row["resolved_at"],
        resolution=dict(row["resolution"]),
    )


def _all_rows(
    query: sa.Select[Any], values: Mapping[str, Any] | None = None
) -> Operation[Sequence[sa.Row[Any]]]:
    return lambda connection: connection.execute(query, values).all()


def _message(row: sa.RowMapping) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        author=Author(row["author"]),
        text=row["text"],
        created_at=row["created_at"],
        language=row["language"],
        client_id=row["client_id"],
        internal=bool(row["internal"]),
        meta=row["meta"] or {},
    )


def _message_from(message: NewMessage, seq: int) -> Message:
    return Message(
        id=message.id,
        conversation_id=message.conversation_id,
        seq=seq,
        author=message.author,
        text=message.text,
        created_at=message.created_at,
        language=message.language,
        client_id=message.client_id,
        internal=message.internal,
        meta=message.meta,
    )


def _sqlite_path(url: str) -> Path | None:
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def _engine_url(url: str) -> sa.URL:
    """SQLite runs on the standard library driver whatever the URL names (the async
    spelling `sqlite+aiosqlite` of earlier versions included); PostgreSQL on asyncpg."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    return parsed.set(drivername="postgresql+asyncpg")


async def open_store(
    url: str,
    *,
    sqlite_synchronous: str = "normal",
    pool_size: int = POOL_SIZE,
    store_class: type[SqlStore] = SqlStore,
) -> SqlStore:
    """Create the engine, make sure the SQLite folder exists, and migrate the schema.
    `pool_size`: PostgreSQL connections kept open (`POOL_SIZE`). `store_class`: a
    subclass, e.g. one that fails on purpose in a test."""
    engine_url = _engine_url(url)
    runner: _Runner
    if engine_url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

        def make_engine(*, autocheckpoint: bool) -> sa.Engine:
            engine = sa.create_engine(engine_url)
            pragmas = (
                *SQLITE_PRAGMAS,
                f"PRAGMA synchronous={sqlite_synchronous.upper()}",
                *(() if autocheckpoint else ("PRAGMA wal_autocheckpoint=0",)),
            )

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
                cursor = dbapi_connection.cursor()
                for pragma in pragmas:
                    cursor.execute(pragma)
                cursor.close()

            return engine

        # An in-memory database lives in one connection: it cannot be shared by two engines.
        inline = path is not None and sqlite_synchronous.lower() != "full"
        sqlite = _SqliteRunner(make_engine, inline=inline)
        sqlite.start()
        runner = sqlite
    else:
        engine = create_async_engine(
            engine_url, pool_size=pool_size, max_overflow=0, isolation_level="AUTOCOMMIT"
        )
        _ping_after_idle(engine.sync_engine, PING_AFTER_IDLE)
        runner = _AsyncRunner(engine)
    store = store_class(runner, engine_url.get_backend_name())
    try:
        await store.migrate()
    except BaseException:
        await store.close()
        raise
    return store
