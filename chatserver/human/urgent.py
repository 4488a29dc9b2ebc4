"""Urgent alerts on the desk: raised once per urgent chat when it is handed off, re-queued or
transferred to a queue, and taken down when someone takes it or it ends.

This module owns who was told (the ledger's `urgent`, part of the desk's memory, so a failed
unit takes the alert back with everything else) and the consoles' notifications; the rules
are `urgent_alerts.py`'s. Email and webhook go out through `send`, called only once the unit
has succeeded (`Ledger.after`). It must not know the router's events or a conversation's
status: its callers say when a chat waits and when it was taken or ended.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chatserver import protocol, urgent_alerts
from chatserver.events import Notify
from chatserver.human.ledger import Ledger
from chatserver.models import AgentStatus, Conversation
from chatserver.protocol import ServerEvent
from chatserver.routing import Router, UnknownAgent
from chatserver.urgent_alerts import Listener, UrgentAlert

TAKEN = "taken"
CLOSED = "closed"

SendAlert = Callable[[UrgentAlert], None]


class UrgentAlerts:
    """Raises and takes down the alerts of urgent chats."""

    def __init__(self, ledger: Ledger, send: SendAlert | None = None) -> None:
        self.ledger = ledger
        self.send: SendAlert = send or (lambda _alert: None)

    def waiting(
        self, conversation: Conversation, now: datetime, *, faq_id: str | None = None
    ) -> list[Notify]:
        """The conversation waits in a queue: its alert, if it is urgent and has none yet."""
        ledger = self.ledger
        if not urgent_alerts.is_due(conversation, ledger.urgent):
            return []
        if ledger.assignee(conversation.id) is not None:
            return []  # already with someone: nothing to raise
        alert = urgent_alerts.alert_for(
            conversation, ledger.sla_of(conversation.id), now=now, faq_id=faq_id
        )
        router = ledger.router
        listeners = (
            Listener(
                agent_id=account.id,
                languages=account.languages,
                online=_status(router, account.id) is AgentStatus.ONLINE,
                supervises=account.role.supervises,
            )
            for account in ledger.accounts.values()
        )
        told = urgent_alerts.recipients(
            conversation.language, router.policy.chain(conversation.language), listeners
        )
        ledger.urgent[conversation.id] = told
        payload = protocol.urgent(alert)
        out = [Notify.agent(agent_id, ServerEvent.URGENT, payload) for agent_id in told]
        out.append(Notify.supervisors(ServerEvent.URGENT, payload))
        ledger.record("urgent_alert", {"channel": "console", "outcome": "sent"})
        send = self.send

        def send_alert() -> None:
            send(alert)

        ledger.after(send_alert)
        return out

    def taken(self, conversation_id: str) -> list[Notify]:
        """Someone has the chat: its alert comes down, and is not raised again."""
        told = self.ledger.urgent.get(conversation_id)
        if conversation_id not in self.ledger.urgent:
            return []
        self.ledger.urgent[conversation_id] = None
        return self._cleared(conversation_id, told, TAKEN)

    def ended(self, conversation_id: str) -> list[Notify]:
        """The chat is over: its alert comes down if it was still up, and is forgotten."""
        if conversation_id not in self.ledger.urgent:
            return []
        told = self.ledger.urgent.pop(conversation_id)
        return self._cleared(conversation_id, told, CLOSED)

    def _cleared(self, conversation_id: str, told: list[str] | None, reason: str) -> list[Notify]:
        if told is None:
            return []  # down already
        payload = protocol.urgent_cleared(conversation_id, reason=reason)
        out = [Notify.agent(agent_id, ServerEvent.URGENT_CLEARED, payload) for agent_id in told]
        out.append(Notify.supervisors(ServerEvent.URGENT_CLEARED, payload))
        return out


def _status(router: Router, agent_id: str) -> AgentStatus:
    try:
        return router.agent_status(agent_id)
    except UnknownAgent:
        return AgentStatus.OFFLINE
