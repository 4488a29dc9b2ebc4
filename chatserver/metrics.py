"""Prometheus metrics, one registry per application so tests and processes never share state."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Lag and pauses that matter for a chat are milliseconds to a second.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True, slots=True)
class Metrics:
    registry: CollectorRegistry
    event_loop_lag: Histogram
    gc_pause: Histogram
    connections: Gauge
    conversations_started: Counter
    messages: Counter
    bot_replies: Counter
    errors: Counter

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
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
            errors=Counter(
                "chatserver_event_errors",
                "Events refused or failed, by event and error code.",
                ["event", "code"],
                registry=registry,
            ),
        )
