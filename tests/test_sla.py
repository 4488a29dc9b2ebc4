"""SLA policies and clocks, driven by plain datetimes: a 30-second breach takes microseconds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chatserver import sla
from chatserver.models import Author, ConversationStatus, Message, Priority, new_conversation
from chatserver.sla import (
    AppliedSla,
    Channel,
    ClockKind,
    ClockStatus,
    SlaBreached,
    SlaClockStopped,
    SlaConfigError,
    SlaPolicy,
    SlaWarning,
    apply,
    cancel,
    default_policies,
    next_deadline,
    on_agent_message,
    on_resolved,
    parse_duration,
    policies_from_mapping,
    policy_for,
    remaining,
    tick,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
FRT = ClockKind.FIRST_RESPONSE
RES = ClockKind.RESOLUTION


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def chat(priority: Priority = Priority.MEDIUM) -> AppliedSla:
    return apply(policy_for(Channel.CHAT, priority), "c1", T0)


def answer(state: AppliedSla, seconds: float, agent: str = "agent-a") -> AppliedSla:
    state, _ = on_agent_message(state, at(seconds), agent, internal=False)
    return state


def events_of(state: AppliedSla, seconds_list: list[float]) -> list[object]:
    events: list[object] = []
    for seconds in seconds_list:
        state, new = tick(state, at(seconds))
        events.extend(new)
    return events


# -- policies ------------------------------------------------------------------------------


@pytest.mark.parametrize("priority", list(Priority))
def test_chat_first_response_is_30_seconds_for_every_priority(priority):
    policy = policy_for("chat", priority)
    assert policy.first_response == timedelta(seconds=30)
    assert policy.warn_before == timedelta(seconds=10)
    assert policy.name == f"chat/{priority}"


@pytest.mark.parametrize(
    ("priority", "resolution"),
    [
        (Priority.URGENT, timedelta(hours=1)),
        (Priority.HIGH, timedelta(hours=4)),
        (Priority.MEDIUM, timedelta(hours=24)),
        (Priority.LOW, timedelta(hours=48)),
    ],
)
def test_resolution_target_by_priority_on_every_channel(priority, resolution):
    for channel in Channel:
        assert policy_for(channel, priority).resolution == resolution


@pytest.mark.parametrize(
    ("channel", "priority", "first_response"),
    [
        # min(1 h, start of handling); "immediately" is the chat target
        (Channel.EMAIL, Priority.URGENT, timedelta(seconds=30)),
        (Channel.EMAIL, Priority.HIGH, timedelta(minutes=15)),
        (Channel.EMAIL, Priority.MEDIUM, timedelta(hours=1)),
        (Channel.EMAIL, Priority.LOW, timedelta(hours=1)),
        (Channel.CALLBACK, Priority.URGENT, timedelta(seconds=30)),
        (Channel.CALLBACK, Priority.HIGH, timedelta(minutes=15)),
        (Channel.CALLBACK, Priority.LOW, timedelta(minutes=15)),
    ],
)
def test_slower_channels_take_the_stricter_of_channel_and_start_of_handling(
    channel, priority, first_response
):
    assert policy_for(channel, priority).first_response == first_response


def test_default_policies_cover_every_channel_and_priority_and_are_ordered():
    table = default_policies()
    assert set(table) == {(c, p) for c in Channel for p in Priority}
    for channel in Channel:
        targets = [table[channel, p].first_response for p in Priority]
        assert targets == sorted(targets)  # urgent is never looser than low
    with pytest.raises(TypeError):
        table[Channel.CHAT, Priority.LOW] = table[Channel.CHAT, Priority.HIGH]  # type: ignore[index]


def test_resolution_warning_is_a_third_of_the_target_at_most_an_hour():
    assert policy_for("chat", "urgent").warn_before_for(RES) == timedelta(minutes=20)
    assert policy_for("chat", "low").warn_before_for(RES) == timedelta(hours=1)
    assert policy_for("email", "medium").warn_before == timedelta(minutes=20)


def test_unknown_channel_or_priority_is_a_value_error():
    with pytest.raises(ValueError, match="phone"):
        policy_for("phone", Priority.HIGH)
    with pytest.raises(ValueError, match="critical"):
        policy_for(Channel.CHAT, "critical")


# -- configuration -------------------------------------------------------------------------


def test_configuration_overrides_channel_wide_and_per_priority():
    table = policies_from_mapping(
        {
            "chat": {"warn_before": "5s", "urgent": {"first_response": 20, "warn_before": 8}},
            "email": {"high": {"first_response": "10m"}, "low": {"resolution": "none"}},
        }
    )
    assert table[Channel.CHAT, Priority.LOW].warn_before == timedelta(seconds=5)
    assert table[Channel.CHAT, Priority.LOW].first_response == timedelta(seconds=30)
    urgent = table[Channel.CHAT, Priority.URGENT]
    assert (urgent.first_response, urgent.warn_before) == (
        timedelta(seconds=20),
        timedelta(seconds=8),
    )
    email_high = table[Channel.EMAIL, Priority.HIGH]
    # a changed target without its own warning gets the default one (a third)
    assert email_high.first_response == timedelta(minutes=10)
    assert email_high.warn_before == timedelta(seconds=200)
    assert table[Channel.EMAIL, Priority.LOW].resolution is None
    assert table[Channel.EMAIL, Priority.MEDIUM] == policy_for("email", "medium")
    assert policy_for("chat", "urgent", table) is urgent


def test_configuration_applies_on_top_of_a_base():
    base = policies_from_mapping({"chat": {"first_response": "25s"}})
    table = policies_from_mapping({"chat": {"low": {"warn_before": "1s"}}}, base=base)
    assert table[Channel.CHAT, Priority.LOW].first_response == timedelta(seconds=25)
    assert table[Channel.CHAT, Priority.LOW].warn_before == timedelta(seconds=1)


@pytest.mark.parametrize(
    ("config", "key", "problem"),
    [
        ({"fax": {}}, "sla.fax", "unknown channel"),
        ({"chat": []}, "sla.chat", "expected a mapping"),
        ({"chat": {"urgnet": {}}}, "sla.chat.urgnet", "unknown key"),
        (
            {"chat": {"urgent": {"first_responce": 20}}},
            "sla.chat.urgent.first_responce",
            "unknown key",
        ),
        ({"chat": {"urgent": "fast"}}, "sla.chat.urgent", "expected a mapping"),
        (
            {"chat": {"urgent": {"first_response": "soon"}}},
            "sla.chat.urgent.first_response",
            "duration",
        ),
        ({"chat": {"first_response": -1}}, "sla.chat.first_response", "non-negative"),
        ({"chat": {"first_response": True}}, "sla.chat.first_response", "duration"),
        ({"chat": {"first_response": "none"}}, "sla.chat.first_response", "duration"),
        ({"chat": {"first_response": 0}}, "sla.chat.urgent.first_response", "positive"),
        ({"email": {"high": {"warn_before": "20m"}}}, "sla.email.high.warn_before", "between 0"),
        (
            {"chat": {"low": {"resolution": "30m", "resolution_warn_before": "1h"}}},
            "sla.chat.low.resolution_warn_before",
            "between 0",
        ),
    ],
)
def test_configuration_errors_name_the_key(config, key, problem):
    with pytest.raises(SlaConfigError, match=problem) as raised:
        policies_from_mapping(config)
    assert raised.value.key == key
    assert str(raised.value).startswith(f"{key}: ")


def test_configuration_must_be_a_mapping():
    with pytest.raises(SlaConfigError) as raised:
        policies_from_mapping(["chat"], prefix="CHATSERVER_SLA")
    assert raised.value.key == "CHATSERVER_SLA"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("30", timedelta(seconds=30)),
        (" 15m ", timedelta(minutes=15)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1.5s", timedelta(seconds=1.5)),
        ("500ms", timedelta(milliseconds=500)),
        (45, timedelta(seconds=45)),
        (timedelta(minutes=2), timedelta(minutes=2)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "bad", ["", "m", "1x", "1h1h", "nan", "inf", "9999999999d", 1e30, None, [30]]
)
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_policy_validates_itself():
    with pytest.raises(SlaConfigError, match="warn_before"):
        SlaPolicy(
            "x", Channel.CHAT, Priority.LOW, timedelta(seconds=30), None, timedelta(seconds=31)
        )


# -- first response ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "status", "met"),
    [(29, ClockStatus.HIT, True), (30, ClockStatus.HIT, True), (31, ClockStatus.MISSED, False)],
)
def test_first_response_hit_or_missed(seconds, status, met):
    state, events = on_agent_message(chat(), at(seconds), "agent-a", internal=False)
    assert state.first_response.status is status
    assert state.first_response_met is met
    assert state.first_response.elapsed == timedelta(seconds=seconds)
    assert state.first_responder == "agent-a"
    stopped = events[-1]
    assert isinstance(stopped, SlaClockStopped)
    assert (stopped.status, stopped.agent_id, stopped.elapsed) == (
        status,
        "agent-a",
        timedelta(seconds=seconds),
    )


def test_exactly_30_seconds_is_a_hit_even_through_tick():
    state, events = tick(chat(), at(30))
    assert not any(isinstance(event, SlaBreached) for event in events)
    assert answer(state, 30).first_response.status is ClockStatus.HIT


def test_a_late_answer_nobody_ticked_for_reports_the_breach_once():
    state, events = on_agent_message(chat(), at(31), "agent-a", internal=False)
    assert [type(event) for event in events] == [SlaBreached, SlaClockStopped]
    state, events = tick(state, at(60))
    assert events == ()


def test_the_first_responder_keeps_the_credit():
    state = answer(chat(), 12, "agent-a")
    later, events = on_agent_message(state, at(20), "agent-b", internal=False)
    assert later == state
    assert events == ()
    assert later.first_responder == "agent-a"
    assert later.first_response.stopped_at == at(12)


def test_internal_notes_do_not_stop_the_clock():
    state, events = on_agent_message(chat(), at(5), "agent-a", internal=True)
    assert state == chat()
    assert events == ()
    state = answer(state, 29, "agent-b")
    assert state.first_response.status is ClockStatus.HIT
    assert state.first_responder == "agent-b"


def test_only_a_visible_agent_message_stops_the_clock():
    """Bot, system and customer messages have no entry point here; the desk's gate is
    Message.counts_as_response. A conversation with only those breaches at 31 s."""
    authors = [Author.CUSTOMER, Author.BOT, Author.SYSTEM, Author.AGENT]
    messages = [
        Message(f"m{i}", "c1", i, author, "text", at(i * 5), internal=author is Author.AGENT)
        for i, author in enumerate(authors, 1)
    ]
    state = chat()
    for message in messages:
        assert not message.counts_as_response
        state, _ = tick(state, message.created_at)
        if message.author is Author.AGENT:
            state, _ = on_agent_message(state, message.created_at, "agent-a", internal=True)
    assert state.first_response.status is ClockStatus.ACTIVE
    state, events = tick(state, at(31))
    assert events == (SlaBreached("c1", FRT, at(30)),)
    assert state.first_response.status is ClockStatus.MISSED
    # nothing in the module takes a message of another author
    assert not hasattr(sla, "on_bot_message")
    assert not hasattr(sla, "on_system_message")
    assert not hasattr(sla, "on_transfer")


def test_a_transfer_keeps_the_clock():
    conversation = new_conversation("c1", language="ja", language_confirmed=True, now=T0)
    conversation = conversation.transition(ConversationStatus.QUEUED, T0)
    state = chat()
    conversation = conversation.transition(ConversationStatus.ASSIGNED, at(3))  # agent A
    state, _ = tick(state, at(3))
    # transfer to agent B at 22 s: the conversation moves, the SLA is left as it is
    conversation = conversation.transition(ConversationStatus.ASSIGNED, at(22))
    state, events = tick(state, at(22))
    assert [type(event) for event in events] == [SlaWarning]
    assert state.first_response.due_at == at(30)
    assert state.first_response.started_at == T0
    assert remaining(state, at(22), FRT) == timedelta(seconds=8)
    state, _ = on_agent_message(state, at(31), "agent-b", internal=False)
    assert state.first_response.status is ClockStatus.MISSED  # B inherited A's lost time
    assert state.first_responder == "agent-b"


# -- tick: warnings and breaches -----------------------------------------------------------


def test_warning_and_breach_fire_exactly_once_each():
    events = events_of(chat(), [0, 5, 19.9, 20, 21, 25, 30, 30.5, 31, 45, 3600])
    assert events == [
        SlaWarning("c1", FRT, at(30), timedelta(seconds=10)),
        SlaBreached("c1", FRT, at(30)),
    ]


def test_warning_carries_the_time_left_when_the_tick_came():
    state, events = tick(chat(), at(24))
    assert events == (SlaWarning("c1", FRT, at(30), timedelta(seconds=6)),)
    assert state.first_response.warned


def test_a_tick_after_the_deadline_reports_only_the_breach():
    state, events = tick(chat(), at(40))
    assert events == (SlaBreached("c1", FRT, at(30)),)
    assert not state.first_response.warned
    assert state.first_response.breached
    assert state.first_response.running  # still waiting for the agent


def test_a_clock_answered_after_its_breach_stays_missed():
    state, _ = tick(chat(), at(31))
    state, events = on_agent_message(state, at(35), "agent-a", internal=False)
    assert state.first_response.status is ClockStatus.MISSED
    assert state.first_response.elapsed == timedelta(seconds=35)  # the real FRT, for metrics
    assert events == (
        SlaClockStopped("c1", FRT, ClockStatus.MISSED, T0, at(30), at(35), "agent-a"),
    )
    assert state.first_response_met is False


def test_no_warning_when_warn_before_is_zero():
    table = policies_from_mapping({"chat": {"warn_before": 0}})
    state = apply(policy_for("chat", "low", table), "c1", T0)
    assert next_deadline(state) == at(30) + timedelta(microseconds=1)
    assert events_of(state, [29, 30, 31]) == [SlaBreached("c1", FRT, at(30))]


def test_remaining_counts_down_goes_negative_and_freezes_when_stopped():
    state = chat()
    assert remaining(state, at(0), FRT) == timedelta(seconds=30)
    assert remaining(state, at(12.5), FRT) == timedelta(seconds=17.5)
    assert remaining(state, at(34), FRT) == timedelta(seconds=-4)
    state = answer(state, 21)
    assert remaining(state, at(500), FRT) == timedelta(seconds=9)
    assert remaining(state, at(500), RES) == timedelta(hours=24, seconds=-500)


def test_remaining_without_a_resolution_clock_is_a_key_error():
    policy = replace(policy_for("chat", "low"), resolution=None)
    state = apply(policy, "c1", T0)
    assert state.resolution is None
    assert state.clocks == (state.first_response,)
    with pytest.raises(KeyError):
        remaining(state, T0, RES)


def test_next_deadline_follows_the_clocks():
    state = chat(Priority.URGENT)
    assert next_deadline(state) == at(20)  # the FRT warning
    state, _ = tick(state, at(20))
    assert next_deadline(state) == at(30) + timedelta(microseconds=1)  # the FRT breach
    state = answer(state, 25)
    assert next_deadline(state) == at(40 * 60)  # the resolution warning (1 h - 20 min)
    state, _ = tick(state, at(40 * 60))
    assert next_deadline(state) == at(3600) + timedelta(microseconds=1)
    state, _ = on_resolved(state, at(50 * 60))
    assert next_deadline(state) is None


def test_ticking_at_each_next_deadline_yields_every_event_once():
    state = chat(Priority.URGENT)
    events: list[object] = []
    while (deadline := next_deadline(state)) is not None:
        state, new = tick(state, deadline)
        assert new, "a deadline must produce an event"
        events.extend(new)
    assert [(type(e), e.kind) for e in events] == [
        (SlaWarning, FRT),
        (SlaBreached, FRT),
        (SlaWarning, RES),
        (SlaBreached, RES),
    ]


def test_deadlines_survive_a_restart():
    state, _ = tick(chat(), at(21))  # warned
    stored = state.to_dict()
    restored = AppliedSla.from_dict(stored)
    assert restored == state
    assert next_deadline(restored) == at(30) + timedelta(microseconds=1)
    restored, events = tick(restored, at(25))
    assert events == ()  # the warning is not sent again
    restored, events = tick(restored, at(31))
    assert events == (SlaBreached("c1", FRT, at(30)),)
    restored = answer(restored, 33)
    assert AppliedSla.from_dict(restored.to_dict()) == restored


# -- resolution and ending -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "hours"),
    [(Priority.URGENT, 1), (Priority.HIGH, 4), (Priority.MEDIUM, 24), (Priority.LOW, 48)],
)
def test_resolution_clock_per_priority(priority, hours):
    state = answer(chat(priority), 10)
    assert state.resolution is not None
    assert state.resolution.due_at == T0 + timedelta(hours=hours)
    in_time, events = on_resolved(state, T0 + timedelta(hours=hours))
    assert in_time.resolution is not None
    assert in_time.resolution.status is ClockStatus.HIT
    assert events == (
        SlaClockStopped(
            "c1", RES, ClockStatus.HIT, T0, T0 + timedelta(hours=hours), T0 + timedelta(hours=hours)
        ),
    )
    late, events = on_resolved(state, T0 + timedelta(hours=hours, seconds=1))
    assert late.resolution is not None
    assert late.resolution.status is ClockStatus.MISSED
    assert [type(event) for event in events] == [SlaBreached, SlaClockStopped]
    assert late.first_response.status is ClockStatus.HIT  # untouched


def test_resolving_twice_changes_nothing():
    state, _ = on_resolved(answer(chat(), 10), at(100))
    again, events = on_resolved(state, at(200))
    assert (again, events) == (state, ())


def test_resolved_before_any_visible_answer_cancels_the_frt_in_time():
    state, events = on_resolved(chat(), at(10))
    assert state.first_response.status is ClockStatus.CANCELLED
    assert state.first_response_met is None
    assert {(type(e), e.kind) for e in events} == {(SlaClockStopped, FRT), (SlaClockStopped, RES)}


def test_abandoned_in_time_is_cancelled_but_after_the_deadline_is_missed():
    early, events = cancel(chat(), at(12))
    assert [clock.status for clock in early.clocks] == [ClockStatus.CANCELLED] * 2
    assert not any(isinstance(event, SlaBreached) for event in events)
    late, events = cancel(chat(), at(45))
    assert late.first_response.status is ClockStatus.MISSED
    assert late.resolution is not None
    assert late.resolution.status is ClockStatus.CANCELLED
    assert [type(event) for event in events] == [SlaBreached, SlaClockStopped, SlaClockStopped]
    assert next_deadline(late) is None
    assert tick(late, at(10**6)) == (late, ())


def test_handoff_time_must_be_aware():
    with pytest.raises(ValueError, match="timezone"):
        apply(policy_for("chat", "low"), "c1", datetime(2026, 1, 1))
