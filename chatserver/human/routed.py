"""Applying the router's events: what each decision of `routing.Router` means for the
conversations (their status in the store) and who must hear of it.

This module owns the one place that turns routing events into conversation rows and
notifications (`Routed.apply`, and `Routed.due_positions` for the places in line it
leaves to a periodic flush); every room that asks the router something hands the events
it got back to it. It must not ask the router for anything itself (the rooms decide what
to ask), start or stop SLA clocks, or know the rooms above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from chatserver import protocol, routing
from chatserver.events import Notify
from chatserver.holdings import HoldingEnd
from chatserver.human.ledger import Ledger
from chatserver.human.telling import Teller
from chatserver.human.urgent import UrgentAlerts
from chatserver.models import Conversation, ConversationStatus
from chatserver.protocol import ServerEvent
from chatserver.system_lines import LineKind, SystemLine


class Routed:
    """Applies routing events to conversations and says who must hear what."""

    def __init__(self, ledger: Ledger, teller: Teller, urgent: UrgentAlerts | None = None) -> None:
        self.ledger = ledger
        self.teller = teller
        # Urgent chats' alerts: raised when one waits again, down when someone takes it.
        self.urgent = urgent or UrgentAlerts(ledger)

    async def apply(
        self,
        events: Sequence[routing.RoutingEvent],
        now: datetime,
        *,
        known: Conversation | None = None,
        isolate: bool = False,
    ) -> list[Notify]:
        """Apply the router's events to conversations and say who must hear what. `known`
        is a conversation the caller has just saved, so it need not be read again.

        A customer just queued, requeued or widened hears their place at once; those who
        only moved up as others left the line are told later, at most once per flush
        (`due_positions`). Announcements to other customers (a widened queue, a place in
        line) are made one by one, and one that fails is skipped; with `isolate` (the tick)
        every event is. Other failures fail the caller's unit, which undoes the router's
        decision."""
        failures = self.ledger.failures
        out: list[Notify] = []
        moved: list[str] = []  # customers to tell their place now
        for event in events:
            if isolate or isinstance(event, routing.Widened):
                with failures.item("routing_event", subject(event)):
                    out += await self._apply(event, now, known, moved)
            else:
                out += await self._apply(event, now, known, moved)
        if events:
            self.ledger.queue_dirty = True
        due = self.ledger.positions_due
        due.difference_update(moved)  # told now: nothing owed
        out += self._positions(moved, now)
        return out

    def due_positions(self, now: datetime) -> list[Notify]:
        """The place in line of every customer who moved up since the last flush, once each,
        as it is now; those no longer waiting are skipped. The caller holds the desk.

        Why coalesced: every assignment or departure from a queue of N waiting customers
        moves all N of them, so telling each move as it happens costs O(N) events per
        change and O(N^2) in a surge, when the server can least afford it; a place in line
        read once a second loses nothing a customer could notice."""
        due = self.ledger.positions_due
        if not due:
            return []
        waiting = sorted(due)
        due.clear()
        return self._positions(waiting, now)

    def _positions(self, conversation_ids: Sequence[str], now: datetime) -> list[Notify]:
        out: list[Notify] = []
        for view in self.ledger.router.views(conversation_ids, now):
            with self.ledger.failures.item("position", view.conversation_id):
                out.append(self.teller.position(view))
        return out

    async def _apply(
        self,
        event: routing.RoutingEvent,
        now: datetime,
        known: Conversation | None,
        moved: list[str],
    ) -> list[Notify]:
        ledger, teller = self.ledger, self.teller
        out: list[Notify] = []
        if isinstance(event, routing.Queued | routing.Requeued):
            conversation = (
                known
                if known is not None and known.id == event.conversation_id
                else await ledger.conversation(event.conversation_id)
            )
            if isinstance(event, routing.Requeued) and event.was_assigned:
                was, conversation = (
                    conversation,
                    replace(conversation.transition(ConversationStatus.QUEUED, now), agent_id=None),
                )
                await ledger.save(conversation, was=was)
                out += self.urgent.waiting(conversation, now)
            if isinstance(event, routing.Queued):
                out += await teller.tell(
                    conversation, SystemLine(LineKind.QUEUED, {"position": event.position})
                )
            moved.append(event.conversation_id)
        elif isinstance(event, routing.QueueChanged):
            ledger.positions_due.update(event.conversation_ids)  # told by `due_positions`
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
            conversation = await ledger.conversation(event.conversation_id)
            out += await teller.tell(
                conversation, SystemLine(LineKind.FALLBACK, {"language": conversation.language})
            )
            moved.append(event.conversation_id)
            ledger.record("fallback", {"reason": str(event.reason)})
        elif isinstance(event, routing.Transferred):
            if event.to_agent_id is None:
                was = await ledger.conversation(event.conversation_id)
                # The team is stored so that a restart puts it back in the same team's queue.
                conversation = replace(
                    was.transition(ConversationStatus.QUEUED, now),
                    agent_id=None,
                    team=event.queue.team,
                )
                await ledger.save(conversation, was=was, ended=HoldingEnd.TRANSFERRED)
                out += self.urgent.waiting(conversation, now)
            out.append(
                Notify.agent(
                    event.from_agent_id,
                    ServerEvent.RELEASED,
                    protocol.conversation_id(event.conversation_id),
                )
            )
        elif isinstance(event, routing.Abandoned):
            ledger.record("abandoned", {"queue": str(event.queue)})
        return out

    async def _assigned(self, event: routing.Assigned, now: datetime) -> list[Notify]:
        ledger = self.ledger
        was = conversation = await ledger.conversation(event.conversation_id)
        if conversation.status is ConversationStatus.QUEUED:
            conversation = conversation.transition(ConversationStatus.ASSIGNED, now)
        conversation = replace(conversation, agent_id=event.agent_id, updated_at=now)
        await ledger.save(conversation, was=was)
        name = ledger.name(event.agent_id)
        out = await self.teller.tell(conversation, SystemLine(LineKind.ASSIGNED, {"name": name}))
        out.append(
            Notify.customer(
                conversation.id,
                ServerEvent.ASSIGNED,
                protocol.assigned(agent_name=name, language=event.agent_language),
            )
        )
        briefing = await self.teller.briefing(
            conversation,
            widened=event.widened,
            agent_language=event.agent_language,
            remaining_seconds=ledger.remaining_seconds(conversation.id),
        )
        out.append(Notify.agent(event.agent_id, ServerEvent.CONVERSATION, briefing))
        ledger.record("assigned", {"via": str(event.via), "widened": str(event.widened).lower()})
        out += self.urgent.taken(conversation.id)
        return out


def subject(event: routing.RoutingEvent) -> str:
    """What an event is about, for the log: its conversation, or its queue."""
    return event.conversation_id if hasattr(event, "conversation_id") else str(event.queue)
