"""The conversation lifecycle as a pure state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatserver.models import (
    TRANSITIONS,
    Author,
    ConversationStatus,
    IllegalTransition,
    Message,
    NewMessages,
    Priority,
    new_conversation,
)
from tests.conftest import FakeClock, counting_ids

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S = ConversationStatus


def conversation():
    return new_conversation("c1", language="ja", language_confirmed=False, now=T0)


def test_new_conversation_starts_with_the_bot():
    c = conversation()
    assert c.status is S.BOT
    assert c.is_open
    assert c.last_seq == 0


def test_happy_path_through_the_lifecycle():
    c = conversation()
    for step, target in enumerate([S.QUEUED, S.ASSIGNED, S.ACTIVE, S.CLOSED, S.RATED], 1):
        c = c.transition(target, T0 + timedelta(seconds=step))
        assert c.status is target
    assert c.updated_at == T0 + timedelta(seconds=5)
    assert not c.is_open


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], S.ACTIVE),  # the bot cannot skip the queue
        ([], S.RATED),
        ([S.QUEUED], S.ACTIVE),  # nobody accepted it yet
        ([S.QUEUED, S.ABANDONED], S.QUEUED),  # abandoned is final
        ([S.CLOSED], S.QUEUED),  # closed conversations do not reopen
        ([S.CLOSED, S.RATED], S.RATED),
        ([S.OFFLINE], S.ASSIGNED),
    ],
)
def test_illegal_transitions_raise_a_typed_error(path, illegal):
    c = conversation()
    for target in path:
        c = c.transition(target, T0)
    with pytest.raises(IllegalTransition) as raised:
        c.transition(illegal, T0)
    assert raised.value.current is c.status
    assert raised.value.target is illegal
    assert raised.value.code == "illegal_transition"


def test_transition_does_not_mutate_the_original():
    c = conversation()
    c.transition(S.QUEUED, T0)
    assert c.status is S.BOT


def test_transfers_keep_the_conversation_open():
    c = conversation().transition(S.QUEUED, T0).transition(S.ASSIGNED, T0)
    active = c.transition(S.ACTIVE, T0)
    assert active.transition(S.ASSIGNED, T0).status is S.ASSIGNED  # to another agent
    assert active.transition(S.QUEUED, T0).status is S.QUEUED  # to another queue


def test_every_status_has_a_row_and_terminal_states_have_no_exit():
    assert set(TRANSITIONS) == set(S)
    assert TRANSITIONS[S.ABANDONED] == frozenset()
    assert TRANSITIONS[S.RATED] == frozenset()


def test_only_visible_agent_messages_count_as_a_response():
    def message(author, internal=False):
        return Message("m", "c", 1, author, "hi", T0, internal=internal)

    assert message(Author.AGENT).counts_as_response
    assert not message(Author.AGENT, internal=True).counts_as_response
    assert not message(Author.BOT).counts_as_response
    assert not message(Author.SYSTEM).counts_as_response
    assert not message(Author.CUSTOMER).counts_as_response


def test_priorities_sort_urgent_first():
    assert sorted(Priority, key=lambda p: p.rank) == [
        Priority.URGENT,
        Priority.HIGH,
        Priority.MEDIUM,
        Priority.LOW,
    ]


def test_new_messages_are_stamped_with_a_fresh_id_and_the_time_they_are_written():
    clock = FakeClock(T0)
    new_message = NewMessages(clock, counting_ids("m"))
    first = new_message("c1", Author.CUSTOMER, "hello", client_id="x1")
    clock.advance(5)
    second = new_message("c1", Author.AGENT, "hi", author_id="aiko", meta={"agent_id": "aiko"})
    assert (first.id, first.created_at, first.meta, first.client_id) == ("m000001", T0, {}, "x1")
    assert (second.id, second.created_at, second.sender) == (
        "m000002",
        T0 + timedelta(seconds=5),
        "agent:aiko",
    )
