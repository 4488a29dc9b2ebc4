"""Tables, written with SQLAlchemy Core so the same SQL runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on every backend (SQLite drops zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("language_confirmed", sa.Boolean, nullable=False),
    sa.Column("language_source", sa.String(16), nullable=False, server_default="default"),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("last_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("tier", sa.String(16), nullable=False, server_default="standard"),
    sa.Column("customer_id", sa.String(100)),
    sa.Column("manager", sa.String(40)),
    sa.Column("team", sa.String(16)),
    sa.Column("priority", sa.String(16)),
    sa.Column("handed_off_at", UtcDateTime),
    sa.Column("agent_id", sa.String(32)),
    sa.Column("tracking_number", sa.String(16)),
    sa.Column("closed_at", UtcDateTime),
    sa.Column("customer_name", sa.String(200)),  # version 15
    sa.Column("customer_email", sa.String(200)),
    sa.Index("ix_conversations_customer_id", "customer_id"),
    sa.Index("uq_conversations_tracking_number", "tracking_number", unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("username", sa.String(40), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("languages", sa.JSON, nullable=False),
    sa.Column("teams", sa.JSON, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # A supervisor's choice to be offered chats (agents always are); version 15.
    sa.Column("takes_chats", sa.Boolean, nullable=False, server_default=sa.false()),
)

agent_sessions = sa.Table(
    "agent_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "agent_id", sa.String(32), sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

applied_slas = sa.Table(
    "applied_slas",
    metadata,
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("state", sa.JSON, nullable=False),  # AppliedSla.to_dict(): clocks and deadlines
    sa.Column("next_deadline", UtcDateTime, index=True),  # null when nothing is pending
    # Denormalised for reports, written when the first-response clock stops.
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("team", sa.String(16), nullable=False),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("handed_off_at", UtcDateTime, nullable=False, index=True),
    sa.Column("frt_status", sa.String(16), nullable=False),
    sa.Column("frt_seconds", sa.Float),
    # The cell of the SLA matrix (chat/funds-check/vip/high, sla_topics.py) and its
    # first-response target: attainment per cell. Null for chats before version 8.
    sa.Column("policy", sa.String(120)),
    sa.Column("frt_target_seconds", sa.Float),
)

offline_requests = sa.Table(
    "offline_requests",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(16), nullable=False),  # email | callback
    sa.Column("contact", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    # The inbox's recovery reads the requests of its last minutes, not all ever left.
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
)

# The offline inbox (chatserver/inbox.py): messages and callback requests left when nobody
# could chat, and each one's thread of emails.
inbox_items = sa.Table(
    "inbox_items",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("tracking_number", sa.String(16), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # message | callback
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("contact", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("preferred_time", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("outcome", sa.String(16)),
    sa.Column("taken_by", sa.String(32)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("responded_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime),
    sa.Column("policy", sa.String(120)),  # the SLA cell of the first-response target
    sa.Column("frt_target_seconds", sa.Float),
    sa.Column("warned_at", UtcDateTime),
    sa.Column("breached_at", UtcDateTime),
    # When the warning is due (`inbox_sla.warn_at`), written with `due_at`: the tick reads
    # only the items whose warning or breach has come, through the two indexes below.
    sa.Column("warn_at", UtcDateTime),
    sa.Index("ix_inbox_items_breach_due", "responded_at", "breached_at", "status", "due_at"),
    sa.Index(
        "ix_inbox_items_warn_due", "responded_at", "breached_at", "warned_at", "status", "warn_at"
    ),
    # The gauge counts items by status and kind from this index alone.
    sa.Index("ix_inbox_items_status_kind", "status", "kind"),
)

inbox_entries = sa.Table(
    "inbox_entries",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "item_id",
        sa.String(32),
        sa.ForeignKey("inbox_items.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("direction", sa.String(8), nullable=False),  # in | out
    sa.Column("author", sa.String(32)),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
)

faq_choices = sa.Table(
    "faq_choices",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("suggested", sa.JSON, nullable=False),
    sa.Column("chosen", sa.String(80), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Did a bot answer help? One row per answer: the first word stands (FaqFeedback).
faq_feedback = sa.Table(
    "faq_feedback",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("answer_seq", sa.Integer, nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("faq_id", sa.String(80), nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.UniqueConstraint("conversation_id", "answer_seq", name="uq_faq_feedback_answer"),
)

# Questions the bot declined, one row per customer message (FaqDecline).
faq_declines = sa.Table(
    "faq_declines",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("message_seq", sa.Integer, nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("nearest", sa.String(80)),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.UniqueConstraint("conversation_id", "message_seq", name="uq_faq_declines_message"),
)

messages = sa.Table(
    "messages",
    metadata,
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
    # Whose client_ids a message's is unique among: "customer", "agent:<id>", "bot", "system"
    # (NewMessage.sender); a customer cannot reach an agent's message by reusing its id.
    sa.Column("sender", sa.String(48), nullable=False),
    sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    sa.UniqueConstraint(
        "conversation_id", "sender", "client_id", name="uq_messages_conversation_sender_client"
    ),
)

# Incident announcements (chatserver/announcements.py); the active ones survive a restart.
announcements = sa.Table(
    "announcements",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("texts", sa.JSON, nullable=False),
    sa.Column("resolution", sa.JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("by", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("resolved_at", UtcDateTime, index=True),
)

# Supervisors' canned replies, per language (canned.py); version 15.
canned_replies = sa.Table(
    "canned_replies",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("language", sa.String(16), nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# The customer's rating of a closed conversation, one per conversation (satisfaction.py).
ratings = sa.Table(
    "ratings",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("team", sa.String(16)),
    sa.Column("agent_id", sa.String(32)),
    sa.Column("tracking_number", sa.String(16)),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
)

# Negative ratings to answer within 24 hours (satisfaction.FollowUp), one per rating.
followups = sa.Table(
    "followups",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "rating_id",
        sa.String(32),
        sa.ForeignKey("ratings.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("breached", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("handled_at", UtcDateTime, index=True),
    sa.Column("handled_by", sa.String(32)),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    # The tick's look for the newly missed: unhandled, not counted, due by now.
    sa.Index("ix_followups_due", "handled_at", "breached", "due_at"),
)

# Each stretch an agent held a conversation (chatserver/holdings.py), written with the
# conversation row that changed its holder.
holdings = sa.Table(
    "holdings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("agent_id", sa.String(32), nullable=False, index=True),
    sa.Column("since", UtcDateTime, nullable=False),
    sa.Column("until", UtcDateTime),
    sa.Column("ended", sa.String(16)),  # transferred | requeued | closed
)
