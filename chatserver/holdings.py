"""Who held a conversation: each stretch an agent had it (from, until, how it ended).

Pure. A conversation row says only who has it now; an agent who accepted a chat and
passed it on without writing, or whose chat went back in line when they dropped, would
otherwise leave no trace, and could not export the chat they handled. `change` derives the
history's step from a conversation before and after a save, so the store writes it in the
same transaction as the row (never a second write a crash could split from it), and
`HoldingChange.undone` is the step that takes it back when the unit of change fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chatserver.models import Conversation, ConversationStatus

# The statuses in which the conversation's agent holds it.
HELD = frozenset({ConversationStatus.ASSIGNED, ConversationStatus.ACTIVE})


class HoldingEnd(StrEnum):
    """How a stretch ended: passed to a colleague or a queue, put back in line (the agent
    went offline, or a restart found their account gone), or the chat ended."""

    TRANSFERRED = "transferred"
    REQUEUED = "requeued"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Holding:
    """One stretch of one agent holding one conversation; `until` None: they hold it now."""

    conversation_id: str
    agent_id: str
    since: datetime
    until: datetime | None = None
    ended: HoldingEnd | None = None


@dataclass(frozen=True, slots=True)
class HoldingChange:
    """What a save does to the history, at `at`: end `closes`'s open stretch (how: `ended`)
    and open one for `opens`. `undo`: the reverse (reopen it, delete the new one)."""

    conversation_id: str
    at: datetime
    closes: str | None = None
    ended: HoldingEnd | None = None
    opens: str | None = None
    undo: bool = False

    def undone(self) -> HoldingChange:
        return HoldingChange(
            self.conversation_id, self.at, self.closes, self.ended, self.opens, undo=not self.undo
        )


def holder(conversation: Conversation) -> str | None:
    """The agent holding the conversation (None while it waits, with the bot, or is over)."""
    return conversation.agent_id if conversation.status in HELD else None


def change(
    was: Conversation, now: Conversation, at: datetime, *, ended: HoldingEnd | None = None
) -> HoldingChange | None:
    """The history's step when `was` is saved as `now` (None: the holder is the same).
    `ended` names how the old stretch ended when the caller knows (a transfer to a queue);
    otherwise: to another agent is a transfer, back in line a requeue, else the chat ended."""
    before, after = holder(was), holder(now)
    if before == after:
        return None
    how = None
    if before is not None:
        if ended is not None:
            how = ended
        elif after is not None:
            how = HoldingEnd.TRANSFERRED
        elif now.status is ConversationStatus.QUEUED:
            how = HoldingEnd.REQUEUED
        else:
            how = HoldingEnd.CLOSED
    return HoldingChange(now.id, at, closes=before, ended=how, opens=after)


def ever_held(agent_id: str, holdings: Sequence[Holding]) -> bool:
    return any(h.agent_id == agent_id for h in holdings)
