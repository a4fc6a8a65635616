"""Bad input across every endpoint: a 4xx (or a documented 2xx for a read), never a 5xx,
and nothing written to any table.

Hypothesis builds requests from every route (and unknown ones) × every method × content
types × bodies (random bytes, JSON of any shape, form fields, oversized) × credentials
(none, wrong, right; PagerDuty and Slack bodies correctly *signed* too, so the garbage gets
past the signature check and reaches the parsers). After each request every table of the
database, found by inspection rather than from the models, has the row count it had before.
The app is the one ``firebreak serve`` runs, with Slack, PagerDuty, Alertmanager and the
post-mortem API all configured, in process.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from starlette.testclient import TestClient

from bot.container import build_container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.web import create_app
from tests.conftest import make_settings
from tests.fakes.fixtures import PAGERDUTY_WEBHOOK_SECRET, SLACK_SIGNING_SECRET
from tests.fakes.pagerduty_webhook import sign_pagerduty
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import sign_slack_request
from tests.faults.support import slack_env, table_counts

AM_TOKEN = "am-fuzz-token"
API_TOKEN = "api-fuzz-token"
MAX_BODY = 4096
READS = ("/healthz", "/readyz", "/metrics", "/incidents/1/postmortem.md", "/incidents/1/postmortem.json")
POSTS = ("/webhooks/alertmanager", "/webhooks/pagerduty", "/slack/events")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
CONTENT_TYPES = (
    None,
    "application/json",
    "application/json; charset=latin-1",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "text/plain",
    "application/xml",
    "application/vnd.api+json",
    "*/*",
    "",
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
form_fields = st.dictionaries(
    st.sampled_from(["command", "text", "payload", "type", "token", "team_id", "user_id", "channel_id", "trigger_id", "ssl_check", "challenge"])
    | st.text(max_size=8),
    st.text(max_size=40) | json_values.map(json.dumps),
    max_size=5,
)
bodies = st.one_of(
    st.binary(max_size=400),
    json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    form_fields.map(lambda fields: "&".join(f"{k}={v}" for k, v in fields.items()).encode()),
    st.integers(min_value=1, max_value=3).map(lambda n: b'{"pad": "' + b"x" * (MAX_BODY * n) + b'"}'),
)
unknown_paths = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="?#%"), max_size=30).map(
    lambda tail: "/" + tail
)
postmortem_paths = st.tuples(st.text(max_size=12) | st.integers().map(str), st.sampled_from(["md", "json", "pdf", "", "md.json"])).map(
    lambda parts: f"/incidents/{quote(parts[0], safe='')}/postmortem.{parts[1]}"
)
paths = st.sampled_from(READS + POSTS) | unknown_paths | postmortem_paths
credentials = st.sampled_from(["none", "wrong", "right", "basic-garbage", "sign", "sign-stale", "sign-wrong-secret"])


@pytest.fixture
def app_and_engine(db_url: str, engine: Engine, clock: FrozenClock, fake_slack: FakeSlack) -> Iterator[tuple[TestClient, Engine]]:
    settings_ = make_settings(
        db_url,
        ALERTMANAGER_TOKEN=AM_TOKEN,
        PAGERDUTY_WEBHOOK_SECRET=PAGERDUTY_WEBHOOK_SECRET,
        FIREBREAK_API_TOKEN=API_TOKEN,
        FIREBREAK_MAX_BODY_BYTES=MAX_BODY,
        **slack_env(fake_slack),
    )
    container = build_container(settings_, clock=clock, transcript_stream=io.StringIO(), engine=engine)
    # One incident, so the post-mortem endpoints have something to answer with.
    container.service.declare(title="Checkout is failing", severity=Severity.P2, actor="alice", source=Source.CONSOLE)
    with TestClient(create_app(container, migrate=False, run_worker=False), raise_server_exceptions=False) as client:
        yield client, engine


def headers_for(path: str, body: bytes, credential: str, content_type: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if credential == "right":
        headers["Authorization"] = f"Bearer {API_TOKEN if path.startswith('/incidents') else AM_TOKEN}"
    elif credential == "wrong":
        headers["Authorization"] = "Bearer not-the-token"
    elif credential == "basic-garbage":
        headers["Authorization"] = "Basic !!!not-base64"
    elif credential.startswith("sign"):
        secret = "some-other-secret" if credential == "sign-wrong-secret" else None
        stamp = int(time.time()) - 3600 if credential == "sign-stale" else None
        if path == "/webhooks/pagerduty":
            headers["X-PagerDuty-Signature"] = sign_pagerduty(secret or PAGERDUTY_WEBHOOK_SECRET, body)
        else:
            headers.update(sign_slack_request(secret or SLACK_SIGNING_SECRET, body, stamp))
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


def documented_success(method: str, path: str, credential: str, response: Any) -> bool:
    """The 2xx answers the contract promises for these inputs."""
    if method in ("GET", "HEAD") and path in ("/healthz", "/readyz", "/metrics"):
        return True
    if method in ("GET", "HEAD") and (path == "/favicon.ico" or path.startswith("/static/")):
        return True  # the web view's own stylesheet, script and icon: public, like any site's
    if method in ("GET", "HEAD") and path in READS and credential == "right":
        return True  # the post-mortem of incident 1
    if method == "POST" and path == "/webhooks/pagerduty" and credential == "sign":
        return response.json().get("status") == "ignored"  # a well-formed event of a type Firebreak ignores
    if method == "POST" and path == "/slack/events" and credential == "sign":
        return response.text == ""  # correctly signed, so from Slack: acknowledged even without a listener
    return False


API_PREFIXES = ("/webhooks/", "/slack/", "/healthz", "/readyz", "/metrics")


def web_view_page(path: str, response: Any) -> bool:
    """An answer of the web view, read by people in a browser: HTML (or a line of text for
    its event stream and static files) rather than the API's JSON errors."""
    kind = response.headers.get("content-type", "")
    is_api = path.startswith(API_PREFIXES) or path.endswith((".md", ".json"))
    return not is_api and kind.startswith(("text/html", "text/plain"))


BOOKKEEPING = ("slack_seen_requests",)
"""Written for every correctly signed Slack request (so a replay is recognised); not state."""


def state_counts(engine: Engine) -> dict[str, int]:
    return {name: count for name, count in table_counts(engine).items() if name not in BOOKKEEPING}


def check(client: TestClient, engine: Engine, method: str, path: str, body: bytes, credential: str, content_type: str | None) -> None:
    before = state_counts(engine)
    send_body = body if method not in ("GET", "HEAD") or body[:1] == b"{" else None
    response = client.request(method, path, content=send_body, headers=headers_for(path, body, credential, content_type))
    where = f"{method} {path} ({credential}, {content_type!r}, {len(body)} bytes) -> {response.status_code}: {response.text[:200]!r}"
    assert response.status_code < 500, where
    if 200 <= response.status_code < 300:
        assert documented_success(method, path, credential, response), where
    else:
        assert 400 <= response.status_code < 500, where
    if response.status_code >= 400 and method != "HEAD" and not path.startswith("/slack/"):
        if web_view_page(path, response):
            assert response.text.strip(), where  # a page for a person, saying what is wrong
        else:
            assert isinstance(response.json().get("error"), str), where  # a JSON error saying what is wrong
    assert state_counts(engine) == before, where


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(method=st.sampled_from(METHODS), path=paths, body=bodies, credential=credentials, content_type=st.sampled_from(CONTENT_TYPES))
def test_any_request_to_any_endpoint(app_and_engine: tuple[TestClient, Engine], method: str, path: str, body: bytes, credential: str, content_type: str | None) -> None:
    client, engine = app_and_engine
    check(client, engine, method, path, body, credential, content_type)


@FUZZ
@given(path=st.sampled_from(POSTS), body=bodies, credential=credentials, content_type=st.sampled_from(CONTENT_TYPES))
def test_posts_to_the_webhooks(app_and_engine: tuple[TestClient, Engine], path: str, body: bytes, credential: str, content_type: str | None) -> None:
    """The same, aimed at the three POST endpoints, where the parsers are."""
    client, engine = app_and_engine
    check(client, engine, "POST", path, body, credential, content_type)
