"""Use cases of the human side, behind one facade: hand off, offer and accept, agent
replies, transfers, the SLA clocks, closing, presence, and what each participant must be
told.

`Dispatcher` builds the rooms of `chatserver/human/` over one ledger (the desk's memory and
its all-or-nothing units of change, see `human/ledger.py`) and hands each call to the room
that owns it; the transport, the customer desk and the app factory know only this class.
It holds the desk's live queue state behind the desk-state port (`desk_state.py`: in this
process by default; shared by several processes in the scale-out step) and stores what must
outlive it: conversation state, SLA
deadlines, tracking numbers. Every use case runs on the event loop without awaiting between
reading and changing the router, so two accepts of one chat cannot both win.

One item never stops the others. The tick goes on per departed customer, returning agent,
routing event and SLA clock; announcements to other customers (a widened queue, a place in
line), briefings and queue lists (per agent, per listed chat) are made one by one in any use
case. A failing item is logged with its id and counted (`isolated_failure`); it is tried
again next time (a clock that could not be saved is still due).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from chatserver import protocol, sla, sla_topics
from chatserver.agents import AgentAccount
from chatserver.clock import Clock, IdFactory
from chatserver.desk_state import DeskState
from chatserver.events import Notify
from chatserver.faq import FaqMatcher
from chatserver.handoff import Handoff
from chatserver.hours import ALWAYS, Hours
from chatserver.human.assignment import CUSTOMER_LEFT, Assignment
from chatserver.human.clocks import Clocks
from chatserver.human.ledger import (
    DEFAULT_CUSTOMER_GRACE,
    Dispatched,
    InvalidTeam,
    Ledger,
    NotWaiting,
    NotYourConversation,
)
from chatserver.human.presence import Presence
from chatserver.human.replies import Replies
from chatserver.human.routed import Routed
from chatserver.human.signals import Signals
from chatserver.human.telling import Teller
from chatserver.human.transfer import TRANSFER_NOTE, Transfers
from chatserver.human.urgent import SendAlert, UrgentAlerts
from chatserver.human.views import SNAPSHOT_LIMIT, Views
from chatserver.i18n import Catalogs
from chatserver.models import Conversation, Message
from chatserver.presence import CustomerPresence
from chatserver.routing import Router
from chatserver.store import Store

__all__ = [
    "CUSTOMER_LEFT",
    "DEFAULT_CUSTOMER_GRACE",
    "SNAPSHOT_LIMIT",
    "TRANSFER_NOTE",
    "Dispatched",
    "Dispatcher",
    "InvalidTeam",
    "NotWaiting",
    "NotYourConversation",
]


class Dispatcher:
    """The human side's use cases, each handed to the room that owns it."""

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
        agent_grace: timedelta = timedelta(0),
        state: DeskState | None = None,
        send_urgent: SendAlert | None = None,
    ) -> None:
        self.ledger = ledger = Ledger(
            store=store,
            router=router,
            clock=clock,
            new_id=new_id,
            catalogs=catalogs,
            matcher=matcher,
            observe=observe,
            customer_grace=customer_grace,
            agent_grace=agent_grace,
            state=state,
        )
        teller = Teller(ledger)
        routed = Routed(ledger, teller, UrgentAlerts(ledger, send_urgent))
        self.clocks = Clocks(ledger, policies or sla_topics.default_matrix())
        self.assignment = Assignment(
            ledger,
            teller=teller,
            routed=routed,
            clocks=self.clocks,
            hours=hours,
        )
        self.transfers = Transfers(ledger, teller=teller, routed=routed, languages=tuple(languages))
        self.replies = Replies(ledger, teller=teller, clocks=self.clocks)
        self.attendance = Presence(ledger, teller=teller, routed=routed)
        self.views = Views(ledger, teller=teller)
        self.signals = Signals(ledger, hours=hours)
        self.languages = tuple(languages)
        self._routed = routed

    # -- what the app, the metrics and the tests read -----------------------------------

    @property
    def store(self) -> Store:
        return self.ledger.store

    @property
    def router(self) -> Router:
        return self.ledger.router

    @property
    def clock(self) -> Clock:
        return self.ledger.clock

    @property
    def accounts(self) -> dict[str, AgentAccount]:
        return self.ledger.accounts

    @property
    def presence(self) -> CustomerPresence:
        """Which customers still have a socket in their conversation."""
        return self.ledger.presence

    def sla_of(self, conversation_id: str) -> sla.AppliedSla | None:
        """The conversation's SLA clocks as the desk holds them (None: none running)."""
        return self.ledger.sla_of(conversation_id)

    def remaining_seconds(self, conversation_id: str) -> float | None:
        return self.ledger.remaining_seconds(conversation_id)

    # -- start-up and time ----------------------------------------------------------------

    async def restore(self, *, agent_grace: timedelta = timedelta(0)) -> None:
        await self.attendance.restore(agent_grace=agent_grace)

    async def tick(self) -> list[Notify]:
        """Customers gone past their grace, agents not back in time, offer timeouts,
        fallback widening, SLA warnings and breaches, up to now.

        Each departure, returning agent, routing event and SLA clock on its own: one that
        fails is logged and counted, and tried again on a later tick (the agent is still
        due back, the clock still due), and the others go on."""
        ledger = self.ledger
        if not await ledger.state.owns_tick():  # another process ticks the shared desk
            return []
        async with ledger.exclusive():
            now = ledger.clock.now()
            notifications: list[Notify] = []
            with ledger.failures.item("presence", "processes"):
                await self.attendance.sockets_of_dead_processes(now)
            # First: a customer who left must not be offered again, nor breach a target.
            for departure in ledger.presence.expired(now):
                with ledger.failures.item("departure", departure.conversation_id):
                    try:
                        notifications += await self.assignment.customer_gone(departure)
                    except Exception:
                        # Still gone: reported again, and tried again, on a later tick.
                        ledger.presence.absent(departure.conversation_id, since=departure.left_at)
                        raise
            notifications += await self.attendance.returning_due(now)
            notifications += await self._routed.apply(ledger.router.tick(now), now, isolate=True)
            notifications += await self.clocks.tick(now)
            return notifications

    async def due_positions(self) -> list[Notify]:
        """Their place in line for the customers who moved up since the last call, once each
        (`Routed.due_positions`). Every process calls it for the moves it applied, the tick's
        owner or not; it holds the desk only when someone is owed."""
        ledger = self.ledger
        if not ledger.positions_due:
            return []
        async with ledger.exclusive():
            return self._routed.due_positions(ledger.clock.now())

    # -- agents and customers -------------------------------------------------------------

    async def agent_online(
        self, account: AgentAccount, *, status: str = "online", status_stands: bool = True
    ) -> Dispatched:
        return await self.attendance.agent_online(
            account, status=status, status_stands=status_stands
        )

    async def agent_status(self, agent_id: str, status: str) -> Dispatched:
        return await self.attendance.agent_status(agent_id, status)

    async def take_chats(self, agent_id: str, on: bool) -> Dispatched:
        return await self.attendance.take_chats(agent_id, on)

    def connected_agents(self) -> list[str]:
        return self.attendance.connected_agents()

    async def console_connected(self, agent_id: str, sid: str) -> None:
        await self.attendance.console_connected(agent_id, sid)

    async def console_closed(self, agent_id: str, sid: str) -> None:
        await self.attendance.console_closed(agent_id, sid)

    async def customer_joined(self, conversation_id: str, sid: str) -> None:
        await self.attendance.customer_joined(conversation_id, sid)

    async def customer_left(self, conversation_id: str, sid: str) -> None:
        await self.attendance.customer_left(conversation_id, sid)

    # -- views ----------------------------------------------------------------------------

    def take_queue_update(self) -> list[Notify]:
        """Queue snapshots for every connected agent if the queues changed since the last
        call (else nothing)."""
        if not self.ledger.queue_dirty:
            return []
        return self.views.take_queue_update(self.attendance.connected_agents())

    def queue_for(self, agent_id: str) -> protocol.QueuePayload:
        return self.views.queue_for(agent_id)

    def console_opened(self, agent_id: str, sid: str) -> list[Notify]:
        return self.views.console_opened(agent_id, sid)

    def standing(self, conversation_id: str) -> list[Notify]:
        return self.views.standing(conversation_id)

    # -- live signals: typing, seen receipts, availability (human/signals.py) -------------

    def customer_typing(self, conversation_id: str, typing: bool) -> list[Notify]:
        return self.signals.customer_typing(conversation_id, typing)

    def agent_typing(self, agent_id: str, conversation_id: str, typing: bool) -> list[Notify]:
        return self.signals.agent_typing(agent_id, conversation_id, typing)

    async def customer_seen(self, conversation_id: str, seq: int) -> tuple[int, list[Notify]]:
        return await self.signals.seen(conversation_id, seq)

    def availability(self, language: str) -> protocol.AvailabilityPayload:
        return protocol.availability(self.signals.available(language))

    def take_availability_update(self) -> list[Notify]:
        """`availability` to the widgets of each language whose answer changed."""
        return self.signals.take_availability_update(self.languages)

    # -- assignment and replies -----------------------------------------------------------

    async def hand_off(self, conversation: Conversation, handoff: Handoff) -> Dispatched:
        return await self.assignment.hand_off(conversation, handoff)

    async def accept(self, agent_id: str, conversation_id: str) -> Dispatched:
        return await self.assignment.accept(agent_id, conversation_id)

    async def assign(self, supervisor_id: str, conversation_id: str, agent_id: str) -> Dispatched:
        return await self.assignment.assign(supervisor_id, conversation_id, agent_id)

    async def transfer(
        self,
        agent_id: str,
        conversation_id: str,
        *,
        to_agent: str | None,
        to_queue: tuple[str, str] | None,
        reason: str,
    ) -> Dispatched:
        return await self.transfers.transfer(
            agent_id, conversation_id, to_agent=to_agent, to_queue=to_queue, reason=reason
        )

    async def close(self, conversation_id: str, *, by_agent: str | None = None) -> Dispatched:
        return await self.assignment.close(conversation_id, by_agent=by_agent)

    async def abandon(self, conversation_id: str, *, left_at: datetime | None = None) -> Dispatched:
        return await self.assignment.abandon(conversation_id, left_at=left_at)

    async def leave_message(
        self,
        conversation_id: str,
        kind: str,
        contact: str,
        text: str,
        *,
        request_id: str | None = None,
    ) -> Dispatched:
        return await self.assignment.leave_message(
            conversation_id, kind, contact, text, request_id=request_id
        )

    async def agent_message(
        self, agent_id: str, conversation_id: str, text: str, client_id: str | None, *, note: bool
    ) -> Dispatched:
        return await self.replies.agent_message(
            agent_id, conversation_id, text, client_id, note=note
        )

    async def customer_message(self, conversation: Conversation, message: Message) -> list[Notify]:
        return await self.replies.customer_message(conversation, message)
