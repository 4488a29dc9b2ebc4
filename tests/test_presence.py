"""Presence on a fake clock. Customers: several tabs are one presence, the grace starts when
the last one goes, any return cancels it, and a departure is reported once. Agents: the
same for consoles, with a deadline that stays until the desk settles it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from chatserver.presence import AgentPresence, CustomerPresence, Departure
from tests.conftest import FakeClock

GRACE = timedelta(seconds=60)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def presence() -> CustomerPresence:
    return CustomerPresence(GRACE)


def test_a_customer_gone_longer_than_the_grace_has_left(presence, clock):
    presence.join("c1", "tab-1")
    left_at = clock.now()
    assert presence.leave("c1", "tab-1", left_at) is True
    assert presence.is_away("c1")
    assert presence.grace_ends("c1") == left_at + GRACE

    clock.advance(60)  # exactly the grace: not longer than it yet
    assert presence.expired(clock.now()) == []
    clock.advance(1)
    assert presence.expired(clock.now()) == [Departure("c1", left_at)]
    assert not presence.is_away("c1")


def test_a_departure_is_reported_once(presence, clock):
    presence.join("c1", "tab-1")
    presence.leave("c1", "tab-1", clock.now())
    clock.advance(61)
    assert len(presence.expired(clock.now())) == 1
    clock.advance(61)
    assert presence.expired(clock.now()) == []


def test_coming_back_within_the_grace_cancels_it(presence, clock):
    presence.join("c1", "tab-1")
    presence.leave("c1", "tab-1", clock.now())
    clock.advance(59)
    assert presence.join("c1", "tab-2") is True  # back, on a new socket
    assert presence.is_present("c1")
    clock.advance(600)
    assert presence.expired(clock.now()) == []


def test_several_tabs_are_one_presence(presence, clock):
    presence.join("c1", "tab-1")
    assert presence.join("c1", "tab-2") is False  # nobody was away
    assert presence.tabs("c1") == 2
    assert presence.leave("c1", "tab-1", clock.now()) is False  # tab-2 is still there
    assert presence.tabs("c1") == 1
    assert not presence.is_away("c1")
    clock.advance(120)
    assert presence.expired(clock.now()) == []

    last_left = clock.now()
    assert presence.leave("c1", "tab-2", last_left) is True  # the grace starts now
    clock.advance(61)
    assert presence.expired(clock.now()) == [Departure("c1", last_left)]


def test_the_same_socket_joining_twice_counts_once(presence, clock):
    presence.join("c1", "tab-1")
    presence.join("c1", "tab-1")  # `start` sent again on the same socket
    assert presence.leave("c1", "tab-1", clock.now()) is True


def test_leaving_a_conversation_one_was_never_in_changes_nothing(presence, clock):
    assert presence.leave("c1", "tab-1", clock.now()) is False
    presence.join("c1", "tab-1")
    assert presence.leave("c1", "tab-2", clock.now()) is False
    assert presence.is_present("c1")


def test_after_a_restart_the_grace_runs_from_the_restart(presence, clock):
    restarted_at = clock.now()
    presence.absent("c1", since=restarted_at)
    presence.absent("c1", since=restarted_at + timedelta(seconds=5))  # the first one counts
    assert presence.away_since("c1") == restarted_at
    clock.advance(30)
    assert presence.join("c1", "tab-1") is True  # resumed within the grace
    presence.absent("c1", since=clock.now())  # connected: nothing to do
    assert not presence.is_away("c1")

    presence.absent("c2", since=restarted_at)
    clock.advance(31)
    assert presence.expired(clock.now()) == [Departure("c2", restarted_at)]


def test_a_forgotten_conversation_is_not_reported(presence, clock):
    presence.join("c1", "tab-1")
    presence.leave("c1", "tab-1", clock.now())
    presence.forget("c1")  # ended in the meantime
    clock.advance(61)
    assert presence.expired(clock.now()) == []


def test_departures_come_oldest_first(presence, clock):
    for conversation_id in ("c1", "c2", "c3"):
        presence.join(conversation_id, "s-" + conversation_id)
    presence.leave("c2", "s-c2", clock.now())
    clock.advance(5)
    presence.leave("c1", "s-c1", clock.now())
    clock.advance(5)
    presence.leave("c3", "s-c3", clock.now())
    clock.advance(58)  # c2 and c1 are past the grace, c3 is not yet
    assert [d.conversation_id for d in presence.expired(clock.now())] == ["c2", "c1"]


def test_a_zero_grace_lets_go_at_once_and_a_negative_one_is_refused(clock):
    presence = CustomerPresence(timedelta(0))
    presence.join("c1", "tab-1")
    presence.leave("c1", "tab-1", clock.now())
    clock.advance(0.001)
    assert [d.conversation_id for d in presence.expired(clock.now())] == ["c1"]
    with pytest.raises(ValueError, match="negative"):
        CustomerPresence(timedelta(seconds=-1))


def test_times_must_be_timezone_aware(presence):
    presence.join("c1", "tab-1")
    with pytest.raises(ValueError, match="timezone-aware"):
        presence.leave("c1", "tab-1", datetime(2026, 11, 24, 9, 0))


# -- agents at their consoles -----------------------------------------------------------


def test_an_agent_is_due_back_only_when_their_last_console_closes(clock):
    agents = AgentPresence(GRACE)
    agents.connect("aiko", "console-1")
    agents.connect("aiko", "console-2")
    assert agents.disconnect("aiko", "console-1", clock.now()) is False
    assert agents.due == {}
    assert agents.disconnect("aiko", "console-2", clock.now()) is True
    assert agents.due == {"aiko": clock.now() + GRACE}
    assert agents.consoles("aiko") == 0


def test_an_agent_back_within_the_grace_is_no_longer_due(clock):
    agents = AgentPresence(GRACE)
    agents.connect("aiko", "console-1")
    agents.disconnect("aiko", "console-1", clock.now())
    clock.advance(30)
    assert agents.overdue(clock.now()) == []
    assert agents.connect("aiko", "console-2") is True  # back in time
    clock.advance(60)
    assert agents.overdue(clock.now()) == []


def test_overdue_agents_come_earliest_first_and_stay_due_until_settled(clock):
    agents = AgentPresence(GRACE)
    agents.due_back("emma", by=clock.now() + timedelta(seconds=5))
    agents.due_back("aiko", by=clock.now())  # e.g. their leaving could not be stored
    assert agents.overdue(clock.now()) == ["aiko"]
    clock.advance(5)
    assert agents.overdue(clock.now()) == ["aiko", "emma"]
    agents.settled("aiko")
    assert agents.overdue(clock.now()) == ["emma"]


def test_an_unknown_console_closing_changes_nothing(clock):
    agents = AgentPresence(GRACE)
    agents.connect("aiko", "console-1")
    assert agents.disconnect("aiko", "someone-else", clock.now()) is False
    assert agents.disconnect("emma", "console-1", clock.now()) is False
    assert agents.due == {}
    assert agents.consoles("aiko") == 1


def test_presence_survives_its_state_as_json(clock):
    customers = CustomerPresence(GRACE)
    customers.join("chat-1", "tab-1")
    customers.join("chat-2", "tab-2")
    customers.leave("chat-2", "tab-2", clock.now())
    agents = AgentPresence(GRACE)
    agents.connect("aiko", "console-1")
    agents.due_back("emma", by=clock.now())

    customers_again = CustomerPresence.from_state(
        json.loads(json.dumps(customers.to_state())), GRACE
    )
    agents_again = AgentPresence.from_state(json.loads(json.dumps(agents.to_state())), GRACE)

    assert customers_again.to_state() == customers.to_state()
    assert customers_again.is_present("chat-1")
    assert customers_again.away_since("chat-2") == clock.now()
    assert agents_again.to_state() == agents.to_state()
    assert agents_again.consoles("aiko") == 1
    assert agents_again.overdue(clock.now()) == ["emma"]


def test_a_negative_agent_grace_is_refused():
    with pytest.raises(ValueError, match="grace"):
        AgentPresence(timedelta(seconds=-1))
