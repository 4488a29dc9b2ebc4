"""Live signals between a customer and the agent holding their chat, and what the widget's
header says about people: typing notices both ways, seen receipts, availability.

None of these is stored as a message. Typing notices are relayed and forgotten (never the
draft's text: only whether someone types). A seen receipt is the highest seq the customer
has had on a visible page, kept in the desk's memory (`Ledger.seen`) and moving only
forward. Availability is whether a person could take a chat in a language now: within the
desk's hours, an agent online with a free seat in the language or one of its fallbacks.

This module decides who is told what; it changes neither the router nor the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from chatserver import protocol
from chatserver.events import Notify
from chatserver.hours import Hours
from chatserver.human.ledger import Ledger, NotYourConversation, Room
from chatserver.protocol import ServerEvent


class Signals(Room):
    """Typing, seen receipts and availability (module docstring)."""

    def __init__(self, ledger: Ledger, *, hours: Hours) -> None:
        super().__init__(ledger)
        self.hours = hours
        self._told: dict[str, bool] = {}  # language -> availability last pushed to readers

    def customer_typing(self, conversation_id: str, typing: bool) -> list[Notify]:
        """To the agent holding the chat; before anyone holds it (bot, waiting), nobody."""
        agent_id = self.ledger.assignee(conversation_id)
        if agent_id is None:
            return []
        payload = protocol.agent_typing(conversation_id, typing)
        return [Notify.agent(agent_id, ServerEvent.TYPING, payload)]

    def agent_typing(self, agent_id: str, conversation_id: str, typing: bool) -> list[Notify]:
        """To the customer of a chat this agent holds (else `not_your_conversation`)."""
        if self.ledger.assignee(conversation_id) != agent_id:
            raise NotYourConversation("this conversation is not assigned to you")
        payload = protocol.customer_typing(typing, self.ledger.name(agent_id))
        return [Notify.customer(conversation_id, ServerEvent.TYPING, payload)]

    async def seen(self, conversation_id: str, seq: int) -> tuple[int, list[Notify]]:
        """The customer has seen up to `seq` (at most the chat's last message): the highest
        seen so far, and the holder's consoles told when it moved forward. Only while
        someone holds the chat (receipts are for them; the desk forgets them when the chat
        ends)."""
        conversation = await self.ledger.conversation(conversation_id)
        async with self.ledger.exclusive():
            before = self.ledger.seen.get(conversation_id, 0)
            agent_id = self.ledger.assignee(conversation_id)
            if agent_id is None:
                # Nobody to tell, and nothing kept: a chat that never reaches a person (or
                # has left them) is never forgotten by the desk, so it may not leave
                # receipts there.
                return before, []
            seq = min(seq, conversation.last_seq)
            if seq <= before:
                return before, []
            self.ledger.seen[conversation_id] = seq
        return seq, [Notify.agent(agent_id, ServerEvent.SEEN, protocol.seen(conversation_id, seq))]

    def last_seen(self, conversation_id: str) -> int:
        return self.ledger.seen.get(conversation_id, 0)

    def available(self, language: str, now: datetime | None = None) -> bool:
        """Could a person take a chat in this language now?"""
        now = now or self.ledger.clock.now()
        return self.hours.is_open(now) and self.ledger.router.has_room_for(language)

    def take_availability_update(self, languages: Iterable[str]) -> list[Notify]:
        """`availability` to the widgets reading each language whose answer changed since
        the last call (the first call tells nobody: each widget had it with `start`)."""
        now = self.ledger.clock.now()
        notifications: list[Notify] = []
        for language in languages:
            with self.ledger.failures.item("availability", language):
                now_available = self.available(language, now)
                before = self._told.get(language)
                self._told[language] = now_available
                if before is not None and before != now_available:
                    notifications.append(
                        Notify.readers(
                            language,
                            ServerEvent.AVAILABILITY,
                            protocol.availability(now_available),
                        )
                    )
        return notifications
