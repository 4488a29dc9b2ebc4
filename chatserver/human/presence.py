"""Who is there: agents online, away or offline (and their consoles briefed again when
they reconnect), agents' consoles and customers' sockets, and both grace periods. An agent
whose last console closed, who held chats when the process stopped, or whose leaving could
not be stored, is due back by a deadline: back in time, they keep their chats, else the
tick takes them offline and their chats go back in line. A customer whose sockets are all
gone keeps their place for the customer grace. (`chatserver/presence.py` keeps the sockets
and deadlines, in the desk's memory.)

This module owns the agents' registration with the router, the agents due back and the
rebuilding of the live queue after a restart. It must not close or abandon chats (the
customer's departure is `assignment.py`'s) nor build queue lists (`views.py`).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chatserver import holdings, protocol, routing
from chatserver.agents import AgentAccount
from chatserver.events import Notify
from chatserver.human.ledger import Dispatched, Ledger, Room, all_or_nothing, log
from chatserver.human.routed import Routed
from chatserver.human.telling import Teller
from chatserver.models import AgentStatus, Conversation, ConversationStatus, DomainError
from chatserver.presence import dead_sockets, nodes_of
from chatserver.preview import preview
from chatserver.protocol import ServerEvent

# How often the tick looks for processes that stopped beating (each has 6 s to be missed).
SWEEP_EVERY = timedelta(seconds=1)


class Presence(Room):
    """Agents coming and going, customers' sockets, the grace periods, the restart."""

    def __init__(self, ledger: Ledger, *, teller: Teller, routed: Routed) -> None:
        super().__init__(ledger)
        self.teller = teller
        self.routed = routed
        self._next_sweep = datetime.min.replace(tzinfo=UTC)  # for sockets of dead processes

    # -- agents -----------------------------------------------------------------------

    @all_or_nothing()
    async def agent_online(
        self, account: AgentAccount, *, status: str = "online", status_stands: bool = True
    ) -> Dispatched:
        """A console connected, in the `status` its agent chose (a reconnect's page says
        which): straight to it, so that an agent who stepped away is not online for a
        moment, long enough to be offered a chat. But while another of the agent's consoles
        is open, the agent's status stands (`status_stands`): a second tab, or one that
        missed a change while it reconnected, must not undo what the agent chose in the
        first. A rebuilt desk re-announcing its consoles says False: it knows nobody's
        status but `status`. Every console is told the status that results (`status`)."""
        ledger = self.ledger
        now = ledger.clock.now()
        ledger.accounts[account.id] = account
        router = ledger.router
        if status_stands and ledger.agents.consoles(account.id) > 1:
            with contextlib.suppress(routing.UnknownAgent):  # unknown: the console's word
                status = str(router.agent_status(account.id))
        step = {"away": router.agent_away, "offline": router.agent_offline}.get(
            status, router.agent_online
        )
        try:  # known (a reconnect): the status first, then the profile, which may offer
            events = step(account.id, now) + router.upsert_agent(profile(account), now)
        except routing.UnknownAgent:  # registered offline, then the status
            events = router.upsert_agent(profile(account), now) + step(account.id, now)
        notifications = await self.routed.apply(events, now)
        notifications.append(self._status_told(account.id))
        ledger.agents.settled(account.id)
        # A console that reconnects (a reload, a new tab, back after a restart) may have lost
        # the chats its agent holds: brief it again; consoles take a repeat as an update.
        for conversation_id in sorted(ledger.router.agent_conversations(account.id)):
            with ledger.failures.item("briefing", conversation_id):  # the others are briefed
                notifications.append(await self._held(account, conversation_id))
        return Dispatched(notifications)

    async def _held(self, account: AgentAccount, conversation_id: str) -> Notify:
        ledger = self.ledger
        conversation = await ledger.conversation(conversation_id)
        language = ledger.serving_language(account.id, conversation)
        briefing = await self.teller.briefing(
            conversation,
            widened=ledger.widened_for(language, conversation),
            agent_language=language,
            remaining_seconds=ledger.remaining_seconds(conversation.id),
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
                self.ledger.agents.due_back(agent_id, by=self.ledger.clock.now())
            raise

    @all_or_nothing()
    async def _agent_status(self, agent_id: str, status: str) -> Dispatched:
        ledger = self.ledger
        now = ledger.clock.now()
        if status == "online":
            events = ledger.router.agent_online(agent_id, now)
        elif status == "away":
            events = ledger.router.agent_away(agent_id, now)
        else:
            events = ledger.router.agent_offline(agent_id, now)
            ledger.agents.settled(agent_id)
        notifications = await self.routed.apply(events, now)
        return Dispatched([*notifications, self._status_told(agent_id)])

    def _status_told(self, agent_id: str) -> Notify:
        """The agent's status as the router now has it, to each of their consoles."""
        status = str(self.ledger.router.agent_status(agent_id))
        return Notify.agent(agent_id, ServerEvent.STATUS, protocol.agent_status(status))

    @all_or_nothing()
    async def take_chats(self, agent_id: str, on: bool) -> Dispatched:
        """A supervisor chooses whether the router offers them chats (stored first, so that
        the choice outlives the session); agents are always offered chats."""
        ledger = self.ledger
        now = ledger.clock.now()
        account = ledger.accounts.get(agent_id) or await ledger.store.agent(agent_id)
        if account is None:
            raise routing.UnknownAgent(agent_id)
        if not account.role.supervises:
            raise routing.NotPermitted("agents are always offered chats")
        await ledger.store.set_takes_chats(agent_id, on)
        account = replace(account, takes_chats=on)
        ledger.accounts[agent_id] = account
        events = ledger.router.upsert_agent(profile(account), now)
        return Dispatched(await self.routed.apply(events, now), {"take_chats": on})

    def connected_agents(self) -> list[str]:
        """Agents with a console open (online or away): they get queue snapshots."""
        ledger = self.ledger
        connected: list[str] = []
        for agent_id in ledger.accounts:
            with ledger.failures.item("presence", agent_id):
                if ledger.router.agent_status(agent_id) is not AgentStatus.OFFLINE:
                    connected.append(agent_id)
        return connected

    async def console_connected(self, agent_id: str, sid: str) -> None:
        """One of the agent's consoles connected: if they were due back, they are back."""
        ledger = self.ledger
        async with ledger.exclusive():
            ledger.agents.connect(agent_id, ledger.state.socket(sid))

    async def console_closed(self, agent_id: str, sid: str) -> None:
        """One of the agent's consoles went; with their last, the agent grace starts (the
        tick takes them offline when it is over, `returning_due`)."""
        ledger = self.ledger
        async with ledger.exclusive():
            ledger.agents.disconnect(agent_id, ledger.state.socket(sid), ledger.clock.now())

    async def sockets_of_dead_processes(self, now: datetime) -> None:
        """Let go of the sockets of processes that stopped beating (the caller holds the
        desk): the grace periods start for their people, who reconnect to another one."""
        ledger = self.ledger
        # Not on every tick: copying every socket of a big desk four times a second is work
        # for nothing when no process is looked up more often than once a second.
        if not ledger.state.shared or now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_EVERY
        customers, consoles = ledger.presence.sockets(), ledger.agents.sockets()
        named = nodes_of(customers) | nodes_of(consoles)
        if not named:
            return
        dead = await ledger.state.dead_nodes(named)
        for conversation_id, socket in dead_sockets(customers, dead):
            ledger.presence.leave(conversation_id, socket, now)
        for agent_id, socket in dead_sockets(consoles, dead):
            ledger.agents.disconnect(agent_id, socket, now)

    async def returning_due(self, now: datetime) -> list[Notify]:
        """Agents not back by their deadline (a closed console's grace, a restart's, or at
        once when their leaving could not be stored): offline, their chats back in line,
        each agent on its own (one that fails stays due)."""
        ledger = self.ledger
        notifications: list[Notify] = []
        for agent_id in ledger.agents.overdue(now):
            with ledger.failures.item("returning_agent", agent_id):
                async with ledger.savepoint():
                    ledger.agents.settled(agent_id)
                    try:
                        events = ledger.router.agent_offline(agent_id, now)
                    except routing.UnknownAgent:  # never registered: nothing to take back
                        continue
                    notifications += await self.routed.apply(events, now)
        return notifications

    # -- customers --------------------------------------------------------------------

    async def customer_joined(self, conversation_id: str, sid: str) -> None:
        """A customer socket started or resumed the conversation: the customer is there
        (back in time, if they had gone)."""
        ledger = self.ledger
        async with ledger.exclusive():
            ledger.presence.join(conversation_id, ledger.state.socket(sid))

    async def customer_left(self, conversation_id: str, sid: str) -> None:
        """A customer socket closed or moved to another conversation; when it was their
        last socket there, the grace period starts (the tick acts when it is over)."""
        ledger = self.ledger
        async with ledger.exclusive():
            ledger.presence.leave(conversation_id, ledger.state.socket(sid), ledger.clock.now())

    # -- start-up ---------------------------------------------------------------------

    async def restore(self, *, agent_grace: timedelta = timedelta(0)) -> None:
        """Rebuild the live queue and SLA clocks after a restart, before anyone reconnects.

        Waiting chats are held even though no agent is online yet. An agent who held chats
        keeps them if they come online within `agent_grace`, as after a dropped connection;
        otherwise the tick re-queues them at the head. No customer is connected yet either:
        each has the customer grace from now to resume, as after a dropped connection.
        """
        ledger = self.ledger
        now = ledger.clock.now()
        events: list[routing.RoutingEvent] = []
        restored: set[str] = set()
        async with ledger.exclusive():
            for conversation in await ledger.store.open_handoffs():
                if None in (conversation.team, conversation.priority, conversation.handed_off_at):
                    log.warning(
                        "%s conversation %s has no handoff", conversation.status, conversation.id
                    )
                    continue
                # One conversation that cannot be restored leaves the others on the desk.
                with ledger.failures.item("restore", conversation.id):
                    events += await self._restore_one(conversation, now, agent_grace)
                    restored.add(conversation.id)
                    ledger.presence.absent(conversation.id, since=now)
            # Nobody is connected to tell yet: a customer hears their place when they resume.
            await self.routed.apply(events, now, isolate=True)
            for conversation_id, message in (
                await ledger.store.last_customer_messages(sorted(restored))
            ).items():
                ledger.previews[conversation_id] = preview(message.text)
            for applied in await ledger.store.pending_slas():
                if applied.conversation_id in restored:
                    ledger.clocks[applied.conversation_id] = applied
                else:
                    log.warning(
                        "SLA clock of %s not re-armed: its conversation is no longer with the team",
                        applied.conversation_id,
                    )
        ledger.queue_dirty = True

    async def _restore_one(
        self, conversation: Conversation, now: datetime, agent_grace: timedelta
    ) -> list[routing.RoutingEvent]:
        ledger = self.ledger
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
            "manager_id": await ledger.manager_id(conversation.manager),
        }
        agent_id = (
            conversation.agent_id if conversation.status is not ConversationStatus.QUEUED else None
        )
        account = await self._restored_agent(agent_id, now) if agent_id else None
        if account is not None:
            events = ledger.router.restore_assigned(conversation.id, account.id, **route)
            ledger.agents.due_back(account.id, by=now + agent_grace)
            return events
        # Waiting, or its agent's account is gone: then at the head, as if they left. Stored
        # first: the router takes it only once the store says it waits.
        if conversation.status is not ConversationStatus.QUEUED:
            queued = replace(conversation.transition(ConversationStatus.QUEUED, now), agent_id=None)
            step = holdings.change(conversation, queued, now)
            await ledger.store.save_conversation(queued, holdings=(step,) if step else ())
        return ledger.router.restore_waiting(conversation.id, head=agent_id is not None, **route)

    async def _restored_agent(self, agent_id: str, now: datetime) -> AgentAccount | None:
        """The account of an agent who held chats, registered (offline) with the router."""
        ledger = self.ledger
        account = ledger.accounts.get(agent_id) or await ledger.store.agent(agent_id)
        if account is None or account.disabled:
            return None
        if account.id not in ledger.accounts:
            ledger.accounts[account.id] = account
            ledger.router.upsert_agent(profile(account), now)
        return account


def profile(account: AgentAccount) -> routing.AgentProfile:
    """What the router knows of an agent."""
    return routing.AgentProfile(
        id=account.id,
        name=account.name,
        languages=frozenset(account.languages),
        teams=frozenset(account.teams),
        capacity=account.capacity,
        role=account.role,
        takes_chats=account.takes_chats,
    )
