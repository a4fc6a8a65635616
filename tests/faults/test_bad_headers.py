"""Malformed headers on the webhook and post-mortem endpoints: a 4xx with a JSON error, never
a 5xx, and nothing written.

Hypothesis takes a request that would succeed (a valid Alertmanager group with its token, a
correctly signed PagerDuty event, a post-mortem GET with the API token) and spoils its headers:
non-ASCII or binary credentials, unknown schemes, huge values, repeated credential headers,
odd content types, many extra headers. Bodies nested past the depth limit are refused too.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from starlette.testclient import TestClient

from bot.container import build_container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.http.headers import MAX_HEADER_BYTES
from bot.ingest.webhook import MAX_JSON_DEPTH
from bot.web import create_app
from tests.conftest import make_settings
from tests.fakes.alertmanager_payloads import firing_group
from tests.fakes.pagerduty_webhook import sign_pagerduty, webhook_body, webhook_event
from tests.faults.support import table_counts

AM_TOKEN = "am-header-token"
API_TOKEN = "api-header-token"
PD_SECRET = "pd-header-secret"

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

Headers = list[tuple[bytes, bytes]]


@pytest.fixture
def app(db_url: str, engine: Engine, clock: FrozenClock) -> Iterator[tuple[TestClient, Engine]]:
    settings_ = make_settings(db_url, ALERTMANAGER_TOKEN=AM_TOKEN, PAGERDUTY_WEBHOOK_SECRET=PD_SECRET, FIREBREAK_API_TOKEN=API_TOKEN)
    container = build_container(settings_, clock=clock, transcript_stream=io.StringIO(), engine=engine)
    container.service.declare(title="Checkout is failing", severity=Severity.P2, actor="alice", source=Source.CONSOLE)
    with TestClient(create_app(container, migrate=False, run_worker=False), raise_server_exceptions=False) as client:
        yield client, engine


AM_BODY = json.dumps(firing_group()).encode()
PD_BODY = webhook_body(webhook_event("incident.triggered", incident_id="QHDR01"))


def valid_request(target: str) -> tuple[str, str, bytes | None, Headers]:
    """(method, path, body, headers) that the endpoint accepts as they are."""
    if target == "alertmanager":
        return "POST", "/webhooks/alertmanager", AM_BODY, [(b"authorization", f"Bearer {AM_TOKEN}".encode()), (b"content-type", b"application/json")]
    if target == "pagerduty":
        signature = sign_pagerduty(PD_SECRET, PD_BODY).encode()
        return "POST", "/webhooks/pagerduty", PD_BODY, [(b"x-pagerduty-signature", signature), (b"content-type", b"application/json")]
    return "GET", "/incidents/1/postmortem.md", None, [(b"authorization", f"Bearer {API_TOKEN}".encode())]


#: Header bytes a client can put on the wire: anything but CR, LF and NUL.
wire_bytes = st.binary(max_size=60).map(lambda raw: bytes(b for b in raw if b not in (0, 10, 13)))
non_ascii = st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x2FFF, exclude_categories=("Cs",)), min_size=1, max_size=20)
credential_values = st.one_of(
    wire_bytes,
    st.tuples(st.sampled_from(["Bearer ", "Basic ", "Token token=", "bearer", "Digest ", ""]), non_ascii).map(lambda p: (p[0] + p[1]).encode()),
    non_ascii.map(lambda text: b"Basic " + text.encode("utf-8")),
    non_ascii.map(lambda text: b"Basic " + base64.b64encode(f"user:{text}".encode())),
    st.integers(min_value=MAX_HEADER_BYTES, max_value=3 * MAX_HEADER_BYTES).map(lambda n: b"Bearer " + b"x" * n),
)
content_types = st.one_of(
    st.sampled_from([b"", b";;;", b"application/json; charset=", b"text/html", b"application/json\tx", b"multipart/form-data"]),
    non_ascii.map(lambda text: ("application/" + text).encode("utf-8")),
    wire_bytes,
)
header_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20).filter(
    lambda name: name not in ("content-length", "transfer-encoding", "host", "expect", "connection")
)


@st.composite
def spoiled(draw: st.DrawFn) -> tuple[str, Headers, str]:
    """A valid request's headers with one kind of damage, and what that damage was."""
    target = draw(st.sampled_from(["alertmanager", "pagerduty", "postmortem"]))
    _method, _path, _body, headers = valid_request(target)
    credential = b"x-pagerduty-signature" if target == "pagerduty" else b"authorization"
    kind = draw(st.sampled_from(["credential", "repeated", "content-type", "extras", "huge-extra"]))
    if kind == "credential":
        headers = [(n, v) for n, v in headers if n != credential] + [(credential, draw(credential_values))]
    elif kind == "repeated":
        headers = [*headers, (credential, draw(credential_values | st.just(dict(headers)[credential])))]
    elif kind == "content-type":
        headers = [(n, v) for n, v in headers if n != b"content-type"] + [(b"content-type", draw(content_types))]
    elif kind == "extras":
        extras = draw(st.lists(st.tuples(header_names, wire_bytes), max_size=40))
        headers = [*headers, *((name.encode(), value) for name, value in extras)]
    else:
        headers = [*headers, (b"x-padding", b"p" * draw(st.integers(min_value=MAX_HEADER_BYTES, max_value=2 * MAX_HEADER_BYTES)))]
    return target, headers, kind


def send(client: TestClient, target: str, headers: Headers) -> Any:
    method, path, body, _headers = valid_request(target)
    return client.request(method, path, content=body, headers=headers)


def refused_with_json(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    error = response.json().get("error")
    assert isinstance(error, str) and error


@FUZZ
@given(case=spoiled())
def test_spoiled_headers_never_5xx(app: tuple[TestClient, Engine], case: tuple[str, Headers, str]) -> None:
    client, engine = app
    target, headers, kind = case
    before = table_counts(engine)
    response = send(client, target, headers)
    where = f"{target} {kind}: {headers!r:.300} -> {response.status_code} {response.text[:200]!r}"
    assert response.status_code < 500, where
    original = dict(valid_request(target)[3])
    credential = b"x-pagerduty-signature" if target == "pagerduty" else b"authorization"
    if sum(len(name) + len(value) for name, value in headers) > MAX_HEADER_BYTES:
        assert response.status_code == 431, where
    elif any(name in (b"authorization", b"x-pagerduty-signature", b"content-type") and any(b > 0x7E for b in value) for name, value in headers):
        assert response.status_code == 400, where
    if response.status_code >= 400:
        refused_with_json(response)
        assert table_counts(engine) == before, where
    else:
        # Accepted only when the damage left the credential as it was: once, unchanged.
        assert [value for name, value in headers if name == credential] == [original[credential]], where


@pytest.mark.parametrize("target", ["alertmanager", "pagerduty", "postmortem"])
@pytest.mark.parametrize(
    "header",
    [
        (b"authorization", "Bearer tök".encode("latin-1")),
        (b"authorization", "Basic tök".encode("latin-1")),
        (b"authorization", "Basic ✓".encode()),
        (b"x-pagerduty-signature", "v1=ü".encode("latin-1")),
        (b"content-type", "application/jsön".encode()),
    ],
)
def test_non_ascii_credentials_are_400(app: tuple[TestClient, Engine], target: str, header: tuple[bytes, bytes]) -> None:
    client, engine = app
    before = table_counts(engine)
    _method, _path, _body, headers = valid_request(target)
    response = send(client, target, [(n, v) for n, v in headers if n != header[0]] + [header])
    assert response.status_code == 400
    assert "must be printable ASCII" in response.json()["error"]
    assert table_counts(engine) == before


def test_untouched_requests_still_succeed(app: tuple[TestClient, Engine]) -> None:
    """The checks above refuse damage, not the requests real senders make."""
    client, _engine = app
    assert send(client, "alertmanager", valid_request("alertmanager")[3]).status_code == 202
    assert send(client, "pagerduty", valid_request("pagerduty")[3]).status_code == 202
    assert send(client, "postmortem", valid_request("postmortem")[3]).status_code == 200


def nested(depth: int, opener: str) -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * depth + "1" + closer * depth


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.sampled_from(["alertmanager", "pagerduty"]),
    depth=st.integers(min_value=MAX_JSON_DEPTH + 1, max_value=200_000),
    opener=st.sampled_from(["[", '{"a":']),
)
def test_deeply_nested_bodies_are_400(app: tuple[TestClient, Engine], target: str, depth: int, opener: str) -> None:
    """Too deep for the decoder (RecursionError) or merely deeper than any real sender: 400."""
    client, engine = app
    before = table_counts(engine)
    if target == "alertmanager":
        body = json.dumps({**firing_group(), "extra": "NESTED"}).replace('"NESTED"', nested(depth, opener)).encode()
        headers = {"Authorization": f"Bearer {AM_TOKEN}", "Content-Type": "application/json"}
        response = client.post("/webhooks/alertmanager", content=body, headers=headers)
    else:
        event = webhook_event("incident.triggered", incident_id="QDEEP1")
        event["event"]["data"]["custom"] = "NESTED"
        body = json.dumps(event).replace('"NESTED"', nested(depth, opener)).encode()
        response = client.post("/webhooks/pagerduty", content=body, headers={"X-PagerDuty-Signature": sign_pagerduty(PD_SECRET, body), "Content-Type": "application/json"})
    if len(body) > 1024 * 1024:
        assert response.status_code == 413
    else:
        assert response.status_code == 400, response.text[:200]
        assert response.json()["error"] == f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    assert table_counts(engine) == before
