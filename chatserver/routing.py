"""Routing: queues, offers, assignment and the English fallback, as pure in-memory state.

This module owns which handed-off conversations wait in which queue `<language>/<team>`, in
what order, which agent is offered or holds each one, and when a queue widens to fallback
languages. It must not know sockets, HTTP, the store, timers or the wall clock: every
method takes `now` (timezone-aware), changes the router's state and returns the events
for the transport to publish. SLA clocks belong to `sla.py`; this module only keeps each
conversation's `handed_off_at` so it can show the time left to the target. The router is
used from one asyncio thread and never awaits, so each call is atomic: of two accepts of
one conversation the first wins and the second raises `AlreadyTaken`.

Every call first does what was asked, then brings the router up to `now` (`tick` does only
the second): expired offers, widening, conversations nobody can serve, new offers, and
`QueueChanged` for each queue whose order changed.

`checkpoint` copies the router's state and `rollback` puts it back: the desk takes one
before a change and rolls back to it when it cannot store what the router decided.
`to_state` writes the same state as plain JSON values and `from_state` reads it back: the
form in which the desk-state port (chatserver/desk_state.py) can share it between processes.

Rules

1. Eligible agent for a waiting conversation: online; speaks one of its eligible
   languages; in its team; load (active chats + pending offers) below capacity. For an
   automatic offer, also not one who let this conversation's offer expire or declined it,
   unless nobody else is eligible. A pull (`accept`) ignores that last condition.
2. Queue order: priority (urgent first); within a priority, conversations back from a lost
   agent or a transfer first, then VIP before standard, then handoff time (FIFO).
3. Each waiting conversation is offered to one agent at a time, in queue order: the VIP's
   account manager when eligible; otherwise the agent whose best shared language comes
   earliest in the fallback chain (a native speaker before an English fallback), then
   the lowest load, then the longest idle (since the later of their last assignment and
   their return online), then agent id. Not accepted within `accept_timeout`: offered to
   the next agent. Pending offers count as load, so a burst spreads over the desk.
4. Any eligible agent may `accept` any waiting conversation (pull); a pending offer to
   someone else is then withdrawn. A supervisor may `assign` by hand: the agent must be
   online and speak an eligible language (`force` also allows away agents and any
   language); team and capacity are not checked, because a supervisor is overriding the
   automatic rules on purpose.
5. Fallback (widening) along `RoutingPolicy.chain(language)` (`zh-Hant` -> `zh-Hans` ->
   `en` when configured so): when no online agent of the team speaks an eligible language,
   at once to the first language that has one (`no_agent`); after `fallback_after` at a
   step, one step further (`wait`); and once, before any other widening, when the
   conversation is not on offer and its predicted wait exceeds `fallback_after`
   (`predicted_wait`). A step skips languages nobody online speaks. Widening only adds
   languages: the original language's agents still see and may take the conversation.
6. Nobody online for the team in any language of the chain: `enqueue` returns
   `NoAgentAvailable(queued=False)` and keeps nothing (the desk offers leave-a-message or
   a callback); a conversation already waiting gets `NoAgentAvailable(queued=True)` once
   and keeps its place, and starts a new widening step when somebody comes online.
   `can_serve` asks before the handoff.
7. `agent_offline` puts the agent's active and offered conversations back at the head of
   their priority band (`Requeued`); `agent_away` withdraws their offers, keeps their chats.
8. `transfer` moves an assigned conversation to an agent or a queue and keeps
   `handed_off_at`: a transfer never resets the first-response clock. A conversation back
   in a queue keeps its widened languages and starts a new widening step.
9. Predicted wait = position in its queue x recent assignment interval of that queue: the
   mean gap between its assignments within `rate_window`, or the time since the latest
   when that is longer. Fewer than `min_rate_samples` assignments: not predicted (None).
10. Supervisors are offered nothing, and staff no queue, unless their profile says they
    take chats (`AgentProfile.offered`); they may still `accept` from a queue and `assign`.
11. After a restart the desk rebuilds the router from the store: `restore_waiting` keeps
    a conversation even when nobody is online yet (it waits stranded, rule 6);
    `restore_assigned` gives one back to its agent, who keeps it by coming online or loses
    it to the head of the queue through `agent_offline` (rule 7).

Errors::

    DomainError (models.py)
     ├── UnknownConversation (models.py)   the router holds no such conversation
     └── RoutingError
          ├── UnknownAgent
          ├── AlreadyQueued       enqueue of a conversation the router holds
          ├── AlreadyTaken        accept/assign of an assigned conversation (.agent_id)
          ├── NotEligible         the agent may not take it (.reason: Ineligible)
          ├── NotPermitted        assign by someone who is not a supervisor
          ├── NotQueued, NotAssigned, NotOffered   wrong state for the request
          └── QueueUnavailable    transfer to a queue nobody online can serve
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from operator import attrgetter
from types import MappingProxyType
from typing import Any, TypeAlias

from chatserver.models import (
    AgentStatus,
    DomainError,
    Priority,
    Role,
    Team,
    Tier,
    UnknownConversation,
)


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """Tuning of the router; the defaults serve the chat's 30-second first-response target."""

    # Two offers fit in the target (10 + 10 s), leaving time for the first message.
    accept_timeout: timedelta = timedelta(seconds=10)
    # Half the target: an agent found through the fallback still has 15 s to answer.
    fallback_after: timedelta = timedelta(seconds=15)
    # The chat first-response target, for the time left shown to agents.
    target: timedelta = timedelta(seconds=30)
    # Fallback languages per language, in order; languages not listed use default_fallback.
    fallbacks: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    default_fallback: tuple[str, ...] = ("en",)
    # Assignments older than this do not count for the predicted wait: the desk's pace
    # changes within an hour, and ten minutes hold enough assignments on a busy queue.
    rate_window: timedelta = timedelta(minutes=10)
    # One assignment tells nothing about a pace.
    min_rate_samples: int = 2

    def __post_init__(self) -> None:
        for name in ("accept_timeout", "fallback_after", "target", "rate_window"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.min_rate_samples < 2:
            raise ValueError("min_rate_samples must be at least 2")
        frozen = {lang: tuple(chain) for lang, chain in self.fallbacks.items()}
        object.__setattr__(self, "fallbacks", MappingProxyType(frozen))

    def chain(self, language: str) -> tuple[str, ...]:
        """The language followed by its fallbacks, without repeats."""
        steps = self.fallbacks.get(language, self.default_fallback)
        return tuple(dict.fromkeys((language, *steps)))


@dataclass(frozen=True, slots=True, order=True)
class QueueKey:
    """A queue: conversations in one language for one team, e.g. `ja/technical`."""

    language: str
    team: Team

    def __str__(self) -> str:
        return f"{self.language}/{self.team}"


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What routing needs to know of an agent account."""

    id: str
    name: str
    languages: frozenset[str]
    teams: frozenset[Team]
    capacity: int
    role: Role = Role.AGENT
    takes_chats: bool = False  # a supervisor's own choice to be offered chats

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise ValueError("capacity must not be negative")

    @property
    def offered(self) -> bool:
        """Is the agent offered chats? Agents are; supervisors only when they choose to (they
        may still pull from a queue or be assigned by hand)."""
        return not self.role.supervises or self.takes_chats


class WidenReason(StrEnum):
    NO_AGENT = "no_agent"  # nobody online speaks the eligible languages
    WAIT = "wait"  # waited fallback_after at the current step
    PREDICTED_WAIT = "predicted_wait"  # position x recent pace exceeds fallback_after


class WithdrawReason(StrEnum):
    TAKEN = "taken"  # another agent accepted it, or a supervisor assigned it
    DECLINED = "declined"
    ABANDONED = "abandoned"
    RELEASED = "released"  # closed while waiting
    AGENT_AWAY = "agent_away"


class AssignedVia(StrEnum):
    OFFER = "offer"  # the agent accepted the offer made to them
    PULL = "pull"  # the agent took it from the queue
    SUPERVISOR = "supervisor"
    TRANSFER = "transfer"


class Ineligible(StrEnum):
    OFFLINE = "offline"
    AWAY = "away"
    TEAM = "team"
    LANGUAGE = "language"
    CAPACITY = "capacity"
    SAME_AGENT = "same_agent"


# ---- events --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Queued:
    """Tell the customer: in line at `position`, about `predicted_wait` seconds (None: unknown)."""

    conversation_id: str
    queue: QueueKey
    position: int
    predicted_wait: float | None


@dataclass(frozen=True, slots=True)
class Offered:
    """Tell the agent: this conversation is yours if you accept before `expires_at`."""

    conversation_id: str
    agent_id: str
    queue: QueueKey
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OfferExpired:
    conversation_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class OfferWithdrawn:
    conversation_id: str
    agent_id: str
    reason: WithdrawReason


@dataclass(frozen=True, slots=True)
class Assigned:
    """`agent_language` is the language the agent shares with the customer's chain: when it
    is not `queue.language`, the customer is served through the fallback."""

    conversation_id: str
    agent_id: str
    queue: QueueKey
    widened: bool
    agent_language: str
    handed_off_at: datetime
    via: AssignedVia


@dataclass(frozen=True, slots=True)
class Widened:
    conversation_id: str
    queue: QueueKey
    languages: tuple[str, ...]
    reason: WidenReason


@dataclass(frozen=True, slots=True)
class Requeued:
    """The agent went offline; `was_assigned` False when it only held the offer."""

    conversation_id: str
    agent_id: str
    queue: QueueKey
    position: int
    was_assigned: bool


@dataclass(frozen=True, slots=True)
class Transferred:
    """Moved from an agent to another agent (`to_agent_id`) or to `queue` (None)."""

    conversation_id: str
    from_agent_id: str
    to_agent_id: str | None
    queue: QueueKey


@dataclass(frozen=True, slots=True)
class Abandoned:
    conversation_id: str
    queue: QueueKey
    waited: float  # seconds since handoff


@dataclass(frozen=True, slots=True)
class NoAgentAvailable:
    """Nobody online in any language of the chain. `queued` False: not kept by the router."""

    conversation_id: str
    queue: QueueKey
    queued: bool


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """The queue's waiting conversations, in order: positions for customers, lists for agents."""

    queue: QueueKey
    length: int
    conversation_ids: tuple[str, ...]


RoutingEvent: TypeAlias = (
    Queued
    | Offered
    | OfferExpired
    | OfferWithdrawn
    | Assigned
    | Widened
    | Requeued
    | Transferred
    | Abandoned
    | NoAgentAvailable
    | QueueChanged
)


@dataclass(frozen=True, slots=True)
class WaitingView:
    """A waiting conversation as an agent console or the customer's widget shows it."""

    conversation_id: str
    queue: QueueKey
    priority: Priority
    tier: Tier
    position: int
    handed_off_at: datetime
    waited: float  # seconds
    remaining: float  # seconds to the target; negative once missed
    languages: tuple[str, ...]
    widened: bool
    widen_reason: WidenReason | None
    offered_to: str | None
    offer_expires_at: datetime | None
    passed: frozenset[str]  # agents who let its offer expire or declined it
    predicted_wait: float | None


# ---- errors --------------------------------------------------------------------------


class RoutingError(DomainError):
    code = "routing_error"


class UnknownAgent(RoutingError):
    code = "unknown_agent"

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"the router knows no agent {agent_id}")
        self.agent_id = agent_id


class AlreadyQueued(RoutingError):
    code = "already_queued"

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"conversation {conversation_id} is already routed")
        self.conversation_id = conversation_id


class AlreadyTaken(RoutingError):
    code = "already_taken"

    def __init__(self, conversation_id: str, agent_id: str) -> None:
        super().__init__(f"conversation {conversation_id} is already assigned to {agent_id}")
        self.conversation_id = conversation_id
        self.agent_id = agent_id


class NotEligible(RoutingError):
    code = "not_eligible"

    def __init__(self, conversation_id: str, agent_id: str, reason: Ineligible) -> None:
        super().__init__(f"agent {agent_id} may not take {conversation_id}: {reason}")
        self.conversation_id = conversation_id
        self.agent_id = agent_id
        self.reason = reason


class NotPermitted(RoutingError):
    code = "not_permitted"


class NotQueued(RoutingError):
    code = "not_queued"


class NotAssigned(RoutingError):
    code = "not_assigned"


class NotOffered(RoutingError):
    code = "not_offered"


class QueueUnavailable(RoutingError):
    code = "queue_unavailable"


# ---- internal state ------------------------------------------------------------------


@dataclass(slots=True)
class _Agent:
    profile: AgentProfile
    status: AgentStatus
    online_since: datetime
    last_assigned_at: datetime | None = None
    active: set[str] = field(default_factory=set)
    offers: set[str] = field(default_factory=set)

    @property
    def load(self) -> int:
        return len(self.active) + len(self.offers)

    @property
    def idle_since(self) -> datetime:
        if self.last_assigned_at is None:
            return self.online_since
        return max(self.last_assigned_at, self.online_since)


@dataclass(frozen=True, slots=True)
class _Offer:
    """Replaced, never changed in place: a snapshot may share it."""

    agent_id: str
    expires_at: datetime


@dataclass(slots=True)
class _Entry:
    """A routed conversation: waiting while `agent_id` is None, else assigned to it."""

    conversation_id: str
    queue: QueueKey
    priority: Priority
    tier: Tier
    manager_id: str | None
    handed_off_at: datetime
    chain: tuple[str, ...]
    languages: tuple[str, ...]
    step_since: datetime  # when the current widening step began
    seq: int  # arrival order, the last tie-break
    head: bool = False  # back from a lost agent or a transfer: head of its priority band
    widen_reason: WidenReason | None = None
    offer: _Offer | None = None
    passed: set[str] = field(default_factory=set)
    stranded: bool = False  # NoAgentAvailable(queued=True) already sent
    agent_id: str | None = None

    @property
    def widened(self) -> bool:
        return len(self.languages) > 1

    def sort_key(self) -> tuple[int, bool, bool, datetime, int]:
        return (
            self.priority.rank,
            not self.head,
            self.tier is not Tier.VIP,
            self.handed_off_at,
            self.seq,
        )


# A checkpoint holds agents and entries as tuples of their fields (sets copied): taking one
# costs well under a millisecond for a desk of hundreds of chats, and it is taken for
# every change of the desk, whereas the way back is rare.
_AGENT_FIELDS = attrgetter(*(f.name for f in fields(_Agent)))
_ENTRY_FIELDS = attrgetter(*(f.name for f in fields(_Entry)))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A copy of everything a router holds (`Router.checkpoint`), to put back with
    `Router.rollback` when what the calls after it decided could not be stored."""

    agents: tuple[tuple[tuple[Any, ...], frozenset[str], frozenset[str]], ...]
    entries: tuple[tuple[tuple[Any, ...], frozenset[str]], ...]
    history: tuple[tuple[QueueKey, tuple[datetime, ...]], ...]
    seq: int


def _require_aware(now: datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()


# ---- the router ----------------------------------------------------------------------


class Router:
    """Queues and agents of one desk. Mutators return the events to publish, in order."""

    def __init__(self, policy: RoutingPolicy | None = None) -> None:
        self.policy = policy or RoutingPolicy()
        self._agents: dict[str, _Agent] = {}
        self._entries: dict[str, _Entry] = {}
        self._history: dict[QueueKey, deque[datetime]] = {}
        self._seq = 0

    # -- undo --

    def checkpoint(self) -> Checkpoint:
        """Everything the router holds, copied: `rollback` puts it back exactly."""
        return Checkpoint(
            # The field tuples share the live sets: copies of those ride along.
            agents=tuple(
                (_AGENT_FIELDS(a), frozenset(a.active), frozenset(a.offers))
                for a in self._agents.values()
            ),
            entries=tuple((_ENTRY_FIELDS(e), frozenset(e.passed)) for e in self._entries.values()),
            history=tuple((queue, tuple(times)) for queue, times in self._history.items()),
            seq=self._seq,
        )

    def rollback(self, checkpoint: Checkpoint) -> None:
        """Go back to a checkpoint (it stays valid: the router copies out of it)."""
        self._agents = {}
        for values, active, offers in checkpoint.agents:
            agent = _Agent(*values)
            agent.active, agent.offers = set(active), set(offers)
            self._agents[agent.profile.id] = agent
        self._entries = {}
        for values, passed in checkpoint.entries:
            entry = _Entry(*values)
            entry.passed = set(passed)
            self._entries[entry.conversation_id] = entry
        self._history = {queue: deque(times) for queue, times in checkpoint.history}
        self._seq = checkpoint.seq

    # -- shared state --

    def to_state(self) -> dict[str, Any]:
        """Everything the router holds as plain JSON values (`from_state` reads it back):
        what a second process loads to take the next decision (docs: desk state)."""
        return {
            "agents": [_agent_state(a) for a in self._agents.values()],
            "entries": [_entry_state(e) for e in self._entries.values()],
            "history": {
                str(q): [t.isoformat() for t in times] for q, times in self._history.items()
            },
            "seq": self._seq,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], policy: RoutingPolicy | None = None) -> Router:
        """A router holding what `to_state` wrote, under `policy` (the process's own)."""
        router = cls(policy)
        for data in state["agents"]:
            agent = _agent_from(data)
            router._agents[agent.profile.id] = agent
        for data in state["entries"]:
            entry = _entry_from(data)
            router._entries[entry.conversation_id] = entry
        router._history = {
            _queue_from(queue): deque(datetime.fromisoformat(t) for t in times)
            for queue, times in state["history"].items()
        }
        router._seq = int(state["seq"])
        return router

    # -- agents --

    def upsert_agent(self, profile: AgentProfile, now: datetime) -> list[RoutingEvent]:
        """Register an agent (offline) or update its profile; its chats stay as they are."""
        _require_aware(now)
        before = self._queue_orders()
        agent = self._agents.get(profile.id)
        events: list[RoutingEvent] = []
        if agent is None:
            self._agents[profile.id] = _Agent(profile, AgentStatus.OFFLINE, online_since=now)
        else:
            agent.profile = profile
            if not profile.offered:  # a supervisor who stopped taking chats: offers go on
                for conversation_id in sorted(agent.offers):
                    self._withdraw(
                        self._entries[conversation_id], WithdrawReason.AGENT_AWAY, events
                    )
        return self._finish(before, events, now)

    def agent_online(self, agent_id: str, now: datetime) -> list[RoutingEvent]:
        _require_aware(now)
        agent = self._agent(agent_id)
        before = self._queue_orders()
        if agent.status is not AgentStatus.ONLINE:
            agent.status = AgentStatus.ONLINE
            agent.online_since = now
        return self._finish(before, [], now)

    def agent_away(self, agent_id: str, now: datetime) -> list[RoutingEvent]:
        """No new offers; pending offers go to others; active chats stay with the agent."""
        _require_aware(now)
        agent = self._agent(agent_id)
        before = self._queue_orders()
        events: list[RoutingEvent] = []
        agent.status = AgentStatus.AWAY
        for conversation_id in sorted(agent.offers):
            self._withdraw(self._entries[conversation_id], WithdrawReason.AGENT_AWAY, events)
        return self._finish(before, events, now)

    def agent_offline(self, agent_id: str, now: datetime) -> list[RoutingEvent]:
        """Everything the agent held or was offered goes back to the head of its band."""
        _require_aware(now)
        agent = self._agent(agent_id)
        before = self._queue_orders()
        agent.status = AgentStatus.OFFLINE
        moved: list[tuple[_Entry, bool]] = []
        for conversation_id in sorted(agent.offers):
            entry = self._entries[conversation_id]
            entry.offer = None
            moved.append((entry, False))
        for conversation_id in sorted(agent.active):
            entry = self._entries[conversation_id]
            entry.agent_id = None
            moved.append((entry, True))
        agent.offers.clear()
        agent.active.clear()
        for entry, _ in moved:
            entry.head = True
            entry.step_since = now
        events: list[RoutingEvent] = [
            Requeued(e.conversation_id, agent_id, e.queue, self.position(e.conversation_id), was)
            for e, was in sorted(moved, key=lambda m: m[0].sort_key())
        ]
        return self._finish(before, events, now)

    # -- conversations --

    def can_serve(self, language: str, team: Team) -> bool:
        """Is an agent of the team online in the language or one of its fallbacks?"""
        staffed = self._staffed()
        return any((team, lang) in staffed for lang in self.policy.chain(language))

    def has_room_for(self, language: str) -> bool:
        """Is an agent online, in the language or one of its fallbacks (any team), with a
        free seat (load under capacity)? What the widget's header tells the customer."""
        chain = self.policy.chain(language)
        return any(
            a.status is AgentStatus.ONLINE
            and a.profile.offered
            and a.load < a.profile.capacity
            and any(lang in a.profile.languages for lang in chain)
            for a in self._agents.values()
        )

    def enqueue(
        self,
        conversation_id: str,
        *,
        language: str,
        team: Team,
        priority: Priority,
        now: datetime,
        tier: Tier = Tier.STANDARD,
        manager_id: str | None = None,
        handed_off_at: datetime | None = None,
    ) -> list[RoutingEvent]:
        """Hand a conversation off to `<language>/<team>`; `handed_off_at` defaults to now."""
        _require_aware(now)
        handed_off_at = handed_off_at or now
        _require_aware(handed_off_at)
        if conversation_id in self._entries:
            raise AlreadyQueued(conversation_id)
        queue = QueueKey(language, team)
        if not self.can_serve(language, team):
            return [NoAgentAvailable(conversation_id, queue, queued=False)]
        before = self._queue_orders()
        self._add(conversation_id, queue, priority, tier, manager_id, handed_off_at, handed_off_at)
        events: list[RoutingEvent] = [
            Queued(
                conversation_id,
                queue,
                self.position(conversation_id),
                self.predicted_wait(conversation_id, now),
            )
        ]
        return self._finish(before, events, now)

    def restore_waiting(
        self,
        conversation_id: str,
        *,
        language: str,
        team: Team,
        priority: Priority,
        handed_off_at: datetime,
        now: datetime,
        tier: Tier = Tier.STANDARD,
        manager_id: str | None = None,
        head: bool = False,
    ) -> list[RoutingEvent]:
        """Put a conversation that waited before a restart back in line at its handoff time.

        Unlike `enqueue` it is kept when nobody is online: right after a restart no agent
        has reconnected yet, so it waits stranded until one does. Widening is not stored, so
        it starts again from its own language. No `Queued`: the customer was told already.
        `head`: it lost its agent (rule 7).
        """
        return self._restore(
            conversation_id,
            None,
            QueueKey(language, team),
            priority,
            tier,
            manager_id,
            handed_off_at,
            now,
            head=head,
        )

    def restore_assigned(
        self,
        conversation_id: str,
        agent_id: str,
        *,
        language: str,
        team: Team,
        priority: Priority,
        handed_off_at: datetime,
        now: datetime,
        tier: Tier = Tier.STANDARD,
        manager_id: str | None = None,
    ) -> list[RoutingEvent]:
        """Give a conversation back to the agent who held it before a restart.

        The agent (registered with `upsert_agent`) had accepted it, so status, capacity and
        languages are not checked: coming online they keep it, `agent_offline` re-queues it
        at the head. No `Assigned`: nothing new happened for the customer or the pace.
        """
        return self._restore(
            conversation_id,
            agent_id,
            QueueKey(language, team),
            priority,
            tier,
            manager_id,
            handed_off_at,
            now,
        )

    def _restore(
        self,
        conversation_id: str,
        agent_id: str | None,
        queue: QueueKey,
        priority: Priority,
        tier: Tier,
        manager_id: str | None,
        handed_off_at: datetime,
        now: datetime,
        *,
        head: bool = False,
    ) -> list[RoutingEvent]:
        _require_aware(now)
        _require_aware(handed_off_at)
        agent = self._agent(agent_id) if agent_id is not None else None
        if conversation_id in self._entries:
            raise AlreadyQueued(conversation_id)
        before = self._queue_orders()
        entry = self._add(conversation_id, queue, priority, tier, manager_id, handed_off_at, now)
        entry.head = head
        if agent is not None:
            entry.agent_id = agent.profile.id
            agent.active.add(conversation_id)
        return self._finish(before, [], now)

    def accept(self, conversation_id: str, agent_id: str, now: datetime) -> list[RoutingEvent]:
        """The agent takes a waiting conversation, offered to them or not; first accept wins."""
        _require_aware(now)
        entry = self._entry(conversation_id)
        agent = self._agent(agent_id)
        if entry.agent_id is not None:
            raise AlreadyTaken(conversation_id, entry.agent_id)
        reason = self._ineligible(agent, entry)
        if reason is not None:
            raise NotEligible(conversation_id, agent_id, reason)
        before = self._queue_orders()
        events: list[RoutingEvent] = []
        offered = entry.offer is not None and entry.offer.agent_id == agent_id
        self._assign(entry, agent, now, AssignedVia.OFFER if offered else AssignedVia.PULL, events)
        return self._finish(before, events, now)

    def decline(self, conversation_id: str, agent_id: str, now: datetime) -> list[RoutingEvent]:
        _require_aware(now)
        entry = self._entry(conversation_id)
        if entry.offer is None or entry.offer.agent_id != agent_id:
            raise NotOffered(f"conversation {conversation_id} is not offered to {agent_id}")
        before = self._queue_orders()
        events: list[RoutingEvent] = []
        entry.passed.add(agent_id)
        self._withdraw(entry, WithdrawReason.DECLINED, events)
        return self._finish(before, events, now)

    def assign(
        self,
        conversation_id: str,
        agent_id: str,
        now: datetime,
        *,
        by: str,
        force: bool = False,
    ) -> list[RoutingEvent]:
        """A supervisor (`by`) gives a waiting conversation to an agent by hand."""
        _require_aware(now)
        if not self._agent(by).profile.role.supervises:
            raise NotPermitted(f"{by} is not a supervisor")
        entry = self._entry(conversation_id)
        agent = self._agent(agent_id)
        if entry.agent_id is not None:
            raise AlreadyTaken(conversation_id, entry.agent_id)
        self._check_manual(agent, entry, force=force, capacity=False)
        before = self._queue_orders()
        events: list[RoutingEvent] = []
        self._assign(entry, agent, now, AssignedVia.SUPERVISOR, events)
        return self._finish(before, events, now)

    def transfer(
        self,
        conversation_id: str,
        now: datetime,
        *,
        to_agent: str | None = None,
        to_queue: QueueKey | None = None,
        force: bool = False,
    ) -> list[RoutingEvent]:
        """Move an assigned conversation to another agent or queue; `handed_off_at` stays.

        To an agent: online, speaks an eligible language, below capacity (`force`, for
        supervisors, skips all but "not offline"). To a queue: it waits at the head of its
        priority band in the new queue, not offered again to the agent who let it go.
        """
        _require_aware(now)
        if (to_agent is None) == (to_queue is None):
            raise ValueError("transfer to exactly one of an agent or a queue")
        entry = self._entry(conversation_id)
        if entry.agent_id is None:
            raise NotAssigned(f"conversation {conversation_id} is waiting, not assigned")
        source = self._agents[entry.agent_id]
        events: list[RoutingEvent] = []
        if to_agent is not None:
            target = self._agent(to_agent)
            if target is source:
                raise NotEligible(conversation_id, to_agent, Ineligible.SAME_AGENT)
            self._check_manual(target, entry, force=force, capacity=True)
            before = self._queue_orders()
            source.active.discard(conversation_id)
            events.append(Transferred(conversation_id, source.profile.id, to_agent, entry.queue))
            self._assign(entry, target, now, AssignedVia.TRANSFER, events)
            return self._finish(before, events, now)
        assert to_queue is not None
        if not self.can_serve(to_queue.language, to_queue.team):
            raise QueueUnavailable(f"nobody online can serve {to_queue}")
        before = self._queue_orders()
        source.active.discard(conversation_id)
        entry.agent_id = None
        entry.queue = to_queue
        entry.chain = self.policy.chain(to_queue.language)
        entry.languages = (to_queue.language,)
        entry.widen_reason = None
        entry.step_since = now
        entry.head = True
        entry.stranded = False
        entry.passed = {source.profile.id}
        events.append(Transferred(conversation_id, source.profile.id, None, to_queue))
        events.append(
            Queued(
                conversation_id,
                to_queue,
                self.position(conversation_id),
                self.predicted_wait(conversation_id, now),
            )
        )
        return self._finish(before, events, now)

    def release(self, conversation_id: str, now: datetime) -> list[RoutingEvent]:
        """Forget a closed conversation, waiting or assigned; unknown ids are ignored."""
        _require_aware(now)
        entry = self._entries.get(conversation_id)
        if entry is None:
            return []
        before = self._queue_orders()
        events: list[RoutingEvent] = []
        if entry.agent_id is not None:
            self._agents[entry.agent_id].active.discard(conversation_id)
        elif entry.offer is not None:
            self._withdraw(entry, WithdrawReason.RELEASED, events)
        del self._entries[conversation_id]
        return self._finish(before, events, now)

    def abandon(self, conversation_id: str, now: datetime) -> list[RoutingEvent]:
        """The customer left while waiting."""
        _require_aware(now)
        entry = self._waiting(conversation_id)
        before = self._queue_orders()
        events: list[RoutingEvent] = []
        if entry.offer is not None:
            self._withdraw(entry, WithdrawReason.ABANDONED, events)
        del self._entries[conversation_id]
        events.append(Abandoned(conversation_id, entry.queue, _seconds(now - entry.handed_off_at)))
        return self._finish(before, events, now)

    def tick(self, now: datetime) -> list[RoutingEvent]:
        """Bring the router up to `now`: expire offers, widen, offer. Call about every second."""
        _require_aware(now)
        return self._finish(self._queue_orders(), [], now)

    # -- queries --

    def position(self, conversation_id: str) -> int:
        """1-based place of a waiting conversation within its own queue."""
        entry = self._waiting(conversation_id)
        key = entry.sort_key()
        return 1 + sum(
            1 for e in self._waiting_entries() if e.queue == entry.queue and e.sort_key() < key
        )

    def predicted_wait(self, conversation_id: str, now: datetime) -> float | None:
        """Seconds: position x the queue's recent assignment interval; None without history."""
        entry = self._waiting(conversation_id)
        interval = self._interval(entry.queue, now)
        if interval is None:
            return None
        return self.position(conversation_id) * interval

    def view(self, conversation_id: str, now: datetime) -> WaitingView:
        """One waiting conversation, e.g. for its customer's widget."""
        entry = self._waiting(conversation_id)
        return self._view(entry, self.position(conversation_id), now)

    def snapshot(self, agent_id: str, now: datetime) -> list[WaitingView]:
        """Waiting conversations the agent sees (team and a shared language), in queue order,
        whatever the agent's status or load."""
        profile = self._agent(agent_id).profile
        positions = self._positions()
        return [
            self._view(e, positions[e.conversation_id], now)
            for e in self._ordered()
            if e.queue.team in profile.teams and not profile.languages.isdisjoint(e.languages)
        ]

    def waiting(self, now: datetime) -> list[WaitingView]:
        """Every waiting conversation, in queue order (for gauges and supervisors)."""
        positions = self._positions()
        return [self._view(e, positions[e.conversation_id], now) for e in self._ordered()]

    def views(self, conversation_ids: Iterable[str], now: datetime) -> list[WaitingView]:
        """Several waiting conversations at once (queue order computed once); ids the router
        does not hold as waiting are left out."""
        positions = self._positions()
        return [
            self._view(self._entries[c], positions[c], now)
            for c in dict.fromkeys(conversation_ids)
            if c in positions
        ]

    def snapshots(
        self, agent_ids: Iterable[str], now: datetime, *, limit: int | None = None
    ) -> dict[str, list[WaitingView]]:
        """`snapshot` for many agents, ordering and viewing each conversation once."""
        positions = self._positions()
        ordered = self._ordered()
        views: dict[str, WaitingView] = {}
        result: dict[str, list[WaitingView]] = {}
        for agent_id in agent_ids:
            profile = self._agent(agent_id).profile
            seen: list[WaitingView] = []
            for entry in ordered:
                if entry.queue.team not in profile.teams or profile.languages.isdisjoint(
                    entry.languages
                ):
                    continue
                view = views.get(entry.conversation_id)
                if view is None:
                    view = self._view(entry, positions[entry.conversation_id], now)
                    views[entry.conversation_id] = view
                seen.append(view)
                if limit is not None and len(seen) >= limit:
                    break
            result[agent_id] = seen
        return result

    def queue_lengths(self) -> dict[QueueKey, int]:
        """Waiting conversations per queue; empty queues are left out."""
        return {key: len(ids) for key, ids in self._queue_orders().items()}

    def assignee(self, conversation_id: str) -> str | None:
        """The agent holding the conversation; None while it waits."""
        return self._entry(conversation_id).agent_id

    def agent_status(self, agent_id: str) -> AgentStatus:
        return self._agent(agent_id).status

    def agent_conversations(self, agent_id: str) -> frozenset[str]:
        return frozenset(self._agent(agent_id).active)

    # -- internals --

    def _agent(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        return agent

    def _entry(self, conversation_id: str) -> _Entry:
        entry = self._entries.get(conversation_id)
        if entry is None:
            raise UnknownConversation(
                f"the router holds no conversation {conversation_id}",
                conversation_id=conversation_id,
            )
        return entry

    def _waiting(self, conversation_id: str) -> _Entry:
        entry = self._entry(conversation_id)
        if entry.agent_id is not None:
            raise NotQueued(f"conversation {conversation_id} is assigned to {entry.agent_id}")
        return entry

    def _add(
        self,
        conversation_id: str,
        queue: QueueKey,
        priority: Priority,
        tier: Tier,
        manager_id: str | None,
        handed_off_at: datetime,
        step_since: datetime,
    ) -> _Entry:
        self._seq += 1
        entry = _Entry(
            conversation_id=conversation_id,
            queue=queue,
            priority=priority,
            tier=tier,
            manager_id=manager_id,
            handed_off_at=handed_off_at,
            chain=self.policy.chain(queue.language),
            languages=(queue.language,),
            step_since=step_since,
            seq=self._seq,
        )
        self._entries[conversation_id] = entry
        return entry

    def _waiting_entries(self) -> Iterable[_Entry]:
        return (e for e in self._entries.values() if e.agent_id is None)

    def _ordered(self) -> list[_Entry]:
        return sorted(self._waiting_entries(), key=_Entry.sort_key)

    def _positions(self) -> dict[str, int]:
        return {
            conversation_id: index
            for ids in self._queue_orders().values()
            for index, conversation_id in enumerate(ids, 1)
        }

    def _queue_orders(self) -> dict[QueueKey, tuple[str, ...]]:
        orders: dict[QueueKey, list[str]] = {}
        for entry in self._ordered():
            orders.setdefault(entry.queue, []).append(entry.conversation_id)
        return {key: tuple(ids) for key, ids in orders.items()}

    def _staffed(self) -> set[tuple[Team, str]]:
        """(team, language) pairs somebody online and offered chats covers, whatever their
        load (a supervisor not taking chats staffs nothing: nobody would be offered them)."""
        return {
            (team, lang)
            for a in self._agents.values()
            if a.status is AgentStatus.ONLINE and a.profile.offered
            for team in a.profile.teams
            for lang in a.profile.languages
        }

    def _ineligible(self, agent: _Agent, entry: _Entry) -> Ineligible | None:
        if agent.status is AgentStatus.OFFLINE:
            return Ineligible.OFFLINE
        if agent.status is AgentStatus.AWAY:
            return Ineligible.AWAY
        if entry.queue.team not in agent.profile.teams:
            return Ineligible.TEAM
        if agent.profile.languages.isdisjoint(entry.languages):
            return Ineligible.LANGUAGE
        # An offer of this very conversation is already counted in the load.
        load = agent.load - (entry.conversation_id in agent.offers)
        if load >= agent.profile.capacity:
            return Ineligible.CAPACITY
        return None

    def _check_manual(self, agent: _Agent, entry: _Entry, *, force: bool, capacity: bool) -> None:
        reason: Ineligible | None = None
        if agent.status is AgentStatus.OFFLINE:
            reason = Ineligible.OFFLINE
        elif force:
            reason = None
        elif agent.status is AgentStatus.AWAY:
            reason = Ineligible.AWAY
        elif agent.profile.languages.isdisjoint(entry.languages):
            reason = Ineligible.LANGUAGE
        elif capacity and agent.load >= agent.profile.capacity:
            reason = Ineligible.CAPACITY
        if reason is not None:
            raise NotEligible(entry.conversation_id, agent.profile.id, reason)

    def _language_rank(self, agent: _Agent, entry: _Entry) -> int:
        return min(
            entry.chain.index(lang) for lang in entry.languages if lang in agent.profile.languages
        )

    def _pick(self, entry: _Entry, agents: Iterable[_Agent]) -> _Agent | None:
        eligible = [a for a in agents if self._ineligible(a, entry) is None]
        pool = [a for a in eligible if a.profile.id not in entry.passed] or eligible
        if not pool:
            return None
        for agent in pool:
            if agent.profile.id == entry.manager_id:
                return agent
        return min(
            pool,
            key=lambda a: (self._language_rank(a, entry), a.load, a.idle_since, a.profile.id),
        )

    def _withdraw(self, entry: _Entry, reason: WithdrawReason, events: list[RoutingEvent]) -> None:
        assert entry.offer is not None
        agent_id = entry.offer.agent_id
        self._agents[agent_id].offers.discard(entry.conversation_id)
        entry.offer = None
        events.append(OfferWithdrawn(entry.conversation_id, agent_id, reason))

    def _assign(
        self,
        entry: _Entry,
        agent: _Agent,
        now: datetime,
        via: AssignedVia,
        events: list[RoutingEvent],
    ) -> None:
        if entry.offer is not None:
            if entry.offer.agent_id == agent.profile.id:
                agent.offers.discard(entry.conversation_id)
                entry.offer = None
            else:
                self._withdraw(entry, WithdrawReason.TAKEN, events)
        entry.agent_id = agent.profile.id
        entry.head = False
        agent.active.add(entry.conversation_id)
        agent.last_assigned_at = now
        if via is not AssignedVia.TRANSFER:
            self._record_assignment(entry.queue, now)
        shared = [lang for lang in entry.chain if lang in agent.profile.languages]
        events.append(
            Assigned(
                conversation_id=entry.conversation_id,
                agent_id=agent.profile.id,
                queue=entry.queue,
                widened=entry.widened,
                # A forced assignment may share no language: report the customer's.
                agent_language=shared[0] if shared else entry.queue.language,
                handed_off_at=entry.handed_off_at,
                via=via,
            )
        )

    def _record_assignment(self, queue: QueueKey, now: datetime) -> None:
        times = self._history.setdefault(queue, deque())
        times.append(now)
        while times and now - times[0] > self.policy.rate_window:
            times.popleft()

    def _interval(self, queue: QueueKey, now: datetime) -> float | None:
        times = [t for t in self._history.get(queue, ()) if now - t <= self.policy.rate_window]
        if len(times) < self.policy.min_rate_samples:
            return None
        mean_gap = _seconds(times[-1] - times[0]) / (len(times) - 1)
        return max(mean_gap, _seconds(now - times[-1]))

    def _widen(
        self,
        entry: _Entry,
        reason: WidenReason,
        staffed: set[tuple[Team, str]],
        now: datetime,
        events: list[RoutingEvent],
    ) -> bool:
        """Extend to the next chain language somebody online speaks; False if there is none."""
        for index in range(len(entry.languages), len(entry.chain)):
            if (entry.queue.team, entry.chain[index]) in staffed:
                entry.languages = entry.chain[: index + 1]
                entry.widen_reason = reason
                entry.step_since = now
                events.append(Widened(entry.conversation_id, entry.queue, entry.languages, reason))
                return True
        return False

    def _settle(self, now: datetime, events: list[RoutingEvent]) -> None:
        fallback_after = self.policy.fallback_after
        staffed = self._staffed()
        for entry in self._ordered():
            if entry.offer is not None and now >= entry.offer.expires_at:
                agent_id = entry.offer.agent_id
                self._agents[agent_id].offers.discard(entry.conversation_id)
                entry.offer = None
                entry.passed.add(agent_id)
                events.append(OfferExpired(entry.conversation_id, agent_id))
            team = entry.queue.team
            if not any((team, lang) in staffed for lang in entry.chain):
                if not entry.stranded:
                    entry.stranded = True
                    events.append(NoAgentAvailable(entry.conversation_id, entry.queue, queued=True))
                continue
            if entry.stranded:
                # Nobody could take it while stranded: its widening step starts now.
                entry.stranded = False
                entry.step_since = now
            if not any((team, lang) in staffed for lang in entry.languages):
                self._widen(entry, WidenReason.NO_AGENT, staffed, now, events)
            elif now - entry.step_since >= fallback_after:
                self._widen(entry, WidenReason.WAIT, staffed, now, events)
        self._dispatch(now, events)
        # The prediction only brings the first widening forward, and only for a
        # conversation nobody could be offered: one on offer is about to be answered.
        widened = False
        positions = self._positions()
        for entry in self._ordered():
            if entry.offer is not None or entry.widened or entry.stranded:
                continue
            interval = self._interval(entry.queue, now)
            if interval is None:
                continue
            if positions[entry.conversation_id] * interval > _seconds(fallback_after):
                widened |= self._widen(entry, WidenReason.PREDICTED_WAIT, staffed, now, events)
        if widened:
            self._dispatch(now, events)

    def _dispatch(self, now: datetime, events: list[RoutingEvent]) -> None:
        # Only agents with a free slot can be offered anything: filter once, not per entry.
        free = [
            a
            for a in self._agents.values()
            if a.status is AgentStatus.ONLINE and a.profile.offered and a.load < a.profile.capacity
        ]
        for entry in self._ordered():
            if not free:
                return
            if entry.offer is not None:
                continue
            agent = self._pick(entry, free)
            if agent is None:
                continue
            expires_at = now + self.policy.accept_timeout
            entry.offer = _Offer(agent.profile.id, expires_at)
            agent.offers.add(entry.conversation_id)
            events.append(Offered(entry.conversation_id, agent.profile.id, entry.queue, expires_at))
            if agent.load >= agent.profile.capacity:
                free.remove(agent)

    def _finish(
        self,
        before: Mapping[QueueKey, tuple[str, ...]],
        events: list[RoutingEvent],
        now: datetime,
    ) -> list[RoutingEvent]:
        self._settle(now, events)
        after = self._queue_orders()
        for key in sorted(before.keys() | after.keys()):
            ids = after.get(key, ())
            if before.get(key, ()) != ids:
                events.append(QueueChanged(key, len(ids), ids))
        return events

    def _view(self, entry: _Entry, position: int, now: datetime) -> WaitingView:
        waited = _seconds(now - entry.handed_off_at)
        interval = self._interval(entry.queue, now)
        return WaitingView(
            conversation_id=entry.conversation_id,
            queue=entry.queue,
            priority=entry.priority,
            tier=entry.tier,
            position=position,
            handed_off_at=entry.handed_off_at,
            waited=waited,
            remaining=_seconds(self.policy.target) - waited,
            languages=entry.languages,
            widened=entry.widened,
            widen_reason=entry.widen_reason,
            offered_to=entry.offer.agent_id if entry.offer else None,
            offer_expires_at=entry.offer.expires_at if entry.offer else None,
            passed=frozenset(entry.passed),
            predicted_wait=None if interval is None else position * interval,
        )


# ---- the router's state as JSON values (Router.to_state, Router.from_state) -----------


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time_from(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _queue_from(value: str) -> QueueKey:
    language, _, team = value.rpartition("/")
    return QueueKey(language, Team(team))


def _agent_state(agent: _Agent) -> dict[str, Any]:
    profile = agent.profile
    return {
        "id": profile.id,
        "name": profile.name,
        "languages": sorted(profile.languages),
        "teams": sorted(profile.teams),
        "capacity": profile.capacity,
        "role": str(profile.role),
        "takes_chats": profile.takes_chats,
        "status": str(agent.status),
        "online_since": agent.online_since.isoformat(),
        "last_assigned_at": _time(agent.last_assigned_at),
        "active": sorted(agent.active),
        "offers": sorted(agent.offers),
    }


def _agent_from(data: Mapping[str, Any]) -> _Agent:
    profile = AgentProfile(
        id=data["id"],
        name=data["name"],
        languages=frozenset(data["languages"]),
        teams=frozenset(Team(t) for t in data["teams"]),
        capacity=int(data["capacity"]),
        role=Role(data["role"]),
        takes_chats=bool(data.get("takes_chats", False)),
    )
    return _Agent(
        profile=profile,
        status=AgentStatus(data["status"]),
        online_since=datetime.fromisoformat(data["online_since"]),
        last_assigned_at=_time_from(data["last_assigned_at"]),
        active=set(data["active"]),
        offers=set(data["offers"]),
    )


def _entry_state(entry: _Entry) -> dict[str, Any]:
    offer = entry.offer
    return {
        "conversation_id": entry.conversation_id,
        "queue": str(entry.queue),
        "priority": str(entry.priority),
        "tier": str(entry.tier),
        "manager_id": entry.manager_id,
        "handed_off_at": entry.handed_off_at.isoformat(),
        "chain": list(entry.chain),
        "languages": list(entry.languages),
        "step_since": entry.step_since.isoformat(),
        "seq": entry.seq,
        "head": entry.head,
        "widen_reason": None if entry.widen_reason is None else str(entry.widen_reason),
        "offer": None
        if offer is None
        else {"agent_id": offer.agent_id, "expires_at": offer.expires_at.isoformat()},
        "passed": sorted(entry.passed),
        "stranded": entry.stranded,
        "agent_id": entry.agent_id,
    }


def _entry_from(data: Mapping[str, Any]) -> _Entry:
    offer = data["offer"]
    reason = data["widen_reason"]
    return _Entry(
        conversation_id=data["conversation_id"],
        queue=_queue_from(data["queue"]),
        priority=Priority(data["priority"]),
        tier=Tier(data["tier"]),
        manager_id=data["manager_id"],
        handed_off_at=datetime.fromisoformat(data["handed_off_at"]),
        chain=tuple(data["chain"]),
        languages=tuple(data["languages"]),
        step_since=datetime.fromisoformat(data["step_since"]),
        seq=int(data["seq"]),
        head=bool(data["head"]),
        widen_reason=None if reason is None else WidenReason(reason),
        offer=None
        if offer is None
        else _Offer(offer["agent_id"], datetime.fromisoformat(offer["expires_at"])),
        passed=set(data["passed"]),
        stranded=bool(data["stranded"]),
        agent_id=data["agent_id"],
    )
