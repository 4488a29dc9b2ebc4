"""The conversations a desk read or wrote last, as their rows stand.

Every customer message starts by reading its conversation's row, which cost about a tenth
of the server's CPU under the bot benchmark. Where this process is the database's only
writer and each statement runs on the event loop, one after another (SQLite with
synchronous=NORMAL: `_SqliteRunner` inline), the store changes a kept row in the same step
as the database, so the copy is the row. On PostgreSQL, shared by processes, another
process may change the row at any time: a copy is kept with the row's version
(`RowVersions`), and a write that relies on it checks that version.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Generic, TypeVar

from chatserver.models import Conversation

# Enough for every conversation of a busy desk that is being written in; about 0.3 KiB each.
KEPT = 2048

V = TypeVar("V")


class _Kept(Generic[V]):
    """Conversation id -> what is kept of it, `size` at most; the most recently kept go
    last when room is made."""

    def __init__(self, size: int = KEPT) -> None:
        self._size = size
        self._kept: dict[str, V] = {}  # oldest first

    def get(self, conversation_id: str) -> V | None:
        return self._kept.get(conversation_id)

    def _put(self, conversation_id: str, value: V) -> None:
        kept = self._kept
        kept.pop(conversation_id, None)
        kept[conversation_id] = value
        if len(kept) > self._size:
            del kept[next(iter(kept))]

    def forget(self, conversation_id: str) -> None:
        self._kept.pop(conversation_id, None)

    def __len__(self) -> int:
        return len(self._kept)


class ConversationCache(_Kept[Conversation]):
    def keep(self, conversation: Conversation) -> None:
        """The row as it now stands."""
        self._put(conversation.id, conversation)

    def saved(self, conversation: Conversation, last_seq: int | None = None) -> None:
        """Every column but last_seq written from `conversation` (`save_conversation`), and
        last_seq moved to `last_seq` if given."""
        kept = self._kept.get(conversation.id)
        if kept is not None:
            seq = kept.last_seq if last_seq is None else last_seq
            self.keep(replace(conversation, last_seq=seq))

    def moved(self, conversation_id: str, last_seq: int) -> None:
        """Messages appended: the row's last_seq is now `last_seq`."""
        kept = self._kept.get(conversation_id)
        if kept is not None and kept.last_seq != last_seq:
            self.keep(replace(kept, last_seq=last_seq))


class RowVersions(_Kept[tuple[Conversation, int]]):
    """PostgreSQL: the conversations this process read or wrote last, each with its row's
    version as of then (`xmin`, which every update of the row changes, whoever makes it).

    Not the truth, as `ConversationCache` is for a lone SQLite writer: other processes
    write too. What a copy serves (the bot's next exchange, without reading the row first)
    is written only if the row's version is still the copy's, checked in the same
    statement (chatserver/store/exchange_statement.py)."""

    def keep(self, conversation: Conversation, version: int) -> None:
        self._put(conversation.id, (conversation, version))
