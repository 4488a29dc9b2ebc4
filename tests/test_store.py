"""The SQL store against a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from chatserver.models import (
    Author,
    ConversationStatus,
    FaqChoice,
    FaqDecline,
    FaqFeedback,
    NewMessage,
    new_conversation,
)
from chatserver.store import SqlStore, open_store, schema
from chatserver.store.migrations import MIGRATIONS, SCHEMA_VERSION
from chatserver.store.schema import UtcDateTime
from tests.services import fresh_postgres

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request, tmp_path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    async with fresh_postgres() as url:
        yield url


@pytest.fixture
async def store(store_url) -> AsyncIterator[SqlStore]:
    opened = await open_store(store_url)
    yield opened
    await opened.close()


async def a_conversation(store: SqlStore, cid: str = "c1", token_hash: str = "h1"):
    conversation = new_conversation(cid, language="ja", language_confirmed=False, now=T0)
    await store.create_conversation(conversation, token_hash)
    return conversation


def customer_message(mid: str, text: str, client_id: str | None = None, cid: str = "c1"):
    return NewMessage(mid, cid, Author.CUSTOMER, text, T0, client_id=client_id)


async def test_conversation_round_trip(store):
    created = await a_conversation(store)
    assert await store.get_conversation("c1") == created
    assert await store.conversation_by_token("h1") == created
    assert await store.get_conversation("nope") is None
    assert await store.conversation_by_token("nope") is None


async def test_a_conversation_is_created_with_its_first_messages_or_not_at_all(store):
    conversation = new_conversation("c1", language="ja", language_confirmed=False, now=T0)
    greeting = NewMessage("g1", "c1", Author.BOT, "Hello", T0)
    stored = await store.create_conversation(conversation, "h1", first=[greeting])
    assert [(m.id, m.seq) for m in stored] == [("g1", 1)]
    loaded = await store.get_conversation("c1")
    assert loaded is not None
    assert loaded.last_seq == 1
    assert [m.seq for m in await store.messages("c1")] == [1]
    assert (await store.append_message(customer_message("m1", "hi"))).message.seq == 2

    # The greeting's id is taken: the conversation is not stored either.
    clash = new_conversation("c2", language="ja", language_confirmed=False, now=T0)
    with pytest.raises(sa.exc.IntegrityError):
        await store.create_conversation(
            clash, "h2", first=[NewMessage("g1", "c2", Author.BOT, "Hello", T0)]
        )
    assert await store.get_conversation("c2") is None
    with pytest.raises(ValueError, match="another conversation"):
        await store.create_conversation(clash, "h2", first=[greeting])
    assert await store.get_conversation("c2") is None


async def test_times_come_back_timezone_aware(store):
    await a_conversation(store)
    loaded = await store.get_conversation("c1")
    assert loaded is not None
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at == T0


async def test_messages_get_consecutive_sequence_numbers(store):
    await a_conversation(store)
    results = [await store.append_message(customer_message(f"m{i}", f"text {i}")) for i in range(3)]
    assert [r.message.seq for r in results] == [1, 2, 3]
    assert all(r.created for r in results)
    conversation = await store.get_conversation("c1")
    assert conversation is not None
    assert conversation.last_seq == 3
    assert [m.text for m in await store.messages("c1", after_seq=1)] == ["text 1", "text 2"]


async def test_concurrent_appends_never_share_a_sequence_number(store):
    await a_conversation(store)
    results = await asyncio.gather(
        *(store.append_message(customer_message(f"m{i}", str(i))) for i in range(20))
    )
    assert sorted(r.message.seq for r in results) == list(range(1, 21))


async def test_same_client_id_is_stored_once(store):
    await a_conversation(store)
    first = await store.append_message(customer_message("m1", "hello", client_id="k1"))
    again = await store.append_message(customer_message("m2", "hello", client_id="k1"))
    assert first.created
    assert not again.created
    assert again.message.id == "m1"
    assert len(await store.messages("c1")) == 1


async def test_concurrent_resends_of_one_client_id_store_one_message(store):
    await a_conversation(store)
    results = await asyncio.gather(
        *(store.append_message(customer_message(f"m{i}", "x", client_id="same")) for i in range(5))
    )
    assert sum(r.created for r in results) == 1
    assert {r.message.id for r in results} == {results[0].message.id}
    assert len(await store.messages("c1")) == 1


async def test_client_ids_are_scoped_to_their_conversation(store):
    await a_conversation(store, "c1", "h1")
    await a_conversation(store, "c2", "h2")
    one = await store.append_message(customer_message("m1", "a", client_id="k", cid="c1"))
    two = await store.append_message(customer_message("m2", "b", client_id="k", cid="c2"))
    assert one.created
    assert two.created


def agent_message(mid: str, text: str, agent_id: str, client_id: str, *, internal: bool = False):
    return NewMessage(
        mid,
        "c1",
        Author.AGENT,
        text,
        T0,
        client_id=client_id,
        internal=internal,
        author_id=agent_id,
        meta={"agent_id": agent_id},
    )


async def test_client_ids_are_scoped_to_their_author(store):
    await a_conversation(store)
    note = await store.append_message(agent_message("m1", "VIP", "a1", "x", internal=True))
    own = await store.append_message(customer_message("m2", "hello", client_id="x"))
    other_agent = await store.append_message(agent_message("m3", "Hi", "a2", "x"))
    assert (note.created, own.created, other_agent.created) == (True, True, True)
    assert own.message.text == "hello"
    # Each author's own resend is still stored once.
    assert (await store.append_message(customer_message("m4", "hello", "x"))).message.id == "m2"
    assert (await store.append_message(agent_message("m5", "VIP", "a1", "x"))).message.id == "m1"
    assert [m.id for m in await store.messages("c1")] == ["m1", "m2", "m3"]


async def test_save_conversation_persists_status_and_language(store):
    conversation = await a_conversation(store)
    later = T0 + timedelta(seconds=5)
    changed = conversation.transition(ConversationStatus.QUEUED, later).with_language(
        "en", confirmed=True, source="statistical", now=later
    )
    await store.save_conversation(changed)
    assert await store.get_conversation("c1") == changed


async def test_meta_and_flags_round_trip(store):
    await a_conversation(store)
    stored = await store.append_message(
        NewMessage(
            "m1", "c1", Author.BOT, "答え", T0, language="ja", meta={"faq_id": "x", "score": 91.5}
        )
    )
    (loaded,) = await store.messages("c1")
    assert loaded == stored.message
    assert loaded.meta == {"faq_id": "x", "score": 91.5}


async def test_everything_survives_closing_and_reopening(store_url):
    first = await open_store(store_url)
    await a_conversation(first)
    await first.append_message(customer_message("m1", "MT5のパスワードを忘れました", "k1"))
    await first.close()

    second = await open_store(store_url)
    try:
        conversation = await second.get_conversation("c1")
        assert conversation is not None
        assert conversation.last_seq == 1
        (message,) = await second.messages("c1")
        assert message.text == "MT5のパスワードを忘れました"
        # Migrating an up-to-date database again changes nothing.
        assert await second.migrate() == []
    finally:
        await second.close()


def scalar(sql: str):
    """An operation for `SqlStore.read`: the first column of the first row."""
    return lambda connection: connection.execute(sa.text(sql)).scalar()


async def test_schema_version_is_recorded(store):
    assert await store.read(scalar("SELECT max(version) FROM schema_migrations")) == SCHEMA_VERSION


async def test_sqlite_runs_in_wal_mode(tmp_path):
    opened = await open_store(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    try:
        assert await opened.read(scalar("PRAGMA journal_mode")) == "wal"
    finally:
        await opened.close()


V1_SCHEMA = (
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL,"
    " applied_at TIMESTAMP NOT NULL)",
    "CREATE TABLE conversations (id VARCHAR(32) PRIMARY KEY, status VARCHAR(16) NOT NULL,"
    " language VARCHAR(16) NOT NULL, language_confirmed BOOLEAN NOT NULL,"
    " token_hash VARCHAR(64) NOT NULL UNIQUE, last_seq INTEGER DEFAULT 0 NOT NULL,"
    " created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)",
    "CREATE TABLE messages (id VARCHAR(32) PRIMARY KEY, conversation_id VARCHAR(32) NOT NULL"
    " REFERENCES conversations (id) ON DELETE CASCADE, seq INTEGER NOT NULL,"
    " author VARCHAR(16) NOT NULL, text TEXT NOT NULL, language VARCHAR(16),"
    " client_id VARCHAR(64), internal BOOLEAN DEFAULT false NOT NULL, meta JSON NOT NULL,"
    " created_at TIMESTAMP NOT NULL,"
    " CONSTRAINT uq_messages_conversation_seq UNIQUE (conversation_id, seq),"
    " CONSTRAINT uq_messages_conversation_client UNIQUE (conversation_id, client_id))",
    "INSERT INTO schema_migrations VALUES (1, 'conversations and messages', '2026-11-24 09:00:00')",
    "INSERT INTO conversations VALUES ('old', 'bot', 'th', false, 'h-old', 0,"
    " '2026-11-24 09:00:00', '2026-11-24 09:00:00')",
)


async def run_raw(url: str, statements: tuple[str, ...]) -> None:
    """Plain SQL on a database the store has not opened (it would migrate it)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
        engine.dispose()
        return
    async_engine = create_async_engine(url)
    async with async_engine.begin() as connection:
        for statement in statements:
            await connection.execute(sa.text(statement))
    await async_engine.dispose()


async def test_a_version_1_database_is_upgraded_in_place(store_url):
    await run_raw(store_url, V1_SCHEMA)

    upgraded = await open_store(store_url)
    try:
        conversation = await upgraded.conversation_by_token("h-old")
        assert conversation is not None
        assert conversation.language == "th"
        assert conversation.language_source == "default"
        versions = await upgraded.read(
            lambda c: c.execute(sa.text("SELECT version FROM schema_migrations")).scalars().all()
        )
        assert sorted(versions) == [m.version for m in MIGRATIONS]
    finally:
        await upgraded.close()


# `messages` as versions 1-5 had it: client_ids unique per conversation, whoever wrote them.
_V5 = sa.MetaData()
sa.Table("conversations", _V5, sa.Column("id", sa.String(32), primary_key=True))
V5_MESSAGES = sa.Table(
    "messages",
    _V5,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("author", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("language", sa.String(16)),
    sa.Column("client_id", sa.String(64)),
    sa.Column("internal", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    sa.UniqueConstraint("conversation_id", "client_id", name="uq_messages_conversation_client"),
)


async def run_sync(url: str, operation: Callable[[sa.Connection], None]) -> None:
    """`operation` in one transaction on a database the store does not have open."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            operation(connection)
        engine.dispose()
        return
    async_engine = create_async_engine(url)
    async with async_engine.begin() as connection:
        await connection.run_sync(operation)
    await async_engine.dispose()


def back_to_version_5(connection: sa.Connection) -> None:
    """The database as version 5 left it, with a customer's, an agent's and a bot's message."""
    back_to_version_6(connection)
    connection.execute(sa.text("DROP TABLE messages"))
    V5_MESSAGES.create(connection)
    connection.execute(sa.text("DELETE FROM schema_migrations WHERE version > 5"))
    common = {"conversation_id": "c1", "text": "old", "created_at": T0, "internal": False}
    rows = [
        {"id": "m1", "seq": 1, "author": "customer", "client_id": "k1", "meta": {}},
        {"id": "m2", "seq": 2, "author": "agent", "client_id": "n1", "meta": {"agent_id": "a1"}},
        {"id": "m3", "seq": 3, "author": "bot", "client_id": None, "meta": {"kind": "greeting"}},
    ]
    connection.execute(V5_MESSAGES.insert(), [{**common, **row} for row in rows])
    connection.execute(sa.text("UPDATE conversations SET last_seq = 3 WHERE id = 'c1'"))


async def test_a_version_5_database_gets_client_ids_per_author(store_url):
    fresh = await open_store(store_url)
    await a_conversation(fresh)
    await fresh.close()
    await run_sync(store_url, back_to_version_5)

    upgraded = await open_store(store_url)
    try:
        version = scalar("SELECT max(version) FROM schema_migrations")
        assert await upgraded.read(version) == SCHEMA_VERSION
        senders = await upgraded.read(
            lambda c: c.execute(sa.text("SELECT sender FROM messages ORDER BY seq")).scalars().all()
        )
        assert senders == ["customer", "agent:a1", "bot"]
        unique = await upgraded.read(
            lambda c: sa.inspect(c).get_unique_constraints("messages")  # type: ignore[no-any-return]
        )
        assert sorted(tuple(u["column_names"]) for u in unique) == [
            ("conversation_id", "sender", "client_id"),
            ("conversation_id", "seq"),
        ]
        # The old messages keep their de-duplication, now per author ...
        resent = await upgraded.append_message(customer_message("m4", "old", client_id="k1"))
        assert (resent.created, resent.message.id) == (False, "m1")
        renoted = await upgraded.append_message(agent_message("m5", "old", "a1", "n1"))
        assert (renoted.created, renoted.message.id) == (False, "m2")
        # ... and the customer's id that equals the agent's is a new message.
        mine = await upgraded.append_message(customer_message("m6", "mine", client_id="n1"))
        assert (mine.created, mine.message.seq, mine.message.text) == (True, 4, "mine")
        assert [m.id for m in await upgraded.messages("c1")] == ["m1", "m2", "m3", "m6"]
    finally:
        await upgraded.close()


def back_to_version_14(connection: sa.Connection) -> None:
    """The database as version 14 left it: supervisors had no say in being offered chats."""
    connection.execute(sa.text("ALTER TABLE agents DROP COLUMN takes_chats"))
    connection.execute(sa.text("DROP INDEX ix_conversations_customer_id"))
    connection.execute(sa.text("DROP TABLE canned_replies"))
    connection.execute(sa.text("ALTER TABLE conversations DROP COLUMN customer_name"))
    connection.execute(sa.text("ALTER TABLE conversations DROP COLUMN customer_email"))
    connection.execute(sa.text("DELETE FROM schema_migrations WHERE version > 14"))


async def test_a_version_14_database_gets_supervisors_who_take_no_chats(store_url):
    from chatserver.agents import AgentAccount
    from chatserver.models import Role, Team

    fresh = await open_store(store_url)
    sam = AgentAccount(
        id="a1", username="sam", name="Sam", languages=("en",), teams=(Team.ACCOUNT,),
        capacity=2, role=Role.SUPERVISOR, password_hash="x", created_at=T0,
    )  # fmt: skip
    await fresh.create_agent(sam)
    await fresh.close()
    await run_sync(store_url, back_to_version_14)
    upgraded = await open_store(store_url)
    try:
        assert await upgraded.read(scalar("SELECT max(version) FROM schema_migrations")) == 15
        assert (await upgraded.agent("a1")).takes_chats is False  # type: ignore[union-attr]
        await upgraded.set_takes_chats("a1", True)
        assert (await upgraded.agent("a1")).takes_chats is True  # type: ignore[union-attr]
    finally:
        await upgraded.close()


def back_to_version_13(connection: sa.Connection) -> None:
    """The database as version 13 left it: no warning times, no indexes for the ticks."""
    back_to_version_14(connection)
    for index in (
        "ix_inbox_items_breach_due",
        "ix_inbox_items_warn_due",
        "ix_inbox_items_status_kind",
        "ix_followups_due",
        "ix_offline_requests_created_at",
    ):
        connection.execute(sa.text(f"DROP INDEX {index}"))
    connection.execute(sa.text("ALTER TABLE inbox_items DROP COLUMN warn_at"))
    connection.execute(sa.text("DELETE FROM schema_migrations WHERE version > 13"))


def back_to_version_12(connection: sa.Connection) -> None:
    """The database as version 12 left it: no holding history."""
    back_to_version_13(connection)
    connection.execute(sa.text("DROP TABLE holdings"))
    connection.execute(sa.text("DELETE FROM schema_migrations WHERE version > 12"))


def back_to_version_10(connection: sa.Connection) -> None:
    """The database as version 10 left it: no inbox."""
    back_to_version_12(connection)
    connection.execute(sa.text("DROP TABLE inbox_entries"))
    connection.execute(sa.text("DROP TABLE inbox_items"))
    connection.execute(sa.text("DELETE FROM schema_migrations WHERE version > 10"))


def back_to_version_9(connection: sa.Connection) -> None:
    """The database as version 9 left it: no ratings, no follow-ups."""
    back_to_version_10(connection)
    connection.execute(sa.text("DROP TABLE followups"))
    connection.execute(sa.text("DROP TABLE ratings"))
    connection.execute(sa.text("DELETE FROM schema_migrations WHERE version > 9"))


def back_to_version_8(connection: sa.Connection) -> None:
    """The database as version 8 left it: no announcements."""
    back_to_version_9(connection)
    connection.execute(sa.text("DROP TABLE announcements"))
    connection.execute(sa.text("DELETE FROM schema_migrations WHERE version > 8"))


def back_to_version_7(connection: sa.Connection) -> None:
    """The database as version 7 left it: SLA rows without their cell and target."""
    back_to_version_8(connection)
    connection.execute(sa.text("ALTER TABLE applied_slas DROP COLUMN policy"))
    connection.execute(sa.text("ALTER TABLE applied_slas DROP COLUMN frt_target_seconds"))
    connection.execute(sa.text("DELETE FROM schema_migrations WHERE version > 7"))


async def test_a_version_7_database_gets_sla_cells_and_old_rows_have_none(store_url):
    fresh = await open_store(store_url)
    await a_conversation(fresh)
    await fresh.close()

    def old_sla_row(connection: sa.Connection) -> None:
        back_to_version_7(connection)
        old_columns = {
            "conversation_id": "c1",
            "state": {},
            "language": "ja",
            "team": "account",
            "priority": "medium",
            "handed_off_at": T0,
            "frt_status": "hit",
            "frt_seconds": 12.5,
        }
        connection.execute(schema.applied_slas.insert().values(**old_columns))

    await run_sync(store_url, old_sla_row)
    upgraded = await open_store(store_url)
    try:
        assert await upgraded.read(scalar("SELECT max(version) FROM schema_migrations")) == (
            SCHEMA_VERSION
        )
        (row,) = await upgraded.sla_rows(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
        assert (row["policy"], row["frt_target_seconds"], row["frt_seconds"]) == (None, None, 12.5)
    finally:
        await upgraded.close()


def back_to_version_6(connection: sa.Connection) -> None:
    """The database as version 6 left it: no feedback on answers, no declines recorded."""
    back_to_version_7(connection)
    connection.execute(sa.text("DROP TABLE faq_feedback"))
    connection.execute(sa.text("DROP TABLE faq_declines"))
    connection.execute(sa.text("DELETE FROM schema_migrations WHERE version > 6"))


async def test_a_version_6_database_gets_feedback_and_decline_tables(store_url):
    fresh = await open_store(store_url)
    await a_conversation(fresh)
    await fresh.close()
    await run_sync(store_url, back_to_version_6)

    def tables(connection: sa.Connection) -> set[str]:
        return set(sa.inspect(connection).get_table_names())

    assert not {"faq_feedback", "faq_declines"} & await _on(store_url, tables)
    upgraded = await open_store(store_url)
    try:
        versions = await upgraded.read(
            lambda c: c.execute(sa.text("SELECT version FROM schema_migrations")).scalars().all()
        )
        assert sorted(versions) == [m.version for m in MIGRATIONS]
        assert 7 in versions
        assert {"faq_feedback", "faq_declines"} <= await upgraded.read(tables)
        unique = await upgraded.read(
            lambda c: {
                table: sorted(tuple(u["column_names"]) for u in inspected)
                for table in ("faq_feedback", "faq_declines")
                if (inspected := sa.inspect(c).get_unique_constraints(table))
            }
        )
        assert unique == {
            "faq_feedback": [("conversation_id", "answer_seq")],
            "faq_declines": [("conversation_id", "message_seq")],
        }
        # The upgraded database works: the conversation of version 6 takes feedback.
        stored, created = await upgraded.record_faq_feedback(a_feedback(helpful=False))
        assert created
        assert await upgraded.faq_feedback("c1", 3) == stored
        assert await upgraded.record_faq_decline(a_decline())
        assert [d.query for d in await upgraded.faq_declines()] == ["capital of France?"]
    finally:
        await upgraded.close()


async def _on(url: str, operation: Callable[[sa.Connection], T]) -> T:
    """`operation` on a database the store does not have open."""
    found: list[T] = []
    await run_sync(url, lambda c: found.append(operation(c)))
    return found[0]


def a_feedback(*, helpful: bool, fid: str = "f1", seq: int = 3, at: datetime = T0) -> FaqFeedback:
    return FaqFeedback(
        id=fid,
        conversation_id="c1",
        answer_seq=seq,
        language="ja",
        faq_id="mt-password-reset",
        query="MT5のパスワードを忘れた",
        helpful=helpful,
        created_at=at,
    )


def a_decline(*, did: str = "d1", seq: int = 5, at: datetime = T0) -> FaqDecline:
    return FaqDecline(
        id=did,
        conversation_id="c1",
        message_seq=seq,
        language="ja",
        query="capital of France?",
        nearest="instrument-specifications",
        score=0.24,
        created_at=at,
    )


async def test_the_first_word_on_an_answer_stands(store):
    await a_conversation(store)
    first, created = await store.record_faq_feedback(a_feedback(helpful=True))
    assert created
    assert first.helpful is True
    again, created = await store.record_faq_feedback(a_feedback(helpful=False, fid="f2"))
    assert not created
    assert again == first
    assert await store.faq_feedback("c1", 3) == first
    assert await store.faq_feedback("c1", 4) is None
    other, created = await store.record_faq_feedback(a_feedback(helpful=False, fid="f3", seq=7))
    assert created
    assert (other.answer_seq, other.helpful) == (7, False)


async def test_concurrent_feedback_on_one_answer_stores_one(store):
    await a_conversation(store)
    results = await asyncio.gather(
        *(store.record_faq_feedback(a_feedback(helpful=i % 2 == 0, fid=f"f{i}")) for i in range(6))
    )
    assert sum(created for _, created in results) == 1
    assert len({stored.id for stored, _ in results}) == 1


async def test_a_declined_question_is_recorded_once_per_message(store):
    await a_conversation(store)
    assert await store.record_faq_decline(a_decline())
    assert not await store.record_faq_decline(a_decline(did="d2"))
    assert await store.record_faq_decline(a_decline(did="d3", seq=9))
    assert sorted(d.id for d in await store.faq_declines()) == ["d1", "d3"]


async def test_gap_rows_are_the_signals_of_the_period_and_language(store):
    await a_conversation(store)
    await a_conversation(store, "c2", "h2")
    hour = timedelta(hours=1)
    await store.record_faq_decline(a_decline(at=T0))
    await store.record_faq_decline(a_decline(did="d-old", seq=6, at=T0 - 3 * hour))
    await store.record_faq_feedback(a_feedback(helpful=False, at=T0 + hour))
    await store.record_faq_feedback(a_feedback(helpful=True, fid="f-yes", seq=8, at=T0))
    await store.record_faq_choice(
        FaqChoice("p1", "c2", "en", "forgot pw", ("a", "b"), "b", T0 + hour)
    )
    rows = await store.faq_gap_rows(T0 - hour, T0 + 2 * hour)
    assert sorted((r["kind"], r["language"], r["query"], r["faq_id"]) for r in rows) == [
        ("declined", "ja", "capital of France?", "instrument-specifications"),
        ("not_helpful", "ja", "MT5のパスワードを忘れた", "mt-password-reset"),
        ("picked", "en", "forgot pw", "b"),
    ]
    assert all(r["created_at"].tzinfo is not None for r in rows)
    japanese = await store.faq_gap_rows(T0 - hour, T0 + 2 * hour, "ja")
    assert sorted(r["kind"] for r in japanese) == ["declined", "not_helpful"]
    # The end of the period is left out, its start kept.
    assert [r["kind"] for r in await store.faq_gap_rows(T0 + hour, T0 + 2 * hour, "en")] == [
        "picked"
    ]
    assert await store.faq_gap_rows(T0 + 2 * hour, T0 + 3 * hour) == []


async def test_slas_are_stored_with_their_deadlines_and_report_rows(store):
    from chatserver import sla as sla_clock
    from chatserver.models import Priority, Team

    conversation = await a_conversation(store)
    conversation = dataclasses.replace(
        conversation, team=Team.TECHNICAL, priority=Priority.HIGH, handed_off_at=T0
    )
    await store.save_conversation(conversation)
    applied = sla_clock.apply(sla_clock.policy_for(sla_clock.Channel.CHAT, Priority.HIGH), "c1", T0)
    await store.save_sla(applied, conversation)
    assert await store.sla("c1") == applied
    assert [s.conversation_id for s in await store.pending_slas()] == ["c1"]

    answered, _ = sla_clock.on_agent_message(
        applied, T0 + timedelta(seconds=12), "agent-1", internal=False
    )
    await store.save_sla(answered, conversation)
    (row,) = await store.sla_rows(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert row["frt_status"] == "hit"
    assert row["frt_seconds"] == 12
    assert (row["language"], row["team"], row["priority"]) == ("ja", "technical", "high")
    assert row["status"] == "bot"


async def test_an_abandoned_chat_has_no_response_time_in_its_report_row(store):
    from chatserver import sla as sla_clock
    from chatserver.models import Priority, Team

    conversation = await a_conversation(store)
    conversation = dataclasses.replace(
        conversation.transition(ConversationStatus.QUEUED, T0),
        team=Team.ACCOUNT,
        priority=Priority.MEDIUM,
        handed_off_at=T0,
    )
    applied = sla_clock.apply(sla_clock.policy_for("chat", Priority.MEDIUM), "c1", T0)
    await store.save_sla(applied, conversation, new=True)
    left_at = T0 + timedelta(seconds=20)
    cancelled, _ = sla_clock.cancel(applied, left_at)
    conversation = conversation.transition(ConversationStatus.ABANDONED, left_at)
    await store.save_conversation(conversation)
    await store.save_sla(cancelled, conversation)
    (row,) = await store.sla_rows(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert (row["status"], row["frt_status"], row["frt_seconds"]) == (
        "abandoned",
        "cancelled",
        None,
    )


async def test_a_conversation_is_found_by_its_tracking_number(store):
    conversation = await a_conversation(store)
    await store.save_conversation(dataclasses.replace(conversation, tracking_number="K7PX4QR9M"))
    found = await store.conversation_by_tracking_number("K7PX4QR9M")
    assert found is not None
    assert found.id == "c1"
    assert await store.conversation_by_tracking_number("NOPE") is None


@pytest.mark.parametrize(("setting", "pragma"), [("normal", 1), ("full", 2)])
async def test_sqlite_durability_follows_the_setting(tmp_path, setting, pragma):
    opened = await open_store(f"sqlite:///{tmp_path / 'sync.sqlite3'}", sqlite_synchronous=setting)
    try:
        assert await opened.read(scalar("PRAGMA synchronous")) == pragma
    finally:
        await opened.close()


async def test_a_closed_store_refuses_work_instead_of_reopening(tmp_path):
    from chatserver.store.sql import StoreClosed

    opened = await open_store(f"sqlite:///{tmp_path / 'closed.sqlite3'}")
    await opened.close()
    with pytest.raises(StoreClosed):
        await opened.get_conversation("c1")
    with pytest.raises(StoreClosed):
        await opened.append_message(customer_message("m1", "late"))


async def test_the_async_sqlite_url_of_earlier_versions_still_opens(tmp_path):
    path = tmp_path / "legacy.sqlite3"
    opened = await open_store(f"sqlite+aiosqlite:///{path}")
    try:
        await a_conversation(opened)
        assert (await opened.get_conversation("c1")) is not None
    finally:
        await opened.close()
    assert path.exists()


async def test_sqlite_moves_the_wal_into_the_database_off_the_event_loop(tmp_path):
    from chatserver.store import sql

    opened = await open_store(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    wal = tmp_path / "wal.sqlite3-wal"
    try:
        assert await opened.read(scalar("PRAGMA wal_autocheckpoint")) == 0
        await a_conversation(opened)
        for n in range(50):
            await opened.append_message(customer_message(f"m{n}", "x" * 2000))
        assert wal.stat().st_size > 50 * 2000
        # The checkpointer runs every CHECKPOINT_INTERVAL: after it, the WAL is all copied.
        await asyncio.sleep(sql.CHECKPOINT_INTERVAL * 2.5)
        busy, frames, copied = await opened.read(
            lambda c: c.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").first()
        )
        assert (busy, copied) == (0, frames)
    finally:
        await opened.close()
    # Closing truncates the WAL: the database file alone holds everything.
    assert not wal.exists() or wal.stat().st_size == 0
    reopened = await open_store(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    try:
        assert len(await reopened.messages("c1")) == 50
    finally:
        await reopened.close()


async def test_sqlite_reads_on_the_loop_leave_no_transaction_open(tmp_path):
    """The loop's operations share one connection, kept open: what a read leaves behind
    must not hold a reader on the WAL, or it could never be moved into the database."""
    import sqlite3

    path = tmp_path / "reads.sqlite3"
    opened = await open_store(f"sqlite:///{path}")
    try:
        await a_conversation(opened)
        await opened.append_message(customer_message("m1", "x" * 2000))
        assert await opened.get_conversation("c1") is not None
        assert len(await opened.messages("c1")) == 1
        other = sqlite3.connect(path)
        try:
            busy, frames, copied = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            other.close()
        assert (busy, frames, copied) == (0, 0, 0)  # truncated: no reader held it back
    finally:
        await opened.close()


async def test_sqlite_goes_on_after_a_failed_operation_and_a_lost_connection(tmp_path):
    opened = await open_store(f"sqlite:///{tmp_path / 'failures.sqlite3'}")

    def lose_connection(connection: sa.Connection) -> None:
        connection.exec_driver_sql("SELECT 1")
        connection.invalidate()
        raise RuntimeError("the connection went away")

    try:
        await a_conversation(opened)
        with pytest.raises(sa.exc.OperationalError):
            await opened.read(lambda c: c.exec_driver_sql("SELECT nothing FROM nowhere").all())
        with pytest.raises(sa.exc.IntegrityError):
            await a_conversation(opened)  # the same id again: refused, rolled back
        with pytest.raises(RuntimeError):
            await opened.write(lose_connection)
        with pytest.raises(RuntimeError):
            await opened.read(lose_connection)
        appended = await opened.append_message(customer_message("m1", "still here"))
        assert appended.message.seq == 1
        assert [m.text for m in await opened.messages("c1")] == ["still here"]
    finally:
        await opened.close()


async def test_sqlite_with_full_durability_commits_off_the_event_loop(tmp_path):
    opened = await open_store(f"sqlite:///{tmp_path / 'full.sqlite3'}", sqlite_synchronous="full")
    try:
        await a_conversation(opened)
        first, second = await asyncio.gather(
            opened.append_message(customer_message("m1", "one", client_id="k")),
            opened.append_message(customer_message("m2", "one", client_id="k")),
        )
        assert first.message.seq == second.message.seq == 1
        assert [m.text for m in await opened.messages("c1")] == ["one"]
        assert await opened.read(scalar("PRAGMA wal_autocheckpoint")) == 1000
    finally:
        await opened.close()


async def test_open_handoffs_are_the_live_queue_oldest_first(store):
    from chatserver.models import Priority, Team

    statuses = {
        "bot": ConversationStatus.BOT,
        "late": ConversationStatus.QUEUED,
        "first": ConversationStatus.ASSIGNED,
        "second": ConversationStatus.ACTIVE,
        "closed": ConversationStatus.CLOSED,
        "offline": ConversationStatus.OFFLINE,
        "left": ConversationStatus.ABANDONED,
    }
    handed_off = {"late": 30, "first": 10, "second": 20, "closed": 5, "left": 1}
    for index, (cid, status) in enumerate(statuses.items()):
        conversation = await a_conversation(store, cid, f"h{index}")
        seconds = handed_off.get(cid)
        await store.save_conversation(
            dataclasses.replace(
                conversation,
                status=status,
                team=Team.TRADING if seconds is not None else None,
                priority=Priority.URGENT if seconds is not None else None,
                handed_off_at=T0 + timedelta(seconds=seconds) if seconds is not None else None,
                agent_id="a1" if status is not ConversationStatus.QUEUED else None,
            )
        )
    found = await store.open_handoffs()
    assert [c.id for c in found] == ["first", "second", "late"]
    assert found[0] == await store.get_conversation("first")
    assert found[0].handed_off_at == T0 + timedelta(seconds=10)
    assert (found[0].team, found[0].priority, found[0].agent_id) == (
        Team.TRADING,
        Priority.URGENT,
        "a1",
    )


async def test_last_customer_messages_are_each_conversations_latest_from_the_customer(store):
    for cid in ("c1", "c2", "c3"):
        await a_conversation(store, cid, f"h-{cid}")
    await store.append_message(customer_message("m1", "first", cid="c1"))
    await store.append_message(customer_message("m2", "second", cid="c1"))
    await store.append_message(NewMessage("m3", "c1", Author.BOT, "an answer", T0))
    await store.append_message(customer_message("m4", "only", cid="c2"))
    await store.append_message(NewMessage("m5", "c3", Author.BOT, "hello", T0))

    latest = await store.last_customer_messages(["c1", "c2", "c3", "nope", "c1"])
    assert {cid: (m.id, m.text) for cid, m in latest.items()} == {
        "c1": ("m2", "second"),
        "c2": ("m4", "only"),
    }
    assert await store.last_customer_messages([]) == {}


async def test_announcements_round_trip_and_only_active_ones_are_listed(store):
    from chatserver.announcements import Severity, post, resolve, revise

    first = post(
        "a1", severity=Severity.CRITICAL, texts={"en": "Down", "ja": "停止"}, by="sam", now=T0
    )
    second = post(
        "a2",
        severity=Severity.INFO,
        texts={"en": "Maintenance"},
        by="sam",
        now=T0 + timedelta(seconds=1),
    )
    await store.save_announcement(first)
    await store.save_announcement(second)
    assert await store.active_announcements() == [first, second]
    revised = revise(
        first, severity=Severity.WARNING, texts={"en": "Recovering"}, now=T0 + timedelta(minutes=1)
    )
    await store.save_announcement(revised)
    assert await store.announcement("a1") == revised
    done = resolve(second, resolution={"en": "Done"}, now=T0 + timedelta(minutes=2))
    await store.save_announcement(done)
    assert await store.announcement("a2") == done
    assert await store.active_announcements() == [revised]
    assert await store.announcement("nope") is None


async def test_a_version_8_database_gets_the_announcements_table(store_url):
    from chatserver.announcements import Severity, post

    fresh = await open_store(store_url)
    await fresh.close()
    await run_sync(store_url, back_to_version_8)
    upgraded = await open_store(store_url)
    try:
        assert await upgraded.read(scalar("SELECT max(version) FROM schema_migrations")) == (
            SCHEMA_VERSION
        )
        notice = post("a1", severity=Severity.INFO, texts={"en": "Hello"}, by="sam", now=T0)
        await upgraded.save_announcement(notice)
        assert await upgraded.active_announcements() == [notice]
    finally:
        await upgraded.close()


def test_migrations_are_numbered_without_gaps() -> None:
    # Branches that each add a migration must renumber when they meet: a database stamped
    # with a later number would skip an earlier one merged afterwards.
    assert [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))


@pytest.mark.services
async def test_postgres_reads_open_no_transaction_and_writes_do() -> None:
    """A read's statements each run on their own (no BEGIN and ROLLBACK round trips); a
    write's run in one transaction. In a transaction now() stays at its start."""

    def clock_twice(connection: sa.Connection) -> tuple[datetime, datetime]:
        first = connection.exec_driver_sql("SELECT now()").scalar_one()
        connection.exec_driver_sql("SELECT pg_sleep(0.02)")
        return first, connection.exec_driver_sql("SELECT now()").scalar_one()

    async with fresh_postgres() as url:
        opened = await open_store(url)
        try:
            first, second = await opened.read(clock_twice)
            assert second > first
            first, second = await opened.write(clock_twice)
            assert second == first
            await a_conversation(opened)  # and the pool's connections still work for both
            assert (await opened.get_conversation("c1")) is not None
        finally:
            await opened.close()


@pytest.mark.services
async def test_postgres_keeps_its_pool_of_connections_through_bursts() -> None:
    """More operations at once than the pool holds wait for a connection: none is opened
    beyond the pool, and none is closed and opened again for the next burst."""

    def backend(connection: sa.Connection) -> int:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        connection.exec_driver_sql("SELECT pg_sleep(0.01)")
        return int(pid)

    async with fresh_postgres() as url:
        opened = await open_store(url, pool_size=4)
        try:
            first = set(await asyncio.gather(*(opened.read(backend) for _ in range(16))))
            second = set(await asyncio.gather(*(opened.write(backend) for _ in range(16))))
            assert len(first) == 4
            assert second == first
        finally:
            await opened.close()


async def _drop_connections(database_url: str) -> int:
    """What a PostgreSQL restart does to a pool: every connection to the database ends."""
    name = database_url.rsplit("/", 1)[1]
    admin = create_async_engine(database_url.rsplit("/", 1)[0] + "/test")
    try:
        async with admin.connect() as connection:
            ended = await connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            return len(ended.all())
    finally:
        await admin.dispose()


async def test_postgres_reads_survive_connections_dropped_under_them() -> None:
    """No ping before a connection used a moment ago: a dead one fails the read once, and
    the read runs again on a new connection."""
    async with fresh_postgres() as url:
        store = await open_store(url)
        try:
            created = await a_conversation(store)
            assert await _drop_connections(url) >= 1
            assert await store.get_conversation("c1") == created
        finally:
            await store.close()


async def test_postgres_connections_idle_for_a_while_are_checked_before_use(monkeypatch) -> None:
    """A write cannot be tried twice (its commit may have happened): a connection that sat
    idle is pinged first, and a dead one replaced before the write runs on it."""
    from chatserver.store import sql

    monkeypatch.setattr(sql, "PING_AFTER_IDLE", 0.0)
    async with fresh_postgres() as url:
        store = await open_store(url)
        try:
            await a_conversation(store)
            assert await _drop_connections(url) >= 1
            appended = await store.append_message(customer_message("m1", "still here?"))
            assert appended.created
            assert appended.message.seq == 1
        finally:
            await store.close()


async def _commits_counted(store: SqlStore) -> list[str]:
    """The COMMITs SQLite runs on the connection the loop's operations share, from now on."""
    commits: list[str] = []

    def trace(connection: sa.Connection) -> None:
        connection.connection.driver_connection.set_trace_callback(  # type: ignore[union-attr]
            lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
        )

    await store.read(trace)
    return commits


async def test_sqlite_writes_of_one_turn_of_the_loop_share_one_commit(tmp_path):
    """Group commit: twenty customers' messages written in one turn are stored by one
    commit, each numbered as if alone, and none returns before that commit."""
    opened = await open_store(f"sqlite:///{tmp_path / 'group.sqlite3'}")
    try:
        await a_conversation(opened)
        commits = await _commits_counted(opened)
        appended = await asyncio.gather(
            *(opened.append_message(customer_message(f"m{i}", str(i))) for i in range(20))
        )
        assert sorted(a.message.seq for a in appended) == list(range(1, 21))
        assert len(commits) == 1
        await opened.append_message(customer_message("m20", "alone"))
        assert len(commits) == 2
    finally:
        await opened.close()
    reopened = await open_store(f"sqlite:///{tmp_path / 'group.sqlite3'}")
    try:
        assert len(await reopened.messages("c1")) == 21  # all of it on disk
    finally:
        await reopened.close()


async def test_sqlite_a_write_that_fails_in_a_shared_turn_fails_alone(tmp_path):
    opened = await open_store(f"sqlite:///{tmp_path / 'alone.sqlite3'}")
    try:
        await a_conversation(opened)
        first, clash, last = await asyncio.gather(
            opened.append_message(customer_message("m1", "one")),
            a_conversation(opened),  # c1 again: refused by its primary key
            opened.append_message(customer_message("m2", "two")),
            return_exceptions=True,
        )
        assert isinstance(clash, sa.exc.IntegrityError)
        assert not isinstance(first, BaseException)
        assert not isinstance(last, BaseException)
        assert [m.text for m in await opened.messages("c1")] == ["one", "two"]
    finally:
        await opened.close()


async def test_sqlite_a_lost_connection_fails_every_write_of_its_turn(tmp_path):
    """Writes share their turn's transaction: if the connection goes, none of them was
    stored, and each caller is told so (its client resends)."""
    opened = await open_store(f"sqlite:///{tmp_path / 'lost.sqlite3'}")

    def lose_connection(connection: sa.Connection) -> None:
        connection.invalidate()
        raise RuntimeError("the connection went away")

    try:
        await a_conversation(opened)
        before, lost = await asyncio.gather(
            opened.append_message(customer_message("m1", "gone")),
            opened.write(lose_connection),
            return_exceptions=True,
        )
        assert isinstance(lost, RuntimeError)
        assert isinstance(before, RuntimeError)  # its write was in the lost transaction
        assert await opened.messages("c1") == []
        again = await opened.append_message(customer_message("m1", "gone"))
        assert again.message.seq == 1
    finally:
        await opened.close()


async def test_sqlite_a_write_whose_caller_stops_waiting_is_still_committed(tmp_path):
    """A caller cancelled while its write waits for the turn's commit (its client went
    away) cancels only its own wait: the turn's commit, its write and the others' stand."""
    opened = await open_store(f"sqlite:///{tmp_path / 'cancel.sqlite3'}")
    try:
        await a_conversation(opened)
        leaving = asyncio.create_task(opened.append_message(customer_message("m1", "bye")))
        staying = asyncio.create_task(opened.append_message(customer_message("m2", "hi")))
        await asyncio.sleep(0)  # both have written and wait for the commit
        leaving.cancel()
        assert (await staying).message.text == "hi"
        with pytest.raises(asyncio.CancelledError):
            await leaving
        assert [m.text for m in await opened.messages("c1")] == ["bye", "hi"]
    finally:
        await opened.close()
