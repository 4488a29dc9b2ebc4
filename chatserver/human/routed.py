"""Applying the router's events: what each decision of `routing.Router` means for the
conversations (their status in the store) and who must hear of it.

This module owns the one place that turns routing events into conversation rows and
notifications (`Routed.apply`); every room that asks the router something hands the events
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

        Announcements to other customers (a widened queue, a place in line) are made one by
        one, and one that fails is skipped; with `isolate` (the tick) every event is. Other
        failures fail the caller's unit, which undoes the router's decision."""
        failures = self.ledger.failures
        out: list[Notify] = []
        moved: list[str] = []  # customers whose place in line may have changed
        for event in events:
            if isolate or isinstance(event, routing.Widened):
                with failures.item("routing_event", subject(event)):
                    out += await self._apply(event, now, known, moved)
            else:
                out += await self._apply(event, now, known, moved)
        if events:
            self.ledger.queue_dirty = True
        for view in self.ledger.router.views(moved, now):
            with failures.item("position", view.conversation_id):
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
