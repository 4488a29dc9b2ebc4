"""Prometheus metrics: the series, one registry per application (so tests and processes
never share state), and how what the desk observes becomes series: the dispatcher's
observations (`Metrics.observe`), failures skipped by isolation, and the desk's gauges
(`Metrics.observe_desk`, refreshed by the ticker).

It reads the router's state but changes nothing, and knows neither sockets nor the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from chatserver.inbox import CHANNEL_OF, InboxKind, InboxStatus
from chatserver.models import AgentStatus
from chatserver.runtime import blas_libraries
from chatserver.satisfaction import FollowUp, Rating

if TYPE_CHECKING:
    from chatserver.routing import Router

# Lag and pauses that matter for a chat are milliseconds to a second.
# First responses cluster around the 30-second target: fine buckets there.
_FRT_BUCKETS = (5, 10, 15, 20, 25, 30, 35, 40, 45, 60, 90, 120, 300, 900)
# The inbox's targets are 15 minutes (callback) and an hour (email): minutes to a day.
_INBOX_FRT_BUCKETS = (60, 300, 600, 900, 1800, 2700, 3600, 5400, 7200, 14400, 28800, 86400)
# Questions a pass of the sentence encoder: 1 (alone) up to QUERY_BATCH.
_PASS_BUCKETS = (1, 2, 4, 8, 16)
_GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class BlasThreads(Collector):
    """`chatserver_blas_threads`: the threads each loaded BLAS library may use, read from the
    libraries themselves at every scrape (threadpoolctl, about 5 ms), so it shows what the
    process really runs with (`chatserver serve` limits them to one)."""

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "chatserver_blas_threads",
            "Threads each BLAS library loaded in the process may use, by library file and "
            "implementation.",
            labels=["library", "api"],
        )
        for info in blas_libraries():
            library = Path(str(info.get("filepath", "?"))).name
            family.add_metric([library, str(info.get("internal_api", "?"))], info["num_threads"])
        yield family


@dataclass(frozen=True, slots=True)
class Metrics:
    registry: CollectorRegistry
    event_loop_lag: Histogram
    gc_pause: Histogram
    connections: Gauge
    conversations_started: Counter
    messages: Counter
    bot_replies: Counter
    faq_feedback: Counter
    errors: Counter
    isolated_failures: Counter
    first_response: Histogram
    first_responses: Counter
    handoffs: Counter
    fallbacks: Counter
    assignments: Counter
    abandoned: Counter
    offline: Counter
    queue_length: Gauge
    waiting_age: Gauge
    agents: Gauge
    ratings: Counter
    followups: Counter
    inbox_items: Gauge
    inbox_first_response: Histogram
    inbox_breaches: Counter
    urgent_alerts: Counter
    encoder_passes: Histogram
    exchange_groups: Histogram

    def observe(self, name: str, labels: dict[str, Any]) -> None:
        """One of the dispatcher's observations (`Dispatcher(observe=...)`), as series."""
        if name == "first_response":
            keys = {k: str(labels[k]) for k in ("language", "team", "priority")}
            if labels.get("answered", True):
                self.first_response.labels(**keys).observe(float(labels["seconds"]))
            self.first_responses.labels(**keys, status=str(labels["status"])).inc()
        elif name == "handoff":
            self.handoffs.labels(reason=labels["reason"]).inc()
        elif name == "fallback":
            self.fallbacks.labels(reason=labels["reason"]).inc()
        elif name == "assigned":
            self.assignments.labels(via=labels["via"], widened=labels["widened"]).inc()
        elif name == "abandoned":
            self.abandoned.labels(queue=labels["queue"]).inc()
        elif name == "offline":
            self.offline.labels(reason=labels["reason"]).inc()
        elif name == "inbox_first_response":
            self.inbox_first_response.labels(channel=labels["channel"]).observe(labels["seconds"])
        elif name == "inbox_breach":
            self.inbox_breaches.labels(channel=labels["channel"], language=labels["language"]).inc()
        elif name == "urgent_alert":
            self.urgent_alerts.labels(channel=labels["channel"], outcome=labels["outcome"]).inc()
        elif name == "isolated_failure":
            self.count_isolated_failure(labels["stage"])
        elif name == "encoder_pass":
            self.encoder_passes.observe(labels["questions"])
        elif name == "exchange_group":
            self.exchange_groups.observe(labels["exchanges"])

    def count_rating(self, rating: Rating, followup: FollowUp | None) -> None:
        """A new rating (by score and language), and the follow-up it opened."""
        self.ratings.labels(score=str(rating.score), language=rating.language).inc()
        if followup is not None:
            self.followups.labels(outcome="opened", language=rating.language).inc()

    def count_missed_followups(self, followups: Iterable[FollowUp]) -> None:
        for followup in followups:
            self.followups.labels(outcome="missed", language=followup.rating.language).inc()

    def count_handled_followup(self, followup: FollowUp) -> None:
        outcome = "handled_in_time" if followup.handled_in_time else "handled_late"
        self.followups.labels(outcome=outcome, language=followup.rating.language).inc()

    def count_isolated_failure(self, stage: str) -> None:
        """An item failed and was skipped while the others went on (`Isolation`'s count)."""
        self.isolated_failures.labels(stage=stage).inc()

    def observe_inbox(self, counts: Mapping[tuple[InboxKind, InboxStatus], int]) -> None:
        """The inbox's gauge: items not closed, by channel and status (every pair shown,
        0 when none), from the store's counts (`Store.inbox_counts`), not its rows."""
        gauge: dict[tuple[str, str], int] = {
            (str(channel), status): 0
            for channel in CHANNEL_OF.values()
            for status in ("open", "taken", "answered")
        }
        for (kind, state), count in counts.items():
            key = (str(CHANNEL_OF[kind]), str(state))
            gauge[key] = gauge.get(key, 0) + count
        for (channel, status), count in gauge.items():
            self.inbox_items.labels(channel=channel, status=status).set(count)

    def observe_desk(self, router: Router, now: datetime, agent_ids: Iterable[str]) -> None:
        """The desk's gauges as the router holds it at `now`: conversations waiting and the
        oldest wait per queue, and the agents (`agent_ids`: every known account) by
        presence. Queues that emptied since the last call are dropped."""
        self.queue_length.clear()
        self.waiting_age.clear()
        oldest: dict[tuple[str, str], float] = {}
        for key, length in router.queue_lengths().items():
            self.queue_length.labels(language=key.language, team=str(key.team)).set(length)
        for view in router.waiting(now):
            label = (view.queue.language, str(view.queue.team))
            oldest[label] = max(oldest.get(label, 0.0), view.waited)
        for (language, team), waited in oldest.items():
            self.waiting_age.labels(language=language, team=team).set(waited)
        counts = {str(status): 0 for status in AgentStatus}
        for agent_id in agent_ids:
            counts[str(router.agent_status(agent_id))] += 1
        for status, count in counts.items():
            self.agents.labels(status=status).set(count)

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
        registry.register(BlasThreads())
        return cls(
            registry=registry,
            event_loop_lag=Histogram(
                "chatserver_event_loop_lag_seconds",
                "How late the event loop ran a timer: time every socket waited.",
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            gc_pause=Histogram(
                "chatserver_gc_pause_seconds",
                "Garbage collector pauses, by generation.",
                ["generation"],
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            connections=Gauge(
                "chatserver_socket_connections",
                "Open Socket.IO connections, by namespace.",
                ["namespace"],
                registry=registry,
            ),
            conversations_started=Counter(
                "chatserver_conversations_started",
                "Conversations created, by language.",
                ["language"],
                registry=registry,
            ),
            messages=Counter(
                "chatserver_messages",
                "Messages stored, by author.",
                ["author"],
                registry=registry,
            ),
            bot_replies=Counter(
                "chatserver_bot_replies",
                "Bot replies, by outcome and language.",
                ["kind", "language"],
                registry=registry,
            ),
            faq_feedback=Counter(
                "chatserver_faq_feedback",
                "Customers' word on bot answers (did that help?), by answer and language.",
                ["helpful", "language"],
                registry=registry,
            ),
            errors=Counter(
                "chatserver_event_errors",
                "Events refused or failed, by event and error code.",
                ["event", "code"],
                registry=registry,
            ),
            isolated_failures=Counter(
                "chatserver_isolated_failures",
                "Items (a conversation, an agent, a notification) that failed and were skipped "
                "while the others went on, by stage.",
                ["stage"],
                registry=registry,
            ),
            first_response=Histogram(
                "chatserver_first_response_seconds",
                "Handoff to the first agent message the customer received.",
                ["language", "team", "priority"],
                buckets=_FRT_BUCKETS,
                registry=registry,
            ),
            first_responses=Counter(
                "chatserver_first_responses",
                "First responses by SLA outcome (hit: within target); share within target = "
                "hit / (hit + missed).",
                ["language", "team", "priority", "status"],
                registry=registry,
            ),
            handoffs=Counter(
                "chatserver_handoffs",
                "Conversations handed to people, by reason.",
                ["reason"],
                registry=registry,
            ),
            fallbacks=Counter(
                "chatserver_fallbacks",
                "Queues widened to a fallback language, by trigger.",
                ["reason"],
                registry=registry,
            ),
            assignments=Counter(
                "chatserver_assignments",
                "Conversations assigned, by how and whether widened.",
                ["via", "widened"],
                registry=registry,
            ),
            abandoned=Counter(
                "chatserver_abandoned",
                "Customers who left the queue, by queue.",
                ["queue"],
                registry=registry,
            ),
            offline=Counter(
                "chatserver_offline",
                "Handoffs nobody could take (leave a message instead), by reason: no_agent "
                "online in any fallback language, or out_of_hours.",
                ["reason"],
                registry=registry,
            ),
            queue_length=Gauge(
                "chatserver_queue_length",
                "Conversations waiting, by queue.",
                ["language", "team"],
                registry=registry,
            ),
            waiting_age=Gauge(
                "chatserver_queue_oldest_wait_seconds",
                "How long the oldest waiting has waited.",
                ["language", "team"],
                registry=registry,
            ),
            agents=Gauge(
                "chatserver_agents",
                "Agents by presence.",
                ["status"],
                registry=registry,
            ),
            ratings=Counter(
                "chatserver_csat_ratings",
                "Customers' ratings of closed chats (1-5), by score and language; CSAT = "
                "ratings of 4 and 5 / all ratings.",
                ["score", "language"],
                registry=registry,
            ),
            followups=Counter(
                "chatserver_csat_followups",
                "Follow-ups of negative ratings (1-2), due within 24 hours, by outcome: "
                "opened, missed (a breach), handled_in_time, handled_late.",
                ["outcome", "language"],
                registry=registry,
            ),
            inbox_items=Gauge(
                "chatserver_inbox_items",
                "Offline inbox items not closed (left messages, callback requests), by "
                "channel and status: open, taken, answered.",
                ["channel", "status"],
                registry=registry,
            ),
            inbox_first_response=Histogram(
                "chatserver_inbox_first_response_seconds",
                "An inbox item left to its first answer (email sent, called back).",
                ["channel"],
                buckets=_INBOX_FRT_BUCKETS,
                registry=registry,
            ),
            inbox_breaches=Counter(
                "chatserver_inbox_breaches",
                "Inbox items whose first-response target passed without an answer, by "
                "channel and language (each counted once).",
                ["channel", "language"],
                registry=registry,
            ),
            urgent_alerts=Counter(
                "chatserver_urgent_alerts",
                "Urgent chats' alerts, by channel (console, email, webhook) and outcome "
                "(sent, failed); one per urgent chat and channel.",
                ["channel", "outcome"],
                registry=registry,
            ),
            encoder_passes=Histogram(
                "chatserver_encoder_pass_questions",
                "Customers' questions embedded in one pass of the sentence encoder (those "
                "that reach it in the same turn of the event loop share a pass).",
                buckets=_PASS_BUCKETS,
                registry=registry,
            ),
            exchange_groups=Histogram(
                "chatserver_store_exchange_group",
                "The bot's exchanges (a customer message and its answer) written by one "
                "PostgreSQL statement: those that reach the store in the same turn of the "
                "event loop share one.",
                buckets=_GROUP_BUCKETS,
                registry=registry,
            ),
        )
