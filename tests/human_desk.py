"""The rooms of the human side built on their own (no facade): a real SQLite store, a
fake clock, the desk's catalogs and three agents (Aiko and Emma speak ja and en, Sam
supervises)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from chatserver.agents import AgentAccount
from chatserver.desk_state import DeskState
from chatserver.handoff import Handoff, HandoffReason
from chatserver.hours import ALWAYS, Hours
from chatserver.human.assignment import Assignment
from chatserver.human.clocks import Clocks
from chatserver.human.ledger import Ledger
from chatserver.human.presence import Presence
from chatserver.human.replies import Replies
from chatserver.human.routed import Routed
from chatserver.human.telling import Teller
from chatserver.human.transfer import Transfers
from chatserver.human.views import Views
from chatserver.i18n import Catalogs
from chatserver.models import (
    Author,
    Conversation,
    Priority,
    Role,
    Team,
    new_conversation,
)
from chatserver.routing import Router
from chatserver.settings import CHAT_LANGUAGES
from chatserver.sla import default_policies
from chatserver.store import SqlStore, open_store
from tests.conftest import ROOT, FakeClock, counting_ids

# The `rooms` fixture (tests/conftest.py): `await rooms(agents=(AIKO,))` -> Rooms.
Make = Callable[..., Awaitable["Rooms"]]

CATALOGS = Catalogs.load(ROOT / "locales", ("en", "ja"), "en")
HANDOFF = Handoff(HandoffReason.REQUESTED, Team.ACCOUNT, Priority.MEDIUM)


def account(
    agent_id: str,
    name: str,
    role: Role = Role.AGENT,
    languages: tuple[str, ...] = ("ja", "en"),
    *,
    takes_chats: bool = False,
) -> AgentAccount:
    return AgentAccount(
        id=agent_id,
        username=agent_id,
        name=name,
        languages=languages,
        teams=tuple(Team),
        capacity=3,
        role=role,
        password_hash="not used",
        created_at=FakeClock().now(),
        takes_chats=takes_chats,
    )


AIKO, EMMA, SAM = (
    account("aiko", "Aiko"),
    account("emma", "Emma"),
    account("sam", "Sam", Role.SUPERVISOR, takes_chats=True),  # offered chats: his choice
)


def no_matcher() -> Any:
    raise AssertionError("these conversations have no FAQ topic")


@dataclass
class Rooms:
    store: SqlStore
    clock: FakeClock
    ledger: Ledger
    teller: Teller
    routed: Routed
    clocks: Clocks
    assignment: Assignment
    transfers: Transfers
    replies: Replies
    presence: Presence
    views: Views
    observed: list[tuple[str, dict[str, Any]]]

    async def chat(self, language: str = "ja", text: str | None = None) -> Conversation:
        """A new conversation with the bot (and the customer's question, if any)."""
        conversation = new_conversation(
            self.ledger.new_id(), language=language, language_confirmed=True, now=self.clock.now()
        )
        await self.store.create_conversation(conversation, f"token-{conversation.id}")
        if text is not None:
            await self.store.append_message(
                self.teller.new_message(conversation.id, Author.CUSTOMER, text)
            )
        return conversation

    async def handed_off(self, language: str = "ja", text: str | None = None) -> str:
        conversation = await self.chat(language, text)
        await self.assignment.hand_off(conversation, HANDOFF)
        return conversation.id

    async def row(self, conversation_id: str) -> Conversation:
        return await self.ledger.conversation(conversation_id)

    def names(self, name: str) -> list[dict[str, Any]]:
        return [labels for observed, labels in self.observed if observed == name]


async def build(
    directory: Path,
    *,
    agents: tuple[AgentAccount, ...] = (),
    hours: Hours = ALWAYS,
    customer_grace: timedelta = timedelta(seconds=60),
    agent_grace: timedelta = timedelta(0),
    store: SqlStore | None = None,
    state: DeskState | None = None,
) -> Rooms:
    store = store or await open_store(f"sqlite:///{directory / 'desk.sqlite3'}")
    clock = FakeClock()
    observed: list[tuple[str, dict[str, Any]]] = []
    ledger = Ledger(
        store=store,
        router=Router(),
        clock=clock,
        new_id=counting_ids(),
        catalogs=CATALOGS,
        matcher=no_matcher,
        observe=lambda name, labels: observed.append((name, labels)),
        customer_grace=customer_grace,
        agent_grace=agent_grace,
        state=state,
    )
    teller = Teller(ledger)
    routed = Routed(ledger, teller)
    clocks = Clocks(ledger, default_policies())
    rooms = Rooms(
        store=store,
        clock=clock,
        ledger=ledger,
        teller=teller,
        routed=routed,
        clocks=clocks,
        assignment=Assignment(
            ledger,
            teller=teller,
            routed=routed,
            clocks=clocks,
            hours=hours,
        ),
        transfers=Transfers(ledger, teller=teller, routed=routed, languages=CHAT_LANGUAGES),
        replies=Replies(ledger, teller=teller, clocks=clocks),
        presence=Presence(ledger, teller=teller, routed=routed),
        views=Views(ledger, teller=teller),
        observed=observed,
    )
    for each in agents:
        await store.create_agent(each)
        await rooms.presence.agent_online(each)
    return rooms
