"""``POST /webhooks/pagerduty``: verify the signature over the raw body, dedupe, apply, 2xx.

PagerDuty wants an answer within 5 seconds and retries 5xx/429 for hours, so the handler
does one short transaction and nothing that talks to the outside (that goes to the outbox).
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from bot.domain.incident import format_number
from bot.ingest.pagerduty.mapping import Plan, plan
from bot.ingest.pagerduty.models import Delivery
from bot.ingest.pagerduty.signature import verify
from bot.ingest.pagerduty.store import Duplicate, Outcome, apply_event
from bot.ingest.webhook import Accepted, WebhookRejected, read_json, validation_details, webhook_endpoint
from bot.metrics import Metrics
from bot.service.incidents import IncidentService

PATH = "/webhooks/pagerduty"
SOURCE = "pagerduty"


def parse_delivery(value: object) -> Plan | None:
    if not isinstance(value, dict):
        raise WebhookRejected(422, "expected a JSON object (a PagerDuty V3 webhook)")
    try:
        return plan(Delivery.model_validate(value).event)
    except ValidationError as error:
        raise WebhookRejected(422, "invalid PagerDuty V3 payload", errors=validation_details(error)) from None


def pagerduty_route(service: IncidentService, metrics: Metrics, *, secrets: list[str]) -> Route:
    async def handle(request: Request) -> Accepted:
        if not secrets:
            # Unsigned events could forge acknowledgements; refuse rather than trust them.
            raise WebhookRejected(401, "PagerDuty webhooks are disabled: set PAGERDUTY_WEBHOOK_SECRET", outcome="unauthorized")
        raw = await request.body()
        if not verify(raw, request.headers.get("x-pagerduty-signature"), secrets):
            raise WebhookRejected(401, "missing or invalid X-PagerDuty-Signature", outcome="unauthorized")
        _raw, value = await read_json(request)
        planned = parse_delivery(value)
        if planned is None:
            return Accepted({"detail": "event type not handled"}, outcome="ignored")
        webhook_id = (request.headers.get("x-webhook-id") or "").strip()[:200] or None

        def store() -> Outcome:
            with service.sessions() as session:
                try:
                    outcome = apply_event(session, service, planned, webhook_id=webhook_id)
                except Duplicate:
                    session.rollback()
                    return Outcome(None, "duplicate")
                except BaseException:
                    session.rollback()
                    raise
                if outcome.status == "accepted":
                    session.commit()
                else:
                    session.rollback()  # ignored events leave no trace, not even their id
                return outcome

        outcome = await run_in_threadpool(store)
        if outcome.status == "accepted":
            service.notify_committed()
        body = {"incident": format_number(outcome.number)} if outcome.number else {}
        return Accepted(body, outcome=outcome.status)

    return Route(PATH, webhook_endpoint(SOURCE, metrics, handle), methods=["POST"])
