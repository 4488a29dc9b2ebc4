"""Persistence behind one `Store` interface; SQL backends (SQLite default, PostgreSQL)."""

from chatserver.store.base import Answer, AppendResult, DuplicateAgent, ExchangeResult, Store
from chatserver.store.sql import SqlStore, open_store

__all__ = [
    "Answer",
    "AppendResult",
    "DuplicateAgent",
    "ExchangeResult",
    "SqlStore",
    "Store",
    "open_store",
]
