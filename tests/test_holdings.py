"""The holding history's steps, derived from a conversation before and after a save."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from chatserver.holdings import HoldingChange, HoldingEnd, change, holder
from chatserver.models import ConversationStatus, new_conversation

T0 = datetime(2026, 11, 24, 10, 2, tzinfo=UTC)
S = ConversationStatus


def at(status: ConversationStatus, agent_id: str | None = None):
    base = new_conversation("c1", language="en", language_confirmed=True, now=T0)
    return replace(base, status=status, agent_id=agent_id)


def test_an_accept_opens_a_stretch_and_nothing_closes():
    assert change(at(S.QUEUED), at(S.ASSIGNED, "emma"), T0) == HoldingChange(
        "c1", T0, closes=None, ended=None, opens="emma"
    )


def test_the_same_holder_is_no_step():
    assert change(at(S.ASSIGNED, "emma"), at(S.ACTIVE, "emma"), T0) is None
    assert change(at(S.BOT), at(S.QUEUED), T0) is None
    # A closed chat keeps its last agent on the row, but nobody holds it any more.
    assert change(at(S.CLOSED, "emma"), at(S.RATED, "emma"), T0) is None


def test_how_a_stretch_ends_follows_where_the_chat_went():
    to_carlos = change(at(S.ACTIVE, "emma"), at(S.ACTIVE, "carlos"), T0)
    assert to_carlos == HoldingChange("c1", T0, "emma", HoldingEnd.TRANSFERRED, "carlos")
    back = change(at(S.ASSIGNED, "emma"), at(S.QUEUED), T0)
    assert back == HoldingChange("c1", T0, "emma", HoldingEnd.REQUEUED, None)
    closed = change(at(S.ACTIVE, "emma"), at(S.CLOSED, "emma"), T0)
    assert closed == HoldingChange("c1", T0, "emma", HoldingEnd.CLOSED, None)
    # The caller knows better: a transfer to a queue puts the chat back in line too.
    to_queue = change(at(S.ACTIVE, "emma"), at(S.QUEUED), T0, ended=HoldingEnd.TRANSFERRED)
    assert to_queue == HoldingChange("c1", T0, "emma", HoldingEnd.TRANSFERRED, None)


def test_undone_twice_is_the_step_again():
    step = HoldingChange("c1", T0, "emma", HoldingEnd.TRANSFERRED, "carlos")
    assert step.undone().undo is True
    assert step.undone().undone() == step


def test_only_an_assigned_or_active_chat_has_a_holder():
    assert holder(at(S.ACTIVE, "emma")) == "emma"
    assert holder(at(S.QUEUED, "emma")) is None
    assert holder(at(S.CLOSED, "emma")) is None
