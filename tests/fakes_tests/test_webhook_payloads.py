"""PagerDuty V3 webhook and Alertmanager v4 payload builders."""

from __future__ import annotations

import hashlib
import hmac
import json

from tests.fakes import alertmanager_payloads as am
from tests.fakes.pagerduty_webhook import (
    INCIDENT_EVENT_TYPES,
    sign_pagerduty,
    webhook_body,
    webhook_event,
    webhook_headers,
)


def test_pagerduty_signature_matches_hmac_and_supports_rotation() -> None:
    body = webhook_body(webhook_event("incident.triggered"))
    expected = "v1=" + hmac.new(b"s1", body, hashlib.sha256).hexdigest()
    assert sign_pagerduty("s1", body) == expected
    rotated = sign_pagerduty(["old", "s1"], body)
    assert rotated.split(",")[1] == expected and rotated.count("v1=") == 2
    headers = webhook_headers("s1", body, webhook_id="wh-1")
    assert (
        headers["X-PagerDuty-Signature"] == expected
        and headers["X-Webhook-Id"] == "wh-1"
    )


def test_pagerduty_event_shapes() -> None:
    for event_type in INCIDENT_EVENT_TYPES:
        event = webhook_event(event_type)["event"]
        assert (
            event["event_type"] == event_type and event["resource_type"] == "incident"
        )
        assert event["id"] and event["occurred_at"].endswith("Z")
    triggered = webhook_event(
        "incident.triggered", number=42, title="DB down", priority="P0"
    )["event"]["data"]
    assert (
        triggered["status"] == "triggered"
        and triggered["number"] == 42
        and triggered["priority"]["summary"] == "P0"
    )
    assert (
        triggered["service"]["type"] == "service_reference"
        and triggered["escalation_policy"]["id"] == "PEPPRIM"
    )
    assert webhook_event("incident.resolved")["event"]["data"]["status"] == "resolved"
    note = webhook_event("incident.annotated")["event"]["data"]
    assert note["type"] == "incident_note" and note["incident"]["id"] == "Q0INC01"
    system = webhook_event("incident.escalated", agent_id=None)["event"]
    assert system["agent"] is None and system["client"] == {"name": "PagerDuty"}
    assert (
        json.loads(webhook_body(webhook_event("incident.acknowledged")))["event"][
            "data"
        ]["status"]
        == "acknowledged"
    )


def test_alertmanager_group_payload() -> None:
    body = am.firing_group(
        "HighErrorRate", count=3, severity="critical", service="checkout"
    )
    assert (
        body["version"] == "4"
        and body["status"] == "firing"
        and body["truncatedAlerts"] == 0
    )
    assert body["groupKey"] == '{}:{alertname="HighErrorRate", service="checkout"}'
    assert body["groupLabels"] == {"alertname": "HighErrorRate", "service": "checkout"}
    assert (
        "instance" not in body["commonLabels"]
        and body["commonLabels"]["severity"] == "critical"
    )
    assert body["commonAnnotations"]["runbook_url"].startswith("https://")
    assert len({a["fingerprint"] for a in body["alerts"]}) == 3
    assert all(
        a["endsAt"] == am.ZERO_TIME and a["generatorURL"] for a in body["alerts"]
    )
    done = am.resolved(body)
    assert done["status"] == "resolved" and done["groupKey"] == body["groupKey"]
    assert all(
        a["status"] == "resolved" and a["endsAt"] != am.ZERO_TIME
        for a in done["alerts"]
    )
    assert [a["fingerprint"] for a in done["alerts"]] == [
        a["fingerprint"] for a in body["alerts"]
    ]


def test_alertmanager_mixed_group_is_firing_until_all_resolve() -> None:
    firing = am.alert({"alertname": "A", "instance": "1"})
    gone = am.alert({"alertname": "A", "instance": "2"}, status="resolved")
    assert am.payload([firing, gone])["status"] == "firing"
    assert am.payload([gone])["status"] == "resolved"
    assert am.fingerprint({"a": "1", "b": "2"}) == am.fingerprint({"b": "2", "a": "1"})
