"""Messages between a customer and the agent who has their chat: an agent's reply (which
stops the first-response clock and makes the chat active) or internal note, and a
customer's message shown to the agent (and as the chat's queue preview while it waits).

This module owns only that exchange; the clocks are `clocks.py`'s, the wording of what an
agent reads `telling.py`'s. It must not change the router.
"""

from __future__ import annotations

from chatserver import protocol
from chatserver.events import Notify
from chatserver.human.clocks import Clocks
from chatserver.human.ledger import Dispatched, Ledger, Room, all_or_nothing
from chatserver.human.telling import Teller
from chatserver.models import Author, Conversation, ConversationStatus, Message
from chatserver.preview import preview
from chatserver.protocol import ServerEvent


class Replies(Room):
    """Agents' replies and notes; customers' messages to the agent."""

    def __init__(self, ledger: Ledger, *, teller: Teller, clocks: Clocks) -> None:
        super().__init__(ledger)
        self.teller = teller
        self.clocks = clocks

    @all_or_nothing(router=False)
    async def agent_message(
        self, agent_id: str, conversation_id: str, text: str, client_id: str | None, *, note: bool
    ) -> Dispatched:
        """An agent's reply (stops the first-response clock) or internal note (never does).

        A resend (same client id) of a first reply whose follow-up failed (the chat still
        assigned, the clock running) finishes it and goes out now."""
        ledger = self.ledger
        conversation = await ledger.owned(agent_id, conversation_id)
        new = self.teller.new_message(
            conversation_id,
            Author.AGENT,
            text,
            client_id=client_id,
            internal=note,
            meta={"agent_id": agent_id, "agent_name": ledger.name(agent_id)},
            author_id=agent_id,
        )
        now = new.created_at  # the reply's time is when it changes the chat and its clocks
        appended = await ledger.store.append_message(new)
        message = appended.message
        applied = ledger.sla_of(conversation_id)
        # Stored but not followed up: only a reply whose follow-up failed leaves the
        # first-response clock running (or, without a clock, the chat still assigned).
        unfinished = not note and (
            applied.first_response.running
            if applied is not None
            else conversation.status is ConversationStatus.ASSIGNED
        )
        if not appended.created and not unfinished:
            return Dispatched(result={"message": protocol.message(message), "duplicate": True})
        notifications = [self.teller.message_to_agent(conversation, message)]
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
            await ledger.save(conversation, was=was)
        notifications += await self.clocks.replied(conversation, agent_id, now)
        return Dispatched(notifications, {"message": protocol.message(message), "duplicate": False})

    async def customer_message(self, conversation: Conversation, message: Message) -> list[Notify]:
        """A customer's message in a conversation a person has, or waits for: show it to the
        agent who has it; in the queue it is the chat's new preview."""
        ledger = self.ledger
        # Held: who has the chat is read from the desk as it is now, which another process
        # may just have changed (an accept there).
        async with ledger.exclusive():
            if message.conversation_id in ledger.previews:
                ledger.previews[message.conversation_id] = preview(message.text)
                ledger.queue_dirty = True
            return [self.teller.message_to_agent(conversation, message)]
