"""Outbound PagerDuty calls held to PagerDuty's API reference, against the fake PagerDuty
(which behaves as documented: From required, acknowledge reopens a resolved incident, one
open incident per service and incident_key, Events API alerts open until resolved)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.container import Container, build_container
from bot.delivery.message import OutboxMessage
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.pagerduty.client import rest_client
from bot.pagerduty.deliverer import PagerDutyDeliverer
from bot.settings import SettingsError, load_settings
from bot.store.models import OutboxRow
from tests.conftest import make_settings
from tests.fakes.fixtures import PAGERDUTY_FROM_EMAIL, PAGERDUTY_WEBHOOK_SECRET
from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.pagerduty_webhook import webhook_body, webhook_event, webhook_headers
from tests.ingest.support import client, rows

TWO_TARGETS = "unacknowledged:5m:pd:PEPPRIM+pd_user:PUBOB01"


@pytest.fixture
def pd_container(fake_pagerduty_env: FakePagerDuty, db_url: str, engine: Engine, clock: FrozenClock) -> Iterator[Container]:
    settings = make_settings(db_url, PAGERDUTY_SERVICE_ID="PSVCAPI", FIREBREAK_DEFAULT_ESCALATION=TWO_TARGETS)
    yield build_container(settings, clock=clock, transcript_stream=io.StringIO(), engine=engine)


def drain(container: Container) -> None:
    assert asyncio.run(container.worker.drain(timeout=20))


def deliverer(fake: FakePagerDuty) -> PagerDutyDeliverer:
    rest = rest_client(fake.api_token, base_url=fake.url, from_email=PAGERDUTY_FROM_EMAIL, verify=fake.client_ssl_context())
    return PagerDutyDeliverer(rest=rest, events=None, service_id="PSVCAPI")


def message(operation: str, payload: dict, attempt: int = 1) -> OutboxMessage:
    return OutboxMessage(id=1, idempotency_key=f"k:{operation}", target="pagerduty", operation=operation, payload=payload, incident_id=1, attempt=attempt)


def link(container: Container, incident_id: str = "Q0INC01", incident_key: str | None = None) -> None:
    body = webhook_body(webhook_event("incident.triggered", incident_id=incident_id, priority="P2", incident_key=incident_key))
    with client(container) as http:
        response = http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PAGERDUTY_WEBHOOK_SECRET, body))
    assert response.status_code == 202, response.text


# -- 1. From ------------------------------------------------------------------------------------


def test_a_rest_token_without_from_email_is_a_settings_error_naming_it() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, PAGERDUTY_API_TOKEN="u+token")
    assert "PAGERDUTY_FROM_EMAIL" in str(caught.value)
    with pytest.raises(SettingsError) as bad:
        load_settings(_env_file=None, PAGERDUTY_API_TOKEN="u+token", PAGERDUTY_FROM_EMAIL="firebreak")
    assert "PAGERDUTY_FROM_EMAIL" in str(bad.value)
    # Events API v2 alone needs no From.
    assert load_settings(_env_file=None, PAGERDUTY_ROUTING_KEY="R" * 32).pagerduty_from_email is None
    assert load_settings(_env_file=None, PAGERDUTY_API_TOKEN="u+t", PAGERDUTY_FROM_EMAIL=" a@b.example ").pagerduty_from_email == "a@b.example"


def test_every_rest_write_we_make_carries_from(pd_container: Container, fake_pagerduty: FakePagerDuty, clock: FrozenClock) -> None:
    link(pd_container)
    pd_container.service.add_note(1, "Rolled back", actor="alice", source=Source.CONSOLE)
    pd_container.service.declare(title="DB down", severity=Severity.P2, actor="a", source=Source.CONSOLE)
    clock.advance(minutes=10)
    assert pd_container.escalation is not None and pd_container.escalation.tick() >= 1
    pd_container.service.resolve(1, actor="alice", source=Source.CONSOLE)
    drain(pd_container)
    writes = [c for c in fake_pagerduty.calls() if c.method.split()[0] in ("POST", "PUT") and c.method != "POST /v2/enqueue"]
    assert {c.method for c in writes} >= {"POST /incidents", "PUT /incidents/{id}", "POST /incidents/{id}/notes"}
    assert all(c.headers.get("from") == PAGERDUTY_FROM_EMAIL and c.status < 400 for c in writes), [(c.method, c.status) for c in writes]


# -- 2. never reopen by acknowledging -----------------------------------------------------------


def test_a_late_acknowledge_never_reopens_an_incident_resolved_in_pagerduty(pd_container: Container, fake_pagerduty: FakePagerDuty) -> None:
    link(pd_container)
    fake_pagerduty.account.incidents["Q0INC01"]["status"] = "resolved"  # resolved in PagerDuty; its webhook is on the way
    pd_container.service.acknowledge(1, actor="alice", source=Source.CONSOLE)
    drain(pd_container)
    stored = fake_pagerduty.incident("Q0INC01")
    assert stored["status"] == "resolved" and "reopened" not in stored
    assert fake_pagerduty.calls("PUT /incidents/{id}") == []
    delivered = rows(pd_container, OutboxRow, target="pagerduty", operation="acknowledge")
    assert [row.status for row in delivered] == ["delivered"]


def test_acknowledge_and_resolve_when_already_there_are_done_without_a_write(fake_pagerduty: FakePagerDuty) -> None:
    d = deliverer(fake_pagerduty)
    ack = message("acknowledge", {"number": 1, "pagerduty_incident_id": "Q0INC01"})
    assert asyncio.run(d.deliver(ack)).detail == {"status": "acknowledged"}
    assert asyncio.run(d.deliver(ack)).detail == {"status": "acknowledged", "already": True}
    resolve = message("resolve", {"number": 1, "pagerduty_incident_id": "Q0INC01"})
    asyncio.run(d.deliver(resolve))
    assert asyncio.run(d.deliver(resolve)).detail == {"status": "resolved", "already": True}
    late = asyncio.run(d.deliver(message("acknowledge", {"number": 1, "pagerduty_incident_id": "Q0INC01"}, attempt=3)))
    assert late.detail["status"] == "resolved" and "would reopen" in late.detail["skipped"]
    assert [c.params["body"]["incident"]["status"] for c in fake_pagerduty.calls("PUT /incidents/{id}")] == ["acknowledged", "resolved"]
    assert fake_pagerduty.incident("Q0INC01")["status"] == "resolved"


# -- 3. one incident_key per target and cycle -----------------------------------------------------


def test_two_targets_in_one_level_each_get_a_page_and_a_reopen_pages_again(
    pd_container: Container, fake_pagerduty: FakePagerDuty, clock: FrozenClock
) -> None:
    assert pd_container.escalation is not None
    pd_container.service.declare(title="Checkout down", severity=Severity.P2, actor="a", source=Source.CONSOLE)
    clock.advance(minutes=10)
    assert pd_container.escalation.tick() == 1
    drain(pd_container)
    first = fake_pagerduty.calls("POST /incidents")
    assert [c.status for c in first] == [201, 201]
    keys = [c.params["body"]["incident"]["incident_key"] for c in first]
    assert sorted(keys) == ["INC-1-L1-c0-PEPPRIM", "INC-1-L1-c0-PUBOB01"]
    paged = [e for e in pd_container.service.timeline(1) if e.kind is EntryKind.PAGED]
    assert sorted(e.data["target"] for e in paged) == ["PEPPRIM", "PUBOB01"]

    pd_container.service.resolve(1, actor="a", source=Source.CONSOLE)
    drain(pd_container)
    opened = [c.response for c in first]
    assert all(b'"incident_key"' in body for body in opened)
    ours = [i for i in fake_pagerduty.account.incidents.values() if i["incident_key"].startswith("INC-1-")]
    assert sorted(i["status"] for i in ours) == ["resolved", "resolved"]  # both pages stop paging

    pd_container.service.reopen(1, actor="a", source=Source.CONSOLE)
    clock.advance(minutes=10)
    assert pd_container.escalation.tick() == 1
    drain(pd_container)
    again = fake_pagerduty.calls("POST /incidents")[2:]
    assert sorted(c.params["body"]["incident"]["incident_key"] for c in again) == ["INC-1-L1-c1-PEPPRIM", "INC-1-L1-c1-PUBOB01"]
    assert [c.status for c in again] == [201, 201]


def test_a_retried_page_finds_only_its_own_incident(fake_pagerduty: FakePagerDuty, container: Container) -> None:
    container.service.declare(title="DB down", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    d = deliverer(fake_pagerduty)
    base = {"number": 1, "escalation_policy_id": "PEPDB01", "title": "INC-1 DB down", "level": 1}
    cycle0 = asyncio.run(d.deliver(message("page", {**base, "incident_key": "INC-1-L1-c0-PEPDB01", "cycle": 0})))
    # The same key on another service must not be taken for ours.
    fake_pagerduty.account.add_incident("Other team's", "PSVCDB1", incident_key="INC-1-L1-c1-PEPDB01")
    retried = asyncio.run(d.deliver(message("page", {**base, "incident_key": "INC-1-L1-c1-PEPDB01", "cycle": 1}, attempt=2)))
    assert retried.detail["pagerduty_incident_id"] != cycle0.detail["pagerduty_incident_id"]
    lookups = fake_pagerduty.calls("GET /incidents")
    assert len(lookups) == 1
    params = lookups[0].params
    assert params["incident_key"] == "INC-1-L1-c1-PEPDB01" and params["service_ids[]"] == ["PSVCAPI"]
    assert sorted(params["statuses[]"]) == ["acknowledged", "resolved", "triggered"]
    # A retry after the POST landed finds it (any status) and does not page twice.
    again = asyncio.run(d.deliver(message("page", {**base, "incident_key": "INC-1-L1-c1-PEPDB01", "cycle": 1}, attempt=3)))
    assert again.detail == retried.detail
    assert len(fake_pagerduty.calls("POST /incidents", ok=True)) == 2


def test_a_page_refused_as_a_duplicate_key_is_linked_not_given_up(fake_pagerduty: FakePagerDuty, container: Container) -> None:
    container.service.declare(title="DB down", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    d = deliverer(fake_pagerduty)
    payload = {"number": 1, "user_id": "PUBOB01", "title": "INC-1 DB down", "incident_key": "INC-1-L2-c0-PUBOB01", "cycle": 0}
    first = asyncio.run(d.deliver(message("page", payload)))
    # An attempt whose answer was lost, retried as a first attempt (no look-up): PagerDuty says 400.
    second = asyncio.run(d.deliver(message("page", payload)))
    assert [c.status for c in fake_pagerduty.calls("POST /incidents")] == [201, 400]
    assert second.detail == first.detail


# -- 4. Events API alerts are acknowledged and resolved too ---------------------------------------


def test_events_alert_is_acknowledged_and_resolved_after_a_rest_link(pd_container: Container, fake_pagerduty: FakePagerDuty) -> None:
    pd_container.service.declare(title="Checkout down", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    drain(pd_container)
    assert fake_pagerduty.account.alerts["INC-1"]["status"] == "triggered"
    link(pd_container, "Q0INC01", incident_key="INC-1")  # PagerDuty's webhook links its incident
    pd_container.service.acknowledge(1, actor="alice", source=Source.CONSOLE)
    drain(pd_container)
    assert fake_pagerduty.account.alerts["INC-1"]["status"] == "acknowledged"
    pd_container.service.resolve(1, actor="alice", source=Source.CONSOLE)
    drain(pd_container)
    assert fake_pagerduty.account.alerts["INC-1"]["status"] == "resolved"
    assert fake_pagerduty.incident("Q0INC01")["status"] == "resolved"
    assert [(e["event_action"], e["dedup_key"]) for e in fake_pagerduty.events] == [
        ("trigger", "INC-1"),
        ("acknowledge", "INC-1"),
        ("resolve", "INC-1"),
    ]


def test_resolved_in_pagerduty_on_one_incident_closes_the_other_pages_and_the_alert(
    pd_container: Container, fake_pagerduty: FakePagerDuty, clock: FrozenClock
) -> None:
    assert pd_container.escalation is not None
    pd_container.service.declare(title="Checkout down", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    drain(pd_container)
    link(pd_container, "Q0INC01", incident_key="INC-1")
    clock.advance(minutes=10)
    assert pd_container.escalation.tick() == 1
    drain(pd_container)
    pages = [i for i in fake_pagerduty.account.incidents.values() if i["incident_key"].startswith("INC-1-L1-")]
    assert len(pages) == 2
    fake_pagerduty.account.incidents["Q0INC01"]["status"] = "resolved"  # someone resolved it in PagerDuty
    body = webhook_body(webhook_event("incident.resolved", incident_id="Q0INC01", incident_key="INC-1"))
    with client(pd_container) as http:
        http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PAGERDUTY_WEBHOOK_SECRET, body))
    assert pd_container.service.get(1).status.value == "resolved"
    drain(pd_container)
    assert sorted(i["status"] for i in pages) == ["resolved", "resolved"]
    assert fake_pagerduty.account.alerts["INC-1"]["status"] == "resolved"
    assert all(c.params["id"] != "Q0INC01" for c in fake_pagerduty.calls("PUT /incidents/{id}"))  # not echoed
