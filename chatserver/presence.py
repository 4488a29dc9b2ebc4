"""Presence: is anybody still there, and since when has nobody been? Customers in their
conversation (`CustomerPresence`) and agents at their console (`AgentPresence`).

A customer is present in a conversation while at least one of their sockets (a tab, a
window, the widget on another page of the site) is in it. Several tabs count as one
presence: the customer is away only once the last socket has gone, and is back as soon as
any socket returns. A customer away for longer than the grace period has left: `expired`
reports them, once, so the desk can take them out of the queue.

An agent is at the desk while one of their consoles is connected. When the last one goes
they keep their chats until a deadline (the agent grace), as after a restart, when nobody is
connected yet; back in time, they keep them; otherwise the desk takes them offline. One
mechanism serves both: `AgentPresence.due_back`.

Pure state, like `routing` and `sla`: no sockets, no timers, no wall clock. Every call
that depends on time takes `now` (timezone-aware); the desk's periodic tick asks `expired`
and `overdue`. Both write their state as plain JSON values (`to_state`, `from_state`) for
the desk-state port (chatserver/desk_state.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


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
        # conversation id -> its socket ids: a tuple, as a customer has one tab or a few and
        # a set of one costs 0.2 KiB more for each of thousands of open chats
        self._sockets: dict[str, tuple[str, ...]] = {}
        self._away: dict[str, datetime] = {}  # conversation id -> when the last socket left

    def join(self, conversation_id: str, sid: str) -> bool:
        """A socket is in the conversation (it started or resumed it). True when this
        ends an absence: the customer came back within the grace."""
        sockets = self._sockets.get(conversation_id, ())
        if sid not in sockets:
            self._sockets[conversation_id] = (*sockets, sid)
        return self._away.pop(conversation_id, None) is not None

    def leave(self, conversation_id: str, sid: str, now: datetime) -> bool:
        """A socket left the conversation (closed, or moved to another one). True when it
        was the customer's last: the grace starts now."""
        _require_aware(now)
        sockets = self._sockets.get(conversation_id)
        if sockets is None or sid not in sockets:
            return False
        remaining = tuple(s for s in sockets if s != sid)
        if remaining:
            self._sockets[conversation_id] = remaining
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

    def sockets(self) -> dict[str, set[str]]:
        """Conversation id -> its sockets (a copy): whose process died is asked of these."""
        return {c: set(sids) for c, sids in self._sockets.items()}

    def to_state(self) -> dict[str, Any]:
        return {
            "sockets": {c: sorted(sids) for c, sids in self._sockets.items()},
            "away": {c: since.isoformat() for c, since in self._away.items()},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], grace: timedelta) -> CustomerPresence:
        presence = cls(grace)
        presence._sockets = {c: tuple(sids) for c, sids in state["sockets"].items()}
        presence._away = {c: datetime.fromisoformat(t) for c, t in state["away"].items()}
        return presence


class AgentPresence:
    """Which agents have a console open, and which are due back by when."""

    def __init__(self, grace: timedelta) -> None:
        if grace < timedelta(0):
            raise ValueError("grace must not be negative")
        self.grace = grace
        self._consoles: dict[str, set[str]] = {}  # agent id -> socket ids
        self._due: dict[str, datetime] = {}  # agent id -> when the desk takes them offline

    def connect(self, agent_id: str, sid: str) -> bool:
        """A console connected. True when the agent was due back: back in time."""
        self._consoles.setdefault(agent_id, set()).add(sid)
        return self._due.pop(agent_id, None) is not None

    def disconnect(self, agent_id: str, sid: str, now: datetime) -> bool:
        """A console went. True when it was the agent's last: they are due back within the
        grace (a reload or a network blip changes nothing)."""
        _require_aware(now)
        consoles = self._consoles.get(agent_id)
        if consoles is None or sid not in consoles:
            return False
        consoles.discard(sid)
        if consoles:
            return False
        del self._consoles[agent_id]
        self._due[agent_id] = now + self.grace
        return True

    def due_back(self, agent_id: str, by: datetime) -> None:
        """The agent keeps their chats only if a console connects by `by` (after a restart,
        or at once when taking them offline could not be stored)."""
        _require_aware(by)
        self._due[agent_id] = by

    def settled(self, agent_id: str) -> None:
        """The agent is online again, or has gone offline: nothing is due any more."""
        self._due.pop(agent_id, None)

    def overdue(self, now: datetime) -> list[str]:
        """Agents not back by their deadline, earliest first (they stay due until
        `settled`: one the desk could not take offline is tried again)."""
        _require_aware(now)
        return [a for by, a in sorted((by, a) for a, by in self._due.items()) if by <= now]

    def consoles(self, agent_id: str) -> int:
        return len(self._consoles.get(agent_id, ()))

    @property
    def due(self) -> dict[str, datetime]:
        """Agent id -> deadline (a copy)."""
        return dict(self._due)

    def restore_due(self, due: Mapping[str, datetime]) -> None:
        """Put deadlines back as they were (a unit of change that failed)."""
        self._due = dict(due)

    def sockets(self) -> dict[str, set[str]]:
        """Agent id -> their consoles' sockets (a copy)."""
        return {a: set(sids) for a, sids in self._consoles.items()}

    def to_state(self) -> dict[str, Any]:
        return {
            "consoles": {a: sorted(sids) for a, sids in self._consoles.items()},
            "due": {a: by.isoformat() for a, by in self._due.items()},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], grace: timedelta) -> AgentPresence:
        presence = cls(grace)
        presence._consoles = {a: set(sids) for a, sids in state["consoles"].items()}
        presence._due = {a: datetime.fromisoformat(t) for a, t in state["due"].items()}
        return presence


# With several processes, sockets in the presence are `<node>/<sid>` (engine.io's sids never
# hold a slash), so the sockets of a process that died can be found (redis_state.py).
NODE_SEPARATOR = "/"


def node_socket(node: str, sid: str) -> str:
    """A socket's name in a presence several processes share."""
    return f"{node}{NODE_SEPARATOR}{sid}"


def node_of(socket: str) -> str | None:
    """The process a socket is on; None for one named without (a single process)."""
    node, sep, _ = socket.partition(NODE_SEPARATOR)
    return node if sep else None


def nodes_of(sockets: Mapping[str, set[str]]) -> set[str]:
    """The processes the sockets are on."""
    return {node for held in sockets.values() for s in held if (node := node_of(s)) is not None}


def dead_sockets(sockets: Mapping[str, set[str]], dead: set[str]) -> list[tuple[str, str]]:
    """(key, socket) of every socket on one of the `dead` processes."""
    return sorted(
        (key, socket) for key, held in sockets.items() for socket in held if node_of(socket) in dead
    )


def _require_aware(now: datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
