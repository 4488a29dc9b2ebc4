"""The client managers: which sockets an emit reaches, in one process or through Redis.

python-socketio's `AsyncManager` encodes an event (JSON, a walk for binary parts, two packet
objects) before it looks for the sockets to send it to. Many of the desk's emits reach
nobody: a customer's own message goes to their *other* tabs, and most customers have one;
an agent's room has no socket while the agent is away. Under the bot benchmark, not encoding
the "other tabs" copy of every customer message saved about 2 % of the server's CPU a message
(docs/benchmarks.md).

Here an emit to a room in which no socket of this process is left once the skipped ones are
taken out is not encoded. In one process (`LocalManager`) that is the whole emit. With Redis
(`SharedManager`) every emit is still published, as a room's other sockets may be on another
process; each process then delivers it to its own sockets, and one with none in the room
(with two processes, the other one, for most emits) no longer encodes it for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import socketio


def has_recipient(manager: Any, namespace: str, room: str, skip_sid: Any = None) -> bool:
    """Whether a socket of `manager`'s process is in `room`, besides those in `skip_sid` (a
    sid or a list of them)."""
    members = manager.rooms.get(namespace, {}).get(room)
    if not members:
        return False
    skipped = skip_sid if isinstance(skip_sid, list) else (skip_sid,)
    return any(sid not in skipped for sid in members)


class LocalManager(socketio.AsyncManager):  # type: ignore[misc]
    """One process: an emit that reaches no socket returns at once."""

    async def close(self) -> None:
        """Nothing to close (the same step as `SharedManager.close`)."""

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
        return has_recipient(self, namespace, room, skip_sid)


class SharedManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """Several processes through Redis: every emit is published (python-socketio's own
    behaviour); delivering one to this process's sockets encodes it only if one is in the
    room. `_handle_emit` is where python-socketio's pub/sub manager delivers an emit, this
    process's own and every other's, to the sockets it holds."""

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        room = message.get("room")
        if isinstance(room, str) and not self.has_recipient(
            message.get("namespace") or "/", room, message.get("skip_sid")
        ):
            return
        await super()._handle_emit(message)

    def has_recipient(self, namespace: str, room: str, skip_sid: Any = None) -> bool:
        return has_recipient(self, namespace, room, skip_sid)

    async def close(self) -> None:
        """Stop listening and close the connections to Redis: python-socketio's manager has
        no such step, and an application stopped inside a running process (tests, a
        restart in place) would otherwise leave both open."""
        listener = getattr(self, "thread", None)
        if isinstance(listener, asyncio.Task):
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        if self.pubsub is not None:
            await self.pubsub.aclose()
        if self.redis is not None:
            await self.redis.aclose()
