"""GET /incidents/{number}/postmortem.md|.json: bearer auth first, then 404s, then the document."""

from __future__ import annotations

import json

import jsonschema
import pytest
from starlette.testclient import TestClient

from bot.container import Container, build_container
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.export.document import json_schema
from bot.export.service import Exporter
from bot.web import create_app
from tests.conftest import make_settings
from tests.export.conftest import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def client(berlin: Container) -> TestClient:
    berlin.service.declare(title="Checkout | down", severity=Severity.P1, actor="alice", source=Source.SLACK)
    with TestClient(create_app(berlin, migrate=False, run_worker=False)) as client:
        yield client


@pytest.mark.parametrize("ref", ["1", "INC-1", "inc-1"])
def test_markdown_with_the_token_is_the_cli_output(client: TestClient, berlin: Container, ref: str) -> None:
    response = client.get(f"/incidents/{ref}/postmortem.md", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert 'filename="INC-1-postmortem.md"' in response.headers["content-disposition"]
    expected = Exporter(berlin.sessions, clock=berlin.clock, zone=berlin.settings.zone).render(1, "md")
    assert response.text == expected
    assert response.text.startswith("# Post-mortem: INC-1 — Checkout \\| down")


def test_json_with_the_token_follows_the_schema(client: TestClient) -> None:
    response = client.get("/incidents/INC-1/postmortem.json", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = json.loads(response.text)
    jsonschema.validate(document, json_schema())
    assert document["incident"]["title"] == "Checkout | down"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Basic " + API_TOKEN}, "missing bearer token"),
        ({"Authorization": "Bearer "}, "missing bearer token"),
        ({"Authorization": "Bearer wrong"}, "invalid bearer token"),
        ({"Authorization": f"Bearer {API_TOKEN}x"}, "invalid bearer token"),
    ],
)
def test_without_the_right_token_401_and_nothing_revealed(client: TestClient, headers: dict[str, str], message: str) -> None:
    for path in ("/incidents/1/postmortem.md", "/incidents/999/postmortem.json"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert message in response.json()["error"]
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/incidents/999/postmortem.md", "there is no incident INC-999"),
        ("/incidents/INC-999/postmortem.json", "there is no incident INC-999"),
        ("/incidents/abc/postmortem.md", "is not an incident number"),
        ("/incidents/1/postmortem.pdf", "unknown format .pdf"),
    ],
)
def test_unknown_incident_or_format_is_a_json_404(client: TestClient, path: str, message: str) -> None:
    response = client.get(path, headers=AUTH)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"]


def test_without_a_configured_token_the_api_refuses_and_says_why(db_url: str, engine, clock) -> None:
    built = build_container(make_settings(db_url), clock=clock, transcript_stream=None, engine=engine)
    built.service.declare(title="x", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    with TestClient(create_app(built, migrate=False, run_worker=False)) as client:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
            response = client.get("/incidents/1/postmortem.md", headers=headers)
            assert response.status_code == 403
            assert "set FIREBREAK_API_TOKEN" in response.json()["error"]
