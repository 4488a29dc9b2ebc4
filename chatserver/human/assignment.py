"""Assignment: a conversation's way through the team, from the handoff to its end. Hand off
(or go offline when nobody can take it), accept, assign, close, abandon, leave a message,
and let go of a chat whose customer left.

This module owns the conversation's status on that way and asks the router and the clocks
what each step means; the router's events are applied by `routed.py`, the clocks run in
`clocks.py`, an agent passing a chat on is `transfer.py`'s. It must not know consoles'
queue lists (`views.py`) or agents' presence (`presence.py`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from chatserver import protocol, routing
from chatserver.events import Notify
from chatserver.handoff import Handoff
from chatserver.hours import ALWAYS, Hours
from chatserver.human.clocks import Clocks
from chatserver.human.ledger import Dispatched, Ledger, NotWaiting, Room, all_or_nothing
from chatserver.human.routed import Routed
from chatserver.human.telling import Teller
from chatserver.models import Conversation, ConversationStatus, OfflineRequest, UnknownConversation
from chatserver.presence import Departure
from chatserver.preview import preview
from chatserver.protocol import ServerEvent
from chatserver.satisfaction import had_exchange
from chatserver.system_lines import LineKind, SystemLine

# The meta kind of the message that ends a chat whose customer left: consoles mark the chat
# as ended when they see it.
CUSTOMER_LEFT = str(LineKind.CUSTOMER_LEFT)


class Assignment(Room):
    """Hand off, offer and accept, assign, close, abandon, leave a message."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        teller: Teller,
        routed: Routed,
        clocks: Clocks,
        hours: Hours = ALWAYS,
    ) -> None:
        super().__init__(ledger)
        self.teller = teller
        self.routed = routed
        self.clocks = clocks
        self.hours = hours

    @all_or_nothing()
    async def hand_off(self, conversation: Conversation, handoff: Handoff) -> Dispatched:
        """Put the conversation in its queue, start its clocks; offline if nobody can take it."""
        ledger = self.ledger
        now = ledger.clock.now()
        if conversation.status is not ConversationStatus.BOT:
            raise NotWaiting("this conversation is already with the team")
        was = conversation
        conversation = await self.teller.with_tracking_number(
            replace(
                conversation.transition(ConversationStatus.QUEUED, now),
                team=handoff.team,
                priority=handoff.priority,
                handed_off_at=now,
            )
        )
        if not self.hours.is_open(now):
            return await self._go_offline(conversation, now, was=was, reason="out_of_hours")
        events = ledger.router.enqueue(
            conversation.id,
            language=conversation.language,
            team=handoff.team,
            priority=handoff.priority,
            now=now,
            tier=conversation.tier,
            manager_id=await ledger.manager_id(conversation.manager),
        )
        if any(isinstance(e, routing.NoAgentAvailable) and not e.queued for e in events):
            return await self._go_offline(conversation, now, was=was, reason="no_agent")
        await ledger.save(conversation, was=was)
        asked = (await ledger.store.last_customer_messages([conversation.id])).get(conversation.id)
        if asked is not None:
            ledger.previews[conversation.id] = preview(asked.text)
        notifications = await self.routed.apply(events, now, known=conversation)
        await self.clocks.start(conversation, handoff, now)
        # After the clocks: the alert carries their due times.
        notifications += self.routed.urgent.waiting(conversation, now, faq_id=handoff.faq_id)
        ledger.record("handoff", {"reason": str(handoff.reason)})
        return Dispatched(notifications)

    @all_or_nothing()
    async def accept(self, agent_id: str, conversation_id: str) -> Dispatched:
        now = self.ledger.clock.now()
        events = self.ledger.router.accept(conversation_id, agent_id, now)
        return Dispatched(await self.routed.apply(events, now))

    @all_or_nothing()
    async def assign(self, supervisor_id: str, conversation_id: str, agent_id: str) -> Dispatched:
        now = self.ledger.clock.now()
        events = self.ledger.router.assign(conversation_id, agent_id, now, by=supervisor_id)
        return Dispatched(await self.routed.apply(events, now))

    # -- the end ----------------------------------------------------------------------

    @all_or_nothing()
    async def close(self, conversation_id: str, *, by_agent: str | None = None) -> Dispatched:
        ledger = self.ledger
        if by_agent is not None:
            await ledger.owned(by_agent, conversation_id)
        conversation = await ledger.conversation(conversation_id)
        now = ledger.clock.now()
        if conversation.status is ConversationStatus.QUEUED:
            return await self.abandon(conversation_id)
        if not conversation.can_become(ConversationStatus.CLOSED):
            raise NotWaiting(f"a {conversation.status} conversation cannot be closed")
        # Addressed before the router lets go of the chat: after it, nobody has it, and an
        # agent whose customer ended the chat would never hear.
        tell_agent = ledger.to_agents_of(
            conversation_id, ServerEvent.CLOSED, protocol.agent_closed(conversation_id)
        )
        events: list[routing.RoutingEvent] = []
        if ledger.assignee(conversation_id) is not None:
            events = ledger.router.release(conversation_id, now)
        was = conversation
        conversation = replace(
            conversation.transition(ConversationStatus.CLOSED, now), closed_at=now
        )
        await ledger.save(conversation, was=was)
        notifications = self._forget(conversation_id)
        notifications += await self.clocks.stop(conversation, now, resolved=True)
        notifications += await self.routed.apply(events, now)
        if conversation.tracking_number is not None:  # an inquiry: say how to follow it
            notifications += await self.teller.tell(
                conversation,
                SystemLine(LineKind.CLOSED, {"number": conversation.tracking_number}),
            )
        # A survey only where someone served the customer (a chat closed unanswered has
        # nothing to rate, and `rate` would refuse it).
        survey = had_exchange(await ledger.store.messages(conversation_id))
        notifications.append(
            Notify.customer(
                conversation_id,
                ServerEvent.CLOSED,
                protocol.customer_closed(
                    tracking_number=conversation.tracking_number, survey=survey
                ),
            )
        )
        notifications.append(tell_agent)
        return Dispatched(notifications)

    @all_or_nothing()
    async def abandon(self, conversation_id: str, *, left_at: datetime | None = None) -> Dispatched:
        """The customer left the queue: by ending the chat, or by being away since
        `left_at` for longer than the grace. Then the first-response clock stops as of
        `left_at` (their absence is no miss of the desk's), and a message tells them why
        if they come back."""
        ledger = self.ledger
        conversation = await ledger.conversation(conversation_id)
        now = ledger.clock.now()
        if conversation.status is not ConversationStatus.QUEUED:
            raise NotWaiting("only a waiting conversation can be abandoned")
        events = ledger.router.abandon(conversation_id, now)
        was = conversation
        conversation = replace(
            conversation.transition(ConversationStatus.ABANDONED, now), closed_at=now
        )
        await ledger.save(conversation, was=was)
        notifications = self._forget(conversation_id)
        notifications += await self.clocks.stop(conversation, left_at or now, resolved=False)
        notifications += await self.routed.apply(events, now)
        if left_at is not None:
            notifications += await self.teller.tell(
                conversation, SystemLine(LineKind.CUSTOMER_LEFT)
            )
        closed = protocol.customer_closed(
            tracking_number=conversation.tracking_number,
            survey=False,
            reason=CUSTOMER_LEFT if left_at is not None else None,
        )
        notifications.append(Notify.customer(conversation_id, ServerEvent.CLOSED, closed))
        return Dispatched(notifications)

    async def customer_gone(self, departure: Departure) -> list[Notify]:
        """The customer has been away past the grace. Waiting: they abandoned the queue.
        With an agent: the chat ends, and the agent is told the customer left."""
        conversation_id = departure.conversation_id
        try:
            agent_id = self.ledger.router.assignee(conversation_id)
        except UnknownConversation:
            return []  # with the bot, or over already: nobody waits for this customer
        if agent_id is None:
            outcome = await self.abandon(conversation_id, left_at=departure.left_at)
            return outcome.notifications
        # Its first-response clock stops as of their leaving (no miss of the agent's).
        async with self.ledger.savepoint():
            return await self._close_held_chat(conversation_id, agent_id, departure.left_at)

    async def _close_held_chat(
        self, conversation_id: str, agent_id: str, left_at: datetime
    ) -> list[Notify]:
        ledger = self.ledger
        was = conversation = await ledger.conversation(conversation_id)
        now = ledger.clock.now()
        # Told while the agent still holds the chat, so that their console gets it too.
        notifications = await self.teller.tell(conversation, SystemLine(LineKind.CUSTOMER_LEFT))
        events = ledger.router.release(conversation_id, now)
        conversation = replace(
            conversation.transition(ConversationStatus.CLOSED, now), closed_at=now
        )
        await ledger.save(conversation, was=was)
        notifications += self._forget(conversation_id)
        notifications += await self.clocks.stop(conversation, left_at, resolved=False)
        notifications += await self.routed.apply(events, now)
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

    def _forget(self, conversation_id: str) -> list[Notify]:
        """The chat is over: nobody waits for its customer, no queue item shows it, no
        urgent alert stays up for it."""
        self.ledger.presence.forget(conversation_id)
        self.ledger.previews.pop(conversation_id, None)
        self.ledger.seen.pop(conversation_id, None)
        return self.routed.urgent.ended(conversation_id)

    # -- nobody can chat --------------------------------------------------------------

    @all_or_nothing(router=False)
    async def leave_message(
        self,
        conversation_id: str,
        kind: str,
        contact: str,
        text: str,
        *,
        request_id: str | None = None,
    ) -> Dispatched:
        """Nobody could take the chat: record an email or callback request (`request_id`:
        the id its inbox item will share, so a lost item can be found again)."""
        ledger = self.ledger
        was = conversation = await ledger.conversation(conversation_id)
        now = ledger.clock.now()
        if conversation.status is ConversationStatus.BOT:
            conversation = conversation.transition(ConversationStatus.OFFLINE, now)
        elif conversation.status is not ConversationStatus.OFFLINE:
            raise NotWaiting("a message can be left only when nobody can chat")
        conversation = await self.teller.with_tracking_number(conversation)
        await ledger.save(conversation, was=was)
        await ledger.store.record_offline_request(
            OfflineRequest(request_id or ledger.new_id(), conversation_id, kind, contact, text, now)
        )
        number = conversation.tracking_number or ""
        notifications = await self.teller.tell(
            conversation, SystemLine(LineKind.LEFT_MESSAGE, {"number": number})
        )
        return Dispatched(notifications, {"tracking_number": number})

    async def _go_offline(
        self, conversation: Conversation, now: datetime, *, was: Conversation, reason: str
    ) -> Dispatched:
        conversation = conversation.transition(ConversationStatus.OFFLINE, now)
        await self.ledger.save(conversation, was=was)
        number = conversation.tracking_number or ""
        out = await self.teller.tell(conversation, SystemLine(LineKind.OFFLINE, {"number": number}))
        out.append(
            Notify.customer(
                conversation.id,
                ServerEvent.OFFLINE,
                protocol.offline(tracking_number=number, reason=reason),
            )
        )
        self.ledger.record("offline", {"reason": reason})
        return Dispatched(out, {"offline": True, "tracking_number": number})
