"""Use cases of the human side: hand off, offer and accept, agent replies, transfers, the
first-response clock, closing, and what each participant must be told.

The dispatcher combines the pure router (queues, offers, fallback) and SLA clocks with the
store, and turns their events into `Notify` instructions for the transport. It holds the
desk's live queue state in memory (one process; a shared state for several nodes is the
scale-out step) and stores what must outlive it: conversation state, SLA deadlines,
tracking numbers. Every method runs on the event loop without awaiting between reading
and changing the router, so two accepts of one chat cannot both win.

All or nothing. Memory may not say what the database does not (a transfer the store
refused must not leave the router with the new agent and the old one refused). Every use
case that changes the desk is one unit (`_change`): it checkpoints the router (a copy of
its state) with the SLA clocks, accounts and returning agents, lets the router decide,
then writes; if anything in the unit raises, the checkpoint is put back and the
conversation and SLA rows the unit had saved are saved back as they were. Units run one
at a time (one lock), so putting a checkpoint back never undoes another unit's change made
while this one awaited the store (with SQLite, writes run on the event loop and a unit
never waits anyway). Why undo rather than write first: the router decides more than the
chat asked about (an accept withdraws an offer, makes others, widens a queue), so what to
write is known only once it has decided; deciding on a copy and swapping it in would cost
the same copy and send every read in the unit to the copy. Messages already appended (a
system line such as "Aiko has joined") stay in the transcript, as every message does.
Nothing else leaks: notifications are returned, not sent, and observations (metrics) are
counted when the unit succeeds.

One item never stops the others. The tick goes on per returning agent, routing event and
SLA clock; announcements to other customers (a widened queue, a place in line), briefings
and queue lists (per agent, per listed chat) are made one by one in any use case. A
failing item is logged with its id and counted (`isolated_failure`); it is tried again
next time (a clock that could not be saved is still due).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from chatserver import protocol, routing, sla
from chatserver.agent_view import message_for_agent
from chatserver.agents import AgentAccount
from chatserver.bot import topic_of
from chatserver.clock import Clock, IdFactory
from chatserver.events import Notify
from chatserver.faq import FaqEntry, FaqMatcher
from chatserver.handoff import Handoff
from chatserver.hours import ALWAYS, Hours
from chatserver.i18n import Catalogs
from chatserver.isolation import Isolation
from chatserver.language import supported_tag
from chatserver.models import (
    AgentStatus,
    Author,
    Conversation,
    ConversationStatus,
    DomainError,
    Message,
    NewMessage,
    OfflineRequest,
    Team,
    UnknownConversation,
    UnsupportedLanguage,
)
from chatserver.presence import CustomerPresence, Departure
from chatserver.preview import preview
from chatserver.protocol import ServerEvent
from chatserver.routing import QueueKey, Router
from chatserver.store import Store
from chatserver.system_lines import LineKind, SystemLine
from chatserver.tracking import new_tracking_number

log = logging.getLogger(__name__)

TRANSFER_NOTE = "Transferred by {name}: {reason}"
# The meta kind of the message that ends a chat whose customer left: consoles mark the chat
# as ended when they see it.
CUSTOMER_LEFT = str(LineKind.CUSTOMER_LEFT)
# How long a customer whose sockets are all gone keeps their chat (the setting's default).
DEFAULT_CUSTOMER_GRACE = timedelta(seconds=60)
# A console lists this many waiting chats (in queue order); the rest is only counted.
SNAPSHOT_LIMIT = 25
# Tracking numbers are drawn at random; on the rare clash the store refuses, draw again.
TRACKING_ATTEMPTS = 5


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
class _Clocks:
    """SLA clocks of open conversations, mirrored in the store."""

    by_conversation: dict[str, sla.AppliedSla] = field(default_factory=dict)


@dataclass(slots=True)
class _Unit:
    """What a unit of change puts back if it fails: the desk's memory as it was, and the
    rows it saved as they were before (first save wins)."""

    router: routing.Checkpoint | None  # None: the unit does not change the router
    clocks: dict[str, sla.AppliedSla]
    accounts: dict[str, AgentAccount]
    returning: dict[str, datetime]
    previews: dict[str, str]
    conversations: dict[str, Conversation] = field(default_factory=dict)
    slas: dict[str, tuple[sla.AppliedSla, Conversation]] = field(default_factory=dict)
    observed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def absorb(self, inner: _Unit) -> None:
        """A nested unit succeeded: its rows and observations become this unit's."""
        for key, conversation in inner.conversations.items():
            self.conversations.setdefault(key, conversation)
        for key, saved in inner.slas.items():
            self.slas.setdefault(key, saved)
        self.observed += inner.observed


P = ParamSpec("P")
R = TypeVar("R")


UseCase = Callable[Concatenate["Dispatcher", P], Awaitable[R]]


def _all_or_nothing(*, router: bool = True) -> Callable[[UseCase[P, R]], UseCase[P, R]]:
    """Run a use case as one unit of change (`Dispatcher._change`); `router=False` for one
    that never changes the router (no checkpoint to take)."""

    def decorate(use_case: UseCase[P, R]) -> UseCase[P, R]:
        @functools.wraps(use_case)
        async def unit(self: Dispatcher, /, *args: P.args, **kwargs: P.kwargs) -> R:
            async with self._change(router=router):
                return await use_case(self, *args, **kwargs)

        return unit

    return decorate


class Dispatcher:
    def __init__(
        self,
        *,
        store: Store,
        router: Router,
        clock: Clock,
        new_id: IdFactory,
        catalogs: Catalogs,
        matcher: Callable[[], FaqMatcher],
        languages: Sequence[str],
        policies: sla.SlaPolicies | None = None,
        hours: Hours = ALWAYS,
        observe: Callable[[str, dict[str, Any]], None] | None = None,
        customer_grace: timedelta = DEFAULT_CUSTOMER_GRACE,
    ) -> None:
        self.store = store
        self.router = router
        self.clock = clock
        self.new_id = new_id
        self.catalogs = catalogs
        self.matcher = matcher
        self.languages = tuple(languages)  # the desk's: a queue is one of these and a team
        self.policies = policies or sla.default_policies()
        self.hours = hours
        self.observe = observe or (lambda _name, _labels: None)
        self.accounts: dict[str, AgentAccount] = {}
        self._clocks = _Clocks()
        self._queue_dirty = False
        self._sent_queues: dict[str, object] = {}  # agent id -> what their console last got
        # Agents who held chats when the process stopped, or whose going offline could not
        # be stored -> when `tick` puts their chats back in line.
        self._returning: dict[str, datetime] = {}
        # What queue items show of each chat on the desk (waiting or with an agent, who may
        # put it back in line): the customer's latest message, short (preview.py).
        self._previews: dict[str, str] = {}
        # Which customers still have a socket in their conversation; `tick` lets go of the
        # chats of those gone for longer than the grace.
        self.presence = CustomerPresence(customer_grace)
        self._lock = asyncio.Lock()  # one unit of change at a time
        self._owner: asyncio.Task[Any] | None = None  # the task holding it
        self._unit: _Unit | None = None  # the innermost unit running
        self.failures = Isolation(self._count_failure, log)

    # -- units of change ----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _change(self, *, router: bool = True) -> AsyncIterator[None]:
        """One use case that changes the desk: all of it, or none of it (module docstring).
        A use case that runs another (close -> abandon) nests in it."""
        async with self._exclusive(), self._savepoint(router=router):
            yield

    @contextlib.asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """Hold the desk: no other unit of change runs meanwhile (re-entrant for its task)."""
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            yield
            return
        async with self._lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None

    @contextlib.asynccontextmanager
    async def _savepoint(self, *, router: bool = True) -> AsyncIterator[None]:
        """Undo what the block changed if it raises (the caller holds the desk), e.g. one
        returning agent of the tick. `router=False`: the block leaves the router alone."""
        outer = self._unit
        unit = _Unit(
            router=self.router.checkpoint() if router else None,
            clocks=dict(self._clocks.by_conversation),
            accounts=dict(self.accounts),
            returning=dict(self._returning),
            previews=dict(self._previews),
        )
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

    async def _undo(self, unit: _Unit) -> None:
        if unit.router is not None:
            self.router.rollback(unit.router)
        self._clocks.by_conversation = unit.clocks
        self.accounts.clear()
        self.accounts.update(unit.accounts)
        self._returning = unit.returning
        self._previews = unit.previews
        self._queue_dirty = True
        self._sent_queues.clear()
        for conversation in unit.conversations.values():
            try:
                await self.store.save_conversation(conversation)
            except Exception:
                log.exception("conversation %s could not be saved back", conversation.id)
        for applied, conversation in unit.slas.values():
            try:
                await self.store.save_sla(applied, conversation)
            except Exception:
                log.exception("SLA of %s could not be saved back", conversation.id)

    async def _save(self, conversation: Conversation, *, was: Conversation) -> None:
        """Save a conversation row; if the unit fails, `was` is saved back."""
        await self.store.save_conversation(conversation)
        if self._unit is not None:
            self._unit.conversations.setdefault(conversation.id, was)

    async def _save_sla(
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

    def _record(self, name: str, labels: dict[str, Any]) -> None:
        """An observation, counted once the unit it belongs to has succeeded."""
        if self._unit is not None:
            self._unit.observed.append((name, labels))
        else:
            self.observe(name, labels)

    def _count_failure(self, stage: str) -> None:
        self.observe("isolated_failure", {"stage": stage})

    # -- start-up ---------------------------------------------------------------------

    async def restore(self, *, agent_grace: timedelta = timedelta(0)) -> None:
        """Rebuild the live queue and SLA clocks after a restart, before anyone reconnects.

        Waiting chats are held even though no agent is online yet. An agent who held chats
        keeps them if they come online within `agent_grace`, as after a dropped connection;
        otherwise `tick` re-queues them at the head. No customer is connected yet either:
        each has the customer grace from now to resume, as after a dropped connection.
        """
        now = self.clock.now()
        events: list[routing.RoutingEvent] = []
        restored: set[str] = set()
        async with self._exclusive():
            for conversation in await self.store.open_handoffs():
                if None in (conversation.team, conversation.priority, conversation.handed_off_at):
                    log.warning(
                        "%s conversation %s has no handoff", conversation.status, conversation.id
                    )
                    continue
                # One conversation that cannot be restored leaves the others on the desk.
                with self.failures.item("restore", conversation.id):
                    events += await self._restore_one(conversation, now, agent_grace)
                    restored.add(conversation.id)
                    self.presence.absent(conversation.id, since=now)
            # Nobody is connected to tell yet: a customer hears their place when they resume.
            await self._routed(events, now, isolate=True)
            for conversation_id, message in (
                await self.store.last_customer_messages(sorted(restored))
            ).items():
                self._previews[conversation_id] = preview(message.text)
        self._queue_dirty = True
        for applied in await self.store.pending_slas():
            if applied.conversation_id in restored:
                self._clocks.by_conversation[applied.conversation_id] = applied
            else:
                log.warning(
                    "SLA clock of %s not re-armed: its conversation is no longer with the team",
                    applied.conversation_id,
                )

    async def _restore_one(
        self, conversation: Conversation, now: datetime, agent_grace: timedelta
    ) -> list[routing.RoutingEvent]:
        team, priority = conversation.team, conversation.priority
        handed_off_at = conversation.handed_off_at
        if team is None or priority is None or handed_off_at is None:  # the caller skips these
            raise ValueError(f"conversation {conversation.id} has no handoff")
        route: dict[str, Any] = {
            "language": conversation.language,
            "team": team,
            "priority": priority,
            "handed_off_at": handed_off_at,
            "now": now,
            "tier": conversation.tier,
            "manager_id": await self._manager_id(conversation.manager),
        }
        agent_id = (
            conversation.agent_id if conversation.status is not ConversationStatus.QUEUED else None
        )
        account = await self._restored_agent(agent_id, now) if agent_id else None
        if account is not None:
            events = self.router.restore_assigned(conversation.id, account.id, **route)
            self._returning[account.id] = now + agent_grace
            return events
        # Waiting, or its agent's account is gone: then at the head, as if they left. Stored
        # first: the router takes it only once the store says it waits.
        if conversation.status is not ConversationStatus.QUEUED:
            queued = conversation.transition(ConversationStatus.QUEUED, now)
            await self.store.save_conversation(replace(queued, agent_id=None))
        return self.router.restore_waiting(conversation.id, head=agent_id is not None, **route)

    async def _restored_agent(self, agent_id: str, now: datetime) -> AgentAccount | None:
        """The account of an agent who held chats, registered (offline) with the router."""
        account = self.accounts.get(agent_id) or await self.store.agent(agent_id)
        if account is None or account.disabled:
            return None
        if account.id not in self.accounts:
            self.accounts[account.id] = account
            self.router.upsert_agent(_profile(account), now)
        return account

    # -- agents -----------------------------------------------------------------------

    @_all_or_nothing()
    async def agent_online(self, account: AgentAccount) -> Dispatched:
        now = self.clock.now()
        self.accounts[account.id] = account
        events = self.router.upsert_agent(_profile(account), now)
        events += self.router.agent_online(account.id, now)
        notifications = await self._routed(events, now)
        self._returning.pop(account.id, None)
        # A console that reconnects (a reload, a new tab, back after a restart) may have lost
        # the chats its agent holds: brief it again; consoles take a repeat as an update.
        for conversation_id in sorted(self.router.agent_conversations(account.id)):
            with self.failures.item("briefing", conversation_id):  # the others are briefed
                notifications.append(await self._held(account, conversation_id))
        return Dispatched(notifications)

    async def _held(self, account: AgentAccount, conversation_id: str) -> Notify:
        conversation = await self._conversation(conversation_id)
        language = self.serving_language(account.id, conversation)
        briefing = await self._briefing(
            conversation,
            widened=language != conversation.language
            and language in self.router.policy.chain(conversation.language),
            agent_language=language,
            held=True,
        )
        return Notify.agent(account.id, ServerEvent.CONVERSATION, briefing)

    async def agent_status(self, agent_id: str, status: str) -> Dispatched:
        try:
            return await self._agent_status(agent_id, status)
        except DomainError:
            raise
        except Exception:
            if status == "offline":
                # Nobody may stay online by accident (a grace timer runs once): the tick
                # takes the agent offline as soon as the store takes it.
                self._returning[agent_id] = self.clock.now()
            raise

    @_all_or_nothing()
    async def _agent_status(self, agent_id: str, status: str) -> Dispatched:
        now = self.clock.now()
        if status == "online":
            events = self.router.agent_online(agent_id, now)
        elif status == "away":
            events = self.router.agent_away(agent_id, now)
        else:
            events = self.router.agent_offline(agent_id, now)
            self._returning.pop(agent_id, None)
        return Dispatched(await self._routed(events, now))

    def connected_agents(self) -> list[str]:
        """Agents with a console open (online or away): they get queue snapshots."""
        connected: list[str] = []
        for agent_id in self.accounts:
            with self.failures.item("presence", agent_id):
                if self.router.agent_status(agent_id) is not AgentStatus.OFFLINE:
                    connected.append(agent_id)
        return connected

    def take_queue_update(self) -> list[Notify]:
        """Queue snapshots for every connected agent if the queues changed since the last
        call (else nothing): the ticker sends them, so a burst of changes costs one update.
        An agent whose list cannot be made is skipped (and tried again next time)."""
        if not self._queue_dirty:
            return []
        self._queue_dirty = False
        agent_ids = self.connected_agents()
        snapshots = self._waiting_views(agent_ids, self.clock.now())
        updates: list[Notify] = []
        for agent_id in agent_ids:
            failed = True
            with self.failures.item("queue_update", agent_id):
                update = self._queue_update(agent_id, snapshots[agent_id])
                failed = False
            if failed:
                self._queue_dirty = True  # tried again with the next update
            elif update is not None:
                updates.append(Notify.agent(agent_id, ServerEvent.QUEUE, update))
        return updates

    def _queue_update(
        self, agent_id: str, views: list[routing.WaitingView]
    ) -> protocol.QueuePayload | None:
        # Countdowns run in the console from remaining_seconds; only a change of who waits
        # where is worth a new list (supervisors also follow the desk's load).
        signature = (
            tuple(
                (
                    v.conversation_id,
                    v.position,
                    v.languages,
                    v.offered_to,
                    self._previews.get(v.conversation_id),
                )
                for v in views
            ),
            self._desk_signature() if self._supervises(agent_id) else None,
        )
        if self._sent_queues.get(agent_id) == signature:
            return None
        payload = self._queue_payload(agent_id, views)
        self._sent_queues[agent_id] = signature
        return payload

    def _supervises(self, agent_id: str) -> bool:
        account = self.accounts.get(agent_id)
        return account is not None and account.role.supervises

    def _desk_signature(self) -> tuple[object, ...]:
        return (
            tuple(sorted(self.router.queue_lengths().items())),
            tuple(
                (a, self.router.agent_status(a), len(self.router.agent_conversations(a)))
                for a in self.accounts
            ),
        )

    def queue_for(self, agent_id: str) -> protocol.QueuePayload:
        """What an agent's console shows of the queue; supervisors also see the desk."""
        views = self._waiting_views([agent_id], self.clock.now())[agent_id]
        return self._queue_payload(agent_id, views)

    def console_opened(self, agent_id: str, sid: str) -> list[Notify]:
        """A console connected: its first queue list (the others of the agent have theirs)."""
        return [Notify.console(sid, ServerEvent.QUEUE, self.queue_for(agent_id))]

    def _waiting_views(
        self, agent_ids: Sequence[str], now: datetime
    ) -> dict[str, list[routing.WaitingView]]:
        """What each console lists: the chats an agent could take; for supervisors, every
        waiting chat of the desk (they assign, whatever languages they speak)."""
        supervisors = [a for a in agent_ids if self._supervises(a)]
        views = self.router.snapshots(
            [a for a in agent_ids if a not in supervisors], now, limit=SNAPSHOT_LIMIT
        )
        if supervisors:
            desk = self.router.waiting(now)[:SNAPSHOT_LIMIT]
            views.update(dict.fromkeys(supervisors, desk))
        return views

    def _queue_payload(
        self, agent_id: str, views: list[routing.WaitingView]
    ) -> protocol.QueuePayload:
        waiting: list[protocol.QueueItem] = []
        for view in views:  # a chat that cannot be shown is left out of the list, alone
            with self.failures.item("queue_view", view.conversation_id):
                waiting.append(self._view(view))
        account = self.accounts.get(agent_id)
        if account is None or not account.role.supervises:
            return protocol.queue(waiting)
        return protocol.queue(
            waiting,
            agents=[
                protocol.agent_presence(
                    a,
                    status=str(self.router.agent_status(a.id)),
                    load=len(self.router.agent_conversations(a.id)),
                )
                for a in self.accounts.values()
            ],
            queues=sorted(self.router.queue_lengths().items()),
        )

    # -- customers --------------------------------------------------------------------

    def customer_joined(self, conversation_id: str, sid: str) -> None:
        """A customer socket started or resumed the conversation: the customer is there
        (back in time, if they had gone)."""
        self.presence.join(conversation_id, sid)

    def customer_left(self, conversation_id: str, sid: str) -> None:
        """A customer socket closed or moved to another conversation; when it was their
        last socket there, the grace period starts (`tick` acts when it is over)."""
        self.presence.leave(conversation_id, sid, self.clock.now())

    async def _customer_gone(self, departure: Departure) -> list[Notify]:
        """The customer has been away past the grace. Waiting: they abandoned the queue.
        With an agent: the chat ends, and the agent is told the customer left."""
        conversation_id = departure.conversation_id
        try:
            agent_id = self.router.assignee(conversation_id)
        except UnknownConversation:
            return []  # with the bot, or over already: nobody waits for this customer
        if agent_id is None:
            outcome = await self.abandon(conversation_id, left_at=departure.left_at)
            return outcome.notifications
        return await self._close_for_absence(conversation_id, agent_id, departure.left_at)

    async def _close_for_absence(
        self, conversation_id: str, agent_id: str, left_at: datetime
    ) -> list[Notify]:
        """Close a chat an agent holds because its customer left: its first-response clock
        stops as of their leaving (their absence is no miss of the agent's)."""
        async with self._savepoint():
            return await self._close_held_chat(conversation_id, agent_id, left_at)

    async def _close_held_chat(
        self, conversation_id: str, agent_id: str, left_at: datetime
    ) -> list[Notify]:
        was = conversation = await self._conversation(conversation_id)
        now = self.clock.now()
        # Told while the agent still holds the chat, so that their console gets it too.
        notifications = await self._tell(conversation, SystemLine(LineKind.CUSTOMER_LEFT))
        events = self.router.release(conversation_id, now)
        conversation = replace(
            conversation.transition(ConversationStatus.CLOSED, now), closed_at=now
        )
        await self._save(conversation, was=was)
        self.presence.forget(conversation_id)
        self._previews.pop(conversation_id, None)
        notifications += await self._stop_clocks(conversation, left_at, resolved=False)
        notifications += await self._routed(events, now)
        notifications.append(
            Notify.customer(
                conversation_id,
                ServerEvent.CLOSED,
                protocol.customer_closed(
                    tracking_number=conversation.tracking_number, survey=False, reason=CUSTOMER_LEFT
                ),
            )
        )
        notifications.append(
            Notify.agent(
                agent_id,
                ServerEvent.CLOSED,
                protocol.agent_closed(conversation_id, reason=CUSTOMER_LEFT),
            )
        )
        return notifications

    # -- handoff ----------------------------------------------------------------------

    @_all_or_nothing()
    async def hand_off(self, conversation: Conversation, handoff: Handoff) -> Dispatched:
        """Put the conversation in its queue, start its clocks; offline if nobody can take it."""
        now = self.clock.now()
        if conversation.status is not ConversationStatus.BOT:
            raise NotWaiting("this conversation is already with the team")
        was = conversation
        conversation = await self._with_tracking_number(
            replace(
                conversation.transition(ConversationStatus.QUEUED, now),
                team=handoff.team,
                priority=handoff.priority,
                handed_off_at=now,
            )
        )
        if not self.hours.is_open(now):
            return await self._go_offline(conversation, now, was=was, reason="out_of_hours")
        events = self.router.enqueue(
            conversation.id,
            language=conversation.language,
            team=handoff.team,
            priority=handoff.priority,
            now=now,
            tier=conversation.tier,
            manager_id=await self._manager_id(conversation.manager),
        )
        if any(isinstance(e, routing.NoAgentAvailable) and not e.queued for e in events):
            return await self._go_offline(conversation, now, was=was, reason="no_agent")
        await self._save(conversation, was=was)
        asked = (await self.store.last_customer_messages([conversation.id])).get(conversation.id)
        if asked is not None:
            self._previews[conversation.id] = preview(asked.text)
        notifications = await self._routed(events, now, known=conversation)
        applied = sla.apply(
            sla.policy_for(sla.Channel.CHAT, handoff.priority, self.policies), conversation.id, now
        )
        # A new row cannot be saved back as it was: it is the unit's last write.
        await self._save_sla(applied, conversation, was=None, new=True)
        self._clocks.by_conversation[conversation.id] = applied
        self._record("handoff", {"reason": str(handoff.reason)})
        return Dispatched(notifications)

    @_all_or_nothing()
    async def accept(self, agent_id: str, conversation_id: str) -> Dispatched:
        now = self.clock.now()
        events = self.router.accept(conversation_id, agent_id, now)
        return Dispatched(await self._routed(events, now))

    @_all_or_nothing()
    async def assign(self, supervisor_id: str, conversation_id: str, agent_id: str) -> Dispatched:
        now = self.clock.now()
        events = self.router.assign(conversation_id, agent_id, now, by=supervisor_id)
        return Dispatched(await self._routed(events, now))

    @_all_or_nothing()
    async def transfer(
        self,
        agent_id: str,
        conversation_id: str,
        *,
        to_agent: str | None,
        to_queue: tuple[str, str] | None,
        reason: str,
    ) -> Dispatched:
        queue = self._queue_key(*to_queue) if to_queue else None
        await self._owned(agent_id, conversation_id)
        now = self.clock.now()
        events = self.router.transfer(conversation_id, now, to_agent=to_agent, to_queue=queue)
        # Stored in English for the record; consoles word it in the agent's language
        # from `meta` (TRANSFER_NOTE is the same msgid in their catalog).
        note = await self._post(
            conversation_id,
            Author.SYSTEM,
            TRANSFER_NOTE.format(name=self._name(agent_id), reason=reason).strip(),
            internal=True,
            meta={
                "kind": "transfer",
                "agent_id": agent_id,
                "agent_name": self._name(agent_id),
                "reason": reason,
            },
        )
        notifications = [
            self._to_agents_of(conversation_id, ServerEvent.MESSAGE, protocol.message(note))
        ]
        notifications += await self._routed(events, now)
        return Dispatched(notifications)

    def _queue_key(self, language: str, team: str) -> QueueKey:
        """The queue a client named: one of the desk's languages (in its spelling), a team."""
        served = supported_tag(language, self.languages)
        if served is None:
            raise UnsupportedLanguage(f"{language!r} is not one of this desk's languages")
        try:
            return QueueKey(served, Team(team))
        except ValueError:
            raise InvalidTeam(f"{team!r} is not a team; teams are {', '.join(Team)}") from None

    # -- messages ---------------------------------------------------------------------

    @_all_or_nothing(router=False)
    async def agent_message(
        self, agent_id: str, conversation_id: str, text: str, client_id: str | None, *, note: bool
    ) -> Dispatched:
        """An agent's reply (stops the first-response clock) or internal note (never does).

        A resend (same client id) of a first reply whose follow-up failed (the chat still
        assigned, the clock running) finishes it and goes out now."""
        conversation = await self._owned(agent_id, conversation_id)
        now = self.clock.now()
        appended = await self.store.append_message(
            NewMessage(
                id=self.new_id(),
                conversation_id=conversation_id,
                author=Author.AGENT,
                author_id=agent_id,
                text=text,
                created_at=now,
                client_id=client_id,
                internal=note,
                meta={"agent_id": agent_id, "agent_name": self._name(agent_id)},
            )
        )
        message = appended.message
        applied = self._clocks.by_conversation.get(conversation_id)
        # Stored but not followed up: only a reply whose follow-up failed leaves the
        # first-response clock running (or, without a clock, the chat still assigned).
        unfinished = not note and (
            applied.first_response.running
            if applied is not None
            else conversation.status is ConversationStatus.ASSIGNED
        )
        if not appended.created and not unfinished:
            return Dispatched(result={"message": protocol.message(message), "duplicate": True})
        notifications = [self._message_to_agent(conversation, message)]
        if note:
            return Dispatched(
                notifications, {"message": protocol.message(message), "duplicate": False}
            )
        notifications.append(
            Notify.customer(conversation_id, ServerEvent.MESSAGE, protocol.message(message))
        )
        if conversation.status is ConversationStatus.ASSIGNED:
            was = conversation
            conversation = conversation.transition(ConversationStatus.ACTIVE, now)
            await self._save(conversation, was=was)
        if applied is not None:
            stopped, events = sla.on_agent_message(applied, now, agent_id, internal=False)
            notifications += self._sla_events(events, conversation)
            await self._save_sla(stopped, conversation, was=applied)
            self._clocks.by_conversation[conversation_id] = stopped
        return Dispatched(notifications, {"message": protocol.message(message), "duplicate": False})

    async def customer_message(self, conversation: Conversation, message: Message) -> list[Notify]:
        """A customer's message in a conversation a person has, or waits for: show it to the
        agent who has it; in the queue it is the chat's new preview."""
        if message.conversation_id in self._previews:
            self._previews[message.conversation_id] = preview(message.text)
            self._queue_dirty = True
        return [self._message_to_agent(conversation, message)]

    # -- the end ----------------------------------------------------------------------

    @_all_or_nothing()
    async def close(self, conversation_id: str, *, by_agent: str | None = None) -> Dispatched:
        if by_agent is not None:
            await self._owned(by_agent, conversation_id)
        conversation = await self._conversation(conversation_id)
        now = self.clock.now()
        if conversation.status is ConversationStatus.QUEUED:
            return await self.abandon(conversation_id)
        if not conversation.can_become(ConversationStatus.CLOSED):
            raise NotWaiting(f"a {conversation.status} conversation cannot be closed")
        events: list[routing.RoutingEvent] = []
        if self._assignee(conversation_id) is not None:
            events = self.router.release(conversation_id, now)
        was = conversation
        conversation = replace(
            conversation.transition(ConversationStatus.CLOSED, now), closed_at=now
        )
        await self._save(conversation, was=was)
        self.presence.forget(conversation_id)
        self._previews.pop(conversation_id, None)
        notifications = await self._stop_clocks(conversation, now, resolved=True)
        notifications += await self._routed(events, now)
        if conversation.tracking_number is not None:  # an inquiry: say how to follow it
            notifications += await self._tell(
                conversation,
                SystemLine(LineKind.CLOSED, {"number": conversation.tracking_number}),
            )
        notifications.append(
            Notify.customer(
                conversation_id,
                ServerEvent.CLOSED,
                protocol.customer_closed(tracking_number=conversation.tracking_number, survey=True),
            )
        )
        notifications.append(
            self._to_agents_of(
                conversation_id, ServerEvent.CLOSED, protocol.agent_closed(conversation_id)
            )
        )
        return Dispatched(notifications)

    @_all_or_nothing()
    async def abandon(self, conversation_id: str, *, left_at: datetime | None = None) -> Dispatched:
        """The customer left the queue: by ending the chat, or by being away since
        `left_at` for longer than the grace. Then the first-response clock stops as of
        `left_at` (their absence is no miss of the desk's), and a message tells them why
        if they come back."""
        conversation = await self._conversation(conversation_id)
        now = self.clock.now()
        if conversation.status is not ConversationStatus.QUEUED:
            raise NotWaiting("only a waiting conversation can be abandoned")
        events = self.router.abandon(conversation_id, now)
        was = conversation
        conversation = replace(
            conversation.transition(ConversationStatus.ABANDONED, now), closed_at=now
        )
        await self._save(conversation, was=was)
        self.presence.forget(conversation_id)
        self._previews.pop(conversation_id, None)
        notifications = await self._stop_clocks(conversation, left_at or now, resolved=False)
        notifications += await self._routed(events, now)
        if left_at is not None:
            notifications += await self._tell(conversation, SystemLine(LineKind.CUSTOMER_LEFT))
        closed = protocol.customer_closed(
            tracking_number=conversation.tracking_number,
            survey=False,
            reason=CUSTOMER_LEFT if left_at is not None else None,
        )
        notifications.append(Notify.customer(conversation_id, ServerEvent.CLOSED, closed))
        return Dispatched(notifications)

    @_all_or_nothing(router=False)
    async def leave_message(
        self, conversation_id: str, kind: str, contact: str, text: str
    ) -> Dispatched:
        """Nobody could take the chat: record an email or callback request."""
        was = conversation = await self._conversation(conversation_id)
        now = self.clock.now()
        if conversation.status is ConversationStatus.BOT:
            conversation = conversation.transition(ConversationStatus.OFFLINE, now)
        elif conversation.status is not ConversationStatus.OFFLINE:
            raise NotWaiting("a message can be left only when nobody can chat")
        conversation = await self._with_tracking_number(conversation)
        await self._save(conversation, was=was)
        await self.store.record_offline_request(
            OfflineRequest(self.new_id(), conversation_id, kind, contact, text, now)
        )
        number = conversation.tracking_number or ""
        notifications = await self._tell(
            conversation, SystemLine(LineKind.LEFT_MESSAGE, {"number": number})
        )
        return Dispatched(notifications, {"tracking_number": number})

    # -- time -------------------------------------------------------------------------

    async def tick(self) -> list[Notify]:
        """Customers gone past their grace, offer timeouts, fallback widening, SLA warnings
        and breaches, up to now.

        Each returning agent, routing event and SLA clock on its own: one that fails is
        logged and counted, and tried again on a later tick (the agent is still due back,
        the clock still due), and the others go on."""
        async with self._exclusive():
            now = self.clock.now()
            notifications: list[Notify] = []
            # First: a customer who left must not be offered again, nor breach a target.
            for departure in self.presence.expired(now):
                with self.failures.item("departure", departure.conversation_id):
                    try:
                        notifications += await self._customer_gone(departure)
                    except Exception:
                        # Still gone: reported again, and tried again, on a later tick.
                        self.presence.absent(departure.conversation_id, since=departure.left_at)
                        raise
            for agent_id, due in list(self._returning.items()):
                if due <= now:
                    with self.failures.item("returning_agent", agent_id):
                        notifications += await self._give_up_on(agent_id, now)
            notifications += await self._routed(self.router.tick(now), now, isolate=True)
            for conversation_id, applied in list(self._clocks.by_conversation.items()):
                if self.presence.is_away(conversation_id):
                    # Warnings and breaches wait while the customer may be gone for good:
                    # if they come back they go out then; if not, the clock stops as of
                    # their leaving (`_customer_gone`).
                    continue
                deadline = sla.next_deadline(applied)
                if deadline is not None and deadline <= now:
                    with self.failures.item("sla_clock", conversation_id):
                        notifications += await self._tick_clock(applied, now)
            return notifications

    async def _give_up_on(self, agent_id: str, now: datetime) -> list[Notify]:
        """Not back since the restart (or their leaving could not be stored before): their
        chats go back in line."""
        async with self._savepoint():
            del self._returning[agent_id]
            return await self._routed(self.router.agent_offline(agent_id, now), now)

    async def _tick_clock(self, applied: sla.AppliedSla, now: datetime) -> list[Notify]:
        """The desk's clock moves on once the store has it; until then it stays due."""
        ticked, events = sla.tick(applied, now)
        out: list[Notify] = []
        if events:
            conversation = await self._conversation(applied.conversation_id)
            out = self._sla_events(events, conversation)
            await self.store.save_sla(ticked, conversation)
        self._clocks.by_conversation[applied.conversation_id] = ticked
        return out

    def sla_of(self, conversation_id: str) -> sla.AppliedSla | None:
        """The conversation's SLA clocks as the desk holds them (None: none running)."""
        return self._clocks.by_conversation.get(conversation_id)

    def remaining_seconds(self, conversation_id: str) -> float | None:
        applied = self._clocks.by_conversation.get(conversation_id)
        if applied is None or not applied.first_response.running:
            return None
        return sla.remaining(
            applied, self.clock.now(), sla.ClockKind.FIRST_RESPONSE
        ).total_seconds()

    # -- inside -----------------------------------------------------------------------

    async def _routed(
        self,
        events: Sequence[routing.RoutingEvent],
        now: datetime,
        *,
        known: Conversation | None = None,
        isolate: bool = False,
    ) -> list[Notify]:
        """Apply the router's events to conversations and say who must hear what. `known`
        is a conversation the caller has just saved, so it need not be read again.

        Announcements to other customers (a widened queue, a place in line) are made one by
        one, and one that fails is skipped; with `isolate` (the tick) every event is. Other
        failures fail the caller's unit, which undoes the router's decision."""
        out: list[Notify] = []
        moved: list[str] = []  # customers whose place in line may have changed
        for event in events:
            if isolate or isinstance(event, routing.Widened):
                with self.failures.item("routing_event", _subject(event)):
                    out += await self._apply(event, now, known, moved)
            else:
                out += await self._apply(event, now, known, moved)
        if events:
            self._queue_dirty = True
        for view in self.router.views(moved, now):
            with self.failures.item("position", view.conversation_id):
                out.append(self._position(view))
        return out

    async def _apply(
        self,
        event: routing.RoutingEvent,
        now: datetime,
        known: Conversation | None,
        moved: list[str],
    ) -> list[Notify]:
        out: list[Notify] = []
        if isinstance(event, routing.Queued | routing.Requeued):
            conversation = (
                known
                if known is not None and known.id == event.conversation_id
                else await self._conversation(event.conversation_id)
            )
            if isinstance(event, routing.Requeued) and event.was_assigned:
                was, conversation = (
                    conversation,
                    replace(conversation.transition(ConversationStatus.QUEUED, now), agent_id=None),
                )
                await self._save(conversation, was=was)
            if isinstance(event, routing.Queued):
                out += await self._tell(
                    conversation, SystemLine(LineKind.QUEUED, {"position": event.position})
                )
            moved.append(event.conversation_id)
        elif isinstance(event, routing.QueueChanged):
            moved += event.conversation_ids
        elif isinstance(event, routing.Offered):
            out.append(
                Notify.agent(
                    event.agent_id,
                    ServerEvent.OFFER,
                    protocol.offer(event.conversation_id, event.queue, event.expires_at),
                )
            )
        elif isinstance(event, routing.OfferExpired | routing.OfferWithdrawn):
            out.append(
                Notify.agent(
                    event.agent_id,
                    ServerEvent.OFFER_WITHDRAWN,
                    protocol.conversation_id(event.conversation_id),
                )
            )
        elif isinstance(event, routing.Assigned):
            out += await self._assigned(event, now)
        elif isinstance(event, routing.Widened):
            conversation = await self._conversation(event.conversation_id)
            out += await self._tell(
                conversation, SystemLine(LineKind.FALLBACK, {"language": conversation.language})
            )
            moved.append(event.conversation_id)
            self._record("fallback", {"reason": str(event.reason)})
        elif isinstance(event, routing.Transferred):
            if event.to_agent_id is None:
                was = await self._conversation(event.conversation_id)
                # The team is stored so that a restart puts it back in the same team's queue.
                conversation = replace(
                    was.transition(ConversationStatus.QUEUED, now),
                    agent_id=None,
                    team=event.queue.team,
                )
                await self._save(conversation, was=was)
            out.append(
                Notify.agent(
                    event.from_agent_id,
                    ServerEvent.RELEASED,
                    protocol.conversation_id(event.conversation_id),
                )
            )
        elif isinstance(event, routing.Abandoned):
            self._record("abandoned", {"queue": str(event.queue)})
        return out

    def standing(self, conversation_id: str) -> list[Notify]:
        """A waiting customer's place in line (none unless waiting), e.g. when they resume."""
        return [self._position(v) for v in self.router.views([conversation_id], self.clock.now())]

    def _position(self, view: routing.WaitingView) -> Notify:
        wait = view.predicted_wait
        translator = self.catalogs.translator(view.queue.language)
        # babel words it in the customer's language ("約1分", "about 1 minute")
        worded = translator.format_wait(wait) if wait is not None else None
        return Notify.customer(
            view.conversation_id, ServerEvent.QUEUED, protocol.queued(view, wait=worded)
        )

    async def _assigned(self, event: routing.Assigned, now: datetime) -> list[Notify]:
        was = conversation = await self._conversation(event.conversation_id)
        if conversation.status is ConversationStatus.QUEUED:
            conversation = conversation.transition(ConversationStatus.ASSIGNED, now)
        conversation = replace(conversation, agent_id=event.agent_id, updated_at=now)
        await self._save(conversation, was=was)
        name = self._name(event.agent_id)
        out = await self._tell(conversation, SystemLine(LineKind.ASSIGNED, {"name": name}))
        out.append(
            Notify.customer(
                conversation.id,
                ServerEvent.ASSIGNED,
                protocol.assigned(agent_name=name, language=event.agent_language),
            )
        )
        briefing = await self._briefing(
            conversation, widened=event.widened, agent_language=event.agent_language
        )
        out.append(Notify.agent(event.agent_id, ServerEvent.CONVERSATION, briefing))
        self._record("assigned", {"via": str(event.via), "widened": str(event.widened).lower()})
        return out

    async def _briefing(
        self,
        conversation: Conversation,
        *,
        widened: bool,
        agent_language: str,
        held: bool = False,
    ) -> protocol.BriefingPayload:
        """Everything the agent needs, in English when they serve it through the fallback."""
        messages = await self.store.messages(conversation.id)
        customer_texts = [m.text for m in messages if m.author is Author.CUSTOMER]
        faq_id = next(
            (
                topic
                for m in reversed(messages)
                if m.author is Author.BOT and (topic := topic_of(m.meta)) is not None
            ),
            None,
        )
        english = self.matcher().faq.entry(faq_id, "en") if faq_id is not None else None
        return protocol.briefing(
            conversation,
            messages=[self._for_agent(m, conversation, agent_language) for m in messages],
            widened=widened,
            agent_language=agent_language,
            original_text=customer_texts[-1] if customer_texts else None,
            faq_id=faq_id,
            question_en=english.question if english else None,
            remaining_seconds=self.remaining_seconds(conversation.id),
            held=held,
        )

    async def _go_offline(
        self, conversation: Conversation, now: datetime, *, was: Conversation, reason: str
    ) -> Dispatched:
        conversation = conversation.transition(ConversationStatus.OFFLINE, now)
        await self._save(conversation, was=was)
        number = conversation.tracking_number or ""
        out = await self._tell(conversation, SystemLine(LineKind.OFFLINE, {"number": number}))
        out.append(
            Notify.customer(
                conversation.id,
                ServerEvent.OFFLINE,
                protocol.offline(tracking_number=number, reason=reason),
            )
        )
        self._record("offline", {"reason": reason})
        return Dispatched(out, {"offline": True, "tracking_number": number})

    async def _stop_clocks(
        self, conversation: Conversation, now: datetime, *, resolved: bool
    ) -> list[Notify]:
        applied = self._clocks.by_conversation.get(conversation.id)
        if applied is None:
            return []
        stopped, events = (sla.on_resolved if resolved else sla.cancel)(applied, now)
        await self._save_sla(stopped, conversation, was=applied)
        del self._clocks.by_conversation[conversation.id]
        return self._sla_events(events, conversation)

    def _sla_events(
        self, events: Sequence[sla.SlaEvent], conversation: Conversation
    ) -> list[Notify]:
        out: list[Notify] = []
        for event in events:
            if isinstance(event, sla.SlaWarning):
                warning = protocol.sla_warning(
                    event.conversation_id,
                    kind=str(event.kind),
                    due_at=event.due_at,
                    remaining_seconds=event.remaining.total_seconds(),
                )
                out.append(
                    self._to_agents_of(event.conversation_id, ServerEvent.SLA_WARNING, warning)
                )
                out.append(Notify.supervisors(ServerEvent.SLA_WARNING, warning))
            elif isinstance(event, sla.SlaBreached):
                breach = protocol.sla_breach(
                    event.conversation_id,
                    kind=str(event.kind),
                    due_at=event.due_at,
                    conversation=conversation,
                )
                out.append(
                    self._to_agents_of(event.conversation_id, ServerEvent.SLA_BREACH, breach)
                )
                out.append(Notify.supervisors(ServerEvent.SLA_BREACH, breach))
            elif (
                isinstance(event, sla.SlaClockStopped)
                and event.kind is sla.ClockKind.FIRST_RESPONSE
            ):
                self._record(
                    "first_response",
                    {
                        "seconds": event.elapsed.total_seconds(),
                        "status": str(event.status),
                        # Only an agent's answer is a response time; a chat that ended
                        # without one (abandoned, the customer left) only has a status.
                        "answered": event.agent_id is not None,
                        "language": conversation.language,
                        "team": str(conversation.team),
                        "priority": str(conversation.priority),
                    },
                )
        return out

    def _to_agents_of(
        self, conversation_id: str, event: ServerEvent, payload: Mapping[str, Any]
    ) -> Notify:
        """To whoever has the conversation (nobody while it waits, or when the router does not
        hold it: before a handoff, or after it went offline)."""
        return Notify.agent(self._assignee(conversation_id) or "", event, payload)

    def _assignee(self, conversation_id: str) -> str | None:
        try:
            return self.router.assignee(conversation_id)
        except UnknownConversation:
            return None

    async def _tell(self, conversation: Conversation, line: SystemLine) -> list[Notify]:
        """A system line to the customer, stored in their language; the agent who has the
        chat reads it in theirs."""
        text = line.render(self.catalogs.translator(conversation.language))
        message = await self._post(
            conversation.id, Author.SYSTEM, text, language=conversation.language, meta=line.meta()
        )
        return [
            Notify.customer(conversation.id, ServerEvent.MESSAGE, protocol.message(message)),
            self._message_to_agent(conversation, message),
        ]

    def _message_to_agent(self, conversation: Conversation, message: Message) -> Notify:
        """A message of the conversation to the agent who has it (nobody while it waits),
        as they read it (`agent_view`)."""
        agent_id = self._assignee(conversation.id)
        if agent_id is None:
            return Notify.agent("", ServerEvent.MESSAGE, {})
        payload = self._for_agent(
            message, conversation, self.serving_language(agent_id, conversation)
        )
        return Notify.agent(agent_id, ServerEvent.MESSAGE, payload)

    def _for_agent(
        self, message: Message, conversation: Conversation, agent_language: str
    ) -> protocol.MessagePayload:
        return message_for_agent(
            message,
            conversation_language=conversation.language,
            agent_language=agent_language,
            entry=self._faq_entry,
            catalogs=self.catalogs,
        )

    def _faq_entry(self, faq_id: str, language: str) -> FaqEntry | None:
        return self.matcher().faq.entry(faq_id, language)

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

    async def _post(
        self,
        conversation_id: str,
        author: Author,
        text: str,
        *,
        language: str | None = None,
        internal: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> Message:
        appended = await self.store.append_message(
            NewMessage(
                id=self.new_id(),
                conversation_id=conversation_id,
                author=author,
                text=text,
                created_at=self.clock.now(),
                language=language,
                internal=internal,
                meta=meta or {},
            )
        )
        return appended.message

    async def _with_tracking_number(self, conversation: Conversation) -> Conversation:
        if conversation.tracking_number is not None:
            return conversation
        for _ in range(TRACKING_ATTEMPTS):
            number = new_tracking_number()
            if await self.store.conversation_by_tracking_number(number) is None:
                return replace(conversation, tracking_number=number)
        raise RuntimeError("could not draw a free tracking number")

    async def _conversation(self, conversation_id: str) -> Conversation:
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:
            raise UnknownConversation(
                f"no conversation {conversation_id}", conversation_id=conversation_id
            )
        return conversation

    async def _owned(self, agent_id: str, conversation_id: str) -> Conversation:
        if self._assignee(conversation_id) != agent_id:
            raise NotYourConversation("this conversation is not assigned to you")
        return await self._conversation(conversation_id)

    def _name(self, agent_id: str) -> str:
        account = self.accounts.get(agent_id)
        return account.name if account is not None else agent_id

    async def _manager_id(self, username: str | None) -> str | None:
        """The account manager's agent id, whether or not they are online yet: the router
        offers them the chat first once they are."""
        if username is None:
            return None
        known = next((a.id for a in self.accounts.values() if a.username == username), None)
        if known is not None:
            return known
        account = await self.store.agent_by_username(username)
        return account.id if account is not None else None

    def _view(self, view: routing.WaitingView) -> protocol.QueueItem:
        return protocol.queue_item(view, preview=self._previews.get(view.conversation_id))


def _profile(account: AgentAccount) -> routing.AgentProfile:
    return routing.AgentProfile(
        id=account.id,
        name=account.name,
        languages=frozenset(account.languages),
        teams=frozenset(account.teams),
        capacity=account.capacity,
        role=account.role,
    )


def _subject(event: routing.RoutingEvent) -> str:
    """What an event is about, for the log: its conversation, or its queue."""
    return event.conversation_id if hasattr(event, "conversation_id") else str(event.queue)
