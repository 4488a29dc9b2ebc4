"""The SQL `Store`: SQLAlchemy Core over aiosqlite (embedded default) or asyncpg.

SQLite allows one writer at a time; rather than let concurrent transactions collide on
the database lock, writes in this process queue on an asyncio lock. PostgreSQL needs no
such lock: the row lock on the conversation orders appends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from chatserver.agents import AgentAccount, Role, Session
from chatserver.models import (
    Author,
    Conversation,
    ConversationStatus,
    FaqChoice,
    Message,
    NewMessage,
    OfflineRequest,
    Priority,
    Team,
    Tier,
)
from chatserver.sla import AppliedSla, next_deadline
from chatserver.store.base import AppendResult, DuplicateAgent
from chatserver.store.migrations import migrate
from chatserver.store.schema import (
    agent_sessions,
    agents,
    applied_slas,
    conversations,
    faq_choices,
    messages,
    offline_requests,
)

# WAL lets readers run while one writer commits. synchronous: NORMAL makes a commit
# survive a crash of this process (what "stored before acknowledged" must survive in
# practice) at ~0.1 ms; FULL also survives a power cut at ~1.2 ms a commit here, which
# caps the desk at a few dozen handoffs a second. CHATSERVER_SQLITE_SYNCHRONOUS chooses.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


# Statements built once: their compiled form is cached, and only parameters change on the
# hot paths (every message and every change of a conversation).
_CONVERSATION_BY = {
    column: sa.select(conversations).where(conversations.c[column] == sa.bindparam("key"))
    for column in ("id", "token_hash", "tracking_number")
}
_SAVE_CONVERSATION = conversations.update().where(conversations.c.id == sa.bindparam("b_id"))
_NEXT_SEQ = (
    conversations.update()
    .where(conversations.c.id == sa.bindparam("b_id"))
    .values(last_seq=conversations.c.last_seq + 1)
    .returning(conversations.c.last_seq)
)
_INSERT_MESSAGE = messages.insert()
_SAVE_SLA = applied_slas.update().where(
    applied_slas.c.conversation_id == sa.bindparam("b_conversation_id")
)


class StoreClosed(RuntimeError):
    pass


class SqlStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock()
        self._closed = False

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        self._check_open()
        async with self.engine.connect() as connection:
            yield connection

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        self._check_open()
        if self._is_sqlite:
            async with self._write_lock, self.engine.begin() as connection:
                yield connection
        else:
            async with self.engine.begin() as connection:
                yield connection

    async def migrate(self) -> list[int]:
        async with self._write() as connection:
            return await connection.run_sync(migrate)

    async def create_conversation(self, conversation: Conversation, token_hash: str) -> None:
        async with self._write() as connection:
            await connection.execute(
                conversations.insert().values(
                    id=conversation.id,
                    token_hash=token_hash,
                    last_seq=conversation.last_seq,
                    created_at=conversation.created_at,
                    **_conversation_values(conversation),
                )
            )

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return await self._one_conversation(_CONVERSATION_BY["id"], conversation_id)

    async def conversation_by_token(self, token_hash: str) -> Conversation | None:
        return await self._one_conversation(_CONVERSATION_BY["token_hash"], token_hash)

    async def _one_conversation(self, query: sa.Select[Any], key: str) -> Conversation | None:
        async with self._read() as connection:
            row = (await connection.execute(query, {"key": key})).first()
        return _conversation(row._mapping) if row is not None else None

    async def save_conversation(self, conversation: Conversation) -> None:
        async with self._write() as connection:
            await connection.execute(
                _SAVE_CONVERSATION, {"b_id": conversation.id, **_conversation_values(conversation)}
            )

    async def conversation_by_tracking_number(self, number: str) -> Conversation | None:
        return await self._one_conversation(_CONVERSATION_BY["tracking_number"], number)

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
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
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
            "frt_seconds": (
                (frt.stopped_at - frt.started_at).total_seconds() if frt.stopped_at else None
            ),
        }
        async with self._write() as connection:
            if new:
                await connection.execute(
                    applied_slas.insert(), {"conversation_id": sla.conversation_id, **values}
                )
                return
            updated = await connection.execute(
                _SAVE_SLA, {"b_conversation_id": sla.conversation_id, **values}
            )
            if updated.rowcount == 0:
                await connection.execute(
                    applied_slas.insert().values(conversation_id=sla.conversation_id, **values)
                )

    async def sla(self, conversation_id: str) -> AppliedSla | None:
        query = sa.select(applied_slas.c.state).where(
            applied_slas.c.conversation_id == conversation_id
        )
        async with self._read() as connection:
            state = (await connection.execute(query)).scalar()
        return AppliedSla.from_dict(state) if state is not None else None

    async def pending_slas(self) -> list[AppliedSla]:
        """Every SLA with a deadline still to come (to re-arm timers after a restart)."""
        query = sa.select(applied_slas.c.state).where(applied_slas.c.next_deadline.is_not(None))
        async with self._read() as connection:
            states = (await connection.execute(query)).scalars().all()
        return [AppliedSla.from_dict(state) for state in states]

    async def sla_rows(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Per-conversation first-response facts handed off in [since, until), for reports."""
        query = (
            sa.select(
                applied_slas.c.conversation_id,
                applied_slas.c.language,
                applied_slas.c.team,
                applied_slas.c.priority,
                applied_slas.c.handed_off_at,
                applied_slas.c.frt_status,
                applied_slas.c.frt_seconds,
            )
            .where(applied_slas.c.handed_off_at >= since, applied_slas.c.handed_off_at < until)
            .order_by(applied_slas.c.handed_off_at)
        )
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        return [dict(row._mapping) for row in rows]

    async def record_offline_request(self, request: OfflineRequest) -> None:
        async with self._write() as connection:
            await connection.execute(
                offline_requests.insert().values(
                    id=request.id,
                    conversation_id=request.conversation_id,
                    kind=request.kind,
                    contact=request.contact,
                    text=request.text,
                    created_at=request.created_at,
                )
            )

    async def append_message(self, message: NewMessage) -> AppendResult:
        if message.client_id is not None:
            existing = await self._by_client_id(message.conversation_id, message.client_id)
            if existing is not None:
                return AppendResult(existing, created=False)
        try:
            async with self._write() as connection:
                seq = (
                    await connection.execute(_NEXT_SEQ, {"b_id": message.conversation_id})
                ).scalar_one()
                await connection.execute(
                    _INSERT_MESSAGE,
                    {
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
                    },
                )
        except IntegrityError:
            # Two sends of one client_id raced; the other one won and is the stored copy.
            if message.client_id is None:
                raise
            existing = await self._by_client_id(message.conversation_id, message.client_id)
            if existing is None:
                raise
            return AppendResult(existing, created=False)
        return AppendResult(_message_from(message, seq), created=True)

    async def _by_client_id(self, conversation_id: str, client_id: str) -> Message | None:
        query = sa.select(messages).where(
            messages.c.conversation_id == conversation_id, messages.c.client_id == client_id
        )
        async with self._read() as connection:
            row = (await connection.execute(query)).first()
        return _message(row._mapping) if row is not None else None

    async def messages(
        self, conversation_id: str, *, after_seq: int = 0, limit: int = 500
    ) -> list[Message]:
        query = (
            sa.select(messages)
            .where(messages.c.conversation_id == conversation_id, messages.c.seq > after_seq)
            .order_by(messages.c.seq)
            .limit(limit)
        )
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        return [_message(row._mapping) for row in rows]

    async def record_faq_choice(self, choice: FaqChoice) -> None:
        async with self._write() as connection:
            await connection.execute(
                faq_choices.insert().values(
                    id=choice.id,
                    conversation_id=choice.conversation_id,
                    language=choice.language,
                    query=choice.query,
                    suggested=list(choice.suggested),
                    chosen=choice.chosen,
                    created_at=choice.created_at,
                )
            )

    async def faq_choices(self, *, limit: int = 1000) -> list[FaqChoice]:
        query = sa.select(faq_choices).order_by(faq_choices.c.created_at.desc()).limit(limit)
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
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

    async def create_agent(self, account: AgentAccount) -> None:
        try:
            async with self._write() as connection:
                await connection.execute(
                    agents.insert().values(
                        id=account.id,
                        username=account.username,
                        name=account.name,
                        languages=list(account.languages),
                        teams=[str(t) for t in account.teams],
                        capacity=account.capacity,
                        role=str(account.role),
                        password_hash=account.password_hash,
                        disabled=account.disabled,
                        created_at=account.created_at,
                    )
                )
        except IntegrityError:
            raise DuplicateAgent(account.username) from None

    async def agent(self, agent_id: str) -> AgentAccount | None:
        return await self._one_agent(agents.c.id == agent_id)

    async def agent_by_username(self, username: str) -> AgentAccount | None:
        return await self._one_agent(agents.c.username == username)

    async def _one_agent(self, where: sa.ColumnElement[bool]) -> AgentAccount | None:
        async with self._read() as connection:
            row = (await connection.execute(sa.select(agents).where(where))).first()
        return _agent(row._mapping) if row is not None else None

    async def agents(self) -> list[AgentAccount]:
        async with self._read() as connection:
            rows = (await connection.execute(sa.select(agents).order_by(agents.c.username))).all()
        return [_agent(row._mapping) for row in rows]

    async def create_session(self, session: Session) -> None:
        async with self._write() as connection:
            # Expired sessions are swept on the way; they are never valid again.
            await connection.execute(
                agent_sessions.delete().where(agent_sessions.c.expires_at < session.created_at)
            )
            await connection.execute(
                agent_sessions.insert().values(
                    token_hash=session.token_hash,
                    agent_id=session.agent_id,
                    created_at=session.created_at,
                    expires_at=session.expires_at,
                )
            )

    async def session(self, token_hash: str) -> Session | None:
        query = sa.select(agent_sessions).where(agent_sessions.c.token_hash == token_hash)
        async with self._read() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return Session(row.token_hash, row.agent_id, row.created_at, row.expires_at)

    async def delete_session(self, token_hash: str) -> None:
        async with self._write() as connection:
            await connection.execute(
                agent_sessions.delete().where(agent_sessions.c.token_hash == token_hash)
            )

    async def ping(self) -> None:
        async with self._read() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        self._closed = True
        await self.engine.dispose()

    def _check_open(self) -> None:
        """A handler still running while the server stops must not reopen the database."""
        if self._closed:
            raise StoreClosed("the store is closed: the server is stopping")


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
    )


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


async def open_store(url: str, *, sqlite_synchronous: str = "normal") -> SqlStore:
    """Create the engine, make sure the SQLite folder exists, and migrate the schema."""
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in (*SQLITE_PRAGMAS, f"PRAGMA synchronous={sqlite_synchronous.upper()}"):
                cursor.execute(pragma)
            cursor.close()

    else:
        engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    store = SqlStore(engine)
    await store.migrate()
    return store
