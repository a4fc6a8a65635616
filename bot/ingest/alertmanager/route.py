"""``POST /webhooks/alertmanager``: authenticate, validate, queue in the inbox, then 202.

The group is applied to its incident by the ingester (bot/ingest/ingester.py) moments
later; Alertmanager only needs to know the notification is safe with us.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.routing import Route

from bot.ingest.alertmanager.auth import authorised
from bot.ingest.alertmanager.models import AlertGroup
from bot.ingest.alertmanager.store import Outcome, Policy, ingest_batch, ingest_group
from bot.ingest.inbox_writer import InboxWriter, Webhook
from bot.ingest.ingester import Applier, BatchApplier, Ingester
from bot.ingest.webhook import Accepted, WebhookRejected, read_json, validation_details, webhook_endpoint
from bot.metrics import Metrics
from bot.service.incidents import IncidentService
from bot.store.models import InboxRow

PATH = "/webhooks/alertmanager"
SOURCE = "alertmanager"


def parse_group(value: object) -> AlertGroup:
    if not isinstance(value, dict):
        raise WebhookRejected(422, "expected a JSON object (an Alertmanager webhook, version 4)")
    if "version" in value and value["version"] != "4":
        raise WebhookRejected(422, f"unsupported webhook version {str(value['version'])[:20]!r}: Firebreak understands version 4")
    try:
        return AlertGroup.model_validate(value)
    except ValidationError as error:
        raise WebhookRejected(422, "invalid Alertmanager payload", errors=validation_details(error)) from None


def alertmanager_route(service: IncidentService, metrics: Metrics, writer: InboxWriter, ingester: Ingester, *, token: str | None) -> Route:
    async def handle(request: Request) -> Accepted:
        if not authorised(request.headers.get("authorization"), token):
            raise WebhookRejected(401, "missing or wrong credentials (Authorization: Bearer <ALERTMANAGER_TOKEN>)", outcome="unauthorized")
        raw, value = await read_json(request)
        group = parse_group(value)

        queued = await writer.accept(Webhook(SOURCE, group.dedup_key, raw.decode("utf-8"), service.clock.now()))
        ingester.notify()
        return Accepted({"id": queued}, outcome="accepted", status_code=202)

    return Route(PATH, webhook_endpoint(SOURCE, metrics, handle, ingester.pressure), methods=["POST"])


def alertmanager_applier(service: IncidentService, policy: Policy) -> Applier:
    """Applies a queued notification; parsed exactly as the route validated it."""

    def apply(session: Session, row: InboxRow) -> str:
        group = parse_group(json.loads(row.body))
        return _outcome(ingest_group(session, service, group, policy))

    return apply


def alertmanager_batch_applier(service: IncidentService, policy: Policy) -> BatchApplier:
    """Applies queued notifications of a group in one merge (same result as one by one)."""

    def apply(session: Session, rows: Sequence[InboxRow]) -> list[str]:
        groups = [parse_group(json.loads(row.body)) for row in rows]
        return [_outcome(outcome) for outcome in ingest_batch(session, service, groups, policy)]

    return apply


def _outcome(outcome: Outcome) -> str:
    return "created" if outcome.created else "updated" if outcome.changed else "unchanged"
