"""The survey's use cases: a customer rates a closed conversation, supervisors list and
handle the follow-ups of negative ratings, and the tick counts the ones missed.

Combines the pure rules of `satisfaction.py` with the store and returns what to publish
(`Notify` to the supervisors, payloads made by `protocol.py`); knows no transport.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chatserver import protocol
from chatserver.clock import Clock, IdFactory
from chatserver.events import Notify
from chatserver.models import ConversationStatus, UnknownConversation
from chatserver.protocol import FollowUpPayload, ServerEvent
from chatserver.satisfaction import (
    FollowUp,
    NothingToRate,
    Rating,
    UnknownFollowUp,
    follow_up,
    had_exchange,
    newly_missed,
    rate,
)
from chatserver.store import Store


@dataclass(frozen=True, slots=True)
class Rated:
    rating: Rating  # as stored: the first rating of the conversation
    duplicate: bool  # the conversation was rated already; nothing changed
    followup: FollowUp | None  # opened by this rating (None for a duplicate)
    notifications: list[Notify] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Changed:
    followups: list[FollowUp]
    notifications: list[Notify] = field(default_factory=list)


class Surveys:
    def __init__(self, *, store: Store, clock: Clock, new_id: IdFactory) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id

    async def rate(self, conversation_id: str, score: int, comment: str) -> Rated:
        """Rate a closed conversation once; a second rating is acknowledged as a duplicate
        with the first score (two tabs, a resend), like feedback on answers. A chat where
        nobody served the customer is not rated (`had_exchange`)."""
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:
            raise UnknownConversation("no such conversation", conversation_id=conversation_id)
        if conversation.status is ConversationStatus.RATED:
            stored = await self.store.rating(conversation_id)
            if stored is not None:
                return Rated(stored[0], duplicate=True, followup=None)
        now = self.clock.now()
        rating = rate(conversation, score, comment, rating_id=self.new_id(), now=now)
        if not had_exchange(await self.store.messages(conversation_id)):
            raise NothingToRate("nobody served the customer in this conversation")
        opened = follow_up(rating, followup_id=self.new_id())
        rated = conversation.transition(ConversationStatus.RATED, now)
        rating, opened, created = await self.store.record_rating(rating, opened, rated)
        if not created:
            return Rated(rating, duplicate=True, followup=None)
        notifications = [await self._told(opened)] if opened is not None else []
        return Rated(rating, duplicate=False, followup=opened, notifications=notifications)

    async def unhandled(self) -> list[FollowUpPayload]:
        """Open and missed follow-ups as supervisors see them, soonest deadline first."""
        now = self.clock.now()
        names = await self._agent_names()
        return [
            protocol.followup(f, now=now, agent_name=names.get(f.rating.agent_id or ""))
            for f in await self.store.unhandled_followups()
        ]

    async def handle(self, followup_id: str, note: str, *, by: str) -> Changed:
        """A supervisor answered the customer: the follow-up is handled, with the note."""
        found = await self.store.followup(followup_id)
        if found is None:
            raise UnknownFollowUp("no follow-up with this id")
        handled = found.handle(note, by=by, now=self.clock.now())
        await self.store.save_followup(handled)
        return Changed([handled], [await self._told(handled)])

    async def tick(self) -> Changed:
        """Follow-ups whose 24 hours ran out unhandled since the last tick: missed, each
        stored and told to the supervisors once."""
        now = self.clock.now()
        missed = newly_missed(await self.store.followups_due(now), now)
        notifications = []
        for followup in missed:
            await self.store.save_followup(followup)
            notifications.append(await self._told(followup))
        return Changed(missed, notifications)

    async def _told(self, followup: FollowUp) -> Notify:
        names = await self._agent_names()
        payload = protocol.followup(
            followup, now=self.clock.now(), agent_name=names.get(followup.rating.agent_id or "")
        )
        return Notify.supervisors(ServerEvent.FOLLOWUP, payload)

    async def _agent_names(self) -> dict[str, str]:
        return {account.id: account.name for account in await self.store.agents()}
