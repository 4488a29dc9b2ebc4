"""The offline inbox's use cases: a left message or callback request becomes an inbox item;
agents take it, answer it by email or record a callback's outcome; the customer's emailed
reply comes back into it. Each returns the `Notify` list to publish (every agent's console
gets the inbox in its languages again) and never emits; the rules are chatserver/inbox.py's.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr

from chatserver import inbox, protocol, sla
from chatserver.agents import AgentAccount
from chatserver.clock import Clock, IdFactory
from chatserver.dispatch import Dispatcher
from chatserver.events import Notify
from chatserver.human.ledger import Dispatched
from chatserver.i18n import N_, Catalogs
from chatserver.inbox import (
    CHANNEL_OF,
    KIND_OF_REQUEST,
    ChannelDesk,
    InboxEntry,
    InboxError,
    InboxItem,
    InboxKind,
    Outcome,
)
from chatserver.mail import Mailer, compose_reply, tracking_number_in
from chatserver.models import Conversation, Priority
from chatserver.protocol import InboxItemPayload, ServerEvent
from chatserver.sla_topics import cell_policy
from chatserver.store import Store

log = logging.getLogger(__name__)

# The email an agent's reply goes out in, in the customer's language.
REPLY_SUBJECT = N_("Your inquiry")
REPLY_FOOTER = N_("To add to your inquiry, reply to this email. Your tracking number is {number}.")


@dataclass(frozen=True, slots=True)
class Changed:
    """An item after a step, as the acknowledgement shows it, and whom to tell."""

    item: InboxItemPayload
    notifications: list[Notify]


class InboxDesk:
    """Messages and callback requests left when nobody could chat (see the module doc)."""

    def __init__(
        self,
        *,
        store: Store,
        dispatcher: Dispatcher,
        clock: Clock,
        new_id: IdFactory,
        policies: sla.SlaPolicies,
        desks: Mapping[InboxKind, ChannelDesk],
        mailer: Mailer,
        catalogs: Catalogs,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self.new_id = new_id
        self.policies = policies
        self.desks = desks
        self.mailer = mailer
        self.catalogs = catalogs

    # -- the customer ---------------------------------------------------------------------

    async def leave_message(
        self, conversation_id: str, kind: str, contact: str, text: str, preferred_time: str = ""
    ) -> Dispatched:
        """The conversation's request is recorded (tracking number, system line) and put in
        the inbox, due by its channel's first-response target."""
        left = await self.dispatcher.leave_message(conversation_id, kind, contact, text)
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:  # pragma: no cover - leave_message found it
            return left
        item_kind = KIND_OF_REQUEST[kind]
        now = self.clock.now()
        item = inbox.new_item(
            item_id=self.new_id(),
            conversation_id=conversation_id,
            tracking_number=str(left.result["tracking_number"]),
            kind=item_kind,
            language=conversation.language,
            contact=contact,
            text=text,
            preferred_time=preferred_time,
            now=now,
            desk=self.desks[item_kind],
            target=self._target(item_kind, conversation),
        )
        await self.store.save_inbox_item(item, new=True)
        return Dispatched(left.notifications + await self._everyone(), left.result)

    async def customer_replied(
        self, *, to: str, subject: str, sender: str, text: str
    ) -> Dispatched:
        """An email from the customer (the inbound webhook): appended to the inquiry its
        address or subject names, which waits for the desk again (result: `item_id`)."""
        number = tracking_number_in(to, subject)
        if number is None:
            raise InboxError("unknown_inquiry", "no tracking number in the recipient or subject")
        sender = parseaddr(sender)[1].strip().lower()  # "Kenji <kenji@...>" -> the address
        items = [
            item
            for item in await self.store.inbox_items_by_tracking_number(number)
            if item.kind is InboxKind.MESSAGE and item.contact.strip().lower() == sender
        ]
        if not items:
            # The same answer for "no such number" and "not this sender's".
            raise InboxError("unknown_inquiry", "no inquiry with this number from this sender")
        item = items[-1]
        now = self.clock.now()
        await self.store.add_inbox_entry(InboxEntry(self.new_id(), item.id, "in", None, text, now))
        conversation = await self.store.get_conversation(item.conversation_id)
        item = inbox.reopen(
            item, now, desk=self.desks[item.kind], target=self._target(item.kind, conversation)
        )
        await self.store.save_inbox_item(item)
        return Dispatched(await self._everyone(), {"item_id": item.id})

    # -- agents ---------------------------------------------------------------------------

    async def take(self, agent_id: str, item_id: str) -> Changed:
        item = await self._item_for(agent_id, item_id)
        return await self._changed(inbox.take(item, agent_id, self.clock.now()))

    async def record_outcome(self, agent_id: str, item_id: str, outcome: str) -> Changed:
        item = await self._item_for(agent_id, item_id)
        return await self._changed(
            inbox.record_outcome(item, agent_id, Outcome(outcome), self.clock.now())
        )

    async def reply(self, agent_id: str, item_id: str, text: str) -> Changed:
        """Email the customer the agent's answer, then mark the item answered."""
        item = await self._item_for(agent_id, item_id)
        now = self.clock.now()
        answered = inbox.answered(item, agent_id, now)  # refused before anything is sent
        if not self.mailer.enabled:
            raise InboxError("mail_disabled", "no SMTP server is configured: email is off")
        translator = self.catalogs.translator(item.language)
        body = "\n\n".join(
            (text, "-- ", translator.gettext(REPLY_FOOTER).format(number=item.tracking_number))
        )
        try:
            message = compose_reply(
                self.mailer.config,
                to=item.contact,
                number=item.tracking_number,
                subject=translator.gettext(REPLY_SUBJECT),
                body=body,
            )
            await self.mailer.send(message)
        except (OSError, ValueError, smtplib.SMTPException) as exc:
            log.warning("could not send the reply to inquiry %s: %s", item.tracking_number, exc)
            raise InboxError("mail_failed", "the mail server did not take the email") from None
        await self.store.add_inbox_entry(
            InboxEntry(self.new_id(), item.id, "out", agent_id, text, now)
        )
        return await self._changed(answered)

    async def console_opened(self, account: AgentAccount, sid: str) -> list[Notify]:
        """A console that connects gets the inbox at once, like the queue."""
        items = await self.store.open_inbox_items()
        return [Notify.console(sid, ServerEvent.INBOX, await self._payload(account, items))]

    async def everyone(self) -> list[Notify]:
        """Every agent's inbox, as it is now (after a change made outside a use case here)."""
        return await self._everyone()

    # -- inside -----------------------------------------------------------------------------

    def _target(self, kind: InboxKind, conversation: Conversation | None) -> timedelta:
        """The first-response target of the inquiry's cell of the SLA matrix (channel x
        topic x tier x priority, `sla_topics.py`); its topic is the team's when the SLA file
        gives the team targets of its own by tier."""
        if conversation is None:
            return sla.policy_for(CHANNEL_OF[kind], Priority.MEDIUM, self.policies).first_response
        policy = cell_policy(
            self.policies,
            CHANNEL_OF[kind],
            conversation.priority or Priority.MEDIUM,
            tier=conversation.tier,
            team=conversation.team,
        )
        return policy.first_response

    async def _item_for(self, agent_id: str, item_id: str) -> InboxItem:
        """The item, if the agent may see it (their languages; supervisors every item)."""
        item = await self.store.inbox_item(item_id)
        account = await self.store.agent(agent_id)
        if item is None or account is None or not _sees(account, item):
            raise InboxError("unknown_item", "no inbox item with this id for you")
        return item

    async def _changed(self, item: InboxItem) -> Changed:
        await self.store.save_inbox_item(item)
        thread = await self.store.inbox_entries(item.id)
        shown = protocol.inbox_item(item, now=self.clock.now(), thread=thread)
        return Changed(shown, await self._everyone())

    async def _everyone(self) -> list[Notify]:
        items = await self.store.open_inbox_items()
        return [
            Notify.agent(account.id, ServerEvent.INBOX, await self._payload(account, items))
            for account in await self.store.agents()
        ]

    async def _payload(
        self, account: AgentAccount, items: list[InboxItem]
    ) -> protocol.InboxPayload:
        now = self.clock.now()
        languages = None if account.role.supervises else account.languages
        shown = [
            protocol.inbox_item(item, now=now, thread=await self.store.inbox_entries(item.id))
            for item in inbox.visible_to(items, languages)
        ]
        return protocol.inbox(shown, mail_enabled=self.mailer.enabled)


def _sees(account: AgentAccount, item: InboxItem) -> bool:
    return account.role.supervises or item.language in account.languages
