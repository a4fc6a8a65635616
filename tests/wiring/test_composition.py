"""The composition root hands each component what it uses, whatever else is configured.

Before, the Slack backend read the on-call directory the PagerDuty set-up had left in the
container, and the playbook steps were assigned into its deliverer afterwards; these tests
pin what each component now receives in its constructor.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.container import build_container
from bot.delivery.message import DeliveryError, OutboxMessage
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.pagerduty.deliverer import PagerDutyDeliverer
from bot.pagerduty.oncall import PagerDutyOncallDirectory
from bot.pagerduty.outbound import PagerDutyNotConfigured, pagerduty_outbound
from bot.service.oncall import NoOncallDirectory
from tests.conftest import make_settings
from tests.wiring.test_playbook_escalation import PLAYBOOK

#: Nothing listens here: these tests build clients, they never call them.
NOWHERE = "https://127.0.0.1:9"
PAGERDUTY = {
    "PAGERDUTY_API_TOKEN": "pd-token",
    "PAGERDUTY_FROM_EMAIL": "firebreak@example.com",
    "PAGERDUTY_SERVICE_ID": "PSVC001",
    "PAGERDUTY_API_URL": NOWHERE,
}


def page() -> OutboxMessage:
    payload = {"escalation_policy_id": "PPOLICY", "title": "INC-1"}
    return OutboxMessage(id=1, idempotency_key="k", target="pagerduty", operation="page", payload=payload, incident_id=1, attempt=1)


def test_without_pagerduty_a_page_is_given_up_at_once_saying_why(db_url: str, clock: FrozenClock) -> None:
    outbound = pagerduty_outbound(make_settings(db_url), clock=clock)
    assert isinstance(outbound.deliverer, PagerDutyNotConfigured)
    assert isinstance(outbound.oncall, NoOncallDirectory) and outbound.sync is None
    with pytest.raises(DeliveryError) as raised:
        asyncio.run(outbound.deliverer.deliver(page()))
    assert raised.value.retryable is False
    assert "PAGERDUTY_API_TOKEN is not set" in str(raised.value) and "nobody was paged" in str(raised.value)


def test_with_credentials_pages_sync_and_on_call_use_the_rest_api(db_url: str, clock: FrozenClock) -> None:
    outbound = pagerduty_outbound(make_settings(db_url, **PAGERDUTY), clock=clock)
    assert isinstance(outbound.deliverer, PagerDutyDeliverer)
    assert isinstance(outbound.oncall, PagerDutyOncallDirectory)
    assert outbound.sync is not None and outbound.gap is None


def test_without_a_service_id_pages_are_delivered_but_the_gap_is_named(db_url: str, clock: FrozenClock) -> None:
    settings = make_settings(db_url, **{**PAGERDUTY, "PAGERDUTY_SERVICE_ID": ""})
    outbound = pagerduty_outbound(settings, clock=clock)
    assert isinstance(outbound.deliverer, PagerDutyDeliverer)
    assert outbound.gap is not None and "PAGERDUTY_SERVICE_ID" in outbound.gap


def test_slack_gets_the_pagerduty_on_call_directory_and_the_playbook_steps(
    db_url: str, engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    (tmp_path / "payments-down.yaml").write_text(PLAYBOOK)
    settings = make_settings(
        db_url,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="b7c1d0e9f2a34c5d",
        SLACK_API_URL=f"{NOWHERE}/api/",
        FIREBREAK_PLAYBOOKS_DIR=str(tmp_path),
        **PAGERDUTY,
    )
    container = build_container(settings, clock=clock, transcript_stream=None, engine=engine)
    try:
        assert container.slack is not None and not container.local_mode
        context = container.slack.deliverer.context
        assert isinstance(container.oncall, PagerDutyOncallDirectory) and context.oncall is container.oncall
        incident = container.service.declare(title="Payments failing", severity=Severity.P1, actor="a", source=Source.CONSOLE)
        steps = context.steps_for(incident.number)
        assert [(step.number, step.state) for step in steps] == [(1, "pending")]
        assert steps[0].text == "Check the payment provider status page"
    finally:
        container.close()


def test_local_mode_has_no_slack_and_the_console_delivers_chat(db_url: str, engine: Engine, clock: FrozenClock) -> None:
    container = build_container(make_settings(db_url), clock=clock, transcript_stream=None, engine=engine)
    try:
        assert container.slack is None and container.local_mode
        assert isinstance(container.oncall, NoOncallDirectory)
        assert container.worker.has_deliverer("chat") and container.worker.has_deliverer("pagerduty")
    finally:
        container.close()
