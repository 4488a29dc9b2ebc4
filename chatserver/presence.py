"""Customer presence: is anybody still there, and since when has nobody been?

A customer is present in a conversation while at least one of their sockets (a tab, a
window, the widget on another page of the site) is in it. Several tabs count as one
presence: the customer is away only once the last socket has gone, and is back as soon as
any socket returns. A customer away for longer than the grace period has left: `expired`
reports them, once, so the desk can take them out of the queue.

Pure state, like `routing` and `sla`: no sockets, no timers, no wall clock. Every call
that depends on time takes `now` (timezone-aware); the desk's periodic tick asks `expired`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Departure:
    """The customer of `conversation_id` has been away since `left_at`, past the grace."""

    conversation_id: str
    left_at: datetime


class CustomerPresence:
    """Which conversations have a customer socket, and which lost their last one when."""

    def __init__(self, grace: timedelta) -> None:
        if grace < timedelta(0):
            raise ValueError("grace must not be negative")
        self.grace = grace
        self._sockets: dict[str, set[str]] = {}  # conversation id -> socket ids
        self._away: dict[str, datetime] = {}  # conversation id -> when the last socket left

    def join(self, conversation_id: str, sid: str) -> bool:
        """A socket is in the conversation (it started or resumed it). True when this
        ends an absence: the customer came back within the grace."""
        self._sockets.setdefault(conversation_id, set()).add(sid)
        return self._away.pop(conversation_id, None) is not None

    def leave(self, conversation_id: str, sid: str, now: datetime) -> bool:
        """A socket left the conversation (closed, or moved to another one). True when it
        was the customer's last: the grace starts now."""
        _require_aware(now)
        sockets = self._sockets.get(conversation_id)
        if sockets is None or sid not in sockets:
            return False
        sockets.discard(sid)
        if sockets:
            return False
        del self._sockets[conversation_id]
        self._away[conversation_id] = now
        return True

    def absent(self, conversation_id: str, since: datetime) -> None:
        """Nobody is known to be there, e.g. after a restart: the grace runs from `since`.
        A conversation with a socket, or already away, is left as it is."""
        _require_aware(since)
        if conversation_id not in self._sockets:
            self._away.setdefault(conversation_id, since)

    def forget(self, conversation_id: str) -> None:
        """The conversation ended: its absence no longer matters (its sockets still count
        if the customer starts another conversation on them)."""
        self._away.pop(conversation_id, None)

    def is_present(self, conversation_id: str) -> bool:
        return bool(self._sockets.get(conversation_id))

    def tabs(self, conversation_id: str) -> int:
        """How many of the customer's sockets are in the conversation."""
        return len(self._sockets.get(conversation_id, ()))

    def is_away(self, conversation_id: str) -> bool:
        """Gone, with the grace still running (not yet reported by `expired`)."""
        return conversation_id in self._away

    def away_since(self, conversation_id: str) -> datetime | None:
        return self._away.get(conversation_id)

    def grace_ends(self, conversation_id: str) -> datetime | None:
        """When the customer will have left unless a socket returns first (None: present,
        or not watched)."""
        since = self._away.get(conversation_id)
        return None if since is None else since + self.grace

    def expired(self, now: datetime) -> list[Departure]:
        """Customers away for longer than the grace, oldest first; each is reported once
        and then forgotten (a socket that joins later is simply present again)."""
        _require_aware(now)
        gone = sorted(
            (since, conversation_id)
            for conversation_id, since in self._away.items()
            if now - since > self.grace
        )
        for _, conversation_id in gone:
            del self._away[conversation_id]
        return [Departure(conversation_id, since) for since, conversation_id in gone]


def _require_aware(now: datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
