"""PostgreSQL: the bot's exchanges that reach the store in one turn of the event loop are
written together, by one statement (group commit).

Alone, an exchange is one statement (chatserver/store/exchange_statement.py), and most of
its cost is the statement's own, not its rows': PostgreSQL parses, plans, starts an
executor and commits, and our side goes through SQLAlchemy and asyncpg, for two messages.
Under load, several customers' messages are answered in the same turn of the loop (their
questions are embedded together, chatserver/faq/query_batch.py), so their exchanges can
share a statement. Measured on 200 conversations (bench/exchange_batch.py): 8 exchanges a
statement cost PostgreSQL a quarter to a third of the CPU an exchange that one each did.

This module only groups: what a group is written with is given (`SqlStore`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

# Exchanges a statement at most: the arrays of a larger group would only make one
# statement, and the callers waiting on it, slower than two.
LARGEST = 64


@dataclass(frozen=True, slots=True)
class PlainExchange:
    """A conversation's exchange that changes nothing on its row but the last seq and
    records no decline (the shape written together)."""

    conversation_id: str
    read_seq: int  # the last seq the caller read: the row moves only if it still is
    rows: Sequence[dict[str, Any]]  # its messages, numbered after `read_seq`, as columns
    version: int | None = None  # the row's version read, if it must still be that too

    @property
    def last_seq(self) -> int:
        return int(self.rows[-1]["seq"])


class ExchangeBatches:
    """`write` waits for the end of the turn and writes the exchanges that reached it in
    that turn with one call of `many`; a group of one with `one`. Written, an exchange
    gets its row's new version; None if the row had moved (nothing of it written)."""

    def __init__(
        self,
        one: Callable[[PlainExchange], Awaitable[int | None]],
        many: Callable[[list[PlainExchange]], Awaitable[dict[str, int]]],
        *,
        largest: int = LARGEST,
        observe: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        """`one`: writes an exchange and returns its row's new version, or None if the row
        had moved. `many`: writes several, of different conversations, and returns the
        new versions of the rows that had not moved (the others wrote nothing).
        `observe`: told the size of each group ("exchange_group", a /metrics histogram)."""
        self._one = one
        self._many = many
        self.largest = largest
        self.observe = observe
        self._waiting: dict[str, tuple[PlainExchange, asyncio.Future[int | None]]] = {}
        self._writing: set[asyncio.Task[None]] = set()

    async def write(self, exchange: PlainExchange) -> int | None:
        """The row's new version once the exchange is written; None when the row had moved
        from the last seq (or version) read, and nothing of it was written."""
        if exchange.conversation_id in self._waiting:
            # One exchange a conversation in a group: two would update the row once but
            # insert the messages of both. The second goes alone, at once; of the two, the
            # one written second finds the seq moved.
            return await self._one(exchange)
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._flush)
        future: asyncio.Future[int | None] = loop.create_future()
        self._waiting[exchange.conversation_id] = (exchange, future)
        return await future

    async def drain(self) -> None:
        """Wait for the groups being written (the store closes after them)."""
        while self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)

    def _flush(self) -> None:
        # A caller cancelled before its group was written is left out: nothing of its
        # exchange is stored, and its client's resend (same client_id) is a new message.
        waiting = [pair for pair in self._waiting.values() if not pair[1].done()]
        self._waiting = {}
        for start in range(0, len(waiting), self.largest):
            task = asyncio.create_task(self._write_group(waiting[start : start + self.largest]))
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    async def _write_group(
        self, group: list[tuple[PlainExchange, asyncio.Future[int | None]]]
    ) -> None:
        if self.observe is not None:
            self.observe("exchange_group", {"exchanges": len(group)})
        if len(group) == 1:
            await self._alone(*group[0])
            return
        try:
            moved = await self._many([exchange for exchange, _ in group])
        except IntegrityError:
            # A resend among them (its client_id stored before) refused the statement, all
            # of it rolled back: each is written alone, so the refusal reaches its own
            # caller (who answers the resend) and the others are stored.
            await asyncio.gather(*(self._alone(exchange, future) for exchange, future in group))
            return
        except asyncio.CancelledError:
            for _, future in group:
                future.cancel()
            raise
        except Exception as error:  # the database is gone: every caller of the group sees it
            for _, future in group:
                if not future.done():
                    future.set_exception(error)
            return
        for exchange, future in group:
            if not future.done():
                future.set_result(moved.get(exchange.conversation_id))

    async def _alone(self, exchange: PlainExchange, future: asyncio.Future[int | None]) -> None:
        try:
            written = await self._one(exchange)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            if not future.done():
                future.set_exception(error)
        else:
            if not future.done():
                future.set_result(written)
