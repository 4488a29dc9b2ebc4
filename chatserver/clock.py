"""Time and identity, injected so the domain and its tests never read the wall clock."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


IdFactory = Callable[[], str]


def new_id() -> str:
    """Random 128-bit id as 32 hex characters: unguessable and collision-free in practice."""
    return uuid.uuid4().hex


def new_token() -> str:
    """An opaque bearer token (256 bits) the customer holds to resume its conversation."""
    return secrets.token_urlsafe(32)
