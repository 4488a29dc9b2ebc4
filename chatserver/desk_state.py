"""The desk-state port: what the human side of the desk holds between calls, and who may
change it when.

`DeskMemory` is everything several processes serving one desk would have to agree on: the
router (queues, offers, each agent's chats and load, the pace of each queue), the accounts
of agents on the desk, the SLA clocks of open conversations, the queue previews, and
presence (customers' sockets and grace, agents' consoles and when each is due back). It is
plain data: `to_state` writes it as JSON values, `from_state` reads them back, and
`checkpoint` / `rollback` put it back as it was when a unit of change fails.

`DeskState` is the port. `hold()` gives one unit of change the memory, and nobody else
until it is done (re-entrant for the task that holds it); `owns_tick()` says whether this
process runs the periodic tick (offer timeouts, widening, SLA warnings, departures), so
that a deadline fires once however many processes serve the desk.

`LocalDeskState` is the in-process implementation and today's behaviour: the memory is one
object, `hold()` one asyncio lock, and the process always owns the tick. The Redis
implementation (redis_state.py) keeps `to_state()` under one key with a version:
`hold()` takes a lock key (SET NX PX with a token, renewed while held), loads the state if
its version moved since this process last saw it, and on release writes it back with the
version bumped (a write whose version moved meanwhile is refused: compare-and-set), so a
unit of change sees every earlier one; `owns_tick()` is a lease (SET NX PX, renewed by the
holder each tick), so a process that dies hands the tick to another within the lease.
Reads outside a unit (queue lists, gauges) use this process's last copy, as they do today
between ticks.

Not in the memory: what each console was last sent (a cache of the views), the waiting
customers this process owes their new place in line (`Ledger.positions_due`) and the socket
bookkeeping of the transport, which belong to the process that holds the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from chatserver import routing, sla
from chatserver.agents import AgentAccount
from chatserver.models import Role, Team
from chatserver.presence import AgentPresence, CustomerPresence
from chatserver.routing import Router

# The version of `DeskMemory.to_state`: a process refuses a state it cannot read.
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class MemoryCheckpoint:
    """The desk's memory as it was before a unit of change (`DeskMemory.checkpoint`).
    Sockets are facts, not decisions: presence is kept but for agents' deadlines."""

    router: routing.Checkpoint | None  # None: the unit leaves the router alone
    accounts: dict[str, AgentAccount]
    clocks: dict[str, sla.AppliedSla]
    due: dict[str, datetime]
    previews: dict[str, str]
    urgent: dict[str, list[str] | None]


@dataclass(slots=True)
class DeskMemory:
    """What the human side of the desk holds between calls (module docstring)."""

    router: Router
    customers: CustomerPresence
    agents: AgentPresence
    accounts: dict[str, AgentAccount] = field(default_factory=dict)
    # SLA clocks of open conversations, mirrored in the store.
    clocks: dict[str, sla.AppliedSla] = field(default_factory=dict)
    # What queue items show of each chat on the desk: the customer's latest message, short.
    previews: dict[str, str] = field(default_factory=dict)
    # Urgent chats whose alert was raised (urgent_alerts.py): the agents told while it is
    # up, None once someone took the chat (never raised again); gone when the chat ends.
    urgent: dict[str, list[str] | None] = field(default_factory=dict)
    # Seen receipts: the highest seq each customer has seen on a visible page (only moves
    # forward; a fact, like presence, so a failed unit does not put it back). Gone when the
    # chat ends. Not stored: a lost receipt comes back with the widget's next `seen`.
    seen: dict[str, int] = field(default_factory=dict)

    def checkpoint(self, *, router: bool = True) -> MemoryCheckpoint:
        return MemoryCheckpoint(
            router=self.router.checkpoint() if router else None,
            accounts=dict(self.accounts),
            clocks=dict(self.clocks),
            due=self.agents.due,
            previews=dict(self.previews),
            urgent=dict(self.urgent),
        )

    def rollback(self, checkpoint: MemoryCheckpoint) -> None:
        if checkpoint.router is not None:
            self.router.rollback(checkpoint.router)
        # Changed in place: rooms may hold these dicts.
        _replace_items(self.accounts, checkpoint.accounts)
        _replace_items(self.clocks, checkpoint.clocks)
        _replace_items(self.previews, checkpoint.previews)
        _replace_items(self.urgent, checkpoint.urgent)
        self.agents.restore_due(checkpoint.due)

    def to_state(self) -> dict[str, Any]:
        """The memory as plain JSON values."""
        return {
            "version": STATE_VERSION,
            "router": self.router.to_state(),
            "customers": self.customers.to_state(),
            "agents": self.agents.to_state(),
            "accounts": [_account_state(a) for a in self.accounts.values()],
            "clocks": [applied.to_dict() for applied in self.clocks.values()],
            "previews": dict(self.previews),
            "urgent": {
                key: None if told is None else list(told) for key, told in self.urgent.items()
            },
            "seen": dict(self.seen),
        }

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        *,
        policy: routing.RoutingPolicy,
        customer_grace: timedelta,
        agent_grace: timedelta,
    ) -> DeskMemory:
        """The memory `to_state` wrote, under this process's policy and grace periods."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"desk state version {state.get('version')!r} is not {STATE_VERSION}")
        accounts = (_account_from(data) for data in state["accounts"])
        clocks = (sla.AppliedSla.from_dict(data) for data in state["clocks"])
        return cls(
            router=Router.from_state(state["router"], policy),
            customers=CustomerPresence.from_state(state["customers"], customer_grace),
            agents=AgentPresence.from_state(state["agents"], agent_grace),
            accounts={account.id: account for account in accounts},
            clocks={applied.conversation_id: applied for applied in clocks},
            previews=dict(state["previews"]),
            urgent={
                key: None if told is None else list(told)
                for key, told in state.get("urgent", {}).items()
            },
            seen={key: int(seq) for key, seq in state.get("seen", {}).items()},
        )


class DeskState(Protocol):
    """The port: the desk's memory and the right to change it (module docstring)."""

    @property
    def memory(self) -> DeskMemory:
        """This process's copy, for reads outside a unit of change."""
        ...

    def hold(self) -> AbstractAsyncContextManager[DeskMemory]:
        """The memory, for one unit of change at a time (re-entrant for its task)."""
        ...

    async def owns_tick(self) -> bool:
        """Whether this process runs the desk's periodic tick now."""
        ...

    @property
    def shared(self) -> bool:
        """Whether other processes serve this desk too (then sockets carry their process)."""
        ...

    def socket(self, sid: str) -> str:
        """A socket's name in the desk's presence: with the process's own name when several
        share the desk, so the sockets of one that died can be let go."""
        ...

    async def dead_nodes(self, named: set[str]) -> set[str]:
        """Which of the processes `named` in the presence stopped beating (none when this one
        serves the desk alone)."""
        ...


class LocalDeskState:
    """The desk's state in this process: one object, one lock, always the tick's owner."""

    def __init__(self, memory: DeskMemory) -> None:
        self._memory = memory
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None  # the task holding the lock

    @property
    def memory(self) -> DeskMemory:
        return self._memory

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[DeskMemory]:
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            yield self._memory
            return
        async with self._lock:
            self._owner = task
            try:
                yield self._memory
            finally:
                self._owner = None

    async def owns_tick(self) -> bool:
        return True

    @property
    def shared(self) -> bool:
        return False

    def socket(self, sid: str) -> str:
        return sid

    async def dead_nodes(self, named: set[str]) -> set[str]:
        return set()


def _replace_items(live: dict[str, Any], saved: Mapping[str, Any]) -> None:
    live.clear()
    live.update(saved)


# The desk never checks a password (accounts.py does, against the store): its copy of an
# account leaves the hash out.
def _account_state(account: AgentAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "username": account.username,
        "name": account.name,
        "languages": list(account.languages),
        "teams": [str(team) for team in account.teams],
        "capacity": account.capacity,
        "role": str(account.role),
        "created_at": account.created_at.isoformat(),
        "disabled": account.disabled,
        "takes_chats": account.takes_chats,
    }


def _account_from(data: Mapping[str, Any]) -> AgentAccount:
    return AgentAccount(
        id=data["id"],
        username=data["username"],
        name=data["name"],
        languages=tuple(data["languages"]),
        teams=tuple(Team(team) for team in data["teams"]),
        capacity=int(data["capacity"]),
        role=Role(data["role"]),
        password_hash="",
        created_at=datetime.fromisoformat(data["created_at"]),
        disabled=bool(data["disabled"]),
        takes_chats=bool(data.get("takes_chats", False)),
    )


__all__ = [
    "STATE_VERSION",
    "DeskMemory",
    "DeskState",
    "LocalDeskState",
    "MemoryCheckpoint",
]
