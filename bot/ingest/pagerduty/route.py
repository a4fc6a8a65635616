"""``POST /webhooks/pagerduty``: verify the signature over the raw body, validate, queue, 202.

PagerDuty wants an answer within 5 seconds and retries 5xx/429 for hours, so the handler
does one insert; the ingester applies the event (exactly once, by event id) moments later.
A replay of an event already applied is answered 200 ``duplicate`` straight away.
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from bot.ingest.inbox_writer import InboxWriter, Webhook
from bot.ingest.ingester import Applier, Discarded, Ingester
from bot.ingest.pagerduty.apply import UNKNOWN_CLOSED, Duplicate, already_applied, apply_event
from bot.ingest.pagerduty.mapping import Plan, plan
from bot.ingest.pagerduty.models import Delivery
from bot.ingest.pagerduty.priorities import PriorityMap
from bot.ingest.pagerduty.signature import verify
from bot.ingest.webhook import Accepted, WebhookRejected, read_json, validation_details, webhook_endpoint
from bot.metrics import Metrics
from bot.service.incidents import IncidentService
from bot.store.models import InboxRow
from bot.store.receipt import receiving

PATH = "/webhooks/pagerduty"
SOURCE = "pagerduty"


def parse_delivery(value: object) -> Plan | None:
    if not isinstance(value, dict):
        raise WebhookRejected(422, "expected a JSON object (a PagerDuty V3 webhook)")
    try:
        return plan(Delivery.model_validate(value).event)
    except ValidationError as error:
        raise WebhookRejected(422, "invalid PagerDuty V3 payload", errors=validation_details(error)) from None


def pagerduty_route(service: IncidentService, metrics: Metrics, writer: InboxWriter, ingester: Ingester, *, secrets: list[str]) -> Route:
    async def handle(request: Request) -> Accepted:
        if not secrets:
            # Unsigned events could forge acknowledgements; refuse rather than trust them.
            raise WebhookRejected(401, "PagerDuty webhooks are disabled: set PAGERDUTY_WEBHOOK_SECRET", outcome="unauthorized")
        raw = await request.body()
        if not verify(raw, request.headers.get("x-pagerduty-signature"), secrets):
            raise WebhookRejected(401, "missing or invalid X-PagerDuty-Signature", outcome="unauthorized")
        body, value = await read_json(request)  # the body to queue: storable (see read_json)
        planned = parse_delivery(value)
        if planned is None:
            return Accepted({"detail": "event type not handled"}, outcome="ignored")
        webhook_id = (request.headers.get("x-webhook-id") or "").strip()[:200] or None

        def seen() -> bool:
            with service.sessions() as session:
                return already_applied(session, planned.event.id, webhook_id)

        if await run_in_threadpool(seen):
            return Accepted({}, outcome="duplicate")
        webhook = Webhook(SOURCE, f"pd:{planned.incident_id}"[:512], body.decode("utf-8"), service.clock.now(), webhook_id, priority=2)
        queued = await writer.accept(webhook)
        ingester.notify(webhook.priority)
        return Accepted({"id": queued}, outcome="accepted", status_code=202)

    return Route(PATH, webhook_endpoint(SOURCE, metrics, handle, ingester.pressure), methods=["POST"])


def pagerduty_applier(service: IncidentService, priorities: PriorityMap | None = None) -> Applier:
    """Applies a queued event. Replays and notes on incidents we never saw leave no trace
    but their count; the resolve of one we never saw is remembered (see ``apply``)."""

    def apply(session: Session, row: InboxRow) -> str:
        planned = parse_delivery(json.loads(row.body))
        if planned is None:
            raise Discarded("ignored")
        try:
            # Entries this event causes (status changes too) happened at PagerDuty's occurred_at.
            with receiving(row.received_at, claimed=planned.event.occurred_at):
                outcome = apply_event(session, service, planned, webhook_id=row.webhook_id, priorities=priorities)
        except Duplicate:
            raise Discarded("duplicate") from None
        if outcome.status == UNKNOWN_CLOSED:
            return outcome.status  # kept: the event id, and that PagerDuty had it resolved
        if outcome.status != "accepted":
            raise Discarded(outcome.status)
        return "applied"

    return apply
