"""The official ``pagerduty`` clients, made to fail fast and report what failed.

The package retries 429 forever and network errors with ``time.sleep`` inside the calling
thread. Firebreak already has a retry policy (the outbox: backoff, jitter, Retry-After,
dead letters, survives restarts), so these subclasses hand every 429/5xx and network error
back at once, and :func:`delivery_error` turns it into a :class:`DeliveryError`.
"""

from __future__ import annotations

import ssl
from typing import Any

import pagerduty
from httpx2 import Response

from bot.delivery.message import DeliveryError

REQUEST_TIMEOUT_SECONDS = 10


class PeerBusy(pagerduty.HttpError):
    """429 or 5xx: try again later (the outbox decides when)."""


class _FailFast(pagerduty.ApiClient):
    """Mixed in before a concrete client, so ``super().postprocess`` is that client's own."""

    max_network_attempts = 0  # one try; the outbox retries

    def postprocess(self, response: Response, *args: Any) -> None:
        super().postprocess(response, *args)
        if response.status_code == 429 or response.status_code >= 500:
            raise PeerBusy(f"PagerDuty answered {response.status_code}", response)


class RestClient(_FailFast, pagerduty.RestApiV2Client):
    pass


class EventsClient(_FailFast, pagerduty.EventsApiV2Client):
    pass


Verify = ssl.SSLContext | str | bool


def rest_client(api_token: str, *, base_url: str, from_email: str, verify: Verify = True) -> RestClient:
    """``from_email`` goes out as ``From`` on every call: PagerDuty requires it to open,
    update or annotate an incident."""
    if not from_email:
        raise ValueError("PagerDuty's REST API needs a From e-mail (PAGERDUTY_FROM_EMAIL)")
    client = RestClient(api_token, default_from=from_email, base_url=base_url.rstrip("/"), verify=verify)
    client.timeout = REQUEST_TIMEOUT_SECONDS  # the package's default is 60 s per call
    return client


def events_client(routing_key: str, *, base_url: str, verify: Verify = True) -> EventsClient:
    client = EventsClient(routing_key, base_url=base_url.rstrip("/"), verify=verify)
    client.timeout = REQUEST_TIMEOUT_SECONDS
    return client


def _retry_after(response: Response) -> float | None:
    """Seconds to wait: ``Retry-After``, else ``ratelimit-reset``, which is what PagerDuty's
    REST API sends with a 429 (https://support.pagerduty.com/docs/rest-api-rate-limits)."""
    value = response.headers.get("retry-after")
    if value is None:
        value = response.headers.get("ratelimit-reset")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def delivery_error(error: Exception) -> DeliveryError:
    """429 → retry after Retry-After; 5xx and network → retry; other 4xx → never."""
    response = getattr(error, "response", None)
    if response is None:
        return DeliveryError(f"PagerDuty unreachable: {error}", retryable=True)
    status = response.status_code
    if status == 429:
        return DeliveryError("PagerDuty rate limit (429)", retryable=True, retry_after=_retry_after(response))
    if status >= 500:
        return DeliveryError(f"PagerDuty error {status}", retryable=True)
    return DeliveryError(f"PagerDuty refused the request ({status}): {response.text[:300]}", retryable=False)


def ok(response: Response, context: str) -> Response:
    """Raise ``pagerduty.HttpError`` for a non-2xx answer (5xx/429 were raised already)."""
    return pagerduty.common.successful_response(response, context=context)


PagerDutyError = pagerduty.Error
