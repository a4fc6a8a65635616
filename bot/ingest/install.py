"""Wiring for webhooks in and PagerDuty out: one call from the composition root."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.ingest.alertmanager.auth import SourceTokens
from bot.ingest.alertmanager.grouping import Grouping
from bot.ingest.alertmanager.route import SOURCE as ALERTMANAGER
from bot.ingest.alertmanager.route import alertmanager_applier, alertmanager_batch_applier, alertmanager_route
from bot.ingest.alertmanager.severity_labels import ObservedMapping
from bot.ingest.alertmanager.store import Policy
from bot.ingest.pagerduty.priorities import PriorityMap
from bot.ingest.pagerduty.route import SOURCE as PAGERDUTY
from bot.ingest.pagerduty.route import pagerduty_applier, pagerduty_route
from bot.ingest.pagerduty.signature import secrets_from_setting
from bot.pagerduty.client import Verify, events_client, rest_client
from bot.pagerduty.deliverer import TARGET, PagerDutyDeliverer
from bot.pagerduty.oncall import PagerDutyOncallDirectory
from bot.pagerduty.sync import make_pagerduty_sync
from bot.playbooks.matching import IncidentFacts

if TYPE_CHECKING:
    from bot.container import Container


def grouping_of(container: Container) -> Grouping:
    """Correlation and storm guard from the settings; a playbook's ``correlate_by`` is looked
    up in the guided-steps registry at the time a group arrives (it is wired after ingest)."""
    settings = container.settings

    def playbook_correlate_by(facts: IncidentFacts) -> tuple[str, ...] | None:
        guided = container.guided
        if guided is None or not len(guided.registry):
            return None
        playbook, _matched = guided.registry.match(facts)
        return None if playbook is None or playbook.correlate_by is None else tuple(playbook.correlate_by)

    return Grouping(
        correlate_by=settings.correlate_by,
        correlate_window=settings.correlate_window,
        storm_threshold=settings.storm_threshold,
        storm_window=settings.storm_window,
        storm_exempt=frozenset(settings.storm_exempt),
        playbook_correlate_by=playbook_correlate_by,
        drill=container.service.drill,
    )


def install(container: Container, *, verify: Verify = True) -> None:
    """Routes and inbox appliers for both webhooks; with PagerDuty credentials, the sync,
    deliverer and on-call.

    ``verify`` is the TLS trust for PagerDuty (tests pass their loopback CA).
    """
    settings = container.settings
    mapping = ObservedMapping(settings.severity_mapping, on_unknown=container.metrics.unknown_severity.inc)
    policy = Policy(mapping=mapping, auto_resolve=frozenset(settings.auto_resolve), grouping=grouping_of(container))
    ingester = container.ingester
    ingester.add_applier(ALERTMANAGER, alertmanager_applier(container.service, policy))
    ingester.add_batch_applier(ALERTMANAGER, alertmanager_batch_applier(container.service, policy))
    ingester.add_applier(PAGERDUTY, pagerduty_applier(container.service, PriorityMap.of(settings.pagerduty_priority_mapping)))
    tokens = SourceTokens(default=settings.alertmanager_token or None, by_source=dict(settings.alertmanager_tokens))
    container.routes.append(alertmanager_route(container.service, container.metrics, container.inbox, ingester, tokens=tokens, mapping=settings.severity_mapping))
    container.routes.append(
        pagerduty_route(container.service, container.metrics, container.inbox, ingester, secrets=secrets_from_setting(settings.pagerduty_webhook_secret))
    )
    rest = (
        rest_client(settings.pagerduty_api_token, base_url=settings.pagerduty_api_url, from_email=settings.pagerduty_from_email, verify=verify)
        if settings.pagerduty_api_token and settings.pagerduty_from_email  # settings require both together
        else None
    )
    events = (
        events_client(settings.pagerduty_routing_key, base_url=settings.pagerduty_events_url, verify=verify)
        if settings.pagerduty_routing_key
        else None
    )
    if rest is None and events is None:
        return
    container.service.subscribers.append(make_pagerduty_sync(rest_enabled=rest is not None, events_enabled=events is not None))
    container.worker.add_deliverer(TARGET, PagerDutyDeliverer(rest=rest, events=events, service_id=settings.pagerduty_service_id, clock=container.clock))
    if rest is not None:
        container.oncall = PagerDutyOncallDirectory(rest)
