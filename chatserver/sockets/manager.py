"""The client manager of a desk served by one process.

python-socketio's `AsyncManager` encodes an event (JSON, a walk for binary parts, two packet
objects) before it looks for the sockets to send it to. Many of the desk's emits reach
nobody: a customer's own message goes to their *other* tabs, and most customers have one;
an agent's room has no socket while the agent is away. Under the bot benchmark, not encoding
the "other tabs" copy of every customer message saved about 2 % of the server's CPU a message
(docs/benchmarks.md).

Here an emit to a room in which no socket is left once the skipped ones are taken out returns
at once. With Redis (several processes) python-socketio's own `AsyncRedisManager` is used
unchanged: a room's other sockets may be on another process, so every emit is published.
"""

from __future__ import annotations

from typing import Any

import socketio


class LocalManager(socketio.AsyncManager):  # type: ignore[misc]
    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if isinstance(room, str) and not self.has_recipient(namespace, room, skip_sid):
            return
        await super().emit(
            event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs
        )

    def has_recipient(self, namespace: str, room: str, skip_sid: Any = None) -> bool:
        """Whether a socket of this process is in `room`, besides those in `skip_sid` (a sid
        or a list of them)."""
        members = self.rooms.get(namespace, {}).get(room)
        if not members:
            return False
        skipped = skip_sid if isinstance(skip_sid, list) else (skip_sid,)
        return any(sid not in skipped for sid in members)
