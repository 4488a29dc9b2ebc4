"""The real SQL store, made to fail on purpose: the next write, one conversation's saves,
or the start-up read of the open handoffs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chatserver.holdings import HoldingChange
from chatserver.inbox import InboxItem
from chatserver.models import Conversation
from chatserver.settings import Settings
from chatserver.sla import AppliedSla
from chatserver.store import SqlStore, open_store
from chatserver.store.sql import Operation, T


class StoreFault(RuntimeError):
    """What the faulty store raises (as a database that lost its disk would)."""


class FaultyStore(SqlStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = 0  # writes attempted since the store was opened
        self._fail_at: int | None = None  # the write (by count) that fails
        self.broken: set[str] = set()  # conversations whose conversation and SLA saves fail
        self.fail_open_handoffs = False
        self.fail_new_inbox_item = False  # the next new inbox item is not saved, once

    def fail_write(self, nth: int = 1) -> None:
        """The nth write from now fails (1: the next one), once."""
        self._fail_at = self.writes + nth

    @property
    def fault_pending(self) -> bool:
        return self._fail_at is not None

    def heal(self) -> None:
        self._fail_at = None
        self.broken.clear()
        self.fail_open_handoffs = False

    async def write(self, operation: Operation[T]) -> T:
        self.writes += 1
        if self.writes == self._fail_at:
            self._fail_at = None
            raise StoreFault(f"write {self.writes} failed on purpose")
        return await super().write(operation)

    async def save_conversation(
        self, conversation: Conversation, *, holdings: Sequence[HoldingChange] = ()
    ) -> None:
        if conversation.id in self.broken:
            raise StoreFault(f"conversation {conversation.id} cannot be saved (on purpose)")
        await super().save_conversation(conversation, holdings=holdings)

    async def save_sla(
        self, sla: AppliedSla, conversation: Conversation, *, new: bool = False
    ) -> None:
        if conversation.id in self.broken:
            raise StoreFault(f"the SLA of {conversation.id} cannot be saved (on purpose)")
        await super().save_sla(sla, conversation, new=new)

    async def save_inbox_item(self, item: InboxItem, *, new: bool = False) -> None:
        if new and self.fail_new_inbox_item:
            self.fail_new_inbox_item = False
            raise StoreFault(f"inbox item {item.id} cannot be saved (on purpose)")
        await super().save_inbox_item(item, new=new)

    async def open_handoffs(self) -> list[Conversation]:
        if self.fail_open_handoffs:
            raise StoreFault("open handoffs cannot be read (on purpose)")
        return await super().open_handoffs()


async def open_faulty(url: str) -> FaultyStore:
    store = await open_store(url, store_class=FaultyStore)
    assert isinstance(store, FaultyStore)
    return store


class FaultyStores:
    """A `store_factory` for `create_app` that keeps the stores it opened."""

    def __init__(self, *, fail_open_handoffs: bool = False, fail_write: int | None = None) -> None:
        self.opened: list[FaultyStore] = []
        self.fail_open_handoffs = fail_open_handoffs
        self.fail_write = fail_write  # the nth write after opening fails

    async def __call__(self, settings: Settings) -> SqlStore:
        store = await open_faulty(settings.database_url)
        store.fail_open_handoffs = self.fail_open_handoffs
        if self.fail_write is not None:
            store.fail_write(self.fail_write)
        self.opened.append(store)
        return store

    @property
    def last(self) -> FaultyStore:
        return self.opened[-1]


def wal_of(database: Path) -> Path:
    return database.with_name(database.name + "-wal")
