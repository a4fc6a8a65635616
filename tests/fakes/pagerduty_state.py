"""The fake PagerDuty account: users, services, escalation policies, on-calls, incidents.

Records are plain dicts of fields; ``render_*`` turns them into API objects. References
(``self`` URLs) are built from the fake's own base URL because the official client follows
``self`` links and refuses URLs outside its ``base_url``.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SUBDOMAIN = "firebreak-test"
WEB = f"https://{SUBDOMAIN}.pagerduty.com"


def iso(dt: datetime) -> str:
    """PagerDuty's timestamp format: ISO 8601 in UTC with ``Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso(datetime.now(UTC))


@dataclass
class Account:
    """All state of one fake PagerDuty account, guarded by :attr:`lock`."""

    api_base: str = "https://api.pagerduty.com"
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    escalation_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    oncalls: list[dict[str, Any]] = field(default_factory=list)
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Events API v2 state per dedup_key: last action, payload, status."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """Every accepted Events API v2 event, in arrival order."""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    def new_id(self, prefix: str = "P") -> str:
        """PagerDuty-looking ids: ``P`` plus six uppercase alphanumerics."""
        return f"{prefix}{next(self._ids):06X}"

    # -------------------------------------------------------------- seeding
    def add_user(
        self, name: str, email: str, *, user_id: str | None = None, role: str = "user"
    ) -> dict[str, Any]:
        """Add a user; on-call entries and the ``From`` header refer to users by id / email."""
        with self.lock:
            uid = user_id or self.new_id()
            self.users[uid] = {
                "id": uid,
                "name": name,
                "email": email,
                "role": role,
                "time_zone": "Europe/Amsterdam",
            }
            return self.users[uid]

    def add_escalation_policy(
        self, name: str, *, policy_id: str | None = None
    ) -> dict[str, Any]:
        with self.lock:
            pid = policy_id or self.new_id()
            self.escalation_policies[pid] = {"id": pid, "name": name}
            return self.escalation_policies[pid]

    def add_service(
        self, name: str, escalation_policy_id: str, *, service_id: str | None = None
    ) -> dict[str, Any]:
        with self.lock:
            sid = service_id or self.new_id()
            self.services[sid] = {
                "id": sid,
                "name": name,
                "escalation_policy_id": escalation_policy_id,
                "status": "active",
            }
            return self.services[sid]

    def add_oncall(
        self,
        escalation_policy_id: str,
        user_id: str,
        *,
        level: int = 1,
        hours: int = 12,
    ) -> dict[str, Any]:
        """Put ``user_id`` on call at ``level`` of a policy from now for ``hours``."""
        with self.lock:
            start = datetime.now(UTC).replace(microsecond=0)
            entry = {
                "escalation_policy_id": escalation_policy_id,
                "user_id": user_id,
                "level": level,
                "start": iso(start),
                "end": iso(start + timedelta(hours=hours)),
            }
            self.oncalls.append(entry)
            return entry

    def add_incident(
        self,
        title: str,
        service_id: str,
        *,
        incident_id: str | None = None,
        status: str = "triggered",
        urgency: str = "high",
        priority: str | None = None,
        incident_key: str | None = None,
    ) -> dict[str, Any]:
        """Add an incident on a service (its escalation policy comes from the service)."""
        with self.lock:
            iid = incident_id or self.new_id("Q")
            service = self.services[service_id]
            self.incidents[iid] = {
                "id": iid,
                "number": next(self._numbers),
                "title": title,
                "status": status,
                "urgency": urgency,
                "priority": priority,
                "incident_key": incident_key or iid.lower() + "0" * 8,
                "service_id": service_id,
                "escalation_policy_id": service["escalation_policy_id"],
                "created_at": now_iso(),
                "last_status_change_at": now_iso(),
                "notes": [],
                "log": [],
            }
            return self.incidents[iid]

    # -------------------------------------------------------------- rendering
    def ref(self, kind: str, obj_id: str, summary: str) -> dict[str, Any]:
        """A ``*_reference`` object (``user_reference``, ``service_reference``, ...)."""
        path = {
            "user": "users",
            "service": "services",
            "escalation_policy": "escalation_policies",
            "incident": "incidents",
            "priority": "priorities",
        }[kind]
        web_path = "service-directory" if kind == "service" else path
        return {
            "id": obj_id,
            "type": f"{kind}_reference",
            "summary": summary,
            "self": f"{self.api_base}/{path}/{obj_id}",
            "html_url": f"{WEB}/{web_path}/{obj_id}",
        }

    def render_user(self, user: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.ref("user", user["id"], user["name"]),
            "type": "user",
            "name": user["name"],
            "email": user["email"],
            "time_zone": user["time_zone"],
            "color": "purple",
            "role": user["role"],
            "avatar_url": f"https://secure.gravatar.com/avatar/{user['id']}.png",
            "description": "",
            "invitation_sent": False,
            "job_title": "SRE",
            "teams": [],
            "contact_methods": [],
            "notification_rules": [],
        }

    def render_policy_ref(self, policy_id: str) -> dict[str, Any]:
        return self.ref(
            "escalation_policy", policy_id, self.escalation_policies[policy_id]["name"]
        )

    def render_service(self, service: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.ref("service", service["id"], service["name"]),
            "type": "service",
            "name": service["name"],
            "description": "",
            "status": service["status"],
            "auto_resolve_timeout": 14400,
            "acknowledgement_timeout": 600,
            "created_at": "2024-01-01T00:00:00Z",
            "escalation_policy": self.render_policy_ref(
                service["escalation_policy_id"]
            ),
            "teams": [],
            "integrations": [],
            "incident_urgency_rule": {"type": "constant", "urgency": "high"},
            "alert_creation": "create_alerts_and_incidents",
        }

    def render_incident(self, incident: dict[str, Any]) -> dict[str, Any]:
        service = self.services[incident["service_id"]]
        assigned = [
            o
            for o in self.oncalls
            if o["escalation_policy_id"] == incident["escalation_policy_id"]
            and o["level"] == 1
        ]
        priority = incident["priority"]
        return {
            **self.ref(
                "incident",
                incident["id"],
                f"[#{incident['number']}] {incident['title']}",
            ),
            "type": "incident",
            "incident_number": incident["number"],
            "title": incident["title"],
            "description": incident["title"],
            "created_at": incident["created_at"],
            "updated_at": incident["last_status_change_at"],
            "status": incident["status"],
            "incident_key": incident["incident_key"],
            "service": self.ref("service", service["id"], service["name"]),
            "assignments": []
            if incident["status"] == "resolved"
            else [
                {
                    "at": incident["created_at"],
                    "assignee": self.ref(
                        "user", o["user_id"], self.users[o["user_id"]]["name"]
                    ),
                }
                for o in assigned
            ],
            "acknowledgements": [],
            "last_status_change_at": incident["last_status_change_at"],
            "last_status_change_by": self.ref(
                "service", service["id"], service["name"]
            ),
            "escalation_policy": self.render_policy_ref(
                incident["escalation_policy_id"]
            ),
            "teams": [],
            "priority": None
            if priority is None
            else {
                **self.ref("priority", f"PRI{priority}", priority),
                "type": "priority",
                "name": priority,
            },
            "urgency": incident["urgency"],
            "resolve_reason": None,
            "alert_counts": {
                "all": 1,
                "triggered": int(incident["status"] != "resolved"),
                "resolved": int(incident["status"] == "resolved"),
            },
            "is_mergeable": True,
        }

    def render_oncall(
        self, entry: dict[str, Any], *, include_users: bool
    ) -> dict[str, Any]:
        user = self.users[entry["user_id"]]
        return {
            "escalation_policy": self.render_policy_ref(entry["escalation_policy_id"]),
            "escalation_level": entry["level"],
            "schedule": None,
            "user": self.render_user(user)
            if include_users
            else self.ref("user", user["id"], user["name"]),
            "start": entry["start"],
            "end": entry["end"],
        }


def seed_default(account: Account) -> None:
    """A small realistic account whose users share emails with the Slack fake's users.

    Escalation policy ``PEPPRIM`` ("Primary"): alice level 1, bob level 2;
    ``PEPDB01`` ("Database"): carol level 1. Services ``PSVCAPI`` (Checkout API, primary) and
    ``PSVCDB1`` (Orders DB, database). Incident ``Q0INC01`` triggered on the Checkout API.
    """
    account.add_user("Alice Example", "alice@example.com", user_id="PUALICE")
    account.add_user("Bob Example", "bob@example.com", user_id="PUBOB01")
    account.add_user("Carol Example", "carol@example.com", user_id="PUCAROL")
    account.add_user("Firebreak Bot", "firebreak@example.com", user_id="PUFIREB")
    account.add_escalation_policy("Primary", policy_id="PEPPRIM")
    account.add_escalation_policy("Database", policy_id="PEPDB01")
    account.add_service("Checkout API", "PEPPRIM", service_id="PSVCAPI")
    account.add_service("Orders DB", "PEPDB01", service_id="PSVCDB1")
    account.add_oncall("PEPPRIM", "PUALICE", level=1)
    account.add_oncall("PEPPRIM", "PUBOB01", level=2)
    account.add_oncall("PEPDB01", "PUCAROL", level=1)
    account.add_incident("Checkout latency above SLO", "PSVCAPI", incident_id="Q0INC01")
