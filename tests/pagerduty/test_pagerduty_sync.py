"""Firebreak → PagerDuty through the outbox, against the fake PagerDuty on loopback (HTTPS).

Checks the calls Firebreak makes: From header, acknowledge/resolve/notes over REST, Events
API v2 trigger/resolve with dedup key INC-<n>, paging a policy, the on-call lookup, how
HTTP errors map to retries, and that changes which came from PagerDuty are not echoed.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.container import Container, build_container
from bot.delivery.message import DeliveryError, OutboxMessage
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.pagerduty.client import events_client, rest_client
from bot.pagerduty.deliverer import PagerDutyDeliverer
from bot.service.oncall import OnCall
from bot.store.models import IncidentRow, OutboxRow
from tests.conftest import make_settings
from tests.fakes.fixtures import PAGERDUTY_FROM_EMAIL, PAGERDUTY_WEBHOOK_SECRET
from tests.fakes.pagerduty_api import DEFAULT_ROUTING_KEY, FakePagerDuty
from tests.fakes.pagerduty_webhook import webhook_body, webhook_event, webhook_headers
from tests.ingest.support import client, rows


@pytest.fixture
def pd_container(fake_pagerduty_env: FakePagerDuty, db_url: str, engine: Engine, clock: FrozenClock) -> Iterator[Container]:
    yield build_container(make_settings(db_url), clock=clock, transcript_stream=io.StringIO(), engine=engine)


def drain(container: Container) -> None:
    assert asyncio.run(container.worker.drain(timeout=20))


def pd_outbox(container: Container) -> list[OutboxRow]:
    return rows(container, OutboxRow, target="pagerduty")


def link_from_webhook(container: Container, incident_id: str = "Q0INC01") -> None:
    body = webhook_body(webhook_event("incident.triggered", incident_id=incident_id, priority="P2"))
    with client(container) as http:
        response = http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PAGERDUTY_WEBHOOK_SECRET, body))
    assert response.status_code == 202, response.text


def message(operation: str, payload: dict, attempt: int = 1) -> OutboxMessage:
    return OutboxMessage(id=1, idempotency_key=f"k:{operation}", target="pagerduty", operation=operation, payload=payload, incident_id=1, attempt=attempt)


def test_ack_note_resolve_reach_pagerduty_with_from_header(pd_container: Container, fake_pagerduty: FakePagerDuty) -> None:
    link_from_webhook(pd_container)
    assert pd_outbox(pd_container) == []  # what came from PagerDuty is not sent back
    pd_container.service.acknowledge(1, actor="alice", source=Source.CONSOLE)
    pd_container.service.add_note(1, "Rolled back 1234", actor="alice", source=Source.SLACK)
    pd_container.service.resolve(1, actor="alice", source=Source.CONSOLE)
    assert [row.operation for row in pd_outbox(pd_container)] == ["acknowledge", "note", "resolve"]
    drain(pd_container)
    puts = fake_pagerduty.calls("PUT /incidents/{id}", ok=True)
    assert [call.params["body"]["incident"]["status"] for call in puts] == ["acknowledged", "resolved"]
    assert all(call.headers.get("from") == PAGERDUTY_FROM_EMAIL for call in puts)
    stored = fake_pagerduty.incident("Q0INC01")
    assert stored["status"] == "resolved"
    assert [note["content"] for note in stored["notes"]] == ["Rolled back 1234"]
    assert {row.status for row in pd_outbox(pd_container)} == {"delivered"}


def test_changes_from_pagerduty_are_never_echoed(pd_container: Container) -> None:
    link_from_webhook(pd_container)
    for event_type in ("incident.acknowledged", "incident.resolved"):
        body = webhook_body(webhook_event(event_type, incident_id="Q0INC01"))
        with client(pd_container) as http:
            http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PAGERDUTY_WEBHOOK_SECRET, body))
    assert pd_container.service.get(1).status.value == "resolved"
    assert pd_outbox(pd_container) == []


def test_p1_not_from_pagerduty_pages_through_events_api_and_resolves_it(pd_container: Container, fake_pagerduty: FakePagerDuty) -> None:
    pd_container.service.declare(title="Checkout down", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    pd_container.service.declare(title="Typo on page", severity=Severity.P2, actor="alice", source=Source.CONSOLE)
    drain(pd_container)
    pd_container.service.resolve(1, actor="alice", source=Source.CONSOLE)
    drain(pd_container)
    events = fake_pagerduty.events
    assert [(e["event_action"], e["dedup_key"]) for e in events] == [("trigger", "INC-1"), ("resolve", "INC-1")]
    assert events[0]["payload"]["severity"] == "critical" and "Checkout down" in events[0]["payload"]["summary"]
    assert events[0]["routing_key"] == DEFAULT_ROUTING_KEY
    assert [row.operation for row in pd_outbox(pd_container)] == ["trigger", "resolve_event"]


def test_events_api_trigger_carries_only_http_links(pd_container: Container, fake_pagerduty: FakePagerDuty) -> None:
    """Alert text is hostile: a javascript:/data: URL must not become a link on the PagerDuty
    alert, as it becomes no bookmark in Slack, and bidi overrides are removed from the summary
    as everywhere text is shown (docs/text-safety.md)."""
    links = {"runbook": "https://runbooks.example.com/checkout", "click me": "javascript:alert(document.cookie)", "data": "data:text/html,<script>1</script>"}
    pd_container.service.declare(title="Checkout \u202edown", severity=Severity.P1, actor="alice", source=Source.CONSOLE, links=links)
    drain(pd_container)
    (trigger,) = fake_pagerduty.events
    assert trigger["payload"]["summary"].endswith("Checkout down")  # no bidi override in what pagers show
    assert trigger["links"] == [{"href": "https://runbooks.example.com/checkout", "text": "runbook"}]


def test_a_blank_source_label_does_not_cost_the_page(pd_container: Container, fake_pagerduty: FakePagerDuty) -> None:
    """payload.source is required and must not be blank (PagerDuty answers 400 and the page is
    lost): an ``instance`` label of spaces falls back like a missing one."""
    pd_container.service.declare(title="Checkout down", severity=Severity.P1, actor="alice", source=Source.CONSOLE, labels={"instance": "   ", "job": " \t"})
    drain(pd_container)
    (trigger,) = fake_pagerduty.events
    assert trigger["payload"]["source"] == "firebreak"


def test_raising_severity_to_p1_pages_once(pd_container: Container, fake_pagerduty: FakePagerDuty) -> None:
    pd_container.service.declare(title="Slow", severity=Severity.P3, actor="a", source=Source.CONSOLE)
    pd_container.service.change_severity(1, Severity.P1, actor="a", source=Source.CONSOLE)
    pd_container.service.change_severity(1, Severity.P0, actor="a", source=Source.CONSOLE)
    drain(pd_container)
    assert [e["dedup_key"] for e in fake_pagerduty.events] == ["INC-1"]


def test_oncall_lookup_lists_people_by_level(pd_container: Container, fake_pagerduty: FakePagerDuty) -> None:
    people = asyncio.run(pd_container.oncall.on_call("PEPPRIM"))
    assert people == [OnCall("Alice Example", "alice@example.com"), OnCall("Bob Example", "bob@example.com")]
    call = fake_pagerduty.calls("GET /oncalls")[0]
    assert "PEPPRIM" in str(call.params)


def test_oncall_lookup_reads_every_page(pd_container: Container, fake_pagerduty: FakePagerDuty) -> None:
    """GET /oncalls is paginated (``limit`` at most 100, ``more``): people past the first page
    are on call too and must be invited."""
    for index in range(120):
        user = fake_pagerduty.account.add_user(f"Responder {index}", f"r{index}@example.com")
        fake_pagerduty.account.add_oncall("PEPPRIM", user["id"], level=3)
    people = asyncio.run(pd_container.oncall.on_call("PEPPRIM"))
    assert len(people) == 122 and people[-1].email == "r119@example.com"
    assert len(fake_pagerduty.calls("GET /oncalls")) == 2


def test_oncall_lookup_failures_say_whether_to_ask_again(pd_container: Container, fake_pagerduty: FakePagerDuty) -> None:
    fake_pagerduty.fail_next("GET /oncalls", status=403)
    with pytest.raises(DeliveryError) as refused:
        asyncio.run(pd_container.oncall.on_call("PEPPRIM"))
    assert not refused.value.retryable and "403" in str(refused.value)
    fake_pagerduty.rate_limit_next("GET /oncalls", retry_after=4)
    with pytest.raises(DeliveryError) as limited:
        asyncio.run(pd_container.oncall.on_call("PEPPRIM"))
    assert limited.value.retryable and limited.value.retry_after == 4


def test_page_opens_a_pagerduty_incident_once_and_links_it(fake_pagerduty: FakePagerDuty, container: Container) -> None:
    rest = rest_client(fake_pagerduty.api_token, base_url=fake_pagerduty.url, from_email=PAGERDUTY_FROM_EMAIL, verify=fake_pagerduty.client_ssl_context())
    deliverer = PagerDutyDeliverer(rest=rest, events=None, service_id="PSVCAPI")
    payload = {"number": 1, "escalation_policy_id": "PEPDB01", "title": "INC-1 DB \u202edown\x1b[2J", "incident_key": "firebreak-INC-1-escalation-2"}
    container.service.declare(title="DB down", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    result = asyncio.run(deliverer.deliver(message("page", payload)))
    with container.sessions.begin() as session:
        assert result.record is not None
        result.record(session)
    retried = asyncio.run(deliverer.deliver(message("page", payload, attempt=2)))  # crash after the POST
    assert retried.detail == result.detail
    posts = fake_pagerduty.calls("POST /incidents", ok=True)
    assert len(posts) == 1
    assert posts[0].params["body"]["incident"]["escalation_policy"]["id"] == "PEPDB01"
    assert posts[0].params["body"]["incident"]["title"] == "INC-1 DB down[2J"  # no bidi or control characters
    assert posts[0].headers.get("from") == PAGERDUTY_FROM_EMAIL
    assert rows(container, IncidentRow)[0].pagerduty_incident_id == result.detail["pagerduty_incident_id"]
    paged = [e for e in container.service.timeline(1) if e.kind is EntryKind.PAGED]
    assert len(paged) == 1 and paged[0].data["target"] == "PEPDB01"
    assert paged[0].data["pagerduty_incident_id"] == result.detail["pagerduty_incident_id"]
    user_page = asyncio.run(deliverer.deliver(message("page", {**payload, "escalation_policy_id": None, "user_id": "PUBOB01", "incident_key": "k2"})))
    assert user_page.detail["pagerduty_incident_id"] != result.detail["pagerduty_incident_id"]


def test_http_errors_map_to_retry_decisions(fake_pagerduty: FakePagerDuty) -> None:
    ctx = fake_pagerduty.client_ssl_context()
    rest = rest_client(fake_pagerduty.api_token, base_url=fake_pagerduty.url, from_email=PAGERDUTY_FROM_EMAIL, verify=ctx)
    events = events_client(DEFAULT_ROUTING_KEY, base_url=fake_pagerduty.events_url, verify=ctx)
    deliverer = PagerDutyDeliverer(rest=rest, events=events)
    ack = message("acknowledge", {"number": 1, "pagerduty_incident_id": "Q0INC01"})

    def error_of(msg: OutboxMessage, d: PagerDutyDeliverer = deliverer) -> DeliveryError:
        with pytest.raises(DeliveryError) as caught:
            asyncio.run(d.deliver(msg))
        return caught.value

    fake_pagerduty.rate_limit_next("PUT /incidents/{id}", retry_after=7)
    limited = error_of(ack)
    assert limited.retryable and limited.retry_after == 7
    fake_pagerduty.fail_next("PUT /incidents/{id}", status=503)
    assert error_of(ack).retryable
    fake_pagerduty.fail_next("POST /v2/enqueue", status=500)
    assert error_of(message("trigger", {"number": 1, "dedup_key": "INC-1", "summary": "x", "severity": "critical"})).retryable
    missing = error_of(message("acknowledge", {"number": 1, "pagerduty_incident_id": "QNOPE"}))
    assert not missing.retryable and "404" in str(missing)
    unknown = error_of(message("teleport", {}))
    assert not unknown.retryable
    closed = rest_client("t", base_url="https://127.0.0.1:1", from_email=PAGERDUTY_FROM_EMAIL, verify=ctx)
    assert error_of(ack, PagerDutyDeliverer(rest=closed, events=None)).retryable
    # one try each (the outbox does the retrying); the unreachable one never got that far
    assert len(fake_pagerduty.calls("PUT /incidents/{id}")) == 2
    assert len(fake_pagerduty.calls("GET /incidents/{id}")) == 3
