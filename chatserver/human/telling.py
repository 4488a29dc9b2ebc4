"""What the human side says, and to whom: system lines stored in the customer's language,
messages as the agent who has the chat reads them, an agent's briefing, a customer's place
in line, tracking numbers.

This module owns the wording and the messages it posts; it takes the values it shows
(time left to the target, an agent's name, whether a chat is served through the fallback)
from its caller and decides nothing about the desk: no router change, no clock, no status.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chatserver import protocol, routing
from chatserver.agent_view import message_for_agent
from chatserver.bot import topic_of
from chatserver.events import Notify
from chatserver.faq import FaqEntry
from chatserver.human.ledger import Ledger
from chatserver.models import Author, Conversation, Message, NewMessages
from chatserver.protocol import ServerEvent
from chatserver.system_lines import SystemLine
from chatserver.tracking import new_tracking_number

# Tracking numbers are drawn at random; on the rare clash the store refuses, draw again.
TRACKING_ATTEMPTS = 5


class Teller:
    """Posts and words what the desk tells customers and agents."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.new_message = NewMessages(ledger.clock, ledger.new_id)

    async def tell(self, conversation: Conversation, line: SystemLine) -> list[Notify]:
        """A system line to the customer, stored in their language; the agent who has the
        chat reads it in theirs."""
        text = line.render(self.ledger.catalogs.translator(conversation.language))
        message = await self.post(
            conversation.id, Author.SYSTEM, text, language=conversation.language, meta=line.meta()
        )
        return [
            Notify.customer(conversation.id, ServerEvent.MESSAGE, protocol.message(message)),
            self.message_to_agent(conversation, message),
        ]

    def message_to_agent(self, conversation: Conversation, message: Message) -> Notify:
        """A message of the conversation to the agent who has it (nobody while it waits),
        as they read it (`agent_view`)."""
        agent_id = self.ledger.assignee(conversation.id)
        if agent_id is None:
            return Notify.agent("", ServerEvent.MESSAGE, {})
        payload = self.for_agent(
            message, conversation, self.ledger.serving_language(agent_id, conversation)
        )
        return Notify.agent(agent_id, ServerEvent.MESSAGE, payload)

    def for_agent(
        self, message: Message, conversation: Conversation, agent_language: str
    ) -> protocol.MessagePayload:
        return message_for_agent(
            message,
            conversation_language=conversation.language,
            agent_language=agent_language,
            entry=self._faq_entry,
            catalogs=self.ledger.catalogs,
        )

    def _faq_entry(self, faq_id: str, language: str) -> FaqEntry | None:
        return self.ledger.matcher().faq.entry(faq_id, language)

    async def briefing(
        self,
        conversation: Conversation,
        *,
        widened: bool,
        agent_language: str,
        remaining_seconds: float | None,
        held: bool = False,
    ) -> protocol.BriefingPayload:
        """Everything the agent needs, in English when they serve it through the fallback."""
        messages = await self.ledger.store.messages(conversation.id)
        customer_texts = [m.text for m in messages if m.author is Author.CUSTOMER]
        faq_id = next(
            (
                topic
                for m in reversed(messages)
                if m.author is Author.BOT and (topic := topic_of(m.meta)) is not None
            ),
            None,
        )
        english = self.ledger.matcher().faq.entry(faq_id, "en") if faq_id is not None else None
        return protocol.briefing(
            conversation,
            messages=[self.for_agent(m, conversation, agent_language) for m in messages],
            widened=widened,
            agent_language=agent_language,
            original_text=customer_texts[-1] if customer_texts else None,
            faq_id=faq_id,
            question_en=english.question if english else None,
            remaining_seconds=remaining_seconds,
            held=held,
        )

    def position(self, view: routing.WaitingView) -> Notify:
        """A waiting customer's place in line and the wait, worded in their language."""
        wait = view.predicted_wait
        translator = self.ledger.catalogs.translator(view.queue.language)
        # babel words it in the customer's language ("約1分", "about 1 minute")
        worded = translator.format_wait(wait) if wait is not None else None
        return Notify.customer(
            view.conversation_id, ServerEvent.QUEUED, protocol.queued(view, wait=worded)
        )

    async def post(
        self,
        conversation_id: str,
        author: Author,
        text: str,
        *,
        language: str | None = None,
        internal: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> Message:
        appended = await self.ledger.store.append_message(
            self.new_message(
                conversation_id, author, text, language=language, internal=internal, meta=meta
            )
        )
        return appended.message

    async def with_tracking_number(self, conversation: Conversation) -> Conversation:
        if conversation.tracking_number is not None:
            return conversation
        for _ in range(TRACKING_ATTEMPTS):
            number = new_tracking_number()
            if await self.ledger.store.conversation_by_tracking_number(number) is None:
                return replace(conversation, tracking_number=number)
        raise RuntimeError("could not draw a free tracking number")
