"""The offline inbox's use cases: a left message or callback request becomes an inbox item;
agents take it, answer it by email or record a callback's outcome; the customer's emailed
reply comes back into it. Each returns the `Notify` list to publish (every agent's console
gets the inbox in its languages again) and never emits; the rules are chatserver/inbox.py's.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from chatserver import inbox, inbox_sla, protocol, sla
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

Observe = Callable[[str, dict[str, Any]], None]

log = logging.getLogger(__name__)

# The email an agent's reply goes out in, in the customer's language.
REPLY_SUBJECT = N_("Your inquiry")
REPLY_FOOTER = N_("To add to your inquiry, reply to this email. Your tracking number is {number}.")
# A request whose item is still missing this long after it was left lost its item (the
# save failed); before that it may be one whose item is being saved right now.
RECOVER_AFTER = timedelta(minutes=1)


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
        observe: Observe | None = None,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self.new_id = new_id
        self.policies = policies
        self.desks = desks
        self.mailer = mailer
        self.catalogs = catalogs
        self.observe: Observe = observe or (lambda name, labels: None)
        # Requests left up to this instant have been looked at by `recover` (None: not yet).
        self._recovered_to: datetime | None = None

    # -- the customer ---------------------------------------------------------------------

    async def leave_message(
        self, conversation_id: str, kind: str, contact: str, text: str, preferred_time: str = ""
    ) -> Dispatched:
        """The conversation's request is recorded (tracking number, system line) and put in
        the inbox, due by its channel's first-response target. The item shares the request's
        id: if saving it fails, the request is kept and the tick (`recover`) makes the item,
        so the customer's message is never lost and is acknowledged once."""
        request_id = self.new_id()
        left = await self.dispatcher.leave_message(
            conversation_id, kind, contact, text, request_id=request_id
        )
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:  # pragma: no cover - leave_message found it
            return left
        item_kind = KIND_OF_REQUEST[kind]
        cell = self._cell(item_kind, conversation)
        item = inbox.new_item(
            item_id=request_id,
            conversation_id=conversation_id,
            tracking_number=str(left.result["tracking_number"]),
            kind=item_kind,
            language=conversation.language,
            contact=contact,
            text=text,
            preferred_time=preferred_time,
            now=self.clock.now(),
            desk=self.desks[item_kind],
            target=cell.first_response,
            policy=cell.name,
        )
        try:
            await self.store.save_inbox_item(item, new=True)
        except Exception:  # the request is stored: `recover` puts it in the inbox
            log.exception("inbox item %s not saved; the next tick recovers it", request_id)
            return left
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
            item,
            now,
            desk=self.desks[item.kind],
            target=self._cell(item.kind, conversation).first_response,
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
        items = inbox.visible_to(await self.store.open_inbox_items(), _languages(account))
        threads = await self.store.inbox_threads([item.id for item in items])
        return [Notify.console(sid, ServerEvent.INBOX, self._payload(items, threads))]

    async def everyone(self) -> list[Notify]:
        """Every agent's inbox, as it is now (after a change made outside a use case here)."""
        return await self._everyone()

    # -- the clock ------------------------------------------------------------------------

    async def tick(self) -> list[Notify]:
        """Items near their deadline warn the agents who see them (`sla_warning`), items
        past it without a first answer are breached: stored, told to supervisors
        (`sla_breach`) and counted, each once. Then lost items are recovered. An item that
        fails is logged, counted and left for the next tick; the others go on."""
        now = self.clock.now()
        changed = inbox_sla.tick(await self.store.inbox_items_due(now), now)
        out: list[Notify] = []
        accounts = await self.store.agents() if changed.warned or changed.breached else []
        for item in changed.warned:
            with self._alone("inbox_sla", item.id):
                if not await self.store.mark_inbox_item(item.id, "warned_at", now):
                    continue  # answered, or warned, since it was read
                warning = protocol.inbox_sla_warning(item, now=now)
                out += [
                    Notify.agent(account.id, ServerEvent.SLA_WARNING, warning)
                    for account in accounts
                    if _sees(account, item)
                ]
        breached = 0
        for item in changed.breached:
            with self._alone("inbox_sla", item.id):
                conversation = await self.store.get_conversation(item.conversation_id)
                breach = protocol.inbox_sla_breach(item, conversation)
                if not await self.store.mark_inbox_item(item.id, "breached_at", now):
                    continue  # answered, or breached, since it was read
                out.append(Notify.supervisors(ServerEvent.SLA_BREACH, breach))
                self.observe(
                    "inbox_breach",
                    {"channel": str(CHANNEL_OF[item.kind]), "language": item.language},
                )
                breached += 1
        recovered = await self.recover()
        if breached or recovered:
            out += await self._everyone()  # the consoles show the item breached, or found
        return out

    async def recover(self) -> list[InboxItem]:
        """Requests whose item was not saved (see `leave_message`) become items, due from
        when they were left; a request left less than `RECOVER_AFTER` ago is let be.

        The first look reads every request; later ones only those left since the previous
        look's bound (less `RECOVER_AFTER` again, for a request whose write took long), or
        since the oldest one whose recovery failed, which is tried again."""
        made = []
        settled = self.clock.now() - RECOVER_AFTER
        since = None if self._recovered_to is None else self._recovered_to - RECOVER_AFTER
        recovered_to = settled
        for request in await self.store.offline_requests_without_item(since=since, until=settled):
            failed = True
            with self._alone("inbox_recover", request["id"]):
                conversation = await self.store.get_conversation(request["conversation_id"])
                if conversation is not None and request["kind"] in KIND_OF_REQUEST:
                    made.append(await self._recovered(request, conversation))
                failed = False
            if failed:
                recovered_to = min(recovered_to, request["created_at"])
        self._recovered_to = recovered_to
        return made

    @contextlib.contextmanager
    def _alone(self, stage: str, item_id: str) -> Iterator[None]:
        """One item's step: if it fails, it is logged and counted, and the tick goes on."""
        try:
            yield
        except Exception:
            log.exception(
                "inbox tick: %s of %s failed; tried again at the next tick", stage, item_id
            )
            self.observe("isolated_failure", {"stage": stage})

    async def _recovered(self, request: dict[str, Any], conversation: Conversation) -> InboxItem:
        kind = KIND_OF_REQUEST[request["kind"]]
        cell = self._cell(kind, conversation)
        left_at: datetime = request["created_at"]
        item = inbox.new_item(
            item_id=request["id"],
            conversation_id=conversation.id,
            tracking_number=conversation.tracking_number or "",
            kind=kind,
            language=conversation.language,
            contact=request["contact"],
            text=request["text"],
            preferred_time="",  # not kept with the request
            now=left_at,
            desk=self.desks[kind],
            target=cell.first_response,
            policy=cell.name,
        )
        await self.store.save_inbox_item(item, new=True)
        log.info("inbox item %s recovered from its offline request", item.id)
        return item

    # -- inside -----------------------------------------------------------------------------

    def _cell(self, kind: InboxKind, conversation: Conversation | None) -> sla.SlaPolicy:
        """The inquiry's cell of the SLA matrix (channel x topic x tier x priority,
        `sla_topics.py`); its topic is the team's when the SLA file gives the team targets
        of its own by tier."""
        if conversation is None:
            return sla.policy_for(CHANNEL_OF[kind], Priority.MEDIUM, self.policies)
        return cell_policy(
            self.policies,
            CHANNEL_OF[kind],
            conversation.priority or Priority.MEDIUM,
            tier=conversation.tier,
            team=conversation.team,
        )

    async def _item_for(self, agent_id: str, item_id: str) -> InboxItem:
        """The item, if the agent may see it (their languages; supervisors every item)."""
        item = await self.store.inbox_item(item_id)
        account = await self.store.agent(agent_id)
        if item is None or account is None or not _sees(account, item):
            raise InboxError("unknown_item", "no inbox item with this id for you")
        return item

    async def _changed(self, item: InboxItem) -> Changed:
        before = await self.store.inbox_item(item.id)
        await self.store.save_inbox_item(item)
        seconds = inbox_sla.first_response_seconds(item)
        if seconds is not None and (before is None or before.responded_at is None):
            self.observe(
                "inbox_first_response",
                {"channel": str(CHANNEL_OF[item.kind]), "seconds": seconds},
            )
        thread = await self.store.inbox_entries(item.id)
        shown = protocol.inbox_item(item, now=self.clock.now(), thread=thread)
        return Changed(shown, await self._everyone())

    async def _everyone(self) -> list[Notify]:
        """Every agent's inbox: the items and their threads read once (one query each),
        whatever the number of agents."""
        items = await self.store.open_inbox_items()
        threads = await self.store.inbox_threads([item.id for item in items])
        return [
            Notify.agent(
                account.id,
                ServerEvent.INBOX,
                self._payload(inbox.visible_to(items, _languages(account)), threads),
            )
            for account in await self.store.agents()
        ]

    def _payload(
        self, visible: list[InboxItem], threads: Mapping[str, list[InboxEntry]]
    ) -> protocol.InboxPayload:
        """An agent's inbox: the items they see (`inbox.visible_to`), soonest due first."""
        now = self.clock.now()
        shown = [protocol.inbox_item(item, now=now, thread=threads[item.id]) for item in visible]
        return protocol.inbox(shown, mail_enabled=self.mailer.enabled)


def _languages(account: AgentAccount) -> tuple[str, ...] | None:
    """The languages whose items an account sees (None: a supervisor sees them all)."""
    return None if account.role.supervises else account.languages


def _sees(account: AgentAccount, item: InboxItem) -> bool:
    return account.role.supervises or item.language in account.languages
