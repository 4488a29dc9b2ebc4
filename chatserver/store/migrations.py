"""Versioned schema migrations.

A new database is created from the current tables in `schema` and stamped with every
version; an existing one gets the migrations it has not had, in order, each in its own
transaction. To change the schema: edit `schema`, then append a migration that takes an
existing database from the previous version to the new shape (ALTER TABLE ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from chatserver.store import schema


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    upgrade: Callable[[sa.Connection], None]


def _initial(connection: sa.Connection) -> None:
    # Never runs: a database without a version is created from the current schema.
    raise RuntimeError("version 1 is created by migrate(), not upgraded to")


def _language_source(connection: sa.Connection) -> None:
    connection.execute(
        sa.text(
            "ALTER TABLE conversations "
            "ADD COLUMN language_source VARCHAR(16) NOT NULL DEFAULT 'default'"
        )
    )


def _faq_choices(connection: sa.Connection) -> None:
    # A new table, created from `schema`: before faq_choices ever changes, freeze a copy of
    # this version's definition here and change the table through a later migration.
    schema.faq_choices.create(connection)


def _agents(connection: sa.Connection) -> None:
    # New tables: `agents` as this version made it (frozen below: version 15 added a
    # column); `agent_sessions` from `schema` (freeze a copy before it changes).
    _AGENTS_V4.create(connection)
    schema.agent_sessions.create(connection)


_AGENTS_V4 = sa.Table(
    "agents",
    sa.MetaData(),
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("username", sa.String(40), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("languages", sa.JSON, nullable=False),
    sa.Column("teams", sa.JSON, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", schema.UtcDateTime, nullable=False),
)


_HANDOFF_COLUMNS = (
    "tier VARCHAR(16) NOT NULL DEFAULT 'standard'",
    "customer_id VARCHAR(100)",
    "manager VARCHAR(40)",
    "team VARCHAR(16)",
    "priority VARCHAR(16)",
    "handed_off_at TIMESTAMP",
    "agent_id VARCHAR(32)",
    "tracking_number VARCHAR(16)",
    "closed_at TIMESTAMP",
)


def _handoff(connection: sa.Connection) -> None:
    timestamp = "TIMESTAMP WITH TIME ZONE" if connection.dialect.name == "postgresql" else ""
    for column in _HANDOFF_COLUMNS:
        if timestamp:
            column = column.replace("TIMESTAMP", timestamp)
        connection.execute(sa.text(f"ALTER TABLE conversations ADD COLUMN {column}"))
    connection.execute(
        sa.text(
            "CREATE UNIQUE INDEX uq_conversations_tracking_number "
            "ON conversations (tracking_number)"
        )
    )
    # New tables as this version made them (frozen below: version 8 added columns to
    # `applied_slas`, version 14 an index to `offline_requests`).
    _APPLIED_SLAS_V5.create(connection)
    _OFFLINE_REQUESTS_V5.create(connection)


# `applied_slas` as version 5 made it (`conversations` only as the foreign key's target).
_V5 = sa.MetaData()
sa.Table("conversations", _V5, sa.Column("id", sa.String(32), primary_key=True))
_APPLIED_SLAS_V5 = sa.Table(
    "applied_slas",
    _V5,
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("next_deadline", schema.UtcDateTime, index=True),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("team", sa.String(16), nullable=False),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("handed_off_at", schema.UtcDateTime, nullable=False, index=True),
    sa.Column("frt_status", sa.String(16), nullable=False),
    sa.Column("frt_seconds", sa.Float),
)


# `offline_requests` as version 5 made it.
_OFFLINE_REQUESTS_V5 = sa.Table(
    "offline_requests",
    _V5,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("contact", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", schema.UtcDateTime, nullable=False),
)


# `messages` as version 6 made it: frozen here, so that this migration builds the same
# table whatever `schema.messages` becomes later (`conversations` only as the foreign
# key's target; it is not created).
_V6 = sa.MetaData()
sa.Table("conversations", _V6, sa.Column("id", sa.String(32), primary_key=True))
_MESSAGES_V6 = sa.Table(
    "messages",
    _V6,
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
    sa.Column("created_at", schema.UtcDateTime, nullable=False),
    sa.Column("sender", sa.String(48), nullable=False),
    sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    sa.UniqueConstraint(
        "conversation_id", "sender", "client_id", name="uq_messages_conversation_sender_client"
    ),
)


def _message_senders(connection: sa.Connection) -> None:
    """client_id de-duplication per author: a `sender` column ("customer", "agent:<id>",
    "bot", "system"), filled in from `author` and the agent id every agent message carries
    in `meta`, and the unique key (conversation, client_id) widened to include it."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("ALTER TABLE messages ADD COLUMN sender VARCHAR(48)"))
        connection.execute(
            sa.text(
                "UPDATE messages SET sender = CASE WHEN author = 'agent' AND "
                "meta->>'agent_id' IS NOT NULL THEN 'agent:' || (meta->>'agent_id') "
                "ELSE author END"
            )
        )
        connection.execute(sa.text("ALTER TABLE messages ALTER COLUMN sender SET NOT NULL"))
        connection.execute(
            sa.text("ALTER TABLE messages DROP CONSTRAINT uq_messages_conversation_client")
        )
        connection.execute(
            sa.text(
                "ALTER TABLE messages ADD CONSTRAINT uq_messages_conversation_sender_client "
                "UNIQUE (conversation_id, sender, client_id)"
            )
        )
        return
    # SQLite cannot drop a table's UNIQUE constraint: rebuild the table (its documented
    # twelve-step way; nothing references messages, so no foreign key needs care).
    connection.execute(sa.text("ALTER TABLE messages RENAME TO messages_v5"))
    _MESSAGES_V6.create(connection)
    connection.execute(
        sa.text(
            "INSERT INTO messages (id, conversation_id, seq, author, text, language, "
            "client_id, internal, meta, created_at, sender) "
            "SELECT id, conversation_id, seq, author, text, language, client_id, internal, "
            "meta, created_at, CASE WHEN author = 'agent' AND "
            "json_extract(meta, '$.agent_id') IS NOT NULL "
            "THEN 'agent:' || json_extract(meta, '$.agent_id') ELSE author END "
            "FROM messages_v5"
        )
    )
    connection.execute(sa.text("DROP TABLE messages_v5"))


def _faq_feedback(connection: sa.Connection) -> None:
    # New tables from `schema`; freeze copies here before either definition changes.
    schema.faq_feedback.create(connection)
    schema.faq_declines.create(connection)


def _sla_cells(connection: sa.Connection) -> None:
    connection.execute(sa.text("ALTER TABLE applied_slas ADD COLUMN policy VARCHAR(120)"))
    connection.execute(sa.text("ALTER TABLE applied_slas ADD COLUMN frt_target_seconds FLOAT"))


def _announcements(connection: sa.Connection) -> None:
    schema.announcements.create(connection)


def _satisfaction(connection: sa.Connection) -> None:
    # New tables: `followups` as this version made it (frozen below: version 14 added an
    # index); freeze a copy of `ratings` here before its definition changes.
    schema.ratings.create(connection)
    _FOLLOWUPS_V10.create(connection)


# `followups` as version 10 made it (`ratings` only as the foreign key's target).
_V10 = sa.MetaData()
sa.Table("ratings", _V10, sa.Column("id", sa.String(32), primary_key=True))
_FOLLOWUPS_V10 = sa.Table(
    "followups",
    _V10,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "rating_id",
        sa.String(32),
        sa.ForeignKey("ratings.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("due_at", schema.UtcDateTime, nullable=False),
    sa.Column("breached", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("handled_at", schema.UtcDateTime, index=True),
    sa.Column("handled_by", sa.String(32)),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
)


def _inbox(connection: sa.Connection) -> None:
    # New tables: `inbox_items` as this version made it (frozen below: versions 12 and 14
    # changed it); freeze a copy of `inbox_entries` here before its definition changes.
    _INBOX_ITEMS_V11.create(connection)
    schema.inbox_entries.create(connection)
    _carry_offline_requests(connection)


# `inbox_items` as version 11 made it (`conversations` only as the foreign key's target).
_V11 = sa.MetaData()
sa.Table("conversations", _V11, sa.Column("id", sa.String(32), primary_key=True))
_INBOX_ITEMS_V11 = sa.Table(
    "inbox_items",
    _V11,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("tracking_number", sa.String(16), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("contact", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("preferred_time", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("outcome", sa.String(16)),
    sa.Column("taken_by", sa.String(32)),
    sa.Column("created_at", schema.UtcDateTime, nullable=False),
    sa.Column("due_at", schema.UtcDateTime, nullable=False),
    sa.Column("responded_at", schema.UtcDateTime),
    sa.Column("updated_at", schema.UtcDateTime),
)


def _inbox_sla(connection: sa.Connection) -> None:
    # Version 11 created `inbox_items` from `schema` before it was frozen, which had these
    # columns already when both ran in one upgrade: add only the missing ones.
    present = {column["name"] for column in sa.inspect(connection).get_columns("inbox_items")}
    for column, kind in (
        ("policy", "VARCHAR(120)"),
        ("frt_target_seconds", "FLOAT"),
        ("warned_at", _timestamp(connection)),
        ("breached_at", _timestamp(connection)),
    ):
        if column not in present:
            connection.execute(sa.text(f"ALTER TABLE inbox_items ADD COLUMN {column} {kind}"))


def _timestamp(connection: sa.Connection) -> str:
    """The column type `UtcDateTime` makes on this database (as `_handoff` adds them)."""
    return "TIMESTAMP WITH TIME ZONE" if connection.dialect.name == "postgresql" else "DATETIME"


# The brief's first-response targets of the two channels, as version 11 knew them.
_V11_TARGETS = {"email": timedelta(hours=1), "callback": timedelta(minutes=15)}


def _carry_offline_requests(connection: sa.Connection) -> None:
    """Messages and callback requests left before the inbox existed go into it, open, due
    by their channel's target from when they were left (counted around the clock: the
    migration does not know the configured hours; they are overdue anyway)."""
    requests, conversations = schema.offline_requests, schema.conversations
    rows = connection.execute(
        sa.select(
            requests.c.id,
            requests.c.conversation_id,
            requests.c.kind,
            requests.c.contact,
            requests.c.text,
            requests.c.created_at,
            conversations.c.tracking_number,
            conversations.c.language,
        ).join(conversations, conversations.c.id == requests.c.conversation_id)
    ).all()
    items = [
        {
            "id": row.id,
            "conversation_id": row.conversation_id,
            "tracking_number": row.tracking_number or "",
            "kind": "callback" if row.kind == "callback" else "message",
            "language": row.language,
            "contact": row.contact,
            "text": row.text,
            "preferred_time": "",
            "status": "open",
            "created_at": row.created_at,
            "due_at": row.created_at + _V11_TARGETS.get(row.kind, _V11_TARGETS["email"]),
            "updated_at": row.created_at,
        }
        for row in rows
    ]
    if items:
        connection.execute(_INBOX_ITEMS_V11.insert(), items)


# The warning rule as version 14 knew it (`sla.default_warn_before`): a third of the
# target, at most an hour; items from before targets were stored: of the wait.
_V14_WARN_FRACTION, _V14_MAX_WARN_BEFORE = 3, timedelta(hours=1)


def _tick_indexes(connection: sa.Connection) -> None:
    """The periodic ticks read only what is due: each inbox item's warning time beside its
    deadline, and indexes for the due items, the missed follow-ups, the inbox gauge and
    the recovery's recent requests."""
    items = schema.inbox_items
    connection.execute(
        sa.text(f"ALTER TABLE inbox_items ADD COLUMN warn_at {_timestamp(connection)}")
    )
    rows = connection.execute(
        sa.select(items.c.id, items.c.created_at, items.c.due_at, items.c.frt_target_seconds)
    ).all()
    warnings = []
    for row in rows:
        target = (
            timedelta(seconds=row.frt_target_seconds)
            if row.frt_target_seconds is not None
            else row.due_at - row.created_at
        )
        warn_before = min(target / _V14_WARN_FRACTION, _V14_MAX_WARN_BEFORE)
        warnings.append({"b_id": row.id, "warn_at": row.due_at - warn_before})
    if warnings:
        connection.execute(
            items.update()
            .where(items.c.id == sa.bindparam("b_id"))
            .values(warn_at=sa.bindparam("warn_at")),
            warnings,
        )
    for index in _V14_INDEXES:
        connection.execute(sa.text(index))


# The indexes version 14 made (written out: what `schema` declares today may change).
_V14_INDEXES = (
    "CREATE INDEX ix_inbox_items_breach_due "
    "ON inbox_items (responded_at, breached_at, status, due_at)",
    "CREATE INDEX ix_inbox_items_warn_due "
    "ON inbox_items (responded_at, breached_at, warned_at, status, warn_at)",
    "CREATE INDEX ix_inbox_items_status_kind ON inbox_items (status, kind)",
    "CREATE INDEX ix_followups_due ON followups (handled_at, breached, due_at)",
    "CREATE INDEX ix_offline_requests_created_at ON offline_requests (created_at)",
)


def _holdings(connection: sa.Connection) -> None:
    # A new table from `schema`: freeze a copy here before its definition changes.
    schema.holdings.create(connection)
    # Chats held as the migration runs get an open stretch, so that their agent stays in
    # the history once they pass them on. When it began is not known: since the row's last
    # change, a moment they surely held it. Earlier stretches (and closed chats) are lost.
    chats = schema.conversations.c
    held = sa.select(chats.id, chats.agent_id, chats.updated_at).where(
        chats.status.in_(("assigned", "active")), chats.agent_id.is_not(None)
    )
    connection.execute(
        schema.holdings.insert().from_select(["conversation_id", "agent_id", "since"], held)
    )


def _console_essentials(connection: sa.Connection) -> None:
    connection.execute(
        sa.text("ALTER TABLE agents ADD COLUMN takes_chats BOOLEAN NOT NULL DEFAULT FALSE")
    )
    for column in ("customer_name VARCHAR(200)", "customer_email VARCHAR(200)"):
        connection.execute(sa.text(f"ALTER TABLE conversations ADD COLUMN {column}"))
    connection.execute(
        sa.text("CREATE INDEX ix_conversations_customer_id ON conversations (customer_id)")
    )
    # A new table from `schema`: freeze a copy here before its definition changes.
    schema.canned_replies.create(connection)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "conversations and messages", _initial),
    Migration(2, "what set a conversation's language", _language_source),
    Migration(3, "suggestions customers picked", _faq_choices),
    Migration(4, "agent accounts and console sessions", _agents),
    Migration(5, "handoff: queues, SLA clocks, inquiries", _handoff),
    Migration(6, "client_id de-duplication per author", _message_senders),
    Migration(
        7, "answers customers found (not) helpful, questions the bot declined", _faq_feedback
    ),
    Migration(8, "the SLA cell of each conversation and its target", _sla_cells),
    Migration(9, "incident announcements", _announcements),
    Migration(10, "customer ratings and follow-ups of negative ones", _satisfaction),
    Migration(11, "the offline inbox: items and their email threads", _inbox),
    Migration(12, "the offline inbox's SLA: cell, target, warning and breach", _inbox_sla),
    Migration(13, "who held each conversation, from when until when", _holdings),
    Migration(14, "the ticks read only what is due: warning times and indexes", _tick_indexes),
    Migration(
        15,
        "console essentials: supervisors taking chats, the customer's name, canned replies",
        _console_essentials,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def current_version(connection: sa.Connection) -> int | None:
    """The database's schema version, or None for an empty database."""
    if not sa.inspect(connection).has_table(schema.schema_migrations.name):
        return None
    version = connection.execute(
        sa.select(sa.func.max(schema.schema_migrations.c.version))
    ).scalar()
    return int(version) if version is not None else None


# PostgreSQL advisory lock key held while migrating (any constant; "chat" in ASCII).
MIGRATION_LOCK = 0x63686174


def migrate(connection: sa.Connection) -> list[int]:
    """Bring the database to SCHEMA_VERSION; return the versions applied.

    On PostgreSQL, processes of one desk that start together on an empty database take
    turns (a transaction-scoped advisory lock): the first creates the schema, the others
    then find it current. SQLite's single writer serialises them already.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    version = current_version(connection)
    now = datetime.now(UTC)
    if version is None:
        schema.metadata.create_all(connection)
        connection.execute(
            schema.schema_migrations.insert(),
            [{"version": m.version, "name": m.name, "applied_at": now} for m in MIGRATIONS],
        )
        return [m.version for m in MIGRATIONS]
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"the database is at schema version {version}, newer than this server "
            f"({SCHEMA_VERSION}); upgrade the server"
        )
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= version:
            continue
        with connection.begin_nested():
            migration.upgrade(connection)
            connection.execute(
                schema.schema_migrations.insert().values(
                    version=migration.version, name=migration.name, applied_at=now
                )
            )
        applied.append(migration.version)
    return applied
