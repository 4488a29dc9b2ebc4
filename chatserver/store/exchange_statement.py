"""The bot's exchange as one PostgreSQL statement, run outside a transaction.

On PostgreSQL each statement is a round trip, and BEGIN and COMMIT are two more: the
exchange in a transaction (the conversation's row, the messages, perhaps a decline) was
four or five. One statement is atomic on its own, so the row's update and the inserts go
in data-modifying CTEs of one: the inserts happen only if the update matched, that is,
if the conversation's last seq is still the one the desk read (the row stays locked
until the statement ends). The statement returns how many rows the update matched: 0
sends the caller to the locked path in a transaction. SQLite has no DML in CTEs; there
the transaction costs no round trip anyway.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa

from chatserver.store.schema import conversations, faq_declines, messages

MESSAGE_COLUMNS = tuple(column.name for column in messages.c)
DECLINE_COLUMNS = tuple(column.name for column in faq_declines.c)


@functools.cache
def exchange_statement(rows: int, changed: tuple[str, ...], decline: bool) -> sa.Select[Any]:
    """`rows` messages bound as m<i>_<column>, the conversation's `changed` columns and
    `last_seq` by name, its id and the last seq read as b_id and b_last_seq, a decline's
    columns as d_<column>. One statement per shape, built once."""
    if rows < 1:
        raise ValueError("an exchange stores at least the customer's message")
    values = {
        name: sa.bindparam(name, type_=conversations.c[name].type)
        for name in (*changed, "last_seq")
    }
    moved = (
        conversations.update()
        .where(
            conversations.c.id == sa.bindparam("b_id"),
            conversations.c.last_seq == sa.bindparam("b_last_seq"),
        )
        .values(values)
        .returning(conversations.c.id)
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
    statement = sa.select(sa.func.count()).select_from(moved).add_cte(stored)
    if decline:
        declined = (
            faq_declines.insert()
            .from_select(DECLINE_COLUMNS, row("d_", faq_declines, DECLINE_COLUMNS))
            .returning(faq_declines.c.id)
            .cte("declined")
        )
        statement = statement.add_cte(declined)
    return statement
