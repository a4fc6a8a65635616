"""How a paused Slack delivery shows in ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.chat.slack.pause import DeliveryPause

REASONS = ("tokens_revoked", "app_uninstalled", "token_revoked", "invalid_auth", "account_inactive", "not_authed")


def pause_note(pause: DeliveryPause) -> dict[str, Any]:
    """``/readyz`` stays 200 while paused (alerts are still accepted and kept), and says why."""
    try:
        state = pause.current()
    except Exception as error:  # the database check of /readyz reports an outage already
        return {"slack_delivery": {"state": "unknown", "error": type(error).__name__}}
    if state is None:
        return {"slack_delivery": {"state": "running"}}
    return {
        "slack_delivery": {"state": "paused", "reason": state.reason, "since": state.since.isoformat(), "detail": state.describe()},
        "warnings": [state.describe()],
    }


class PauseCollector(Collector):
    """``firebreak_slack_delivery_paused{reason}``: 1 for the reason delivery is paused, else 0."""

    def __init__(self, pause: DeliveryPause) -> None:
        self._pause = pause

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """Names for the registry without a database read (the schema may not exist yet)."""
        yield _family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = _family()
        try:
            state = self._pause.current()
        except Exception:  # a scrape during a database outage still answers
            return
        reasons = REASONS if state is None or state.reason in REASONS else (*REASONS, state.reason)
        for reason in reasons:
            gauge.add_metric([reason], 1.0 if state is not None and state.reason == reason else 0.0)
        yield gauge


def _family() -> GaugeMetricFamily:
    return GaugeMetricFamily("firebreak_slack_delivery_paused", "1 while Slack delivery is paused, labelled with why", labels=["reason"])
