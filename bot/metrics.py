"""Prometheus metrics. Gauges that describe stored state are read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.delivery.outbox import depth, pending_by_severity
from bot.ingest import inbox
from bot.store.db import SessionFactory
from bot.store.incidents import IncidentRepository


class _StoredStateCollector(Collector):
    def __init__(self, sessions: SessionFactory, inbox_capacity: int | None) -> None:
        self._sessions = sessions
        self._inbox_capacity = inbox_capacity

    def collect(self) -> Iterator[GaugeMetricFamily]:
        incidents = GaugeMetricFamily("firebreak_incidents", "Incidents by severity and status", labels=["severity", "status"])
        outbox = GaugeMetricFamily("firebreak_outbox_depth", "Outbox messages not yet delivered", labels=["status"])
        waiting = GaugeMetricFamily(
            "firebreak_outbox_pending", "Outbox messages waiting, by the severity they are delivered as (worst first)", labels=["severity"]
        )
        queued = GaugeMetricFamily("firebreak_inbox_depth", "Accepted webhooks not yet applied (pending) or given up (dead)", labels=["state"])
        oldest = GaugeMetricFamily("firebreak_inbox_oldest_seconds", "Age of the oldest accepted webhook not yet applied")
        capacity = GaugeMetricFamily(
            "firebreak_inbox_capacity", "Rows the inbox may hold (pending and dead); past it webhooks are answered 503"
        )
        if self._inbox_capacity is not None:
            capacity.add_metric([], self._inbox_capacity)
        try:
            with self._sessions() as session:
                for severity, status, count in IncidentRepository.counts_by_severity_status(session):
                    incidents.add_metric([severity, status], count)
                for status, count in depth(session).items():
                    outbox.add_metric([status], count)
                for severity, count in pending_by_severity(session).items():
                    waiting.add_metric([severity], count)
                for state, count in inbox.depth(session).items():
                    queued.add_metric([state], count)
                received = inbox.oldest_pending(session)
                oldest.add_metric([], max(0.0, (datetime.now(UTC) - received).total_seconds()) if received else 0.0)
        except Exception:  # a scrape during a database outage still returns the counters
            pass
        yield incidents
        yield outbox
        yield waiting
        yield queued
        yield oldest
        if self._inbox_capacity is not None:
            yield capacity


class Metrics:
    """One registry per app, so tests and several apps in one process don't collide."""

    def __init__(self, sessions: SessionFactory, *, inbox_capacity: int | None = None) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StoredStateCollector(sessions, inbox_capacity))
        self.webhooks = Counter(
            "firebreak_webhooks", "Webhook requests by source and outcome", ["source", "outcome"], registry=self.registry
        )
        self.webhook_latency = Histogram(
            "firebreak_webhook_latency_seconds",
            "Time to answer a webhook",
            ["source"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.ingested = Counter(
            "firebreak_ingested", "Queued webhooks applied by the ingester, by source and outcome", ["source", "outcome"], registry=self.registry
        )
        self.deliveries = Counter(
            "firebreak_deliveries", "Delivery attempts by target and outcome", ["target", "operation", "outcome"], registry=self.registry
        )
        self.delivery_failures = Counter(
            "firebreak_delivery_failures", "Failed delivery attempts (will be retried)", ["target"], registry=self.registry
        )
        self.delivery_dead = Counter(
            "firebreak_delivery_dead_letters", "Deliveries given up after retries", ["target", "operation"], registry=self.registry
        )

        self.unknown_severity = Counter(
            "firebreak_unknown_severity_labels",
            "Severity label look-ups not in FIREBREAK_SEVERITY_MAPPING (those alerts count as P3)",
            registry=self.registry,
        )

    def record_delivery_attempt(self, target: str, operation: str, ok: bool) -> None:
        self.deliveries.labels(target=target, operation=operation, outcome="ok" if ok else "error").inc()
        if not ok:
            self.delivery_failures.labels(target=target).inc()
