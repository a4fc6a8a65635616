"""What the real Alertmanager sends in three situations, driven through its API v2.

Shared by the live tests (a real Alertmanager notifying a real ``firebreak serve`` and a
recorder side by side) and by ``python -m tests.fakes.alertmanager_capture``, which stores
the recorded bodies as the captured fixtures in ``tests/fakes/alertmanager_captured/``.

- ``plain``: two alerts of one group fire, then resolve (no ``max_alerts``).
- ``truncated``: ``max_alerts: 2`` and five alerts; Alertmanager sorts a group's alerts by
  ``instance``, so the two it shows (``a-1``, ``a-2``) are the ones resolved later, and the
  resolved notification says ``status: resolved`` with ``truncatedAlerts: 3`` while three fire.
- ``ha_pair``: two Alertmanagers with different ``--web.external-url`` (an HA pair whose
  gossip has not deduplicated) both notify the same group.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.alertmanager_payloads import rfc3339
from tests.fakes.alertmanager_process import AlertmanagerProcess
from tests.fakes.webhook_receiver import Received, WebhookReceiver

#: Timers short enough for a test, long enough that all alerts posted at once share a flush.
TIMERS = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
PLAIN_NOTES = {"summary": "Replication lag on orders-db", "runbook_url": "https://runbooks.example.com/replication-lag"}
TRUNCATED_NOTES = {"summary": "Queue backlog on workers"}
TRUNCATED_INSTANCES = ("a-1", "a-2", "b-1", "b-2", "b-3")
RESOLVED_FIRST = ("a-1", "a-2")
HA_URLS = ("http://alertmanager-a.example.com:9093/", "http://alertmanager-b.example.com:9093/")


def postable(labels: dict[str, str], annotations: dict[str, str], *, resolved: bool = False) -> dict[str, Any]:
    now = datetime.now(UTC)
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(now - timedelta(minutes=2)),
        "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=up",
    }
    if resolved:
        alert["endsAt"] = rfc3339(now - timedelta(seconds=1))
    return alert


def bodies(recorder: WebhookReceiver) -> list[dict[str, Any]]:
    return [item.json() for item in recorder.received]


def wait_body(recorder: WebhookReceiver, test: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
    """The first recorded body for which ``test`` holds, waiting for it to arrive."""

    def found(got: list[Received]) -> bool:
        return any(test(item.json()) for item in got)

    received = recorder.wait_for(found, timeout=timeout)
    return next(item.json() for item in received if test(item.json()))


def plain(am: AlertmanagerProcess, recorder: WebhookReceiver) -> list[dict[str, Any]]:
    labels = [{"alertname": "ReplicationLag", "service": "orders-db", "severity": "warning", "instance": f"db-{i}"} for i in (1, 2)]
    am.post_alerts([postable(item, PLAIN_NOTES) for item in labels])
    firing = wait_body(recorder, lambda body: body["status"] == "firing" and len(body["alerts"]) == 2)
    am.post_alerts([postable(item, PLAIN_NOTES, resolved=True) for item in labels])
    resolved = wait_body(recorder, lambda body: body["status"] == "resolved")
    return [firing, resolved]


def truncated_labels(instance: str) -> dict[str, str]:
    return {"alertname": "QueueBacklog", "service": "workers", "severity": "warning", "instance": instance}


def truncated(am: AlertmanagerProcess, recorder: WebhookReceiver) -> list[dict[str, Any]]:
    """Needs ``max_alerts=2`` on the Alertmanager."""
    am.post_alerts([postable(truncated_labels(name), TRUNCATED_NOTES) for name in TRUNCATED_INSTANCES])
    firing = wait_body(recorder, lambda body: body["status"] == "firing" and body.get("truncatedAlerts") == 3)
    am.post_alerts([postable(truncated_labels(name), TRUNCATED_NOTES, resolved=True) for name in RESOLVED_FIRST])
    resolved = wait_body(recorder, lambda body: body["status"] == "resolved")
    return [firing, resolved]


def ha_pair(peers: tuple[AlertmanagerProcess, AlertmanagerProcess], recorder: WebhookReceiver) -> list[dict[str, Any]]:
    """Needs the two peers started with ``external_url=HA_URLS[0]`` and ``HA_URLS[1]``."""
    labels = {"alertname": "CheckoutErrors", "service": "checkout", "severity": "critical", "instance": "checkout-1"}
    for peer in peers:  # Prometheus sends every alert to every Alertmanager of the pair
        peer.post_alerts([postable(labels, {"summary": "Checkout errors above 5%"})])
    first = wait_body(recorder, lambda body: body["externalURL"].startswith(HA_URLS[0].rstrip("/")))
    second = wait_body(recorder, lambda body: body["externalURL"].startswith(HA_URLS[1].rstrip("/")))
    return [first, second]
