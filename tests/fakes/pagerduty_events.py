"""Fake PagerDuty Events API v2 (``POST /v2/enqueue``): validation and alert state.

Answers exactly like PagerDuty: 202 ``{"status": "success", "message": "Event processed",
"dedup_key": ...}`` or 400 ``{"status": "invalid event", "message": "Event object is
invalid", "errors": [...]}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.pagerduty_state import Account, now_iso

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
ROUTING_KEY_LENGTH = 32


def validate_event(event: Any, routing_keys: frozenset[str] | None) -> list[str]:
    """The list of problems PagerDuty would report (empty when the event is valid)."""
    if not isinstance(event, dict):
        return ["Event object must be a JSON object"]
    errors: list[str] = []
    key = event.get("routing_key")
    if not isinstance(key, str) or not key:
        errors.append("'routing_key' is missing or blank")
    elif len(key) != ROUTING_KEY_LENGTH:
        errors.append("'routing_key' must be 32 characters")
    elif routing_keys is not None and key not in routing_keys:
        errors.append("Invalid routing key")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > MAX_DEDUP_KEY):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is required for acknowledge and resolve events")
    if action == "trigger":
        errors.extend(_validate_payload(event.get("payload")))
    return errors


def _validate_payload(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > MAX_SUMMARY:
        errors.append("'payload.summary' must be at most 1024 characters")
    source = payload.get("source")
    if not isinstance(source, str) or not source.strip():
        errors.append("'payload.source' is missing or blank")
    if payload.get("severity") not in SEVERITIES:
        errors.append(
            "'payload.severity' must be one of critical, error, warning, info"
        )
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, (dict, str)):
        errors.append("'payload.custom_details' must be an object")
    return errors


def apply_event(account: Account, event: dict[str, Any]) -> str:
    """Record a valid event and update the alert for its dedup key; returns the key."""
    dedup = event.get("dedup_key") or uuid.uuid4().hex
    with account.lock:
        account.events.append({**event, "dedup_key": dedup, "received_at": now_iso()})
        alert = account.alerts.get(dedup)
        action = event["event_action"]
        if action == "trigger":
            if alert is None or alert["status"] == "resolved":
                account.alerts[dedup] = {
                    "dedup_key": dedup,
                    "status": "triggered",
                    "payload": event["payload"],
                    "events": 1,
                }
            else:
                alert["events"] += 1
                alert["payload"] = event["payload"]
        elif alert is not None and alert["status"] != "resolved":
            # PagerDuty silently accepts ack/resolve for unknown keys; so does the fake.
            alert["status"] = "acknowledged" if action == "acknowledge" else "resolved"
            alert["events"] += 1
    return dedup
