"""The bot's exchange as one PostgreSQL statement, run outside a transaction.

On PostgreSQL each statement is a round trip, and BEGIN and COMMIT are two more: the
exchange in a transaction (the conversation's row, the messages, perhaps a decline) was
four or five. One statement is atomic on its own, so the row's update and the inserts go
in data-modifying CTEs of one: the inserts happen only if the update matched, that is,
if the conversation's last seq is still the one the desk read (the row stays locked
until the statement ends), and, where the desk worked from a kept copy of the row, if
the row's version (`xmin`) is still the copy's. The statement returns the row's new
version, or no row if the update matched none: that sends the caller to the locked path
in a transaction, or back to read the row. SQLite has no DML in CTEs; there the
transaction costs no round trip anyway.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from chatserver.store.schema import conversations, faq_declines, messages

MESSAGE_COLUMNS = tuple(column.name for column in messages.c)
# The row's version: its `xmin`, the transaction that wrote it; every update changes it.
_XMIN = "xmin::text::bigint"
ROW_VERSION: sa.ColumnClause[int] = sa.literal_column(f"conversations.{_XMIN}")
DECLINE_COLUMNS = tuple(column.name for column in faq_declines.c)


@functools.cache
def exchange_statement(
    rows: int, changed: tuple[str, ...], decline: bool, versioned: bool = False
) -> sa.Select[Any]:
    """`rows` messages bound as m<i>_<column>, the conversation's `changed` columns and
    `last_seq` by name, its id and the last seq read as b_id and b_last_seq, a decline's
    columns as d_<column>, and if `versioned` the row's version read as b_version. One
    statement per shape, built once."""
    if rows < 1:
        raise ValueError("an exchange stores at least the customer's message")
    values = {
        name: sa.bindparam(name, type_=conversations.c[name].type)
        for name in (*changed, "last_seq")
    }
    unchanged = [
        conversations.c.id == sa.bindparam("b_id"),
        conversations.c.last_seq == sa.bindparam("b_last_seq"),
    ]
    if versioned:
        version = sa.bindparam("b_version", type_=sa.BigInteger)
        unchanged.append(ROW_VERSION == version)  # noqa: SIM300 (a column, not a constant)
    moved = (
        conversations.update()
        .where(*unchanged)
        .values(values)
        .returning(conversations.c.id, ROW_VERSION.label("version"))
        .cte("moved")
    )
    went = sa.exists(sa.select(moved.c.id))

    def row(prefix: str, table: sa.Table, names: tuple[str, ...]) -> sa.Select[Any]:
        return sa.select(
            *(sa.bindparam(f"{prefix}{n}", type_=table.c[n].type).label(n) for n in names)
        ).where(went)

    selects = [row(f"m{i}_", messages, MESSAGE_COLUMNS) for i in range(rows)]
    body = selects[0] if rows == 1 else sa.union_all(*selects)
    stored = (
        messages.insert().from_select(MESSAGE_COLUMNS, body).returning(messages.c.id).cte("stored")
    )
    statement = sa.select(moved.c.version).add_cte(stored)
    if decline:
        declined = (
            faq_declines.insert()
            .from_select(DECLINE_COLUMNS, row("d_", faq_declines, DECLINE_COLUMNS))
            .returning(faq_declines.c.id)
            .cte("declined")
        )
        statement = statement.add_cte(declined)
    return statement


# The bot's exchanges of several conversations in one statement (`batched_exchanges`).
_PG = postgresql.dialect()  # type: ignore[no-untyped-call]  # only compiles type names
_CONVERSATION_ARRAYS = {
    "id": conversations.c.id.type,
    "b_last_seq": conversations.c.last_seq.type,
    "b_version": sa.BigInteger(),  # NULL: not checked
    "last_seq": conversations.c.last_seq.type,
}
# `meta` travels as text, cast to json by the database: asyncpg takes no json[] as such.
_MESSAGE_ARRAYS = {
    column.name: sa.Text() if column.name == "meta" else column.type for column in messages.c
}


def _unnest(arrays: dict[str, Any], prefix: str, alias: str) -> str:
    """`unnest(CAST(:<prefix><name> AS <type>[]), ...) AS alias(<name>, ...)`."""
    cast = ", ".join(
        f"CAST(:{prefix}{name} AS {kind.compile(dialect=_PG)}[])" for name, kind in arrays.items()
    )
    return f"unnest({cast}) AS {alias}({', '.join(arrays)})"


@functools.cache
def batched_exchanges() -> sa.TextClause:
    """Several conversations' exchanges, no conversation changed but its last seq and no
    decline: each conversation's row is updated if its last seq (and version, where one
    is given) is still the one read, and only those conversations' messages are inserted;
    returns the ids of the conversations updated and their rows' new versions. Rows are
    bound as arrays, a conversation (c_id, c_b_last_seq, c_b_version, c_last_seq) or a
    message (m_<column>) an element each, so one prepared statement serves any number of
    exchanges: the statement's own cost (parse, plan, executor, commit, a round trip) is
    paid once for them all (4-5x less PostgreSQL CPU an exchange at 8 or more)."""
    selected = ", ".join(
        f"m.{name}::json" if name == "meta" else f"m.{name}" for name in _MESSAGE_ARRAYS
    )
    statement = sa.text(
        f"WITH v AS (SELECT * FROM {_unnest(_CONVERSATION_ARRAYS, 'c_', 'v')}), "
        "moved AS (UPDATE conversations AS c SET last_seq = v.last_seq FROM v "
        "WHERE c.id = v.id AND c.last_seq = v.b_last_seq "
        f"AND (v.b_version IS NULL OR c.{_XMIN} = v.b_version) "
        f"RETURNING c.id, c.{_XMIN} AS version), "
        f"stored AS (INSERT INTO messages ({', '.join(_MESSAGE_ARRAYS)}) SELECT {selected} "
        f"FROM {_unnest(_MESSAGE_ARRAYS, 'm_', 'm')} "
        "WHERE m.conversation_id IN (SELECT id FROM moved) RETURNING messages.id) "
        "SELECT id, version FROM moved"
    )
    return statement.bindparams(
        *(
            sa.bindparam(f"{prefix}{name}", type_=postgresql.ARRAY(kind))
            for prefix, arrays in (("c_", _CONVERSATION_ARRAYS), ("m_", _MESSAGE_ARRAYS))
            for name, kind in arrays.items()
        )
    )
