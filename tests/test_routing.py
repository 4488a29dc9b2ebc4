"""Routing rules, one behaviour per test: pure, no I/O, time passed in."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from chatserver.models import Priority, Role, Team, Tier, UnknownConversation
from chatserver.routing import (
    Abandoned,
    AgentProfile,
    AlreadyQueued,
    AlreadyTaken,
    Assigned,
    AssignedVia,
    Ineligible,
    NoAgentAvailable,
    NotEligible,
    NotPermitted,
    NotQueued,
    Offered,
    OfferExpired,
    OfferWithdrawn,
    QueueChanged,
    Queued,
    QueueKey,
    QueueUnavailable,
    Requeued,
    Router,
    RoutingEvent,
    RoutingPolicy,
    Transferred,
    UnknownAgent,
    Widened,
    WidenReason,
    WithdrawReason,
)

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
JA_TECH = QueueKey("ja", Team.TECHNICAL)
E = TypeVar("E")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def profile(
    agent_id: str,
    *languages: str,
    teams: tuple[Team, ...] = (Team.TECHNICAL,),
    capacity: int = 2,
    role: Role = Role.AGENT,
) -> AgentProfile:
    return AgentProfile(
        agent_id,
        agent_id.title(),
        frozenset(languages or ("ja",)),
        frozenset(teams),
        capacity,
        role,
    )


def make_router(*profiles: AgentProfile, policy: RoutingPolicy | None = None) -> Router:
    router = Router(policy)
    for p in profiles:
        router.upsert_agent(p, T0)
        router.agent_online(p.id, T0)
    return router


def enqueue(
    router: Router, conversation_id: str, now: datetime = T0, **kwargs: Any
) -> list[RoutingEvent]:
    kwargs.setdefault("language", "ja")
    kwargs.setdefault("team", Team.TECHNICAL)
    kwargs.setdefault("priority", Priority.MEDIUM)
    return router.enqueue(conversation_id, now=now, **kwargs)


def only(events: list[RoutingEvent], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def offers(events: list[RoutingEvent]) -> list[tuple[str, str]]:
    return [(e.conversation_id, e.agent_id) for e in only(events, Offered)]


def order(router: Router, agent_id: str) -> list[str]:
    return [v.conversation_id for v in router.snapshot(agent_id, T0)]


# A "full" agent: online in the language (so the queue is staffed) but taking no chats.
def full(agent_id: str, *languages: str) -> AgentProfile:
    return profile(agent_id, *languages, capacity=0)


# ---- eligibility ------------------------------------------------------------------------


def test_offer_goes_to_an_agent_who_speaks_the_language() -> None:
    router = make_router(profile("en1", "en"), profile("ja1", "ja"))
    events = enqueue(router, "c1")
    assert offers(events) == [("c1", "ja1")]
    assert only(events, Queued) == [Queued("c1", JA_TECH, 1, None)]


def test_agent_of_another_team_is_not_offered_and_may_not_accept() -> None:
    router = make_router(profile("acc", "ja", teams=(Team.ACCOUNT,)), full("tech", "ja"))
    assert offers(enqueue(router, "c1")) == []
    with pytest.raises(NotEligible) as info:
        router.accept("c1", "acc", at(1))
    assert info.value.reason is Ineligible.TEAM


def test_agent_without_the_language_may_not_accept() -> None:
    router = make_router(profile("ja1", "ja"), profile("ko1", "ko"))
    enqueue(router, "c1")
    with pytest.raises(NotEligible) as info:
        router.accept("c1", "ko1", at(1))
    assert info.value.reason is Ineligible.LANGUAGE


def test_capacity_counts_active_chats_and_pending_offers() -> None:
    router = make_router(profile("a", capacity=1))
    assert offers(enqueue(router, "c1")) == [("c1", "a")]
    assert offers(enqueue(router, "c2", at(1))) == []  # the pending offer fills the one slot
    router.accept("c1", "a", at(2))
    with pytest.raises(NotEligible) as info:
        router.accept("c2", "a", at(3))
    assert info.value.reason is Ineligible.CAPACITY
    # Closing the chat frees the slot, and the waiting conversation is offered at once.
    assert offers(router.release("c1", at(4))) == [("c2", "a")]


def test_offline_agent_is_neither_offered_nor_may_accept() -> None:
    router = make_router(profile("a"), full("watcher"))
    router.agent_offline("a", T0)
    assert offers(enqueue(router, "c1")) == []
    with pytest.raises(NotEligible) as info:
        router.accept("c1", "a", at(1))
    assert info.value.reason is Ineligible.OFFLINE


# ---- queue order ------------------------------------------------------------------------


def test_queue_order_is_priority_then_vip_then_handoff_time() -> None:
    router = make_router(full("a"))
    enqueue(router, "low", at(0), priority=Priority.LOW)
    enqueue(router, "med-std-early", at(1))
    enqueue(router, "med-vip", at(2), tier=Tier.VIP)
    enqueue(router, "med-std-late", at(3))
    events = enqueue(router, "urgent", at(4), priority=Priority.URGENT)
    expected = ("urgent", "med-vip", "med-std-early", "med-std-late", "low")
    assert only(events, QueueChanged) == [QueueChanged(JA_TECH, 5, expected)]
    assert [router.position(c) for c in expected] == [1, 2, 3, 4, 5]
    # A freed agent is offered the head of the queue first.
    assert offers(router.upsert_agent(profile("a", capacity=1), at(5))) == [("urgent", "a")]


# ---- automatic offers ---------------------------------------------------------------------


def test_vip_goes_first_to_the_dedicated_manager() -> None:
    # The manager is busier and less idle: only the manager rule sends the chat there.
    router = make_router(profile("idle", capacity=3), profile("manager", capacity=3))
    enqueue(router, "other", at(1))
    router.accept("other", "manager", at(1))
    events = enqueue(router, "vip", at(2), tier=Tier.VIP, manager_id="manager")
    assert offers(events) == [("vip", "manager")]


def test_vip_goes_to_another_agent_when_the_manager_is_not_eligible() -> None:
    router = make_router(profile("idle"), profile("manager", "en"))
    events = enqueue(router, "vip", tier=Tier.VIP, manager_id="manager")
    assert offers(events) == [("vip", "idle")]


def test_least_busy_agent_is_offered_first() -> None:
    router = make_router(profile("a", capacity=3), profile("b", capacity=3))
    enqueue(router, "c1")
    router.accept("c1", "a", at(1))
    assert offers(enqueue(router, "c2", at(2))) == [("c2", "b")]
    # b now holds an offer: equal load again (1 each), so c3 goes by idle time: b was
    # never assigned and came online at T0, a was assigned at 1 s.
    assert offers(enqueue(router, "c3", at(3))) == [("c3", "b")]
    assert offers(enqueue(router, "c4", at(4))) == [("c4", "a")]


def test_longest_idle_agent_breaks_a_tie_in_load() -> None:
    router = Router()
    for agent_id in ("early", "late"):
        router.upsert_agent(profile(agent_id), T0)
    router.agent_online("late", at(1))
    router.agent_online("early", at(0))
    assert offers(enqueue(router, "c1", at(10))) == [("c1", "early")]
    # Once "early" has been assigned and is free again, "late" has been idle longer.
    router.accept("c1", "early", at(11))
    router.release("c1", at(12))
    assert offers(enqueue(router, "c2", at(13))) == [("c2", "late")]


def test_offer_expires_and_goes_to_the_next_agent() -> None:
    router = make_router(profile("a"), profile("b"))
    events = enqueue(router, "c1")
    assert only(events, Offered) == [Offered("c1", "a", JA_TECH, at(10))]
    assert router.tick(at(9.9)) == []
    events = router.tick(at(10))
    assert only(events, OfferExpired) == [OfferExpired("c1", "a")]
    assert offers(events) == [("c1", "b")]
    # b lets it expire too: a and b both passed, so the least busy/longest idle comes again.
    events = router.tick(at(20))
    assert offers(events) == [("c1", "a")]


def test_agent_who_let_an_offer_expire_is_offered_again_when_nobody_else_can() -> None:
    router = make_router(profile("a"))
    enqueue(router, "c1")
    events = router.tick(at(10))
    assert only(events, OfferExpired) == [OfferExpired("c1", "a")]
    assert offers(events) == [("c1", "a")]


def test_declined_offer_goes_to_the_next_agent() -> None:
    router = make_router(profile("a"), profile("b"))
    enqueue(router, "c1")
    events = router.decline("c1", "a", at(2))
    assert events[0] == OfferWithdrawn("c1", "a", WithdrawReason.DECLINED)
    assert offers(events) == [("c1", "b")]


# ---- accept, assign: no double assignment ------------------------------------------------


def test_two_accepts_of_one_conversation_assign_it_once() -> None:
    router = make_router(profile("a"), profile("b"))
    enqueue(router, "c1")
    first = router.accept("c1", "a", at(1))
    assert only(first, Assigned) == [
        Assigned("c1", "a", JA_TECH, False, "ja", T0, AssignedVia.OFFER)
    ]
    with pytest.raises(AlreadyTaken) as info:
        router.accept("c1", "b", at(1))
    assert info.value.agent_id == "a"
    assert router.assignee("c1") == "a"
    assert router.agent_conversations("b") == frozenset()


def test_pull_by_another_agent_withdraws_the_pending_offer() -> None:
    router = make_router(profile("a", capacity=1), profile("b"))
    assert offers(enqueue(router, "c1")) == [("c1", "a")]
    events = router.accept("c1", "b", at(1))
    assert events[0] == OfferWithdrawn("c1", "a", WithdrawReason.TAKEN)
    assert only(events, Assigned)[0].via is AssignedVia.PULL
    # a's slot is free again: the next conversation is offered to a.
    assert offers(enqueue(router, "c2", at(2))) == [("c2", "a")]


def test_supervisor_assigns_by_hand_over_capacity_but_not_across_languages() -> None:
    router = make_router(
        profile("a", capacity=1),
        profile("en1", "en"),
        profile("sup", "en", role=Role.SUPERVISOR, capacity=0),
    )
    enqueue(router, "c1")
    router.accept("c1", "a", at(1))
    enqueue(router, "c2", at(2))
    with pytest.raises(NotPermitted):
        router.assign("c2", "a", at(3), by="en1")
    with pytest.raises(NotEligible) as info:
        router.assign("c2", "en1", at(3), by="sup")
    assert info.value.reason is Ineligible.LANGUAGE
    events = router.assign("c2", "a", at(3), by="sup")  # a is at capacity: allowed
    assert only(events, Assigned)[0].via is AssignedVia.SUPERVISOR
    assert router.agent_conversations("a") == {"c1", "c2"}
    enqueue(router, "c3", at(4))
    forced = router.assign("c3", "en1", at(5), by="sup", force=True)
    assert only(forced, Assigned)[0].agent_id == "en1"


def test_a_supervisor_is_offered_chats_only_when_taking_them() -> None:
    from dataclasses import replace

    sup = profile("sup", "ja", role=Role.SUPERVISOR)
    router = make_router(sup, profile("a", "ja", capacity=1))
    assert offers(enqueue(router, "c1")) == [("c1", "a")]
    events = enqueue(router, "c2", at(1))
    assert offers(events) == []  # the agent is full; the supervisor is not offered it
    assert not router.has_room_for("ja")
    # Not offered, but free to take it from the queue.
    assert only(router.accept("c2", "sup", at(2)), Assigned)[0].via is AssignedVia.PULL
    # Switched on: offered the next one; switched off: that offer goes.
    enqueue(router, "c3", at(3))
    assert offers(router.upsert_agent(replace(sup, takes_chats=True), at(4))) == [("c3", "sup")]
    withdrawn = only(router.upsert_agent(sup, at(5)), OfferWithdrawn)
    assert [(w.conversation_id, w.agent_id) for w in withdrawn] == [("c3", "sup")]


def test_a_queue_only_a_supervisor_not_taking_chats_could_serve_is_unstaffed() -> None:
    router = make_router(profile("sup", "th", "en", role=Role.SUPERVISOR))
    assert not router.can_serve("th", Team.TECHNICAL)
    events = enqueue(router, "c1", language="th")
    assert only(events, NoAgentAvailable) == [
        NoAgentAvailable("c1", QueueKey("th", Team.TECHNICAL), queued=False)
    ]
    state = Router.from_state(
        make_router(profile("s2", "th", role=Role.SUPERVISOR)).to_state()
    ).to_state()
    assert state["agents"][0]["takes_chats"] is False


# ---- fallback -----------------------------------------------------------------------------


def test_no_agent_for_the_language_widens_to_english_at_once() -> None:
    router = make_router(profile("en1", "en"))
    events = enqueue(router, "c1")
    assert only(events, Widened) == [Widened("c1", JA_TECH, ("ja", "en"), WidenReason.NO_AGENT)]
    assert offers(events) == [("c1", "en1")]
    assigned = only(router.accept("c1", "en1", at(1)), Assigned)[0]
    assert (assigned.widened, assigned.agent_language, assigned.queue) == (True, "en", JA_TECH)


def test_long_wait_widens_at_fallback_after() -> None:
    router = make_router(full("ja1"), profile("en1", "en"))
    events = enqueue(router, "c1")
    assert only(events, Widened) == []
    assert offers(events) == []
    assert only(router.tick(at(14.9)), Widened) == []
    events = router.tick(at(15))
    assert only(events, Widened) == [Widened("c1", JA_TECH, ("ja", "en"), WidenReason.WAIT)]
    assert offers(events) == [("c1", "en1")]


def _with_history(router: Router) -> None:
    """Two ja/technical assignments at 0 s and 10 s: an interval of 10 s."""
    for conversation_id, second in (("h1", 0), ("h2", 10)):
        enqueue(router, conversation_id, at(second))
        router.accept(conversation_id, "ja1", at(second))


def test_predicted_wait_over_fallback_after_widens_at_enqueue() -> None:
    router = make_router(profile("ja1", capacity=2), profile("en1", "en", capacity=1))
    _with_history(router)  # ja1 is now full
    first = enqueue(router, "c1", at(12))
    assert only(first, Queued) == [Queued("c1", JA_TECH, 1, 10.0)]
    assert only(first, Widened) == []  # 1 x 10 s: within 15 s
    second = enqueue(router, "c2", at(12))
    assert only(second, Queued) == [Queued("c2", JA_TECH, 2, 20.0)]
    assert only(second, Widened) == [
        Widened("c2", JA_TECH, ("ja", "en"), WidenReason.PREDICTED_WAIT)
    ]
    assert offers(second) == [("c2", "en1")]


def test_predicted_wait_grows_with_silence_and_widens_on_tick() -> None:
    router = make_router(profile("ja1", capacity=2), profile("en1", "en"))
    _with_history(router)
    enqueue(router, "c1", at(12))
    # The last assignment was at 10 s: at 25 s the interval is 15 s, at 26 s it is 16 s.
    assert router.predicted_wait("c1", at(25)) == 15.0
    assert only(router.tick(at(25)), Widened) == []
    events = router.tick(at(26))  # before the wait rule (27 s) fires
    assert only(events, Widened) == [
        Widened("c1", JA_TECH, ("ja", "en"), WidenReason.PREDICTED_WAIT)
    ]


def test_conversation_offered_at_once_is_not_widened_by_a_slow_pace() -> None:
    router = make_router(profile("ja1", capacity=3), profile("en1", "en"))
    _with_history(router)
    # Five quiet minutes: the predicted wait is 290 s, but ja1 can take it right away.
    events = enqueue(router, "c1", at(300))
    assert router.predicted_wait("c1", at(300)) == 290.0
    assert offers(events) == [("c1", "ja1")]
    assert only(events, Widened) == []


def test_without_history_the_wait_is_not_predicted() -> None:
    router = make_router(full("ja1"), profile("en1", "en"))
    events = enqueue(router, "c1")
    assert router.predicted_wait("c1", T0) is None
    assert only(events, Widened) == []


ZH_POLICY = RoutingPolicy(fallbacks={"zh-Hant": ("zh-Hans", "en")})
ZH_TECH = QueueKey("zh-Hant", Team.TECHNICAL)


def test_chained_fallback_widens_one_step_at_a_time() -> None:
    router = make_router(
        full("hant", "zh-Hant"), profile("hans", "zh-Hans"), profile("en1", "en"), policy=ZH_POLICY
    )
    assert offers(enqueue(router, "c1", language="zh-Hant")) == []
    events = router.tick(at(15))
    assert only(events, Widened) == [
        Widened("c1", ZH_TECH, ("zh-Hant", "zh-Hans"), WidenReason.WAIT)
    ]
    assert offers(events) == [("c1", "hans")]
    assert only(router.tick(at(29.9)), Widened) == []  # each step waits its own 15 s
    events = router.tick(at(30))
    assert only(events, Widened) == [
        Widened("c1", ZH_TECH, ("zh-Hant", "zh-Hans", "en"), WidenReason.WAIT)
    ]
    router.accept("c1", "en1", at(31))
    assert router.assignee("c1") == "en1"


def test_chained_fallback_skips_languages_nobody_online_speaks() -> None:
    router = make_router(profile("en1", "en"), policy=ZH_POLICY)
    events = enqueue(router, "c1", language="zh-Hant")
    assert only(events, Widened) == [
        Widened("c1", ZH_TECH, ("zh-Hant", "zh-Hans", "en"), WidenReason.NO_AGENT)
    ]


def test_widened_conversation_stays_with_the_original_language_agents() -> None:
    router = make_router(profile("ja1", "ja", "en", capacity=1), profile("en1", "en"))
    enqueue(router, "busy")
    router.accept("busy", "ja1", T0)
    enqueue(router, "c1", at(1))
    assert offers(router.tick(at(16))) == [("c1", "en1")]  # widened by the wait
    assert [v.conversation_id for v in router.snapshot("ja1", at(16))] == ["c1"]
    router.release("busy", at(17))
    events = router.accept("c1", "ja1", at(18))
    assert events[0] == OfferWithdrawn("c1", "en1", WithdrawReason.TAKEN)
    assigned = only(events, Assigned)[0]
    assert (assigned.agent_id, assigned.agent_language, assigned.widened) == ("ja1", "ja", True)


def test_native_speaker_is_preferred_over_the_fallback_language() -> None:
    router = make_router(profile("a-en", "en"), profile("en1", "en"), profile("ja1", capacity=3))
    router.agent_offline("ja1", T0)
    assert offers(enqueue(router, "c1")) == [("c1", "a-en")]  # widened: nobody speaks ja
    router.agent_online("ja1", at(1))
    enqueue(router, "busy", at(1))
    router.accept("busy", "ja1", at(1))
    # The offer comes back without anyone having passed: ja1 (1 chat) and en1 (none) are
    # both eligible, and the native speaker wins over the less busy fallback agent.
    events = router.agent_away("a-en", at(2))
    assert offers(events) == [("c1", "ja1")]


# ---- nobody available -----------------------------------------------------------------------


def test_nobody_online_in_the_whole_chain_is_no_agent_available() -> None:
    router = make_router(profile("ko1", "ko"), profile("en-acc", "en", teams=(Team.ACCOUNT,)))
    assert not router.can_serve("ja", Team.TECHNICAL)
    assert router.can_serve("ja", Team.ACCOUNT)  # through English
    events = enqueue(router, "c1")
    assert events == [NoAgentAvailable("c1", JA_TECH, queued=False)]
    with pytest.raises(UnknownConversation):
        router.position("c1")


def test_last_agent_leaving_reports_waiting_conversations_once() -> None:
    router = make_router(full("ja1"))
    enqueue(router, "c1")
    events = router.agent_away("ja1", at(1))
    assert only(events, NoAgentAvailable) == [NoAgentAvailable("c1", JA_TECH, queued=True)]
    assert only(router.tick(at(2)), NoAgentAvailable) == []
    assert router.position("c1") == 1  # still waiting


# ---- agent loss and away ----------------------------------------------------------------------


def test_agent_offline_requeues_at_the_head_of_the_priority_band() -> None:
    router = make_router(profile("a", capacity=2), full("watcher"))
    enqueue(router, "c1", at(0))
    router.accept("c1", "a", at(0))
    assert offers(enqueue(router, "c3", at(1))) == [("c3", "a")]  # offered, not accepted
    enqueue(router, "c2", at(2), priority=Priority.LOW)
    enqueue(router, "c4", at(3), tier=Tier.VIP)
    enqueue(router, "c5", at(4), priority=Priority.URGENT)
    events = router.agent_offline("a", at(5))
    assert only(events, Requeued) == [
        Requeued("c1", "a", JA_TECH, 2, was_assigned=True),
        Requeued("c3", "a", JA_TECH, 3, was_assigned=False),
    ]
    assert only(events, QueueChanged)[-1].conversation_ids == ("c5", "c1", "c3", "c4", "c2")
    assert router.agent_conversations("a") == frozenset()
    assert router.view("c3", at(5)).offered_to is None


def test_away_agent_keeps_chats_gets_no_offers_and_loses_pending_ones() -> None:
    router = make_router(profile("a", capacity=3), profile("b", capacity=3))
    enqueue(router, "c1")
    router.accept("c1", "a", T0)
    assert offers(enqueue(router, "c2", at(1))) == [("c2", "b")]
    assert offers(enqueue(router, "c3", at(2))) == [("c3", "a")]
    events = router.agent_away("a", at(3))
    assert events[0] == OfferWithdrawn("c3", "a", WithdrawReason.AGENT_AWAY)
    assert offers(events) == [("c3", "b")]
    assert router.agent_conversations("a") == {"c1"}
    assert offers(enqueue(router, "c4", at(4))) == [("c4", "b")]
    with pytest.raises(NotEligible) as info:
        router.accept("c4", "a", at(5))
    assert info.value.reason is Ineligible.AWAY


# ---- transfer, release, abandon --------------------------------------------------------------


def test_transfer_to_an_agent_keeps_the_handoff_time() -> None:
    router = make_router(profile("a"), profile("b"), profile("en1", "en"))
    enqueue(router, "c1", at(0))
    router.accept("c1", "a", at(2))
    with pytest.raises(NotEligible):
        router.transfer("c1", at(20), to_agent="en1")
    events = router.transfer("c1", at(20), to_agent="b")
    assert events[0] == Transferred("c1", "a", "b", JA_TECH)
    assigned = only(events, Assigned)[0]
    assert (assigned.agent_id, assigned.handed_off_at, assigned.via) == (
        "b",
        T0,
        AssignedVia.TRANSFER,
    )
    assert router.agent_conversations("a") == frozenset()


def test_transfer_to_a_queue_keeps_the_handoff_time_and_goes_to_the_head() -> None:
    account = QueueKey("ja", Team.ACCOUNT)
    router = make_router(
        profile("a"),
        profile("acc1", teams=(Team.ACCOUNT,), capacity=0),
        profile("acc2", teams=(Team.ACCOUNT,)),
    )
    enqueue(router, "c1", at(0))
    router.accept("c1", "a", at(1))
    router.upsert_agent(profile("acc2", teams=(Team.ACCOUNT,), capacity=0), at(2))
    enqueue(router, "older", at(2), team=Team.ACCOUNT, handed_off_at=at(-5))
    with pytest.raises(QueueUnavailable):
        router.transfer("c1", at(20), to_queue=QueueKey("ko", Team.TRADING))
    events = router.transfer("c1", at(20), to_queue=account)
    assert only(events, Queued) == [Queued("c1", account, 1, None)]
    view = router.view("c1", at(21))
    assert (view.handed_off_at, view.waited, view.remaining) == (T0, 21.0, 9.0)
    assert router.assignee("c1") is None


def test_transfer_to_a_full_agent_needs_force() -> None:
    router = make_router(profile("a"), profile("b", capacity=1))
    enqueue(router, "c1")
    router.accept("c1", "a", at(1))
    enqueue(router, "c2", at(2))
    router.accept("c2", "b", at(2))
    with pytest.raises(NotEligible) as info:
        router.transfer("c1", at(3), to_agent="b")
    assert info.value.reason is Ineligible.CAPACITY
    router.transfer("c1", at(3), to_agent="b", force=True)
    assert router.agent_conversations("b") == {"c1", "c2"}


def test_transfer_to_a_queue_is_not_offered_back_to_the_same_agent() -> None:
    router = make_router(profile("a"), profile("b"))
    enqueue(router, "c1")
    router.accept("c1", "a", at(1))
    enqueue(router, "c2", at(1))
    router.accept("c2", "b", at(1))
    events = router.transfer("c1", at(2), to_queue=JA_TECH)
    assert offers(events) == [("c1", "b")]  # a is less busy now, but let it go


def test_release_forgets_the_conversation_and_frees_the_agent() -> None:
    router = make_router(profile("a", capacity=1))
    enqueue(router, "c1")
    router.accept("c1", "a", at(1))
    router.release("c1", at(2))
    assert router.agent_conversations("a") == frozenset()
    assert router.release("c1", at(3)) == []  # closing twice is harmless
    with pytest.raises(UnknownConversation):
        router.assignee("c1")


def test_abandon_removes_a_waiting_conversation() -> None:
    router = make_router(profile("a"))
    enqueue(router, "c1")
    enqueue(router, "c2", at(1))
    events = router.abandon("c1", at(7))
    assert events == [
        OfferWithdrawn("c1", "a", WithdrawReason.ABANDONED),
        Abandoned("c1", JA_TECH, 7.0),
        QueueChanged(JA_TECH, 1, ("c2",)),
    ]
    assert router.position("c2") == 1
    router.accept("c2", "a", at(8))
    with pytest.raises(NotQueued):
        router.abandon("c2", at(9))


# ---- restore after a restart ------------------------------------------------------------------


def restore_waiting(
    router: Router, conversation_id: str, handed_off_at: datetime, now: datetime = T0, **kwargs: Any
) -> list[RoutingEvent]:
    kwargs.setdefault("language", "ja")
    kwargs.setdefault("team", Team.TECHNICAL)
    kwargs.setdefault("priority", Priority.MEDIUM)
    return router.restore_waiting(conversation_id, handed_off_at=handed_off_at, now=now, **kwargs)


def restore_assigned(
    router: Router, conversation_id: str, agent_id: str, now: datetime = T0, **kwargs: Any
) -> list[RoutingEvent]:
    kwargs.setdefault("language", "ja")
    kwargs.setdefault("team", Team.TECHNICAL)
    kwargs.setdefault("priority", Priority.MEDIUM)
    kwargs.setdefault("handed_off_at", at(-60))
    return router.restore_assigned(conversation_id, agent_id, now=now, **kwargs)


def registered(*profiles: AgentProfile) -> Router:
    """A router just after a restart: agents known, nobody online yet."""
    router = Router()
    for p in profiles:
        router.upsert_agent(p, T0)
    return router


def test_a_restored_waiting_conversation_is_kept_while_nobody_is_online() -> None:
    router = registered(profile("ja1"))
    events = restore_waiting(router, "c1", at(-40), tier=Tier.VIP, priority=Priority.HIGH)
    assert only(events, Queued) == []  # the customer heard it before the restart
    assert only(events, NoAgentAvailable) == [NoAgentAvailable("c1", JA_TECH, queued=True)]
    view = router.view("c1", T0)
    assert (view.position, view.priority, view.tier) == (1, Priority.HIGH, Tier.VIP)
    assert (view.handed_off_at, view.waited) == (at(-40), 40.0)
    assert offers(router.agent_online("ja1", at(5))) == [("c1", "ja1")]


def test_restored_conversations_keep_their_order() -> None:
    router = registered(full("ja1"))
    restore_waiting(router, "old", at(-50))
    restore_waiting(router, "vip", at(-20), tier=Tier.VIP)
    restore_waiting(router, "urgent", at(-10), priority=Priority.URGENT)
    restore_waiting(router, "lost", at(-5), head=True)  # its agent did not come back
    router.agent_online("ja1", T0)
    enqueue(router, "new", at(1))
    assert order(router, "ja1") == ["urgent", "lost", "vip", "old", "new"]


def test_a_restored_conversation_restarts_at_its_language_and_widens_again() -> None:
    router = registered(profile("en1", "en"))
    events = restore_waiting(router, "c1", at(-40))
    assert router.view("c1", T0).languages == ("ja",)
    assert only(events, Widened) == []  # nobody online: stranded, not widened
    events = router.agent_online("en1", at(3))
    assert only(events, Widened) == [Widened("c1", JA_TECH, ("ja", "en"), WidenReason.NO_AGENT)]
    assert offers(events) == [("c1", "en1")]


def test_a_stranded_conversation_gives_a_returning_native_speaker_a_full_step() -> None:
    router = registered(full("ja1"), profile("en1", "en"))
    restore_waiting(router, "c1", at(-40))
    router.agent_online("ja1", at(60))  # long after the handoff, but the first chance
    assert only(router.tick(at(60)), Widened) == []
    router.agent_online("en1", at(61))
    assert only(router.tick(at(74.9)), Widened) == []
    assert only(router.tick(at(75)), Widened) == [
        Widened("c1", JA_TECH, ("ja", "en"), WidenReason.WAIT)
    ]


def test_a_restored_chat_stays_with_its_agent_who_comes_back() -> None:
    router = registered(profile("ja1", capacity=1), profile("ja2"))
    assert restore_assigned(router, "c1", "ja1") == []
    assert router.assignee("c1") == "ja1"
    assert router.agent_conversations("ja1") == {"c1"}
    assert router.waiting(T0) == []
    events = router.agent_online("ja1", at(5))
    assert only(events, Requeued) == []
    assert router.assignee("c1") == "ja1"
    # The restored chat fills ja1's only slot.
    router.agent_online("ja2", at(6))
    assert offers(enqueue(router, "c2", at(7))) == [("c2", "ja2")]


def test_a_restored_chat_whose_agent_stays_away_is_requeued_at_the_head() -> None:
    router = registered(profile("ja1"), profile("ja2"))
    restore_assigned(router, "c1", "ja1", handed_off_at=at(-60))
    router.agent_online("ja2", T0)
    enqueue(router, "c2", T0, handed_off_at=at(-90))
    events = router.agent_offline("ja1", at(30))  # the grace ran out
    assert only(events, Requeued) == [Requeued("c1", "ja1", JA_TECH, 1, was_assigned=True)]
    assert router.view("c1", at(30)).handed_off_at == at(-60)
    router.accept("c1", "ja2", at(31))
    assert router.assignee("c1") == "ja2"


def test_a_restored_chat_cannot_be_taken_twice() -> None:
    router = registered(profile("ja1"), profile("ja2"))
    restore_assigned(router, "c1", "ja1")
    router.agent_online("ja2", T0)
    with pytest.raises(AlreadyTaken) as info:
        router.accept("c1", "ja2", at(1))
    assert info.value.agent_id == "ja1"
    with pytest.raises(AlreadyQueued):
        restore_assigned(router, "c1", "ja2")
    with pytest.raises(AlreadyQueued):
        restore_waiting(router, "c1", at(-60))
    with pytest.raises(UnknownAgent):
        restore_assigned(router, "c2", "nobody")
    with pytest.raises(UnknownConversation):
        router.position("c2")


def test_a_restored_vip_goes_to_their_manager() -> None:
    router = registered(profile("ja1"), profile("mgr"))
    router.agent_online("ja1", T0)
    router.agent_online("mgr", T0)
    events = restore_waiting(router, "c1", at(-10), tier=Tier.VIP, manager_id="mgr")
    assert offers(events) == [("c1", "mgr")]


# ---- queries --------------------------------------------------------------------------------


def test_position_is_within_its_own_queue() -> None:
    router = make_router(full("a", "ja", "en"))
    enqueue(router, "ja1", at(0))
    enqueue(router, "en1", at(1), language="en")
    enqueue(router, "ja2", at(2))
    assert [router.position(c) for c in ("ja1", "ja2", "en1")] == [1, 2, 1]
    assert router.queue_lengths() == {JA_TECH: 2, QueueKey("en", Team.TECHNICAL): 1}


def test_predicted_wait_is_position_times_recent_interval() -> None:
    router = make_router(profile("ja1", capacity=2), full("en1", "en"))
    _with_history(router)  # 0 s and 10 s
    enqueue(router, "c1", at(11))
    enqueue(router, "c2", at(11))
    assert router.predicted_wait("c1", at(11)) == 10.0
    assert router.predicted_wait("c2", at(11)) == 20.0
    # Assignments older than the rate window no longer count.
    assert router.predicted_wait("c1", at(10 + 600)) is None


def test_snapshot_shows_visible_conversations_with_time_left() -> None:
    router = make_router(full("ja1"), full("ko1", "ko"))
    enqueue(router, "c1", at(0))
    enqueue(router, "c2", at(2), priority=Priority.HIGH)
    enqueue(router, "k1", at(3), language="ko")
    views = router.snapshot("ja1", at(12))
    assert [(v.conversation_id, v.position, v.remaining) for v in views] == [
        ("c2", 1, 20.0),
        ("c1", 2, 18.0),
    ]


def test_queue_changed_tells_the_order_for_positions() -> None:
    router = make_router(full("a"))
    enqueue(router, "c1", at(0))
    events = enqueue(router, "c2", at(1), priority=Priority.HIGH)
    assert only(events, QueueChanged) == [QueueChanged(JA_TECH, 2, ("c2", "c1"))]


# ---- guards ---------------------------------------------------------------------------------


def test_time_must_be_timezone_aware() -> None:
    router = make_router(profile("a"))
    with pytest.raises(ValueError, match="timezone"):
        router.tick(datetime(2026, 1, 1, 9, 0))


def test_a_conversation_is_enqueued_once() -> None:
    router = make_router(profile("a"))
    enqueue(router, "c1")
    with pytest.raises(AlreadyQueued):
        enqueue(router, "c1", at(1))


def test_policy_defaults_and_chains() -> None:
    policy = RoutingPolicy()
    assert (policy.accept_timeout, policy.fallback_after, policy.target) == (
        timedelta(seconds=10),
        timedelta(seconds=15),
        timedelta(seconds=30),
    )
    assert policy.chain("th") == ("th", "en")
    assert policy.chain("en") == ("en",)
    assert ZH_POLICY.chain("zh-Hant") == ("zh-Hant", "zh-Hans", "en")
    with pytest.raises(ValueError, match="fallback_after"):
        RoutingPolicy(fallback_after=timedelta(0))


# ---- undo ------------------------------------------------------------------------------------


def desk_view(router: Router, now: datetime) -> tuple[object, ...]:
    """Everything the router shows: waiting chats (order, offers, passes, widening, predicted
    waits from the pace history), holders, agents' presence and load."""

    def holder(conversation_id: str) -> str | None:
        try:
            return router.assignee(conversation_id)
        except UnknownConversation:
            return "(not routed)"

    return (
        router.waiting(now),
        {c: holder(c) for c in ("c1", "c2", "c3", "c4", "c5")},
        {a: (router.agent_status(a), router.agent_conversations(a)) for a in ("ja1", "ja2", "en1")},
    )


def test_a_rollback_puts_back_exactly_what_the_checkpoint_saw() -> None:
    router = make_router(profile("ja1"), profile("ja2"), profile("en1", "en", capacity=4))
    for index, conversation_id in enumerate(("c1", "c2", "c3", "c4")):
        enqueue(router, conversation_id, at(index))
    router.accept("c1", "ja1", at(5))
    router.accept("c2", "ja2", at(6))
    router.tick(at(20))  # offers expired and passed, queues widened to English
    checkpoint = router.checkpoint()
    before = desk_view(router, at(21))

    router.tick(at(40))  # the offers made at 20 expire: their agents pass
    router.agent_offline("ja1", at(41))
    router.transfer("c2", at(41), to_queue=QueueKey("en", Team.TECHNICAL))
    router.accept("c3", "en1", at(41))
    router.abandon("c4", at(41))
    enqueue(router, "c5", at(41))
    assert desk_view(router, at(21)) != before

    router.rollback(checkpoint)
    assert desk_view(router, at(21)) == before
    router.rollback(checkpoint)  # a checkpoint can be rolled back to again
    assert desk_view(router, at(21)) == before
    # The arrival order goes on from the checkpoint: a new chat queues behind the others.
    enqueue(router, "c5", at(21), priority=Priority.MEDIUM)
    assert [v.conversation_id for v in router.waiting(at(21))][-1] == "c5"


def test_the_routing_core_imports_neither_password_hashing_nor_the_transport() -> None:
    # A fresh interpreter: this process has imported everything already.
    code = (
        "import sys, chatserver.routing, chatserver.sla\n"
        "heavy = {'argon2', 'chatserver.agents', 'aiohttp', 'socketio', 'sqlalchemy'}\n"
        "print(sorted(heavy & sys.modules.keys()))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "[]"
