"""pytest fixtures for the fakes. Enable with ``pytest_plugins = ["tests.fakes.fixtures"]``
in the top-level ``tests/conftest.py`` (or import the fixtures in a lower conftest).

Each fixture starts its server on an ephemeral loopback port and stops it at teardown, so
tests can run in parallel and never leak threads or processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.alertmanager_process import AlertmanagerProcess, find_alertmanager
from tests.fakes.pagerduty_api import DEFAULT_ROUTING_KEY, FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.fakes.webhook_receiver import WebhookReceiver

SLACK_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PAGERDUTY_FROM_EMAIL = "firebreak@example.com"
PAGERDUTY_WEBHOOK_SECRET = "pd-webhook-secret-for-tests"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A running fake Slack Web API without rate limits (see ``make_fake_slack`` for those)."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def make_fake_slack() -> Iterator[Callable[..., FakeSlack]]:
    """Factory: ``make_fake_slack(rate_limit_scale=60)`` returns a started fake, stopped at teardown."""
    started: list[FakeSlack] = []

    def make(**kwargs: Any) -> FakeSlack:
        fake = FakeSlack(**kwargs).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def fake_slack_env(fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> FakeSlack:
    """``fake_slack`` plus the settings that point Firebreak at it (``SLACK_API_URL`` etc.)."""
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake_slack.token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SLACK_SIGNING_SECRET)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    return fake_slack


@pytest.fixture
def fake_pagerduty() -> Iterator[FakePagerDuty]:
    """A running fake PagerDuty (REST + Events v2, HTTPS) with the default seed data."""
    with FakePagerDuty() as fake:
        yield fake


@pytest.fixture
def fake_pagerduty_env(
    fake_pagerduty: FakePagerDuty, monkeypatch: pytest.MonkeyPatch
) -> FakePagerDuty:
    """``fake_pagerduty`` plus the ``PAGERDUTY_*`` settings and ``SSL_CERT_FILE`` trusting its CA."""
    monkeypatch.setenv("PAGERDUTY_API_URL", fake_pagerduty.url)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", fake_pagerduty.events_url)
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", fake_pagerduty.api_token)
    monkeypatch.setenv("PAGERDUTY_FROM_EMAIL", PAGERDUTY_FROM_EMAIL)
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", DEFAULT_ROUTING_KEY)
    monkeypatch.setenv("PAGERDUTY_WEBHOOK_SECRET", PAGERDUTY_WEBHOOK_SECRET)
    if fake_pagerduty.ca_file:
        monkeypatch.setenv("SSL_CERT_FILE", fake_pagerduty.ca_file)
    return fake_pagerduty


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A loopback endpoint recording every request it receives."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def alertmanager_binary() -> str:
    """Path of ``prometheus-alertmanager``; skips the test when it is not installed.

    CI sets FIREBREAK_REQUIRE_ALERTMANAGER=1 so a missing binary fails instead of skipping.
    """
    binary = find_alertmanager()
    if binary is None:
        if os.environ.get("FIREBREAK_REQUIRE_ALERTMANAGER") == "1":
            pytest.fail("prometheus-alertmanager is required (FIREBREAK_REQUIRE_ALERTMANAGER=1) but not installed")
        pytest.skip(
            "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
        )
    return binary


@pytest.fixture
def alertmanager(
    alertmanager_binary: str, tmp_path: Path
) -> Iterator[Callable[..., AlertmanagerProcess]]:
    """Factory: ``alertmanager(webhook_url, bearer_token=..., repeat_interval="3s")`` starts a real
    Alertmanager (ready when returned); every one started is stopped at teardown."""
    started: list[AlertmanagerProcess] = []

    def start(webhook_url: str, **config: Any) -> AlertmanagerProcess:
        workdir = tmp_path / f"alertmanager-{len(started)}"
        process = AlertmanagerProcess(
            webhook_url, workdir, binary=alertmanager_binary, **config
        )
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
