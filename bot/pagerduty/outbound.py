"""Outbound PagerDuty from the settings: where pages go, the incident sync, who is on call.

One call from the composition root. Without credentials the deliverer still exists and
gives every page up at once, saying why: a page left in the outbox retrying "no deliverer"
while the incident channel says the policy was paged would be worse than a loud failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.delivery.message import Deliverer, DeliveryError, DeliveryResult, OutboxMessage
from bot.domain.clock import Clock
from bot.pagerduty.client import Verify, events_client, rest_client
from bot.pagerduty.deliverer import PagerDutyDeliverer
from bot.pagerduty.oncall import PagerDutyOncallDirectory
from bot.pagerduty.sync import make_pagerduty_sync
from bot.service.changes import Subscriber
from bot.service.oncall import NoOncallDirectory, OncallDirectory
from bot.settings import Settings


@dataclass(frozen=True)
class PagerDutyOutbound:
    #: The outbox's ``pagerduty`` target.
    deliverer: Deliverer
    #: Who is on call for an escalation policy (nobody without the REST API).
    oncall: OncallDirectory
    #: Queues acknowledge/resolve/notes for linked incidents; None without credentials.
    sync: Subscriber | None
    #: Why pages cannot be delivered, or None when they can (see :func:`pagerduty_gap`).
    gap: str | None


class PagerDutyNotConfigured:
    """The ``pagerduty`` deliverer of a deployment without PagerDuty: every page fails, once."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        raise DeliveryError(f"{self.reason}; nobody was paged", retryable=False)


def pagerduty_gap(settings: Settings) -> str | None:
    """Why pages to PagerDuty cannot be delivered, or None when they can."""
    if not settings.pagerduty_api_token:
        return "PagerDuty is not configured (PAGERDUTY_API_TOKEN is not set)"
    if not settings.pagerduty_service_id:
        return "PAGERDUTY_SERVICE_ID is not set (PagerDuty files pages under a service)"
    return None


def pagerduty_outbound(settings: Settings, *, clock: Clock, verify: Verify = True) -> PagerDutyOutbound:
    """The REST client with a token and sender address, the Events client with a routing key.

    ``verify`` is the TLS trust for PagerDuty (tests pass their loopback CA).
    """
    gap = pagerduty_gap(settings)
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
        return PagerDutyOutbound(
            deliverer=PagerDutyNotConfigured(gap or "PagerDuty is not configured"), oncall=NoOncallDirectory(), sync=None, gap=gap
        )
    return PagerDutyOutbound(
        deliverer=PagerDutyDeliverer(rest=rest, events=events, service_id=settings.pagerduty_service_id, clock=clock),
        oncall=PagerDutyOncallDirectory(rest) if rest is not None else NoOncallDirectory(),
        sync=make_pagerduty_sync(rest_enabled=rest is not None, events_enabled=events is not None),
        gap=gap,
    )
