"""Persistence behind one `Store` interface; SQL backends (SQLite default, PostgreSQL)."""

from chatserver.store.base import AppendResult, DuplicateAgent, Store
from chatserver.store.sql import SqlStore, open_store

__all__ = ["AppendResult", "DuplicateAgent", "SqlStore", "Store", "open_store"]
