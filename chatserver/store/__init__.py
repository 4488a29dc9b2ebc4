"""Persistence behind one `Store` interface; SQL backends (SQLite default, PostgreSQL)."""

from chatserver.store.base import (
    Answer,
    AppendResult,
    DuplicateAgent,
    ExchangeResult,
    StaleConversation,
    Store,
)
from chatserver.store.sql import SqlStore, open_store

__all__ = [
    "Answer",
    "AppendResult",
    "DuplicateAgent",
    "ExchangeResult",
    "SqlStore",
    "StaleConversation",
    "Store",
    "open_store",
]
