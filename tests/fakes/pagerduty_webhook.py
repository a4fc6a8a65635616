"""PagerDuty Webhooks V3 as PagerDuty sends them: payload builders and the signature.

Shapes follow PagerDuty's V3 documentation: ``{"event": {id, event_type, resource_type,
occurred_at, agent, client, data}}`` where ``data`` is the incident (or, for
``incident.annotated``, the note). ``X-PagerDuty-Signature`` is ``v1=<hex HMAC-SHA256 of the
raw body>``, comma-separated per active secret during rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

WEB = "https://firebreak-test.pagerduty.com"
API = "https://api.pagerduty.com"

INCIDENT_EVENT_TYPES = (
    "incident.triggered",
    "incident.acknowledged",
    "incident.unacknowledged",
    "incident.resolved",
    "incident.reopened",
    "incident.escalated",
    "incident.reassigned",
    "incident.delegated",
    "incident.priority_updated",
    "incident.responder.added",
    "incident.responder.replied",
    "incident.status_update_published",
    "incident.annotated",
)

_STATUS_FOR = {
    "incident.triggered": "triggered",
    "incident.acknowledged": "acknowledged",
    "incident.unacknowledged": "triggered",
    "incident.resolved": "resolved",
    "incident.reopened": "triggered",
}


def sign_pagerduty(secret: str | Iterable[str], body: bytes) -> str:
    """The ``X-PagerDuty-Signature`` value: ``v1=<hex>`` per secret, comma-separated."""
    secrets_ = [secret] if isinstance(secret, str) else list(secret)
    return ",".join(
        "v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets_
    )


def webhook_headers(
    secret: str | Iterable[str], body: bytes, *, webhook_id: str | None = None
) -> dict[str, str]:
    """All headers PagerDuty sends with a V3 delivery."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "PagerDuty-Webhook/V3.0",
        "X-PagerDuty-Signature": sign_pagerduty(secret, body),
        "X-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Webhook-Subscription": "PSUBSCR",
    }


def _ref(kind: str, obj_id: str, summary: str, web_path: str) -> dict[str, Any]:
    return {
        "html_url": f"{WEB}/{web_path}/{obj_id}",
        "id": obj_id,
        "self": f"{API}/{web_path.replace('service-directory', 'services')}/{obj_id}",
        "summary": summary,
        "type": f"{kind}_reference",
    }


def incident_data(
    *,
    incident_id: str = "Q0INC01",
    number: int = 1,
    title: str = "Checkout latency above SLO",
    status: str = "triggered",
    urgency: str = "high",
    priority: str | None = "P1",
    service_id: str = "PSVCAPI",
    service_name: str = "Checkout API",
    escalation_policy_id: str = "PEPPRIM",
    escalation_policy_name: str = "Primary",
    assignee_ids: Iterable[str] = ("PUALICE",),
    created_at: str | None = None,
    incident_key: str | None = None,
) -> dict[str, Any]:
    """The ``data`` object of an ``incident.*`` event (an incident, V3 flavour)."""
    return {
        "id": incident_id,
        "type": "incident",
        "self": f"{API}/incidents/{incident_id}",
        "html_url": f"{WEB}/incidents/{incident_id}",
        "number": number,
        "status": status,
        "incident_key": incident_key or uuid.uuid5(uuid.NAMESPACE_URL, incident_id).hex,
        "created_at": created_at or _now(),
        "title": title,
        "service": _ref("service", service_id, service_name, "service-directory"),
        "assignees": [_ref("user", uid, uid, "users") for uid in assignee_ids]
        if status != "resolved"
        else [],
        "escalation_policy": _ref(
            "escalation_policy",
            escalation_policy_id,
            escalation_policy_name,
            "escalation_policies",
        ),
        "teams": [],
        "priority": None
        if priority is None
        else {
            "html_url": f"{WEB}/account/incident_priorities",
            "id": f"PRI{priority}",
            "self": f"{API}/priorities/PRI{priority}",
            "summary": priority,
            "type": "priority_reference",
        },
        "urgency": urgency,
        "conference_bridge": None,
        "resolve_reason": None,
    }


_last_now = datetime.min.replace(tzinfo=UTC)


def _now() -> str:
    """Now, in PagerDuty's millisecond format, strictly later than the previous call: events
    built one after another are ordered as PagerDuty would order them."""
    global _last_now
    _last_now = max(datetime.now(UTC), _last_now + timedelta(milliseconds=1))
    return _last_now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def webhook_event(
    event_type: str,
    data: dict[str, Any] | None = None,
    *,
    event_id: str | None = None,
    occurred_at: str | None = None,
    agent_id: str | None = "PUALICE",
    agent_name: str = "Alice Example",
    **incident_fields: Any,
) -> dict[str, Any]:
    """A whole V3 delivery body as a dict.

    For ``incident.*`` types ``data`` defaults to :func:`incident_data` with the status the
    event implies (``incident_fields`` are passed to it). ``agent_id=None`` means the change
    was made by PagerDuty itself (agent ``null``, like auto-escalations).
    """
    if data is None:
        if event_type == "incident.annotated":
            data = annotation_data(
                incident_id=incident_fields.get("incident_id", "Q0INC01")
            )
        else:
            incident_fields.setdefault(
                "status", _STATUS_FOR.get(event_type, "triggered")
            )
            data = incident_data(**incident_fields)
    return {
        "event": {
            "id": event_id or str(uuid.uuid4()),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": occurred_at or _now(),
            "agent": None
            if agent_id is None
            else _ref("user", agent_id, agent_name, "users"),
            "client": {"name": "PagerDuty"} if agent_id is None else None,
            "data": data,
        }
    }


def annotation_data(
    content: str = "Rolled back deploy 1234",
    *,
    incident_id: str = "Q0INC01",
    title: str = "Checkout latency above SLO",
) -> dict[str, Any]:
    """The ``data`` of an ``incident.annotated`` event (a note on the incident)."""
    return {
        "incident": _ref("incident", incident_id, title, "incidents"),
        "id": f"N{uuid.uuid4().hex[:6].upper()}",
        "content": content,
        "trimmed": False,
        "type": "incident_note",
    }


def webhook_body(event: dict[str, Any]) -> bytes:
    """Serialise like PagerDuty (compact JSON); sign exactly these bytes."""
    return json.dumps(event, separators=(",", ":")).encode()
