"""Persistence behind one `Store` interface; SQL backends (SQLite default, PostgreSQL)."""

from chatserver.store.base import AppendResult, Store
from chatserver.store.sql import SqlStore, open_store

__all__ = ["AppendResult", "SqlStore", "Store", "open_store"]
