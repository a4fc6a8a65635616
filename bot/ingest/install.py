"""Webhooks in, from the settings: the inbox appliers and the two HTTP routes.

Called from the composition root, which builds the :class:`~bot.ingest.ingester.Ingester`
with :func:`webhook_appliers` and serves :func:`webhook_routes`. Outbound PagerDuty (pages,
sync, on-call) is set up in :mod:`bot.pagerduty.outbound`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.routing import BaseRoute

from bot.ingest.alertmanager.apply import Policy
from bot.ingest.alertmanager.auth import SourceTokens
from bot.ingest.alertmanager.grouping import Grouping
from bot.ingest.alertmanager.route import SOURCE as ALERTMANAGER
from bot.ingest.alertmanager.route import alertmanager_applier, alertmanager_batch_applier, alertmanager_route, lock_children
from bot.ingest.alertmanager.severity_labels import ObservedMapping
from bot.ingest.inbox_writer import InboxWriter
from bot.ingest.ingester import Applier, BatchApplier, Ingester, Preparer
from bot.ingest.pagerduty.priorities import PriorityMap
from bot.ingest.pagerduty.route import SOURCE as PAGERDUTY
from bot.ingest.pagerduty.route import pagerduty_applier, pagerduty_route
from bot.ingest.pagerduty.signature import secrets_from_setting
from bot.metrics import Metrics
from bot.playbooks.matching import IncidentFacts
from bot.playbooks.registry import PlaybookRegistry
from bot.service.incidents import IncidentService
from bot.settings import Settings


@dataclass(frozen=True)
class Appliers:
    """What the ingester does with an inbox row, by source (see :class:`Ingester`)."""

    rows: dict[str, Applier] = field(default_factory=dict)
    batches: dict[str, BatchApplier] = field(default_factory=dict)
    preparers: dict[str, Preparer] = field(default_factory=dict)


def grouping_of(settings: Settings, registry: PlaybookRegistry, *, drill: bool = False) -> Grouping:
    """Correlation and storm guard from the settings; a playbook's ``correlate_by`` is looked
    up in the playbook registry at the time a group arrives."""

    def playbook_correlate_by(facts: IncidentFacts) -> tuple[str, ...] | None:
        if not len(registry):
            return None
        playbook, _matched = registry.match(facts)
        return None if playbook is None or playbook.correlate_by is None else tuple(playbook.correlate_by)

    return Grouping(
        correlate_by=settings.correlate_by,
        correlate_window=settings.correlate_window,
        storm_threshold=settings.storm_threshold,
        storm_window=settings.storm_window,
        storm_exempt=frozenset(settings.storm_exempt),
        playbook_correlate_by=playbook_correlate_by,
        drill=drill,
    )


def webhook_appliers(settings: Settings, service: IncidentService, metrics: Metrics, registry: PlaybookRegistry) -> Appliers:
    """Alertmanager (and Grafana) groups, applied one by one or in runs; PagerDuty events."""
    mapping = ObservedMapping(settings.severity_mapping, on_unknown=metrics.unknown_severity.inc)
    policy = Policy(mapping=mapping, auto_resolve=frozenset(settings.auto_resolve), grouping=grouping_of(settings, registry, drill=service.drill))
    return Appliers(
        rows={
            ALERTMANAGER: alertmanager_applier(service, policy),
            PAGERDUTY: pagerduty_applier(service, PriorityMap.of(settings.pagerduty_priority_mapping)),
        },
        batches={ALERTMANAGER: alertmanager_batch_applier(service, policy)},
        preparers={ALERTMANAGER: lock_children},
    )


def webhook_routes(settings: Settings, service: IncidentService, metrics: Metrics, inbox: InboxWriter, ingester: Ingester) -> list[BaseRoute]:
    """``POST /webhooks/alertmanager`` and ``POST /webhooks/pagerduty``: check, queue, answer 202."""
    tokens = SourceTokens(default=settings.alertmanager_token or None, by_source=dict(settings.alertmanager_tokens))
    return [
        alertmanager_route(service, metrics, inbox, ingester, tokens=tokens, mapping=settings.severity_mapping),
        pagerduty_route(service, metrics, inbox, ingester, secrets=secrets_from_setting(settings.pagerduty_webhook_secret)),
    ]
