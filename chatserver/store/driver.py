"""The hot writes on SQLite, run on the driver's cursor with SQL that Core compiled once.

Every customer message the bot answers is one write: the conversation's row, then the
message and the reply; every `start` another: the conversation and its greeting; a handoff
several: the conversation's row, its SLA clocks, the messages of the customer, the agent and
the desk. Through `Connection.execute` SQLAlchemy works out each time what it already knows
(the statement's cache key, the compiled form, the parameters' processing, a result
object), which cost about as much as SQLite's own work: under the bot benchmark the two
statements and their commit were a quarter of the server's CPU, half of it outside
sqlite3. Here Core still writes the SQL, and the dialect's own bind processors turn each
value into what the column stores, so a row is the same either way; only the calls in
between are skipped. SQLite's errors become SQLAlchemy's, as `Connection.execute` raises
them (a unique key refused: `IntegrityError`).

PostgreSQL goes through SQLAlchemy (asyncpg has no synchronous cursor to call).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.dml import UpdateBase


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A statement compiled for one dialect: its SQL, its parameters in order, for the
    parameters that have one (by position), the processor that turns the value into what
    the driver is given, and the values the statement holds itself (the 1 of
    `last_seq + 1`), by name."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    fixed: Mapping[str, Any]

    @staticmethod
    @functools.cache
    def of(statement: UpdateBase, dialect: sa.Dialect, keys: tuple[str, ...]) -> DriverStatement:
        """`statement` given parameters named `keys` (an UPDATE or INSERT sets the columns
        among them). Built once per shape and dialect."""
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        names = tuple(compiled.positiontup or ())
        processors = (
            (i, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for i, name in enumerate(names)
        )
        fixed = {n: compiled.binds[n].effective_value for n in names if n not in keys}
        return DriverStatement(
            str(compiled), names, tuple((i, p) for i, p in processors if p is not None), fixed
        )

    def values(self, parameters: Mapping[str, Any]) -> list[Any]:
        if self.fixed:
            parameters = {**self.fixed, **parameters}
        values = [parameters[name] for name in self.names]
        for i, process in self.processors:
            values[i] = process(values[i])
        return values

    def execute(self, connection: sa.Connection, parameters: Mapping[str, Any]) -> int:
        """Run once; the number of rows it changed."""
        values = self.values(parameters)
        return _run(connection, self.sql, values, lambda c: c.execute(self.sql, values))

    def execute_many(self, connection: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        values = [self.values(row) for row in rows]
        return _run(connection, self.sql, values, lambda c: c.executemany(self.sql, values))

    def scalar_one(self, connection: sa.Connection, parameters: Mapping[str, Any]) -> Any:
        """Run once; the one value it returns (RETURNING one column), as the driver gives
        it: for an integer or a text column, what SQLAlchemy gives. No row raises
        `NoResultFound`, as SQLAlchemy's `scalar_one` does."""
        values = self.values(parameters)
        rows: list[Any] = []

        def call(cursor: sqlite3.Cursor) -> sqlite3.Cursor:
            rows.extend(cursor.execute(self.sql, values).fetchall())
            return cursor

        _run(connection, self.sql, values, call)
        if len(rows) != 1:
            raise (sa.exc.NoResultFound if not rows else sa.exc.MultipleResultsFound)(
                f"one row was required, the statement returned {len(rows)}"
            )
        return rows[0][0]


def runs_on_driver(connection: sa.Connection) -> bool:
    """SQLite through the standard library's sqlite3, the only driver taken this way."""
    return connection.dialect.name == "sqlite" and connection.dialect.driver == "pysqlite"


def execute(
    connection: sa.Connection,
    statement: UpdateBase,
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> int:
    """`connection.execute(statement, parameters)` (a list of rows runs as executemany),
    on the driver where `runs_on_driver`; the number of rows changed."""
    rows = [parameters] if isinstance(parameters, Mapping) else list(parameters)
    if not runs_on_driver(connection):
        return connection.execute(statement, rows if len(rows) > 1 else rows[0]).rowcount
    prepared = DriverStatement.of(statement, connection.dialect, tuple(rows[0]))
    if len(rows) == 1:
        return prepared.execute(connection, rows[0])
    return prepared.execute_many(connection, rows)


def scalar_one(
    connection: sa.Connection, statement: UpdateBase, parameters: Mapping[str, Any]
) -> Any:
    """`connection.execute(statement, parameters).scalar_one()` for a statement returning
    one integer or text column, on the driver where `runs_on_driver`."""
    if not runs_on_driver(connection):
        return connection.execute(statement, parameters).scalar_one()
    prepared = DriverStatement.of(statement, connection.dialect, tuple(parameters))
    return prepared.scalar_one(connection, parameters)


def _run(
    connection: sa.Connection,
    sql: str,
    values: Any,
    call: Callable[[sqlite3.Cursor], sqlite3.Cursor],
) -> int:
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        return call(cursor).rowcount
    except sqlite3.Error as error:
        raise sa.exc.DBAPIError.instance(sql, values, error, sqlite3.Error) from error
    finally:
        cursor.close()
