"""``POST /webhooks/alertmanager``: authenticate, validate, merge, commit, then 200."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from bot.domain.incident import format_number
from bot.ingest.alertmanager.auth import authorised
from bot.ingest.alertmanager.models import AlertGroup
from bot.ingest.alertmanager.store import Outcome, Policy, ingest_group
from bot.ingest.webhook import Accepted, WebhookRejected, read_json, validation_details, webhook_endpoint
from bot.metrics import Metrics
from bot.service.incidents import IncidentService

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


def alertmanager_route(service: IncidentService, metrics: Metrics, *, token: str | None, policy: Policy) -> Route:
    async def handle(request: Request) -> Accepted:
        if not authorised(request.headers.get("authorization"), token):
            raise WebhookRejected(401, "missing or wrong credentials (Authorization: Bearer <ALERTMANAGER_TOKEN>)", outcome="unauthorized")
        _raw, value = await read_json(request)
        group = parse_group(value)

        def store() -> Outcome:
            with service.sessions.begin() as session:
                return ingest_group(session, service, group, policy)

        outcome = await run_in_threadpool(store)
        service.notify_committed()
        status = "created" if outcome.created else "updated" if outcome.changed else "unchanged"
        return Accepted({"incident": format_number(outcome.number)}, outcome=status)

    return Route(PATH, webhook_endpoint(SOURCE, metrics, handle), methods=["POST"])
