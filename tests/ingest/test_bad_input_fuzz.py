"""Property tests: input that can never succeed gets a 4xx with a JSON error, never a 5xx,
and writes nothing at all (every table keeps zero rows).

Covers malformed JSON, wrong types, missing fields, unknown versions, oversized bodies and,
for PagerDuty, correctly signed but malformed events; plus replays of valid events.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from starlette.testclient import TestClient

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from tests.conftest import make_settings
from tests.fakes.alertmanager_payloads import firing_group
from tests.fakes.pagerduty_webhook import webhook_body, webhook_event, webhook_headers
from tests.ingest.conftest import PD_SECRET
from tests.ingest.support import TOKEN, bearer, client, row_counts

MAX_BODY = 4096
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
BAD = {400, 413, 415, 422}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def fuzz_client(db_url: str, engine: Engine, clock: FrozenClock) -> Iterator[tuple[Container, TestClient]]:
    settings_ = make_settings(db_url, ALERTMANAGER_TOKEN=TOKEN, PAGERDUTY_WEBHOOK_SECRET=PD_SECRET, FIREBREAK_MAX_BODY_BYTES=MAX_BODY)
    container = build_container(settings_, clock=clock, transcript_stream=io.StringIO(), engine=engine)
    with client(container) as http:
        yield container, http


def assert_rejected(container: Container, response: Any) -> None:
    assert response.status_code in BAD, (response.status_code, response.text)
    assert isinstance(response.json()["error"], str) and response.json()["error"]
    assert sum(row_counts(container).values()) == 0


def mutate(document: dict[str, Any], path: list[Any], action: str, value: Any) -> dict[str, Any]:
    """Delete the field at ``path`` or replace it with ``value`` (a wrong type)."""
    out = copy.deepcopy(document)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


#: (path, action, value): each change alone makes a valid group one that can never succeed.
AM_BREAKAGES: list[tuple[list[Any], str, Any]] = [
    *[(path, "delete", None) for path in (["version"], ["groupKey"], ["status"], ["alerts"], ["alerts", 0, "status"], ["alerts", 0, "labels"])],
    *[(["version"], "replace", v) for v in (7, None, "3", [], "")],
    *[(["groupKey"], "replace", v) for v in (None, 7, [], "", {})],
    *[(["status"], "replace", v) for v in ("pending", None, 7)],
    *[(["alerts"], "replace", v) for v in ([], None, {}, "x", [1])],
    *[(["alerts", 0, "status"], "replace", v) for v in ("x", None, 7)],
    *[(["alerts", 0, "labels"], "replace", v) for v in (None, [], "x", {"a": 1})],
    *[(["alerts", 0, "labels", "severity"], "replace", v) for v in (5, None, [], {})],
    *[(["truncatedAlerts"], "replace", v) for v in (-1, "x", 3.5, True, None)],
    *[(["alerts", 0, "startsAt"], "replace", v) for v in (7, "yesterday", [], 3.5)],
    *[(["alerts", 0, "endsAt"], "replace", v) for v in (7, "not-a-time")],
    *[(["alerts", 0, "annotations"], "replace", v) for v in ("x", [], {"a": 1})],
    *[(["commonLabels"], "replace", v) for v in ("x", [1])],
    *[(["alerts", 0, "fingerprint"], "replace", v) for v in (7, "f" * 200)],
]


@FUZZ
@given(raw=st.binary(max_size=300))
def test_alertmanager_random_bytes(fuzz_client: tuple[Container, TestClient], raw: bytes) -> None:
    container, http = fuzz_client
    assert_rejected(container, http.post("/webhooks/alertmanager", content=raw, headers={**bearer(), "Content-Type": "application/json"}))


@FUZZ
@given(value=json_values)
def test_alertmanager_arbitrary_json(fuzz_client: tuple[Container, TestClient], value: Any) -> None:
    container, http = fuzz_client
    assert_rejected(container, http.post("/webhooks/alertmanager", content=json.dumps(value), headers={**bearer(), "Content-Type": "application/json"}))


@FUZZ
@given(breakage=st.sampled_from(AM_BREAKAGES), alerts=st.integers(min_value=1, max_value=3))
def test_alertmanager_missing_fields_and_wrong_types(fuzz_client: tuple[Container, TestClient], breakage: tuple[list[Any], str, Any], alerts: int) -> None:
    container, http = fuzz_client
    path, action, value = breakage
    body = mutate(firing_group(count=alerts), path, action, value)
    response = http.post("/webhooks/alertmanager", content=json.dumps(body), headers={**bearer(), "Content-Type": "application/json"})
    assert_rejected(container, response)


@FUZZ
@given(version=st.text(max_size=8).filter(lambda v: v != "4") | st.integers())
def test_alertmanager_unknown_versions(fuzz_client: tuple[Container, TestClient], version: Any) -> None:
    container, http = fuzz_client
    response = http.post("/webhooks/alertmanager", json={**firing_group(), "version": version}, headers=bearer())
    assert_rejected(container, response)
    assert response.status_code == 422


@FUZZ
@given(extra=st.integers(min_value=1, max_value=50_000), chunked=st.booleans())
def test_huge_bodies_are_413(fuzz_client: tuple[Container, TestClient], extra: int, chunked: bool) -> None:
    container, http = fuzz_client
    body = json.dumps({**firing_group(), "padding": "x" * (MAX_BODY + extra)}).encode()
    content: Any = iter([body[i : i + 1024] for i in range(0, len(body), 1024)]) if chunked else body
    for url, headers in (("/webhooks/alertmanager", bearer()), ("/webhooks/pagerduty", webhook_headers(PD_SECRET, body))):
        response = http.post(url, content=content, headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 413
        assert sum(row_counts(container).values()) == 0
        content = iter([body[i : i + 1024] for i in range(0, len(body), 1024)]) if chunked else body


PD_BREAKAGES: list[tuple[list[Any], str, Any]] = [
    *[(path, "delete", None) for path in (["event"], ["event", "id"], ["event", "event_type"], ["event", "data"], ["event", "data", "id"])],
    *[(["event"], "replace", v) for v in (None, 7, [], "x")],
    *[(["event", "id"], "replace", v) for v in (None, 7, "", [])],
    *[(["event", "event_type"], "replace", v) for v in (None, 7, "", {})],
    *[(["event", "data"], "replace", v) for v in (None, 7, [], "x")],
    *[(["event", "data", "id"], "replace", v) for v in (None, 7, "", "Q" * 65)],
    *[(["event", "data", "title"], "replace", v) for v in (12, [], {})],
    *[(["event", "data", "assignees"], "replace", v) for v in (12, "x", [1])],
    *[(["event", "agent"], "replace", v) for v in (7, "x", [1], {"summary": "no id"})],
    *[(["event", "occurred_at"], "replace", v) for v in ("never", [])],
]


@FUZZ
@given(
    event_type=st.sampled_from(["incident.triggered", "incident.acknowledged", "incident.resolved", "incident.priority_updated"]),
    breakage=st.sampled_from(PD_BREAKAGES),
)
def test_pagerduty_signed_but_malformed(fuzz_client: tuple[Container, TestClient], event_type: str, breakage: tuple[list[Any], str, Any]) -> None:
    container, http = fuzz_client
    path, action, value = breakage
    event = mutate(webhook_event(event_type), path, action, value)
    body = json.dumps(event).encode()
    response = http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PD_SECRET, body))
    assert_rejected(container, response)


@FUZZ
@given(raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_pagerduty_signed_garbage(fuzz_client: tuple[Container, TestClient], raw: bytes) -> None:
    container, http = fuzz_client
    response = http.post("/webhooks/pagerduty", content=raw, headers=webhook_headers(PD_SECRET, raw))
    if response.status_code == 200:  # a well-formed event of a type Firebreak ignores
        assert response.json()["status"] == "ignored"
        assert sum(row_counts(container).values()) == 0
    else:
        assert_rejected(container, response)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    event_type=st.sampled_from(["incident.triggered", "incident.acknowledged", "incident.resolved", "incident.reopened", "incident.escalated"]),
    incident_id=st.from_regex(r"\AQ[A-Z0-9]{5}\Z"),
    replays=st.integers(min_value=1, max_value=3),
)
def test_replayed_events_change_nothing(fuzz_client: tuple[Container, TestClient], event_type: str, incident_id: str, replays: int) -> None:
    container, http = fuzz_client
    event = webhook_event(event_type, incident_id=incident_id)
    body = webhook_body(event)
    first = http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PD_SECRET, body))
    assert first.status_code == 202
    before = row_counts(container)
    for _ in range(replays):
        again = http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PD_SECRET, body))
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert row_counts(container) == before
