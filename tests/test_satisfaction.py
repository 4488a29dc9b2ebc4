"""The survey's rules: who may rate, which ratings open a follow-up, its 24-hour deadline,
handled or missed (pure, no store, no clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chatserver.models import Author, ConversationStatus, Message, Team, new_conversation
from chatserver.satisfaction import (
    FOLLOW_UP_WITHIN,
    AlreadyHandled,
    FollowUpState,
    NotClosed,
    follow_up,
    had_exchange,
    newly_missed,
    rate,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def closed_chat(status: ConversationStatus = ConversationStatus.CLOSED):
    conversation = new_conversation("c1", language="ja", language_confirmed=True, now=T0)
    return replace(
        conversation, status=status, team=Team.ACCOUNT, agent_id="a1", tracking_number="K7Q2M9X4"
    )


def test_a_rating_keeps_who_had_the_chat_and_its_language():
    rating = rate(closed_chat(), 4, "quick", rating_id="r1", now=T0)
    assert (rating.score, rating.comment, rating.language) == (4, "quick", "ja")
    assert (rating.team, rating.agent_id, rating.tracking_number) == ("account", "a1", "K7Q2M9X4")
    assert not rating.negative


@pytest.mark.parametrize(
    "status", [ConversationStatus.ACTIVE, ConversationStatus.BOT, ConversationStatus.RATED]
)
def test_only_a_closed_conversation_is_rated(status):
    with pytest.raises(NotClosed):
        rate(closed_chat(status), 5, "", rating_id="r1", now=T0)


@pytest.mark.parametrize(("score", "opens"), [(1, True), (2, True), (3, False), (5, False)])
def test_scores_of_one_and_two_open_a_follow_up_due_in_24_hours(score, opens):
    rating = rate(closed_chat(), score, "", rating_id="r1", now=T0)
    opened = follow_up(rating, followup_id="f1")
    assert (opened is not None) is opens
    if opened is not None:
        assert opened.due_at == T0 + timedelta(hours=24) == T0 + FOLLOW_UP_WITHIN
        assert opened.state(T0) is FollowUpState.OPEN
        assert opened.remaining_seconds(T0 + timedelta(hours=23)) == 3600.0


def negative():
    opened = follow_up(rate(closed_chat(), 1, "rude", rating_id="r1", now=T0), followup_id="f1")
    assert opened is not None
    return opened


def test_handled_in_time_is_never_missed():
    handled = negative().handle("called back", by="sam", now=T0 + timedelta(hours=3))
    assert handled.state(T0 + timedelta(days=3)) is FollowUpState.HANDLED
    assert handled.handled_in_time
    assert not handled.breached
    assert newly_missed([handled], T0 + timedelta(days=3)) == []
    with pytest.raises(AlreadyHandled):
        handled.handle("again", by="sam", now=T0 + timedelta(hours=4))


def test_unhandled_at_the_deadline_is_missed_once_and_may_still_be_handled_late():
    opened = negative()
    assert newly_missed([opened], FOLLOW_UP_WITHIN + T0 - timedelta(seconds=1)) == []
    (missed,) = newly_missed([opened], T0 + FOLLOW_UP_WITHIN)
    assert missed.breached
    assert missed.state(T0 + FOLLOW_UP_WITHIN) is FollowUpState.MISSED
    assert missed.remaining_seconds(T0 + FOLLOW_UP_WITHIN + timedelta(minutes=1)) == -60.0
    assert newly_missed([missed], T0 + timedelta(days=2)) == []  # counted once
    late = missed.handle("apologised", by="sam", now=T0 + timedelta(hours=30))
    assert late.state(T0 + timedelta(hours=30)) is FollowUpState.HANDLED
    assert late.breached
    assert not late.handled_in_time


def test_handling_after_the_deadline_before_the_tick_saw_it_still_counts_as_missed():
    late = negative().handle("sorry", by="sam", now=T0 + timedelta(hours=25))
    assert late.breached
    assert not late.handled_in_time


def said(seq: int, author: Author, *, internal: bool = False) -> Message:
    return Message(f"m{seq}", "c1", seq, author, "…", T0, internal=internal)


def test_an_exchange_is_an_agents_word_or_the_bots_answer_to_the_customer():
    greeting, customer = said(1, Author.BOT), said(2, Author.CUSTOMER)
    assert had_exchange([greeting, customer, said(3, Author.BOT)])
    assert had_exchange([greeting, customer, said(3, Author.SYSTEM), said(4, Author.AGENT)])
    assert had_exchange([said(3, Author.BOT), customer, greeting])  # read in seq order
    assert had_exchange([greeting, said(2, Author.AGENT)])  # the agent greeted them
    assert not had_exchange([])
    assert not had_exchange([greeting])  # the greeting answers nothing
    assert not had_exchange([greeting, customer])  # nobody answered
    assert not had_exchange([greeting, customer, said(3, Author.SYSTEM)])  # "you left"
    assert not had_exchange([greeting, customer, said(3, Author.AGENT, internal=True)])
