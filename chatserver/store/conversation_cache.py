"""The conversations a desk read or wrote last, as their rows stand.

Every customer message starts by reading its conversation's row, which cost about a tenth
of the server's CPU under the bot benchmark. Where this process is the database's only
writer and each statement runs on the event loop, one after another (SQLite with
synchronous=NORMAL: `_SqliteRunner` inline), the store changes a kept row in the same step
as the database, so the copy is the row. Elsewhere (PostgreSQL, shared by processes) no
copy is kept: another process may change the row at any time.
"""

from __future__ import annotations

from dataclasses import replace

from chatserver.models import Conversation

# Enough for every conversation of a busy desk that is being written in; about 0.3 KiB each.
KEPT = 2048


class ConversationCache:
    def __init__(self, size: int = KEPT) -> None:
        self._size = size
        self._kept: dict[str, Conversation] = {}  # oldest first

    def get(self, conversation_id: str) -> Conversation | None:
        return self._kept.get(conversation_id)

    def keep(self, conversation: Conversation) -> None:
        """The row as it now stands; the most recently kept go last when room is made."""
        kept = self._kept
        kept.pop(conversation.id, None)
        kept[conversation.id] = conversation
        if len(kept) > self._size:
            del kept[next(iter(kept))]

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

    def forget(self, conversation_id: str) -> None:
        self._kept.pop(conversation_id, None)

    def __len__(self) -> int:
        return len(self._kept)
