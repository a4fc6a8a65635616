"""Outbox target ``pagerduty``: the operations the sync and the escalation engine queue.

| operation           | payload                                                           | API                         |
| ------------------- | ----------------------------------------------------------------- | --------------------------- |
| ``acknowledge``     | number, pagerduty_incident_id                                     | REST PUT /incidents/{id}    |
| ``resolve``         | number, pagerduty_incident_id                                     | REST PUT /incidents/{id}    |
| ``note``            | number, pagerduty_incident_id, text                               | REST POST .../notes         |
| ``page``            | number, escalation_policy_id or user_id, title, incident_key,     | REST POST /incidents        |
|                     | service_id (optional, else PAGERDUTY_SERVICE_ID)                  |                             |
| ``trigger``         | number, dedup_key, summary, severity, source, links               | Events v2 trigger           |
| ``acknowledge_event`` / ``resolve_event`` | number, dedup_key                           | Events v2 acknowledge/resolve |

The client is synchronous, so every call runs in a worker thread. Acknowledge/resolve of an
incident already in (or past) that state counts as done; a retried note or page first
checks whether the earlier attempt landed, since those REST calls have no idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.delivery.message import DeliveryError, DeliveryResult, OutboxMessage
from bot.domain.clock import Clock, SystemClock
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.pagerduty.client import EventsClient, PagerDutyError, RestClient, delivery_error, ok
from bot.service.chat_notifications import post_recorded
from bot.store.incidents import IncidentRepository
from bot.store.models import IncidentRow
from bot.text_safety import clean, one_line, safe_url

log = logging.getLogger(__name__)

TARGET = "pagerduty"
_PD_SEVERITIES = {"critical", "error", "warning", "info"}


class PagerDutyDeliverer:
    def __init__(
        self, *, rest: RestClient | None, events: EventsClient | None, service_id: str | None = None, clock: Clock | None = None
    ) -> None:
        self._clock = clock or SystemClock()
        self._rest = rest
        self._events = events
        self._service_id = service_id
        self._operations: dict[str, Callable[[OutboxMessage], DeliveryResult]] = {
            "acknowledge": lambda m: self._set_status(m, "acknowledged"),
            "resolve": lambda m: self._set_status(m, "resolved"),
            "note": self._note,
            "page": self._page,
            "trigger": self._trigger,
            "acknowledge_event": lambda m: self._event_action(m, "acknowledge"),
            "resolve_event": lambda m: self._event_action(m, "resolve"),
        }

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        operation = self._operations.get(message.operation)
        if operation is None:
            raise DeliveryError(f"unknown PagerDuty operation {message.operation!r}", retryable=False)
        try:
            return await asyncio.to_thread(operation, message)
        except PagerDutyError as error:
            raise delivery_error(error) from error
        except KeyError as missing:
            raise DeliveryError(f"PagerDuty {message.operation} payload lacks {missing}", retryable=False) from None

    # -- REST ------------------------------------------------------------------------

    def _rest_client(self) -> RestClient:
        if self._rest is None:
            raise DeliveryError("PAGERDUTY_API_TOKEN is not set", retryable=False)
        return self._rest

    def _set_status(self, message: OutboxMessage, status: str) -> DeliveryResult:
        """Acknowledge or resolve, reading the status first.

        PagerDuty's reference: setting ``acknowledged`` (or ``triggered``) on a RESOLVED
        incident reopens it. A late or retried acknowledge must never undo a resolve someone
        made in PagerDuty, so a resolved incident is left alone. The API has no conditional
        update; the read narrows the window to the moment between the two calls.
        """
        rest = self._rest_client()
        incident_id = str(message.payload["pagerduty_incident_id"])
        current = self._status_of(rest, incident_id)
        if current == "resolved" and status != "resolved":
            log.info("not acknowledging a resolved PagerDuty incident", extra={"pagerduty_incident_id": incident_id})
            return DeliveryResult(detail={"status": current, "skipped": "resolved in PagerDuty; acknowledging would reopen it"})
        if current == status:
            return DeliveryResult(detail={"status": current, "already": True})
        body = {"incident": {"type": "incident_reference", "status": status}}
        response = rest.put(f"/incidents/{incident_id}", json=body)
        if response.is_success:
            return DeliveryResult(detail={"status": status})
        if status == "resolved" and response.status_code == 400 and self._status_of(rest, incident_id) == "resolved":
            return DeliveryResult(detail={"status": "resolved", "already": True})  # resolved meanwhile
        ok(response, f"setting incident {incident_id} {status}")
        return DeliveryResult()

    @staticmethod
    def _status_of(rest: RestClient, incident_id: str) -> str:
        return str(ok(rest.get(f"/incidents/{incident_id}"), "reading the incident").json()["incident"]["status"])

    def _note(self, message: OutboxMessage) -> DeliveryResult:
        rest = self._rest_client()
        incident_id = str(message.payload["pagerduty_incident_id"])
        text = str(message.payload["text"])[:25000]
        path = f"/incidents/{incident_id}/notes"
        if message.is_retry:
            notes = ok(rest.get(path), "listing notes").json().get("notes", [])
            if any(note.get("content") == text for note in notes):
                return DeliveryResult(detail={"already": True})
        ok(rest.post(path, json={"note": {"content": text}}), f"adding a note to {incident_id}")
        return DeliveryResult()

    def _page(self, message: OutboxMessage) -> DeliveryResult:
        """Open a PagerDuty incident for a policy or a user, and link it to ours.

        Each page has its own ``incident_key`` (incident, level, cycle, target): PagerDuty
        refuses a second OPEN incident with the same key on a service, and a key of our own
        is what lets a retry find the page an earlier attempt opened.
        """
        rest = self._rest_client()
        payload = message.payload
        key = str(payload["incident_key"])
        service_id = payload.get("service_id") or self._service_id
        if not service_id:
            raise DeliveryError("paging needs a PagerDuty service: set PAGERDUTY_SERVICE_ID", retryable=False)
        found = self._find_page(rest, key, str(service_id)) if message.is_retry else None
        if found is None:
            incident: dict[str, Any] = {
                "type": "incident",
                "title": clean(payload["title"])[:1024],
                "service": {"id": service_id, "type": "service_reference"},
                "incident_key": key,
                "urgency": "high",
            }
            if payload.get("escalation_policy_id"):
                incident["escalation_policy"] = {"id": payload["escalation_policy_id"], "type": "escalation_policy_reference"}
            elif payload.get("user_id"):
                incident["assignments"] = [{"assignee": {"id": payload["user_id"], "type": "user_reference"}}]
            else:
                raise DeliveryError("a page needs escalation_policy_id or user_id", retryable=False)
            response = rest.post("/incidents", json={"incident": incident})
            if response.status_code == 400:
                # "open incident with key already exists": an attempt we lost track of landed.
                found = self._find_page(rest, key, str(service_id))
            if found is None:
                found = ok(response, "paging").json()["incident"]
        pd_id = str(found["id"])
        number = int(payload["number"])

        target = payload.get("escalation_policy_id") or payload.get("user_id")

        def link(session: Session) -> None:
            session.execute(
                update(IncidentRow)
                .where(IncidentRow.id == number, IncidentRow.pagerduty_incident_id.is_(None))
                .values(pagerduty_incident_id=pd_id)
            )
            _record_paged(
                session,
                number,
                f"paged {target} in PagerDuty ({pd_id})",
                now=self._clock.now(),
                target=target,
                pagerduty_incident_id=pd_id,
                incident_key=key,
                cycle=payload.get("cycle"),
            )

        return DeliveryResult(record=link, detail={"pagerduty_incident_id": pd_id})

    @staticmethod
    def _find_page(rest: RestClient, key: str, service_id: str) -> dict[str, Any] | None:
        """The incident this page opened, if any: same key, same service, any status, any date."""
        params = {
            "incident_key": key,
            "service_ids[]": [service_id],
            "statuses[]": ["triggered", "acknowledged", "resolved"],
            "date_range": "all",
        }
        listing = ok(rest.get("/incidents", params=params), "looking up the page").json().get("incidents", [])
        return next(
            (item for item in listing if item.get("incident_key") == key and (item.get("service") or {}).get("id") == service_id),
            None,
        )

    # -- Events API v2 -------------------------------------------------------------------

    def _events_client(self) -> EventsClient:
        if self._events is None:
            raise DeliveryError("PAGERDUTY_ROUTING_KEY is not set", retryable=False)
        return self._events

    def _trigger(self, message: OutboxMessage) -> DeliveryResult:
        payload = message.payload
        severity = str(payload.get("severity", "critical"))
        # Alert links are alert text: only http(s) URLs become links on the PagerDuty alert, as
        # in Slack (a javascript: or data: href would be a click away for the person paged).
        links = [
            {"href": href, "text": one_line(text)}
            for text, href in ((text, safe_url(url)) for text, url in dict(payload.get("links") or {}).items())
            if href is not None
        ]
        dedup_key = self._events_client().trigger(
            summary=clean(payload["summary"])[:1024],
            source=one_line(payload.get("source"))[:255] or "firebreak",  # required, never blank
            dedup_key=str(payload["dedup_key"]),
            severity=severity if severity in _PD_SEVERITIES else "critical",
            custom_details={"firebreak_incident": payload["dedup_key"]},
            links=links or None,
        )
        number = int(payload["number"])

        def record(session: Session) -> None:
            _record_paged(
                session, number, f"paged through the PagerDuty Events API (dedup key {dedup_key})", now=self._clock.now(), dedup_key=dedup_key
            )

        return DeliveryResult(record=record, detail={"dedup_key": dedup_key})

    def _event_action(self, message: OutboxMessage, action: str) -> DeliveryResult:
        self._events_client().send_event(action, dedup_key=str(message.payload["dedup_key"]))
        return DeliveryResult()


def _record_paged(session: Session, number: int, text: str, *, now: datetime, **data: Any) -> None:
    """The page reached PagerDuty: a PAGED entry, committed with the delivery itself."""
    entry = TimelineEntry(
        kind=EntryKind.PAGED,
        at=now,
        actor="firebreak",
        source=Source.SYSTEM,
        text=text,
        data={"service": "pagerduty", **{key: value for key, value in data.items() if value is not None}},
    )
    (entry_id,) = IncidentRepository.append(session, number, [entry])
    post_recorded(session, number, entry_id, entry, now=entry.at)
