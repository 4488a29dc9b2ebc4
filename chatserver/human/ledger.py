"""The desk's units of change and the lookups over its memory: the room every other room
of the human side stands on.

This module owns the all-or-nothing machinery over the desk's memory (`change`,
`savepoint`, `save`, `save_sla`, `record`), names for the parts of that memory (the
router, the agents' accounts, SLA clocks, previews, customers' and agents' presence, all
held behind the desk-state port, chatserver/desk_state.py), what each console was last
sent, and the lookups every room needs (a conversation, who has it, an agent's name, the
language an agent serves a chat in). It must not know what the rooms do with it: no use
case, no wording, no payload.

All or nothing. Memory may not say what the database does not (a transfer the store
refused must not leave the router with the new agent and the old one refused). Every use
case that changes the desk is one unit (`change`, or `all_or_nothing` on a room's method):
it holds the desk (`DeskState.hold`), checkpoints its memory (`DeskMemory.checkpoint`: the
router, SLA clocks, accounts, agents' deadlines, previews), lets the router decide, then
writes; if anything in the unit raises,
the checkpoint is put back and the conversation and SLA rows the unit had saved are saved
back as they were. Units run one at a time (the port's hold), so putting a checkpoint back never
undoes another unit's change made while this one awaited the store (with SQLite, writes run
on the event loop and a unit never waits anyway). Why undo rather than write first: the
router decides more than the chat asked about (an accept withdraws an offer, makes others,
widens a queue), so what to write is known only once it has decided; deciding on a copy
and swapping it in would cost the same copy and send every read in the unit to the copy.
Messages already appended (a system line such as "Aiko has joined") stay in the
transcript, as every message does. Nothing else leaks: notifications are returned, not
sent, and observations (metrics) are counted when the unit succeeds.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from chatserver import holdings, sla
from chatserver.agents import AgentAccount
from chatserver.clock import Clock, IdFactory
from chatserver.desk_state import DeskMemory, DeskState, LocalDeskState, MemoryCheckpoint
from chatserver.events import Notify
from chatserver.faq import FaqMatcher
from chatserver.holdings import HoldingChange, HoldingEnd
from chatserver.i18n import Catalogs
from chatserver.isolation import Isolation
from chatserver.models import Conversation, DomainError, UnknownConversation
from chatserver.presence import AgentPresence, CustomerPresence
from chatserver.protocol import ServerEvent
from chatserver.routing import Router
from chatserver.store import Store

# Under the facade's name, as before the rooms were split out: log filters keep working.
log = logging.getLogger("chatserver.dispatch")

# How long a customer whose sockets are all gone keeps their chat (the setting's default).
DEFAULT_CUSTOMER_GRACE = timedelta(seconds=60)


class NotYourConversation(DomainError):
    code = "not_your_conversation"


class NotWaiting(DomainError):
    code = "not_waiting"


class InvalidTeam(DomainError):
    code = "invalid_payload"


@dataclass(frozen=True, slots=True)
class Dispatched:
    """What a use case of the human side returns: whom to tell what (`notifications`, for
    the transport to publish) and what the caller's acknowledgement carries (`result`)."""

    notifications: list[Notify] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Unit:
    """What a unit of change puts back if it fails: the desk's memory as it was, and the
    rows it saved as they were before (first save wins)."""

    memory: MemoryCheckpoint
    conversations: dict[str, Conversation] = field(default_factory=dict)
    slas: dict[str, tuple[sla.AppliedSla, Conversation]] = field(default_factory=dict)
    observed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    effects: list[Callable[[], None]] = field(default_factory=list)
    holdings: list[HoldingChange] = field(default_factory=list)  # in the order written

    def absorb(self, inner: _Unit) -> None:
        """A nested unit succeeded: its rows and observations become this unit's."""
        for key, conversation in inner.conversations.items():
            self.conversations.setdefault(key, conversation)
        for key, saved in inner.slas.items():
            self.slas.setdefault(key, saved)
        self.observed += inner.observed
        self.effects += inner.effects
        self.holdings += inner.holdings


class Room:
    """A room of the human side: use cases over the shared ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger


P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound=Room)


def all_or_nothing(
    *, router: bool = True
) -> Callable[
    [Callable[Concatenate[S, P], Awaitable[R]]], Callable[Concatenate[S, P], Awaitable[R]]
]:
    """Run a room's use case as one unit of change (`Ledger.change`); `router=False` for one
    that never changes the router (no checkpoint to take)."""

    def decorate(
        use_case: Callable[Concatenate[S, P], Awaitable[R]],
    ) -> Callable[Concatenate[S, P], Awaitable[R]]:
        @functools.wraps(use_case)
        async def unit(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            async with self.ledger.change(router=router):
                return await use_case(self, *args, **kwargs)

        return unit

    return decorate


class Ledger:
    """The desk's memory, its units of change and the lookups over it (module docstring)."""

    def __init__(
        self,
        *,
        store: Store,
        router: Router,
        clock: Clock,
        new_id: IdFactory,
        catalogs: Catalogs,
        matcher: Callable[[], FaqMatcher],
        observe: Callable[[str, dict[str, Any]], None] | None = None,
        customer_grace: timedelta = DEFAULT_CUSTOMER_GRACE,
        agent_grace: timedelta = timedelta(0),
        state: DeskState | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id
        self.catalogs = catalogs
        self.matcher = matcher
        self.observe = observe or (lambda _name, _labels: None)
        # The desk's memory behind its port (desk_state.py); in this process by default.
        self.state: DeskState = state or LocalDeskState(
            DeskMemory(
                router=router,
                customers=CustomerPresence(customer_grace),
                agents=AgentPresence(agent_grace),
            )
        )
        self.queue_dirty = False
        self.sent_queues: dict[str, object] = {}  # agent id -> what their console last got
        # Waiting customers who moved up since they were last told their place (routed.py,
        # `Routed.due_positions`). Kept in this process, not in the desk's memory: it is a
        # debt of this process's sockets' news, not a decision of the desk. Each process
        # tells those whose moves it applied (emits reach any process through Socket.IO's
        # manager), so the shared state is neither written nor grown by it, and no unit
        # takes the desk's lock to pay it when it is empty. Not undone with a failed unit:
        # a customer is always told their place as it is then, which is never wrong; a
        # process that dies owes at most a second of news, made good by the next move.
        self.positions_due: set[str] = set()
        self._unit: _Unit | None = None  # the innermost unit running
        self.failures = Isolation(self._count_failure, log)

    # -- the memory (desk_state.py), by name ----------------------------------------------

    @property
    def router(self) -> Router:
        return self.state.memory.router

    @property
    def accounts(self) -> dict[str, AgentAccount]:
        return self.state.memory.accounts

    @property
    def clocks(self) -> dict[str, sla.AppliedSla]:
        """SLA clocks of open conversations, mirrored in the store."""
        return self.state.memory.clocks

    @property
    def previews(self) -> dict[str, str]:
        """What queue items show of each chat on the desk (preview.py)."""
        return self.state.memory.previews

    @property
    def urgent(self) -> dict[str, list[str] | None]:
        """Urgent chats whose alert was raised: the agents told while it is up, None once
        taken (desk_state.DeskMemory.urgent)."""
        return self.state.memory.urgent

    @property
    def seen(self) -> dict[str, int]:
        """The highest seq each customer has seen (desk_state.DeskMemory.seen)."""
        return self.state.memory.seen

    @property
    def presence(self) -> CustomerPresence:
        """Which customers still have a socket in their conversation; the tick lets go of
        the chats of those gone for longer than the customer grace."""
        return self.state.memory.customers

    @property
    def agents(self) -> AgentPresence:
        """Agents' consoles, and when those without one are due back (the agent grace)."""
        return self.state.memory.agents

    # -- units of change ----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def change(self, *, router: bool = True) -> AsyncIterator[None]:
        """One use case that changes the desk: all of it, or none of it (module docstring).
        A use case that runs another (close -> abandon) nests in it."""
        async with self.exclusive(), self.savepoint(router=router):
            yield

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the desk: no other unit of change runs meanwhile (re-entrant for its task)."""
        async with self.state.hold():
            yield

    @contextlib.asynccontextmanager
    async def savepoint(self, *, router: bool = True) -> AsyncIterator[None]:
        """Undo what the block changed if it raises (the caller holds the desk), e.g. one
        returning agent of the tick. `router=False`: the block leaves the router alone."""
        outer = self._unit
        unit = _Unit(self.state.memory.checkpoint(router=router))
        self._unit = unit
        try:
            yield
        except BaseException:
            self._unit = outer
            await self._undo(unit)
            raise
        self._unit = outer
        if outer is not None:
            outer.absorb(unit)
        else:
            for name, labels in unit.observed:
                self.observe(name, labels)
            for effect in unit.effects:
                self._run(effect)

    async def _undo(self, unit: _Unit) -> None:
        self.state.memory.rollback(unit.memory)
        self.queue_dirty = True
        self.sent_queues.clear()
        for conversation in unit.conversations.values():
            # The history's steps taken back with the row, latest first, in one write.
            steps = [
                step.undone()
                for step in reversed(unit.holdings)
                if step.conversation_id == conversation.id
            ]
            try:
                await self.store.save_conversation(conversation, holdings=steps)
            except Exception:
                log.exception("conversation %s could not be saved back", conversation.id)
        for applied, conversation in unit.slas.values():
            try:
                await self.store.save_sla(applied, conversation)
            except Exception:
                log.exception("SLA of %s could not be saved back", conversation.id)

    async def save(
        self, conversation: Conversation, *, was: Conversation, ended: HoldingEnd | None = None
    ) -> None:
        """Save a conversation row, with the step of its holding history when its holder
        changed (`ended`: how the old holder's stretch ended, when the caller knows); if
        the unit fails, `was` is saved back and the step taken back."""
        step = holdings.change(was, conversation, self.clock.now(), ended=ended)
        steps = (step,) if step is not None else ()
        await self.store.save_conversation(conversation, holdings=steps)
        if self._unit is not None:
            self._unit.conversations.setdefault(conversation.id, was)
            self._unit.holdings += steps

    async def save_sla(
        self,
        applied: sla.AppliedSla,
        conversation: Conversation,
        *,
        was: sla.AppliedSla | None,
        new: bool = False,
    ) -> None:
        """Save an SLA row; if the unit fails, `was` is saved back. A new row (`was` None)
        cannot be taken back: it is the unit's last write."""
        await self.store.save_sla(applied, conversation, new=new)
        if self._unit is not None and was is not None:
            self._unit.slas.setdefault(conversation.id, (was, conversation))

    def record(self, name: str, labels: dict[str, Any]) -> None:
        """An observation, counted once the unit it belongs to has succeeded."""
        if self._unit is not None:
            self._unit.observed.append((name, labels))
        else:
            self.observe(name, labels)

    def after(self, effect: Callable[[], None]) -> None:
        """Something to do outside the desk (start sending an alert) once the unit it
        belongs to has succeeded: a unit that fails never started it."""
        if self._unit is not None:
            self._unit.effects.append(effect)
        else:
            self._run(effect)

    def _run(self, effect: Callable[[], None]) -> None:
        with self.failures.item("after_unit", getattr(effect, "__name__", "effect")):
            effect()

    def _count_failure(self, stage: str) -> None:
        self.observe("isolated_failure", {"stage": stage})

    # -- lookups ------------------------------------------------------------------------

    async def conversation(self, conversation_id: str) -> Conversation:
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:
            raise UnknownConversation(
                f"no conversation {conversation_id}", conversation_id=conversation_id
            )
        return conversation

    async def owned(self, agent_id: str, conversation_id: str) -> Conversation:
        if self.assignee(conversation_id) != agent_id:
            raise NotYourConversation("this conversation is not assigned to you")
        return await self.conversation(conversation_id)

    def assignee(self, conversation_id: str) -> str | None:
        try:
            return self.router.assignee(conversation_id)
        except UnknownConversation:
            return None

    def to_agents_of(
        self, conversation_id: str, event: ServerEvent, payload: Mapping[str, Any]
    ) -> Notify:
        """To whoever has the conversation (nobody while it waits, or when the router does not
        hold it: before a handoff, or after it went offline)."""
        return Notify.agent(self.assignee(conversation_id) or "", event, payload)

    def name(self, agent_id: str) -> str:
        account = self.accounts.get(agent_id)
        return account.name if account is not None else agent_id

    def supervises(self, agent_id: str) -> bool:
        account = self.accounts.get(agent_id)
        return account is not None and account.role.supervises

    async def manager_id(self, username: str | None) -> str | None:
        """The account manager's agent id, whether or not they are online yet: the router
        offers them the chat first once they are."""
        if username is None:
            return None
        known = next((a.id for a in self.accounts.values() if a.username == username), None)
        if known is not None:
            return known
        account = await self.store.agent_by_username(username)
        return account.id if account is not None else None

    def serving_language(self, agent_id: str, conversation: Conversation) -> str:
        """The language an agent serves a chat in: the first of its language's fallback chain
        they speak (a Thai chat, an English agent: en); one they were given outside it (a
        supervisor's assignment) in their most fluent language."""
        account = self.accounts.get(agent_id)
        if account is None:
            return conversation.language
        chain = self.router.policy.chain(conversation.language)
        spoken = next((language for language in chain if language in account.languages), None)
        return spoken or (account.languages[0] if account.languages else conversation.language)

    def widened_for(self, language: str, conversation: Conversation) -> bool:
        """Whether an agent serving in `language` serves the chat through its fallback."""
        return language != conversation.language and language in self.router.policy.chain(
            conversation.language
        )

    def sla_of(self, conversation_id: str) -> sla.AppliedSla | None:
        """The conversation's SLA clocks as the desk holds them (None: none running)."""
        return self.clocks.get(conversation_id)

    def remaining_seconds(self, conversation_id: str) -> float | None:
        """Time left to the first response (None: no first-response clock running)."""
        applied = self.clocks.get(conversation_id)
        if applied is None or not applied.first_response.running:
            return None
        return sla.remaining(
            applied, self.clock.now(), sla.ClockKind.FIRST_RESPONSE
        ).total_seconds()
