"""The SLA clocks of open conversations: started at the handoff, stopped by the first reply,
a close or an abandonment, moved on by the tick (warnings, breaches), and what they mean
for agents, supervisors and the metrics.

This module owns the clocks' life and their notifications; `sla.py` holds the rules, the
ledger holds the clocks in memory (so a unit of change puts them back). It must not know
the router's decisions or a conversation's status: its callers say when a clock starts
and stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chatserver import protocol, sla
from chatserver.events import Notify
from chatserver.handoff import Handoff
from chatserver.human.ledger import Ledger
from chatserver.models import Conversation
from chatserver.protocol import ServerEvent
from chatserver.sla_topics import cell_policy


class Clocks:
    """Starts, stops and ticks the first-response and resolution clocks."""

    def __init__(self, ledger: Ledger, policies: sla.SlaPolicies) -> None:
        self.ledger = ledger
        self.policies = policies

    async def start(self, conversation: Conversation, handoff: Handoff, now: datetime) -> None:
        """A chat was handed off: its clocks run from now, with the targets of its cell
        (chat x topic x tier x priority, `sla_topics.py`)."""
        policy = cell_policy(
            self.policies,
            sla.Channel.CHAT,
            handoff.priority,
            tier=conversation.tier,
            team=handoff.team,
            faq_id=handoff.faq_id,
        )
        applied = sla.apply(policy, conversation.id, now)
        # A new row cannot be saved back as it was: it is the unit's last write.
        await self.ledger.save_sla(applied, conversation, was=None, new=True)
        self.ledger.clocks[conversation.id] = applied

    async def replied(
        self, conversation: Conversation, agent_id: str, now: datetime
    ) -> list[Notify]:
        """An agent's reply reached the customer: the first-response clock stops."""
        applied = self.ledger.clocks.get(conversation.id)
        if applied is None:
            return []
        stopped, events = sla.on_agent_message(applied, now, agent_id, internal=False)
        out = self.notifications(events, conversation)
        await self.ledger.save_sla(stopped, conversation, was=applied)
        self.ledger.clocks[conversation.id] = stopped
        return out

    async def stop(
        self, conversation: Conversation, now: datetime, *, resolved: bool
    ) -> list[Notify]:
        """The chat ended: resolved (closed) or cancelled (abandoned, the customer left)."""
        applied = self.ledger.clocks.get(conversation.id)
        if applied is None:
            return []
        stopped, events = (sla.on_resolved if resolved else sla.cancel)(applied, now)
        await self.ledger.save_sla(stopped, conversation, was=applied)
        del self.ledger.clocks[conversation.id]
        return self.notifications(events, conversation)

    async def tick(self, now: datetime) -> list[Notify]:
        """Warnings and breaches up to now, each clock on its own: one that fails is logged
        and counted, and stays due for the next tick."""
        ledger = self.ledger
        notifications: list[Notify] = []
        for conversation_id, applied in list(ledger.clocks.items()):
            if ledger.presence.is_away(conversation_id):
                # Warnings and breaches wait while the customer may be gone for good: if
                # they come back they go out then; if not, the clock stops as of their
                # leaving (the customer's departure closes the chat).
                continue
            deadline = sla.next_deadline(applied)
            if deadline is not None and deadline <= now:
                with ledger.failures.item("sla_clock", conversation_id):
                    notifications += await self._tick_clock(applied, now)
        return notifications

    async def _tick_clock(self, applied: sla.AppliedSla, now: datetime) -> list[Notify]:
        """The desk's clock moves on once the store has it; until then it stays due."""
        ticked, events = sla.tick(applied, now)
        out: list[Notify] = []
        if events:
            conversation = await self.ledger.conversation(applied.conversation_id)
            out = self.notifications(events, conversation)
            await self.ledger.store.save_sla(ticked, conversation)
        self.ledger.clocks[applied.conversation_id] = ticked
        return out

    def notifications(
        self, events: Sequence[sla.SlaEvent], conversation: Conversation
    ) -> list[Notify]:
        """Warnings and breaches to the agent who has the chat and to supervisors; a stopped
        first-response clock to the metrics."""
        ledger = self.ledger
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
                    ledger.to_agents_of(event.conversation_id, ServerEvent.SLA_WARNING, warning)
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
                    ledger.to_agents_of(event.conversation_id, ServerEvent.SLA_BREACH, breach)
                )
                out.append(Notify.supervisors(ServerEvent.SLA_BREACH, breach))
            elif (
                isinstance(event, sla.SlaClockStopped)
                and event.kind is sla.ClockKind.FIRST_RESPONSE
            ):
                ledger.record(
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
