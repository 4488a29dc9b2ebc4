"""The transfer room on its own: the agent who has a chat passes it to a colleague or back
to a queue of the desk, an internal note says who passed it on and why, only the agent who
has it may, and a transfer whose write fails leaves the chat with its agent."""

from __future__ import annotations

import pytest

from chatserver.human.ledger import InvalidTeam, NotYourConversation
from chatserver.models import Author, ConversationStatus, Team, UnsupportedLanguage
from tests.faulty import StoreFault, open_faulty
from tests.human_desk import AIKO, EMMA, Make


async def test_a_transfer_names_a_queue_of_the_desk(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO, EMMA))
    chat = await desk.handed_off()
    await desk.assignment.accept("aiko", chat)
    with pytest.raises(UnsupportedLanguage):
        await desk.transfers.transfer(
            "aiko", chat, to_agent=None, to_queue=("xx", "technical"), reason="?"
        )
    await desk.transfers.transfer("aiko", chat, to_agent="emma", to_queue=None, reason="busy")
    assert desk.ledger.assignee(chat) == "emma"


async def test_a_transfer_to_a_colleague_leaves_an_internal_note(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO, EMMA))
    chat = await desk.handed_off()
    await desk.assignment.accept("aiko", chat)
    outcome = await desk.transfers.transfer(
        "aiko", chat, to_agent="emma", to_queue=None, reason="needs English"
    )
    [note] = [m for m in await desk.store.messages(chat) if m.meta.get("kind") == "transfer"]
    assert (note.author, note.internal, note.text) == (
        Author.SYSTEM,
        True,
        "Transferred by Aiko: needs English",
    )
    assert note.meta == {
        "kind": "transfer",
        "agent_id": "aiko",
        "agent_name": "Aiko",
        "reason": "needs English",
    }
    told = [(n.audience, n.target, n.event) for n in outcome.notifications]
    assert ("agent", "aiko", "released") in told
    assert (await desk.row(chat)).agent_id == "emma"


async def test_a_transfer_back_to_a_queue_puts_the_chat_in_line_of_that_team(
    rooms: Make,
) -> None:
    desk = await rooms(agents=(AIKO, EMMA))
    chat = await desk.handed_off()
    await desk.assignment.accept("aiko", chat)
    await desk.transfers.transfer(
        "aiko", chat, to_agent=None, to_queue=("ja", "technical"), reason="a bug"
    )
    row = await desk.row(chat)
    assert (row.status, row.agent_id, row.team) == (
        ConversationStatus.QUEUED,
        None,
        Team.TECHNICAL,
    )
    assert chat not in desk.ledger.router.agent_conversations("aiko")


async def test_only_the_agent_who_has_the_chat_passes_it_on_to_a_team(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO, EMMA))
    chat = await desk.handed_off()
    await desk.assignment.accept("aiko", chat)
    with pytest.raises(NotYourConversation):
        await desk.transfers.transfer("emma", chat, to_agent="emma", to_queue=None, reason="")
    with pytest.raises(InvalidTeam):
        await desk.transfers.transfer(
            "aiko", chat, to_agent=None, to_queue=("ja", "kitchen"), reason=""
        )
    assert desk.ledger.assignee(chat) == "aiko"


async def test_a_transfer_whose_write_fails_changes_nothing_but_the_note(
    rooms: Make, tmp_path
) -> None:
    """The router and the row are put back; the note already appended stays in the
    transcript, as every message does (`ledger.py`)."""
    store = await open_faulty(f"sqlite:///{tmp_path / 'faulty.sqlite3'}")
    desk = await rooms(agents=(AIKO, EMMA), store=store)
    chat = await desk.handed_off()
    await desk.assignment.accept("aiko", chat)
    row = await desk.row(chat)
    before = (row.status, row.agent_id, desk.ledger.assignee(chat))
    store.fail_write(2)  # after the note is stored
    with pytest.raises(StoreFault):
        await desk.transfers.transfer("aiko", chat, to_agent="emma", to_queue=None, reason="")
    row = await desk.row(chat)
    assert (row.status, row.agent_id, desk.ledger.assignee(chat)) == before
    await desk.transfers.transfer("aiko", chat, to_agent="emma", to_queue=None, reason="")
    assert desk.ledger.assignee(chat) == "emma"
