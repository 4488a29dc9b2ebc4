"""The desk-state port on Redis: several processes serve one desk (desk_state.py).

The desk's memory is one JSON value under `<prefix>:state`, with a counter
`<prefix>:version`. A unit of change (`hold`) takes the lock key `<prefix>:lock` (SET NX
PX with a random token, renewed while held), reads the memory again when the version moved
since this process last saw it, and on release writes it back and bumps the version, both
in one script that first checks the token: a process whose lock ran out (paused for longer
than the lock's life) never overwrites the work of the next holder. One lock for the whole
desk is deliberate: units are short (a handoff, an accept), they are already one at a time
within a process, and a single order of changes is what keeps two processes from assigning
one chat twice. The bot's replies never hold the desk.

The tick is a lease, `<prefix>:tick`: SET NX PX by a process, renewed by it on every beat;
when it dies, another process takes it within `lease`.

Each process announces itself with `<prefix>:node:<id>` (expires after `heartbeat` x 3):
sockets in the presence are named `<node>/<sid>`, so the tick owner can let go of the
sockets of a process that died (`dead_nodes`: its key missing for a whole heartbeat's life
as the owner saw it, since a key also goes with a Redis restart) and the grace periods
start for the people who were on it; their clients reconnect to another process.

When the state key is missing (a fresh Redis, or one restarted without persistence), the
first unit rebuilds the memory from the store (`rebuild`, the single-process restore) under
a new epoch. Each process that sees a new epoch puts its own sockets back in the presence
(`on_new_epoch`: its Socket.IO rooms say which customers and consoles it holds, and its
last copy of the lost desk, `before_epoch`, the status each agent had chosen), so nobody
has to reconnect, the grace periods the restore started end at once, and nobody who
stepped away is offered chats. Conversations and messages are in the store, so nothing is
lost. A process notices within a heartbeat
(`refresh_if_moved`), or at its next unit, whichever comes first.

Reads outside a unit use this process's copy, at most a heartbeat old; whatever decides
who is told (a customer's message to the agent who has the chat) is read in a unit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import fields
from typing import Any

from redis.asyncio import Redis

from chatserver.desk_state import DeskMemory
from chatserver.presence import AgentPresence, CustomerPresence, node_socket
from chatserver.routing import Router

log = logging.getLogger(__name__)

# KEYS: lock, version. ARGV: token, milliseconds. The version (0 when there is no state)
# once the lock is this token's; nil while another holds it.
_ACQUIRE = """
if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return nil end
return tonumber(redis.call('get', KEYS[2]) or '0')
"""
# KEYS: lock, state, version. ARGV: token, state JSON ('' to write nothing), where a new
# desk's versions start (random: a process that knew the lost desk's version 7 must not take
# the rebuilt desk's 7 for it). The version after the write, with the lock let go; -1 when
# the lock was no longer this token's.
_WRITE_AND_RELEASE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local version = tonumber(redis.call('get', KEYS[3]) or '0')
if ARGV[2] ~= '' then
  redis.call('set', KEYS[2], ARGV[2])
  if version == 0 then redis.call('set', KEYS[3], ARGV[3]) end
  version = redis.call('incr', KEYS[3])
end
redis.call('del', KEYS[1])
return version
"""
# KEYS: a lock or lease. ARGV: token, milliseconds. 1 when still the token's, renewed.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class DeskBusy(RuntimeError):
    """The desk's lock could not be had in time (another process holds it too long)."""


class LockLost(RuntimeError):
    """This unit's lock ran out before it was done: its memory changes were not shared."""


class RedisDeskState:
    """The desk's memory shared through Redis (module docstring)."""

    def __init__(
        self,
        client: Redis,
        memory: DeskMemory,
        *,
        load: Callable[[Mapping[str, Any]], DeskMemory],
        empty: Callable[[], DeskMemory],
        prefix: str = "chatserver",
        node: str | None = None,
        lock_seconds: float = 3.0,
        wait_seconds: float = 30.0,
        lease_seconds: float = 5.0,
        heartbeat_seconds: float = 2.0,
    ) -> None:
        self.client = client
        self._memory = memory
        self._load = load
        self._empty = empty
        self.node = node or secrets.token_hex(6)
        self.prefix = prefix
        self._keys = (f"{prefix}:lock", f"{prefix}:state", f"{prefix}:version")
        self._lock_ms = int(lock_seconds * 1000)
        self._wait = wait_seconds
        self._lease_ms = int(lease_seconds * 1000)
        self.heartbeat_seconds = heartbeat_seconds
        self._local = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._version: int | None = None  # the version this process's copy is of
        self._epoch: str | None = None
        self._written: str | None = None  # the JSON of this copy, as last read or written
        self._token = self.node + ":" + secrets.token_hex(8)
        self._alive: tuple[float, set[str]] | None = None
        self._missing_since: dict[str, float] = {}  # node -> when this process missed it
        self._tasks: set[asyncio.Task[None]] = set()
        self._take = client.register_script(_ACQUIRE)
        self._write = client.register_script(_WRITE_AND_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        # Set by the wiring: the single-process restore, and what to do on a new epoch.
        self.rebuild: Callable[[], Awaitable[None]] | None = None
        self.on_new_epoch: Callable[[], Coroutine[Any, Any, None]] | None = None
        self.on_loaded: Callable[[], None] | None = None
        # This process's last copy of the epoch a rebuild replaced: what its agents had
        # chosen (away, say), which the store does not keep and Redis lost.
        self.before_epoch: DeskMemory | None = None

    @classmethod
    def sharing(cls, client: Redis, memory: DeskMemory, **options: Any) -> RedisDeskState:
        """Share `memory` (this process's, as built) under its routing policy and graces."""
        policy = memory.router.policy
        customer_grace, agent_grace = memory.customers.grace, memory.agents.grace

        def load(state: Mapping[str, Any]) -> DeskMemory:
            return DeskMemory.from_state(
                state, policy=policy, customer_grace=customer_grace, agent_grace=agent_grace
            )

        def empty() -> DeskMemory:
            return DeskMemory(
                router=Router(policy),
                customers=CustomerPresence(customer_grace),
                agents=AgentPresence(agent_grace),
            )

        return cls(client, memory, load=load, empty=empty, **options)

    @property
    def memory(self) -> DeskMemory:
        return self._memory

    @property
    def shared(self) -> bool:
        return True

    async def refresh_if_moved(self) -> None:
        """Read the shared memory now if another process changed it (or Redis lost it), so
        this process's copy and its sockets follow even when nothing happens here."""
        raw = await self.client.get(self._keys[2])
        if raw is None or int(raw) != self._version:
            async with self.hold():
                pass

    # -- units of change ----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[DeskMemory]:
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            yield self._memory
            return
        async with self._local:
            self._owner = task
            try:
                async with self._shared():
                    yield self._memory
            finally:
                self._owner = None

    @contextlib.asynccontextmanager
    async def _shared(self) -> AsyncIterator[None]:
        lock = self._keys[0]
        version = await self._acquire()
        renewing = asyncio.create_task(self._keep(lock, self._lock_ms), name="desk-lock")
        new_epoch = False
        released = False
        try:
            new_epoch = await self._refresh(version)
            try:
                yield
            except BaseException:
                self._version = None  # a failed unit's leftovers are read over next time
                raise
            await self._publish()
            released = True
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            if not released:
                with contextlib.suppress(Exception):
                    await self._release(keys=[lock], args=[self._token])
        if new_epoch and self.on_new_epoch is not None:
            # In a task of its own: dropping sockets runs their handlers, which hold the desk.
            task = asyncio.get_running_loop().create_task(self.on_new_epoch())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _acquire(self) -> int:
        """Take the lock; the shared memory's version (0: there is none)."""
        lock, _, version_key = self._keys
        deadline = time.monotonic() + self._wait
        pause = 0.0005
        while True:
            version = await self._take(keys=[lock, version_key], args=[self._token, self._lock_ms])
            if version is not None:
                return int(version)
            if time.monotonic() > deadline:
                raise DeskBusy(f"the desk's lock ({lock}) was not free for {self._wait:.0f} s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.005)

    async def _keep(self, key: str, ms: int) -> None:
        while True:
            await asyncio.sleep(ms / 3000)
            if not await self._renew(keys=[key], args=[self._token, ms]):
                log.error("the desk's lock %s ran out while held by %s", key, self.node)
                return

    async def _refresh(self, version: int) -> bool:
        """Read the shared memory if it moved; rebuild it when it is gone. True when this
        process's copy is of a new epoch (its sockets must announce themselves again)."""
        had_epoch = self._epoch is not None
        if version == self._version:
            return False
        raw = await self.client.get(self._keys[1]) if version else None
        if raw is None:
            if had_epoch:
                self.before_epoch = self._copy()
            await self._rebuild()
            return had_epoch
        state = json.loads(raw)
        epoch = state.get("epoch")
        if had_epoch and epoch != self._epoch:
            self.before_epoch = self._copy()
        self._replace(self._load(state))
        was_epoch, self._epoch = self._epoch, epoch
        self._version, self._written = version, _text(raw)
        if self.on_loaded is not None:
            self.on_loaded()
        return was_epoch is not None and was_epoch != epoch

    async def _rebuild(self) -> None:
        log.warning("no desk state in Redis: rebuilding it from the store (node %s)", self.node)
        self._replace(self._empty())
        self._epoch = secrets.token_hex(8)
        self._version = None
        self._written = None
        if self.rebuild is not None:
            await self.rebuild()
        if self.on_loaded is not None:
            self.on_loaded()

    async def _publish(self) -> None:
        """Write the memory back if the unit changed it, and let go of the lock."""
        state = self._memory.to_state()
        state["epoch"] = self._epoch
        raw = json.dumps(state, separators=(",", ":"), sort_keys=True)
        changed = raw != self._written
        version = await self._write(
            keys=list(self._keys),
            args=[self._token, raw if changed else "", secrets.randbelow(2**48)],
        )
        if int(version) < 0:
            self._version = None  # read it all again next time
            raise LockLost(f"the desk's lock ran out before node {self.node} was done")
        self._version, self._written = int(version), raw

    def _copy(self) -> DeskMemory:
        """This copy's contents as they are: `_replace` swaps them out, never changes them."""
        return DeskMemory(
            **{field.name: getattr(self._memory, field.name) for field in fields(DeskMemory)}
        )

    def _replace(self, memory: DeskMemory) -> None:
        """Take `memory`'s contents into the object everyone reads."""
        for field in fields(DeskMemory):
            setattr(self._memory, field.name, getattr(memory, field.name))

    # -- the tick's lease and the processes alive ----------------------------------------

    async def owns_tick(self) -> bool:
        lease = f"{self.prefix}:tick"
        if await self._renew(keys=[lease], args=[self._token, self._lease_ms]):
            return True
        return bool(await self.client.set(lease, self._token, nx=True, px=self._lease_ms))

    async def tick_owner(self) -> str | None:
        """The node that holds the tick's lease (for tests and the health page)."""
        raw = await self.client.get(f"{self.prefix}:tick")
        if raw is None:
            return None
        return _text(raw).split(":", 1)[0]

    async def beat(self) -> None:
        """This process is alive (the key expires three beats after the last)."""
        ttl = max(1, int(self.heartbeat_seconds * 3 * 1000))
        await self.client.set(f"{self.prefix}:node:{self.node}", "1", px=ttl)

    async def dead_nodes(self, named: set[str]) -> set[str]:
        """The `named` nodes whose heartbeat has been missing for a whole heartbeat's life,
        as this process has seen it: a key missing once may only have gone with a Redis
        restart, and its process beats again within `heartbeat_seconds`."""
        now = time.monotonic()
        if self._alive is None or now - self._alive[0] >= 1.0:  # looked up once a second
            start = len(f"{self.prefix}:node:")
            names = {self.node}
            async for key in self.client.scan_iter(match=f"{self.prefix}:node:*", count=100):
                names.add(_text(key)[start:])
            self._alive = (now, names)
        alive = self._alive[1]
        for node in alive:
            self._missing_since.pop(node, None)
        dead: set[str] = set()
        for node in named - alive:
            since = self._missing_since.setdefault(node, now)
            if now - since >= self.heartbeat_seconds * 3:
                dead.add(node)
        for node in set(self._missing_since) - named:  # nothing of it left to let go
            del self._missing_since[node]
        return dead

    async def leave(self) -> None:
        """This process stops: its heartbeat and lease go now, not when they expire."""
        with contextlib.suppress(Exception):
            await self.client.delete(f"{self.prefix}:node:{self.node}")
            await self._release(keys=[f"{self.prefix}:tick"], args=[self._token])

    def socket(self, sid: str) -> str:
        return node_socket(self.node, sid)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


__all__ = [
    "DeskBusy",
    "LockLost",
    "RedisDeskState",
]
