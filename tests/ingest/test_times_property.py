"""Property: whatever order Alertmanager, PagerDuty and chat events come in, and whatever
times their senders claim (zero, future, far past, out of order), every post-mortem export
follows the shipped JSON Schema and no figure in it is negative."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from bot.chat.slack.flagging import flag_message
from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.errors import DomainError
from bot.domain.source_time import FAR_PAST, FUTURE_SKEW
from bot.domain.timeline import Source
from bot.export.document import json_schema
from bot.export.service import Exporter
from bot.web import create_app
from tests.fakes.alertmanager_payloads import alert, payload, rfc3339
from tests.fakes.pagerduty_webhook import webhook_body, webhook_event, webhook_headers
from tests.ingest.conftest import PD_SECRET
from tests.ingest.support import bearer

VALIDATOR = jsonschema.Draft202012Validator(json_schema())

#: How a sender's time relates to the moment the webhook is sent.
TIME_KINDS = ("sane", "skewed", "zero", "future", "far_past", "epoch", "missing")

hostile_time = st.tuples(st.sampled_from(TIME_KINDS), st.integers(min_value=0, max_value=10**6))

am_event = st.tuples(st.just("am"), st.integers(0, 2), st.sampled_from(["firing", "resolved"]), hostile_time, hostile_time)
pd_event = st.tuples(
    st.just("pd"),
    st.integers(0, 1),
    st.sampled_from(["incident.triggered", "incident.acknowledged", "incident.resolved", "incident.unacknowledged", "incident.reopened"]),
    hostile_time,
)
chat_event = st.tuples(st.just("chat"), st.sampled_from(["ack", "mitigate", "resolve", "reopen", "note", "flag"]), hostile_time)
advance = st.tuples(st.just("advance"), st.integers(min_value=0, max_value=4 * 3600))
fold = st.tuples(st.just("fold"))
events = st.lists(st.one_of(am_event, pd_event, chat_event, advance, fold), min_size=1, max_size=25)


def claimed(kind: str, amount: int, now: datetime) -> str | None:
    if kind == "sane":
        return rfc3339(now - timedelta(seconds=amount % 7200))
    if kind == "skewed":  # within the allowed skew either way, so out of order with receipt
        return rfc3339(now + timedelta(seconds=amount % 300 - 150))
    if kind == "zero":
        return "0001-01-01T00:00:00Z"
    if kind == "future":
        return rfc3339(now + timedelta(minutes=6, seconds=amount * 300))
    if kind == "far_past":
        return rfc3339(now - timedelta(days=8, seconds=amount * 600))
    if kind == "epoch":
        return "1970-01-01T00:00:00Z"
    return None


class Driver:
    """Sends each event the way its source does; webhooks wait in the inbox until a fold."""

    def __init__(self, container: Container, clock: FrozenClock, http: TestClient, run: int) -> None:
        self.container, self.clock, self.http, self.run = container, clock, http, run
        self.before = max((incident.number for incident in container.service.recent(limit=1)), default=0)

    def incidents(self) -> list[int]:
        """The incidents this run opened (earlier examples' incidents are left alone)."""
        return sorted(incident.number for incident in self.container.service.recent(limit=1000) if incident.number > self.before)

    def send(self, event: tuple[Any, ...]) -> None:
        now = self.clock.now()
        if event[0] == "am":
            _, which, status, starts, ends = event
            labels = {"alertname": f"Prop{self.run}x{which % 2}", "severity": "critical", "instance": f"i{which}"}
            item = alert(labels, {"summary": "property"}, status=status, starts_at=now, ends_at=now if status == "resolved" else None)
            item["startsAt"] = claimed(*starts, now) or "0001-01-01T00:00:00Z"
            item["endsAt"] = claimed(*ends, now) or "0001-01-01T00:00:00Z"
            response = self.http.post("/webhooks/alertmanager", json=payload([item]), headers=bearer())
            assert response.status_code in (202, 422), response.text
        elif event[0] == "pd":
            _, which, event_type, occurred = event
            body_event = webhook_event(event_type, incident_id=f"QPROP{self.run}X{which}", priority="P1")
            stamp = claimed(*occurred, now)
            if stamp is None:
                body_event["event"].pop("occurred_at")
            else:
                body_event["event"]["occurred_at"] = stamp
            body = webhook_body(body_event)
            response = self.http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PD_SECRET, body))
            assert response.status_code in (202, 400, 422), response.text
        elif event[0] == "chat":
            self.chat(event[1], event[2], now)
        elif event[0] == "advance":
            self.clock.advance(seconds=event[1])
        else:
            self.container.ingester.apply_all()

    def chat(self, op: str, ts: tuple[str, int], now: datetime) -> None:
        service = self.container.service
        incidents = self.incidents()
        if not incidents:
            return
        number = incidents[-1]
        try:
            if op == "note":
                service.add_note(number, "looking", actor="alice", source=Source.SLACK)
            elif op == "flag":
                moment = claimed(*ts, now)
                slack_ts = f"{datetime.fromisoformat(moment.replace('Z', '+00:00')).timestamp():.6f}" if moment and moment[:4] > "0001" else "0.000000"
                flag_message(service, number, actor="alice", channel="C1", ts=slack_ts, author="bob", text="graph", permalink=None)
            else:
                getattr(service, {"ack": "acknowledge"}.get(op, op))(number, actor="alice", source=Source.SLACK)
        except DomainError:
            pass  # not allowed in this state: what a person would be told


def negative_numbers(value: Any, path: str = "") -> list[str]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [f"{path}={value}"] if value < 0 else []
    if isinstance(value, dict):
        return [found for key, item in value.items() if key != "data" for found in negative_numbers(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in negative_numbers(item, f"{path}[{index}]")]
    return []


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_runs = iter(range(10**9))


@pytest.mark.timeout(900)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=events)
def test_every_export_follows_the_schema_with_no_negative_figure(am_container: Container, clock: FrozenClock, sequence: list[tuple[Any, ...]]) -> None:
    run = next(_runs)
    # No lifespan (no background loops): the test folds the inbox itself, like the ingester would.
    http = TestClient(create_app(am_container, migrate=False, run_worker=False))
    driver = Driver(am_container, clock, http, run)
    for event in sequence:
        driver.send(event)
    am_container.ingester.apply_all()
    exporter = Exporter(am_container.sessions, clock=clock)
    for number in driver.incidents():
        document = exporter.document(number)
        VALIDATOR.validate(document)
        assert negative_numbers(document) == [], number
        figures = document["metrics"]
        assert figures["impact_started_at"] <= figures["detected_at"] <= document["generated_at"]
        for key in ("mtta", "time_to_mitigate", "mttr"):
            if figures[key] is not None:
                assert figures[key]["at"] >= figures["detected_at"], key
        assert _time(figures["impact_started_at"]) >= _time(figures["detected_at"]) - FAR_PAST
        for entry in document["timeline"]:
            if entry["source_time"] in ("zero", "future", "past", "invalid", "received"):
                assert entry["source_at"] == entry["received_at"], entry
            else:  # a source time kept is a sane one
                received = _time(entry["received_at"])
                assert received - FAR_PAST <= _time(entry["source_at"]) <= received + FUTURE_SKEW, entry
            assert entry["received_at"] <= entry["at"], entry
        exporter.render(number, "md")  # the markdown renders from the same document
