"""``POST /webhooks/alertmanager``: authenticate, validate, queue in the inbox, then 202.

The group is applied to its incident by the ingester (bot/ingest/ingester.py) moments
later; the sender only needs to know the notification is safe with us. Both Prometheus
Alertmanager (version 4) and Grafana-managed alerting (version 1) post here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.routing import Route

from bot.domain.severity import DEFAULT_LABEL_MAPPING, Severity
from bot.ingest.alertmanager.apply import Outcome, Policy, apply_batch, apply_group
from bot.ingest.alertmanager.auth import SourceTokens, require_token
from bot.ingest.alertmanager.grafana_test import announce_grafana_test
from bot.ingest.alertmanager.identity import source_of, valid_source
from bot.ingest.alertmanager.mapping import group_severity
from bot.ingest.alertmanager.models import SUPPORTED, VERSIONS, AlertGroup
from bot.ingest.inbox_writer import InboxWriter, Webhook
from bot.ingest.ingester import Applier, BatchApplier, Ingester
from bot.ingest.webhook import Accepted, WebhookRejected, read_json, validation_details, webhook_endpoint
from bot.metrics import Metrics
from bot.service.incidents import IncidentService
from bot.store import alert_groups
from bot.store.incidents import IncidentRepository
from bot.store.models import InboxRow

PATH = "/webhooks/alertmanager"
SOURCE = "alertmanager"


def parse_group(value: object, source: str | None = None) -> AlertGroup:
    if not isinstance(value, dict):
        raise WebhookRejected(422, f"expected a JSON object (an Alertmanager or Grafana webhook); {SUPPORTED}")
    if "version" in value and value["version"] not in VERSIONS:
        raise WebhookRejected(422, f"unsupported webhook version {str(value['version'])[:20]!r}: {SUPPORTED}")
    try:
        return AlertGroup.model_validate(value).from_source(source)
    except ValidationError as error:
        raise WebhookRejected(422, "invalid Alertmanager payload", errors=validation_details(error)) from None


def source_param(request: Request) -> str | None:
    """The ``?source=`` of the webhook URL: which cluster (or Grafana) this is."""
    names = request.query_params.getlist("source")
    if not names:
        return None
    if len(names) > 1 or not valid_source(names[0]):
        raise WebhookRejected(400, "source must be one name of 1-32 characters: a-z, 0-9, '-' or '_' (e.g. ?source=prod)")
    return names[0]


def queue_priority(group: AlertGroup, mapping: Mapping[str, Severity]) -> int:
    """The rank of the group's worst firing alert (0 = P0), 3 with nothing firing: the
    ingester applies groups holding urgent webhooks before the rest (bot/ingest/inbox.py)."""
    firing = [alert for alert in group.alerts if alert.status == "firing"]
    return group_severity(group, mapping, firing).rank if firing else Severity.P3.rank


def alertmanager_route(
    service: IncidentService,
    metrics: Metrics,
    writer: InboxWriter,
    ingester: Ingester,
    *,
    tokens: SourceTokens,
    mapping: Mapping[str, Severity] | None = None,
) -> Route:
    # A plain copy: the applier's table reports unknown labels, once is enough.
    levels: dict[str, Severity] = dict(DEFAULT_LABEL_MAPPING if mapping is None else mapping)

    async def handle(request: Request) -> Accepted:
        source = source_param(request)
        require_token(request.headers.get("authorization"), source, tokens)
        raw, value = await read_json(request)
        group = parse_group(value, source)
        if group.source != source:
            # The body named the source (a Grafana group without ``?source=`` is Grafana's):
            # the credential must be that source's too, or a default token could write into
            # incidents that a source with its own token keeps to itself.
            require_token(request.headers.get("authorization"), group.source, tokens)
        priority = queue_priority(group, levels)

        queued = await writer.accept(Webhook(SOURCE, group.dedup_key, raw.decode("utf-8"), service.clock.now(), priority=priority))
        ingester.notify(priority)
        return Accepted({"id": queued}, outcome="accepted", status_code=202)

    return Route(PATH, webhook_endpoint(SOURCE, metrics, handle, ingester.pressure), methods=["POST"])


def queued_group(row: InboxRow) -> AlertGroup:
    """A queued notification, parsed as the route validated it, under the key it was queued with.

    The route keyed the row by the group's identity (``row.group_key``); the source it was
    named with is read back from that key, so the incident is the one the route meant.
    """
    group = parse_group(json.loads(row.body), source_of(row.group_key))
    if group.dedup_key != row.group_key:
        raise ValueError(f"queued under {row.group_key!r} but the body is group {group.dedup_key!r}")
    return group


def alertmanager_applier(service: IncidentService, policy: Policy) -> Applier:
    """Applies a queued notification (a Grafana contact-point test only says it arrived)."""

    def apply(session: Session, row: InboxRow) -> str:
        group = queued_group(row)
        if group.is_grafana_test:
            return announce_grafana_test(session, group, now=service.clock.now())
        return _outcome(apply_group(session, service, group, policy))

    return apply


def alertmanager_batch_applier(service: IncidentService, policy: Policy) -> BatchApplier:
    """Applies queued notifications of a group in one pass (same result as one by one)."""
    single = alertmanager_applier(service, policy)

    def apply(session: Session, rows: Sequence[InboxRow]) -> list[str]:
        groups = [queued_group(row) for row in rows]
        if any(group.is_grafana_test for group in groups):
            return [single(session, row) for row in rows]
        received = [row.received_at for row in rows]
        return [_outcome(outcome) for outcome in apply_batch(session, service, groups, policy, received=received)]

    return apply


def lock_children(session: Session, rows: Sequence[InboxRow]) -> set[str]:
    """Lock the groups' children and their incidents, one statement each, before a
    transaction applies many groups (children first, as applying one group does); returns
    the groups that have a child. A new group is left out: placing it may take the storm
    guard's or a correlation lock, which must never be waited for while holding incidents."""
    children = alert_groups.lock_by_dedup_keys(session, sorted({row.group_key for row in rows}))
    IncidentRepository.lock_rows(session, {child.incident_id for child in children.values()})
    return set(children)


def _outcome(outcome: Outcome) -> str:
    if outcome.skipped:
        return outcome.skipped
    if outcome.joined:
        return f"joined_{outcome.joined}"
    return "created" if outcome.created else "updated" if outcome.changed else "unchanged"
