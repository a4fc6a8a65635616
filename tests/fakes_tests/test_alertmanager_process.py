"""Round trip through the real Alertmanager binary: firing, re-send, resolved, auth header."""

from __future__ import annotations

import pytest

from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.alertmanager, pytest.mark.slow]

LABELS = {
    "alertname": "DiskFull",
    "severity": "critical",
    "instance": "db-1:9100",
    "service": "orders-db",
}


def test_firing_resend_and_resolved(
    alertmanager, webhook_receiver: WebhookReceiver
) -> None:
    am = alertmanager(
        webhook_receiver.url("/webhooks/alertmanager"),
        bearer_token="s3cret",
        group_wait="1s",
        group_interval="1s",
        repeat_interval="2s",
    )
    am.fire(
        LABELS,
        {
            "summary": "Disk almost full on db-1",
            "runbook_url": "https://runbooks.example.com/disk",
        },
    )
    assert [a["labels"]["alertname"] for a in am.alerts()] == ["DiskFull"]

    first = webhook_receiver.wait_for_count(1, timeout=15)[0]
    assert first.path == "/webhooks/alertmanager"
    assert first.headers["authorization"] == "Bearer s3cret"
    body = first.json()
    assert (
        body["version"] == "4"
        and body["status"] == "firing"
        and body["receiver"] == "firebreak"
    )
    assert (
        body["groupLabels"] == {"alertname": "DiskFull"}
        and body["truncatedAlerts"] == 0
    )
    assert body["alerts"][0]["labels"] == LABELS and body["alerts"][0]["fingerprint"]
    assert body["commonAnnotations"]["summary"] == "Disk almost full on db-1"

    # repeat_interval elapses: Alertmanager sends the same group again, unchanged.
    again = webhook_receiver.wait_for_count(2, timeout=15)[1].json()
    assert again["groupKey"] == body["groupKey"] and again["status"] == "firing"
    assert again["alerts"][0]["fingerprint"] == body["alerts"][0]["fingerprint"]

    am.resolve(LABELS)
    received = webhook_receiver.wait_for(
        lambda got: any(r.json()["status"] == "resolved" for r in got), timeout=15
    )
    final = next(r.json() for r in received if r.json()["status"] == "resolved")
    assert final["groupKey"] == body["groupKey"]
    assert (
        final["alerts"][0]["status"] == "resolved"
        and final["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    )


def test_retries_on_5xx(alertmanager, webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.status = 503
    am = alertmanager(
        webhook_receiver.url(),
        basic_auth=("am", "pw"),
        group_wait="1s",
        group_interval="10s",
    )
    am.fire({"alertname": "Flapping", "severity": "warning"})
    got = webhook_receiver.wait_for_count(
        2, timeout=20
    )  # Alertmanager retries a 5xx delivery
    assert got[0].headers["authorization"].startswith("Basic ")
    assert got[0].json()["groupKey"] == got[1].json()["groupKey"]
