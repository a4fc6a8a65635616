"""Fakes of Firebreak's external systems, for tests and benchmarks.

Real HTTP servers on 127.0.0.1 (ephemeral ports) rather than patched clients: the Slack async
client runs on aiohttp, the PagerDuty client on httpx2, Alertmanager is a Go binary, and only
a socket looks the same to all of them. See ``fixtures.py`` for the pytest fixtures.
"""

from tests.fakes.alertmanager_process import AlertmanagerProcess, find_alertmanager
from tests.fakes.pagerduty_api import (
    DEFAULT_API_TOKEN,
    DEFAULT_ROUTING_KEY,
    FakePagerDuty,
)
from tests.fakes.pagerduty_webhook import (
    sign_pagerduty,
    webhook_body,
    webhook_event,
    webhook_headers,
)
from tests.fakes.rate_limits import Limit
from tests.fakes.recorder import Call, CallLog
from tests.fakes.slack_api import DEFAULT_TOKEN as SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import sign_slack_request
from tests.fakes.tls import LoopbackCA, loopback_ca
from tests.fakes.webhook_receiver import Received, WebhookReceiver

__all__ = [
    "DEFAULT_API_TOKEN",
    "DEFAULT_ROUTING_KEY",
    "SLACK_TOKEN",
    "AlertmanagerProcess",
    "Call",
    "CallLog",
    "FakePagerDuty",
    "FakeSlack",
    "Limit",
    "LoopbackCA",
    "Received",
    "WebhookReceiver",
    "find_alertmanager",
    "loopback_ca",
    "sign_pagerduty",
    "sign_slack_request",
    "webhook_body",
    "webhook_event",
    "webhook_headers",
]
