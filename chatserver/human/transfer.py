"""Transfer: the agent who has a chat passes it to a colleague or back to a queue of the
desk (a language it serves, a team), and an internal note records who passed it on and why.

This module owns the transfer and the queue a client may name; what the router's events
mean for the conversation is `routed.py`'s, the note's wording `telling.py`'s. It must not
change a conversation's status itself, nor start or stop clocks (`assignment.py` and
`clocks.py` do).
"""

from __future__ import annotations

from chatserver import protocol
from chatserver.human.ledger import Dispatched, InvalidTeam, Ledger, Room, all_or_nothing
from chatserver.human.routed import Routed
from chatserver.human.telling import Teller
from chatserver.language import supported_tag
from chatserver.models import Author, Team, UnsupportedLanguage
from chatserver.protocol import ServerEvent
from chatserver.routing import QueueKey

TRANSFER_NOTE = "Transferred by {name}: {reason}"


class Transfers(Room):
    """An agent passes their chat on: to an agent, or to a queue."""

    def __init__(
        self, ledger: Ledger, *, teller: Teller, routed: Routed, languages: tuple[str, ...]
    ) -> None:
        super().__init__(ledger)
        self.teller = teller
        self.routed = routed
        self.languages = languages  # the desk's: a queue is one of these and a team

    @all_or_nothing()
    async def transfer(
        self,
        agent_id: str,
        conversation_id: str,
        *,
        to_agent: str | None,
        to_queue: tuple[str, str] | None,
        reason: str,
    ) -> Dispatched:
        ledger = self.ledger
        queue = self._queue_key(*to_queue) if to_queue else None
        await ledger.owned(agent_id, conversation_id)
        now = ledger.clock.now()
        events = ledger.router.transfer(conversation_id, now, to_agent=to_agent, to_queue=queue)
        # Stored in English for the record; consoles word it in the agent's language
        # from `meta` (TRANSFER_NOTE is the same msgid in their catalog).
        name = ledger.name(agent_id)
        note = await self.teller.post(
            conversation_id,
            Author.SYSTEM,
            TRANSFER_NOTE.format(name=name, reason=reason).strip(),
            internal=True,
            meta={"kind": "transfer", "agent_id": agent_id, "agent_name": name, "reason": reason},
        )
        notifications = [
            ledger.to_agents_of(conversation_id, ServerEvent.MESSAGE, protocol.message(note))
        ]
        notifications += await self.routed.apply(events, now)
        return Dispatched(notifications)

    def _queue_key(self, language: str, team: str) -> QueueKey:
        """The queue a client named: one of the desk's languages (in its spelling), a team."""
        served = supported_tag(language, self.languages)
        if served is None:
            raise UnsupportedLanguage(f"{language!r} is not one of this desk's languages")
        try:
            return QueueKey(served, Team(team))
        except ValueError:
            raise InvalidTeam(f"{team!r} is not a team; teams are {', '.join(Team)}") from None
