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

With Redis, the emits of one turn of the loop are published together: one pipeline, one
round trip, instead of a round trip each (python-socketio's `_publish` awaits a PUBLISH per
emit: 13 % of a process's CPU under the bot benchmark on PostgreSQL and Redis). Each message
is still a PUBLISH of its own, as python-socketio publishes it, with `host_id` and `method`
written first: an older process or an emitter of python-socketio's own reads it unchanged,
and a process skips what it published itself without decoding it (python-socketio decodes
every message on the channel, then drops its own).

Both keep their rooms in `IndexedRooms`: python-socketio looks for a leaving socket's rooms
by going through every room of the namespace (1.6 ms a disconnect with 10,000 customers,
each in their own room and their conversation's), and keeps every room as a two-way map,
though it reads one the other way only for the room of all connected sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import socketio
from socketio.base_manager import BaseManager


class Room(dict[str, str]):
    """A room's sockets: socket id -> Engine.IO id, one way only. `_fwdm` is the name
    python-socketio reads a room's members by (its rooms are `bidict`s)."""

    __slots__ = ()

    @property
    def _fwdm(self) -> dict[str, str]:
        return self


class IndexedRooms(BaseManager):  # type: ignore[misc]
    """python-socketio's rooms, with each socket's rooms indexed, so that leaving them all
    (a disconnect) or listing them costs what the socket is in, not what the namespace
    holds; and every room but the one of all connected sockets a one-way `Room`, which is
    half the memory of a `bidict` (about 0.3 KiB less for each socket's own room and each
    conversation's).

    The room of all connected sockets (`None`) stays python-socketio's `bidict`: it is read
    both ways (socket id <-> Engine.IO id), and refuses a second socket for one connection.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rooms_of: dict[str, dict[str, tuple[Any, ...]]] = {}  # namespace -> sid -> rooms

    def basic_enter_room(
        self, sid: str, namespace: str, room: Any, eio_sid: str | None = None
    ) -> None:
        if room is None:
            super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        else:  # python-socketio's steps, with a `Room` for a new room
            if eio_sid is None and namespace not in self.rooms:
                raise ValueError("sid is not connected to requested namespace")
            if sid != room and self.is_sid_room(namespace, room):
                raise ValueError("cannot enter a sid room")
            rooms = self.rooms.setdefault(namespace, {})
            if eio_sid is None:
                eio_sid = rooms[None][sid]
            members = rooms.get(room)
            if members is None:
                members = rooms[room] = Room()
            members[sid] = eio_sid
        index = self._rooms_of.setdefault(namespace, {})
        entered = index.get(sid, ())
        if room not in entered:
            index[sid] = (*entered, room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        index = self._rooms_of.get(namespace)
        entered = index.get(sid) if index is not None else None
        if index is None or entered is None or room not in entered:
            return
        left = tuple(r for r in entered if r != room)
        if left:
            index[sid] = left
            return
        del index[sid]
        if not index:
            del self._rooms_of[namespace]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """python-socketio's steps, with the socket's own rooms instead of every room."""
        if namespace not in self.rooms:
            return
        for room in self._rooms_of.get(namespace, {}).get(sid, ()):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            waiting = pending.get(namespace)
            if waiting is not None and sid in waiting:
                waiting.remove(sid)
                if not waiting:
                    del pending[namespace]

    def has_recipient(self, namespace: str, room: str, skip_sid: Any = None) -> bool:
        """Whether a socket of this process is in `room`, besides those in `skip_sid` (a
        sid or a list of them)."""
        members = self.rooms.get(namespace, {}).get(room)
        if not members:
            return False
        skipped = skip_sid if isinstance(skip_sid, list) else (skip_sid,)
        return any(sid not in skipped for sid in members)

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        return [r for r in self._rooms_of.get(namespace, {}).get(sid, ()) if r is not None]


class LocalManager(IndexedRooms, socketio.AsyncManager):  # type: ignore[misc]
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


class SharedManager(IndexedRooms, socketio.AsyncRedisManager):  # type: ignore[misc]
    """Several processes through Redis: every emit is published (python-socketio's own
    behaviour); delivering one to this process's sockets encodes it only if one is in the
    room. `_handle_emit` is where python-socketio's pub/sub manager delivers an emit, this
    process's own and every other's, to the sockets it holds.

    `_publish` (python-socketio's step for every message to the other processes) queues the
    message; the queue is sent as one pipeline once the turn of the loop that filled it is
    over, and each caller returns when its message is sent, as before. `_listen` (where the
    listener takes the channel's messages) drops this process's own unread.
    """

    connected: bool  # python-socketio's: whether `redis` is a live client
    # How long `close` waits for queued emits to reach Redis: one that accepts connections
    # but never answers (paused, or a network that drops packets) must not hold a shutdown.
    close_timeout = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._outbox: list[str] = []  # encoded messages not yet handed to the sender
        self._sent: asyncio.Future[None] | None = None  # set once the outbox is sent
        self._sender: asyncio.Task[None] | None = None
        self._sending = 0  # messages in the pipeline being sent

    async def _publish(self, data: dict[str, Any]) -> None:
        first = {"host_id": data.get("host_id"), "method": data.get("method")}
        self._outbox.append(self.json.dumps({**first, **data}))
        sent = self._sent
        if sent is None:
            sent = self._sent = asyncio.get_running_loop().create_future()
            if self._sender is None or self._sender.done():
                self._sender = asyncio.create_task(self._send_outbox())
        await asyncio.shield(sent)  # a caller that stops waiting leaves its message queued

    async def _send_outbox(self) -> None:
        """Send what is queued, one pipeline at a time, until nothing is; in order."""
        while self._outbox:
            messages, sent = self._outbox, self._sent
            self._outbox, self._sent = [], None
            self._sending = len(messages)
            try:
                await self._send(messages)
            finally:
                self._sending = 0
                if sent is not None and not sent.done():
                    sent.set_result(None)

    async def _send(self, messages: list[str]) -> None:
        """python-socketio's attempts: once more on a new connection, then give up with an
        error logged (an emit to other processes never fails its caller)."""
        for attempt in (1, 2):
            try:
                if not self.connected:
                    self._redis_connect()
                async with self.redis.pipeline(transaction=False) as pipeline:
                    for message in messages:
                        pipeline.publish(self.channel, message)
                    await pipeline.execute()
                return
            except Exception as exc:
                self.connected = False
                self._get_logger().error(
                    "Cannot publish to redis... %s",
                    "retrying" if attempt == 1 else f"giving up ({len(messages)} messages)",
                    extra={"redis_exception": str(exc)},
                )

    async def _listen(self) -> AsyncIterator[Any]:
        own = self.json.dumps({"host_id": self.host_id, "method": ""})[:-2].encode()
        answered = own + b"callback"  # an answer to this process's emit, sent by another
        async for message in super()._listen():
            if (
                isinstance(message, bytes)
                and message.startswith(own)
                and not message.startswith(answered)
            ):
                continue
            yield message

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        room = message.get("room")
        if isinstance(room, str) and not self.has_recipient(
            message.get("namespace") or "/", room, message.get("skip_sid")
        ):
            return
        await super()._handle_emit(message)

    async def close(self) -> None:
        """Send what is queued, stop listening and close the connections to Redis:
        python-socketio's manager has no such step, and an application stopped inside a
        running process (tests, a restart in place) would otherwise leave both open.
        Emits Redis has not taken within `close_timeout` are dropped, with an error logged."""
        sender = self._sender
        if sender is not None and not sender.done():
            try:
                await asyncio.wait_for(asyncio.shield(sender), self.close_timeout)
            except TimeoutError:
                self._get_logger().error(
                    "Redis did not take %d emits for the other processes within %g s; "
                    "closing without them",
                    self._sending + len(self._outbox),
                    self.close_timeout,
                )
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
                self._outbox = []
                if self._sent is not None and not self._sent.done():
                    self._sent.set_result(None)  # their callers go on, as after a failed send
        listener = getattr(self, "thread", None)
        if isinstance(listener, asyncio.Task):
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        if self.pubsub is not None:
            await self.pubsub.aclose()
        if self.redis is not None:
            await self.redis.aclose()
