"""What consoles and waiting customers are shown of the queue: each console's list of
waiting chats (with their previews; supervisors also the desk's load), sent again only
when it changed, and a waiting customer's place in line.

This module owns the consoles' lists and what each console was last sent; it reads the
router and the ledger and changes neither (beyond its own record of what was sent). It is
given the agents to update (`presence.py` knows who is connected) rather than asking.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chatserver import protocol, routing
from chatserver.events import Notify
from chatserver.human.ledger import Ledger
from chatserver.human.telling import Teller
from chatserver.protocol import ServerEvent

# A console lists this many waiting chats (in queue order); the rest is only counted.
SNAPSHOT_LIMIT = 25


class Views:
    """Queue lists for consoles, places in line for customers."""

    def __init__(self, ledger: Ledger, *, teller: Teller) -> None:
        self.ledger = ledger
        self.teller = teller

    def take_queue_update(self, agent_ids: Sequence[str]) -> list[Notify]:
        """Queue snapshots for the connected agents `agent_ids` if the queues changed since
        the last call (else nothing): the ticker sends them, so a burst of changes costs
        one update. An agent whose list cannot be made is skipped (and tried again next
        time)."""
        ledger = self.ledger
        if not ledger.queue_dirty:
            return []
        ledger.queue_dirty = False
        snapshots = self._waiting_views(agent_ids, ledger.clock.now())
        updates: list[Notify] = []
        for agent_id in agent_ids:
            failed = True
            with ledger.failures.item("queue_update", agent_id):
                update = self._queue_update(agent_id, snapshots[agent_id])
                failed = False
            if failed:
                ledger.queue_dirty = True  # tried again with the next update
            elif update is not None:
                updates.append(Notify.agent(agent_id, ServerEvent.QUEUE, update))
        return updates

    def _queue_update(
        self, agent_id: str, views: list[routing.WaitingView]
    ) -> protocol.QueuePayload | None:
        ledger = self.ledger
        # Countdowns run in the console from remaining_seconds; only a change of who waits
        # where is worth a new list (supervisors also follow the desk's load).
        signature = (
            tuple(
                (
                    v.conversation_id,
                    v.position,
                    v.languages,
                    v.offered_to,
                    ledger.previews.get(v.conversation_id),
                )
                for v in views
            ),
            self._desk_signature() if ledger.supervises(agent_id) else None,
        )
        if ledger.sent_queues.get(agent_id) == signature:
            return None
        payload = self._queue_payload(agent_id, views)
        ledger.sent_queues[agent_id] = signature
        return payload

    def _desk_signature(self) -> tuple[object, ...]:
        router = self.ledger.router
        return (
            tuple(sorted(router.queue_lengths().items())),
            tuple(
                (a, router.agent_status(a), len(router.agent_conversations(a)))
                for a in self.ledger.accounts
            ),
        )

    def queue_for(self, agent_id: str) -> protocol.QueuePayload:
        """What an agent's console shows of the queue; supervisors also see the desk."""
        views = self._waiting_views([agent_id], self.ledger.clock.now())[agent_id]
        return self._queue_payload(agent_id, views)

    def console_opened(self, agent_id: str, sid: str) -> list[Notify]:
        """A console connected: its first queue list (the others of the agent have theirs)."""
        return [Notify.console(sid, ServerEvent.QUEUE, self.queue_for(agent_id))]

    def standing(self, conversation_id: str) -> list[Notify]:
        """A waiting customer's place in line (none unless waiting), e.g. when they resume."""
        views = self.ledger.router.views([conversation_id], self.ledger.clock.now())
        return [self.teller.position(v) for v in views]

    def _waiting_views(
        self, agent_ids: Sequence[str], now: datetime
    ) -> dict[str, list[routing.WaitingView]]:
        """What each console lists: the chats an agent could take; for supervisors, every
        waiting chat of the desk (they assign, whatever languages they speak)."""
        router = self.ledger.router
        supervisors = [a for a in agent_ids if self.ledger.supervises(a)]
        views = router.snapshots(
            [a for a in agent_ids if a not in supervisors], now, limit=SNAPSHOT_LIMIT
        )
        if supervisors:
            desk = router.waiting(now)[:SNAPSHOT_LIMIT]
            views.update(dict.fromkeys(supervisors, desk))
        return views

    def _queue_payload(
        self, agent_id: str, views: list[routing.WaitingView]
    ) -> protocol.QueuePayload:
        ledger = self.ledger
        waiting: list[protocol.QueueItem] = []
        for view in views:  # a chat that cannot be shown is left out of the list, alone
            with ledger.failures.item("queue_view", view.conversation_id):
                waiting.append(
                    protocol.queue_item(view, preview=ledger.previews.get(view.conversation_id))
                )
        account = ledger.accounts.get(agent_id)
        if account is None or not account.role.supervises:
            return protocol.queue(waiting)
        return protocol.queue(
            waiting,
            agents=[
                protocol.agent_presence(
                    a,
                    status=str(ledger.router.agent_status(a.id)),
                    load=len(ledger.router.agent_conversations(a.id)),
                )
                for a in ledger.accounts.values()
            ],
            queues=sorted(ledger.router.queue_lengths().items()),
        )
