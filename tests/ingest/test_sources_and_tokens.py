"""Webhook sources: ``?source=`` keys the group, ``ALERTMANAGER_TOKENS`` gives each its own secret.

No configured token refuses with 403 naming the variable; a source with its own token
accepts only that token, so staging cannot write into prod.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.settings import SettingsError, load_settings
from bot.store.models import InboxRow, IncidentRow
from tests.conftest import make_settings
from tests.fakes.alertmanager_payloads import firing_group
from tests.ingest.support import TOKEN, bearer, client, ingested, row_counts, rows

URL = "/webhooks/alertmanager"
PROD, STAGING = "prod-secret", "staging-secret"


@pytest.fixture
def sourced(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO) -> Iterator[Container]:
    settings = make_settings(db_url, ALERTMANAGER_TOKEN=TOKEN, ALERTMANAGER_TOKENS=f"prod:{PROD},staging:{STAGING}")
    yield build_container(settings, clock=clock, transcript_stream=transcript, engine=engine)


def no_group_by() -> dict:
    """A group as a cluster without ``group_by`` sends it: groupKey ``{}:{}``."""
    group = firing_group("NodeDown", severity="critical")
    return {**group, "groupKey": "{}:{}", "groupLabels": {}}


def test_two_sources_with_the_same_group_key_are_two_incidents(sourced: Container) -> None:
    group = no_group_by()
    with client(sourced) as http:
        assert http.post(URL + "?source=prod", json=group, headers=bearer(PROD)).status_code == 202
        assert http.post(URL + "?source=staging", json=group, headers=bearer(STAGING)).status_code == 202
        again = http.post(URL + "?source=prod", json=group, headers=bearer(PROD))
        unnamed = http.post(URL, json=group, headers=bearer())
    assert ingested(again) == ["unchanged"] and ingested(unnamed) == ["created"]
    keys = sorted(row.dedup_key for row in rows(sourced, IncidentRow))
    assert keys == ["am:{}:{}", "am@prod:{}:{}", "am@staging:{}:{}"]


def test_a_source_with_its_own_token_accepts_only_that_token(sourced: Container) -> None:
    group = firing_group()
    with client(sourced) as http:
        for token in (STAGING, TOKEN, "wrong"):
            response = http.post(URL + "?source=prod", json=group, headers=bearer(token))
            assert response.status_code == 401, token
            assert "ALERTMANAGER_TOKENS (prod)" in response.json()["error"]
        assert http.post(URL, json=group, headers=bearer(PROD)).status_code == 401  # prod's token is not the default
        assert row_counts(sourced)["incidents"] == 0
        assert http.post(URL + "?source=prod", json=group, headers=bearer(PROD)).status_code == 202
        # a source without its own token uses ALERTMANAGER_TOKEN
        assert http.post(URL + "?source=dev", json=group, headers=bearer(TOKEN)).status_code == 202
    assert sorted(row.dedup_key.split(":")[0] for row in rows(sourced, IncidentRow)) == ["am@dev", "am@prod"]


def test_without_a_default_token_unnamed_and_unlisted_sources_get_403(db_url: str, engine: Engine, clock: FrozenClock) -> None:
    settings = make_settings(db_url, ALERTMANAGER_TOKENS=f"prod:{PROD}")
    container = build_container(settings, clock=clock, transcript_stream=None, engine=engine)
    with client(container) as http:
        unnamed = http.post(URL, json=firing_group(), headers=bearer(PROD))
        unlisted = http.post(URL + "?source=qa", json=firing_group(), headers=bearer(PROD))
        listed = http.post(URL + "?source=prod", json=firing_group(), headers=bearer(PROD))
    assert unnamed.status_code == 403 and "ALERTMANAGER_TOKEN" in unnamed.json()["error"]
    assert unlisted.status_code == 403 and "ALERTMANAGER_TOKENS=qa:" in unlisted.json()["error"]
    assert listed.status_code == 202


@pytest.mark.parametrize("query", ["?source=Prod", "?source=a%20b", "?source=", "?source=prod&source=staging", "?source=" + "x" * 33])
def test_a_bad_source_name_is_400_and_writes_nothing(sourced: Container, query: str) -> None:
    with client(sourced) as http:
        response = http.post(URL + query, json=firing_group(), headers=bearer())
    assert response.status_code == 400, response.text
    assert "source" in response.json()["error"]
    assert sum(row_counts(sourced).values()) == 0


def test_a_notification_queued_before_sources_existed_reaches_its_incident(sourced: Container, clock: FrozenClock) -> None:
    """Inbox rows and incidents keyed ``am:<groupKey>`` (no source) keep their group."""
    group = firing_group(count=2)
    with client(sourced) as http:
        http.post(URL, json=group, headers=bearer())
    later = copy.deepcopy(group)
    later["alerts"][1]["status"] = "resolved"
    later["alerts"][1]["endsAt"] = "2099-01-01T00:00:00Z"
    with sourced.sessions() as session:
        session.add(InboxRow(source="alertmanager", group_key="am:" + group["groupKey"], body=json.dumps(later), received_at=datetime.now(UTC), attempts=0))
        session.commit()
    assert sourced.ingester.apply_all() == 1
    incidents = rows(sourced, IncidentRow)
    assert len(incidents) == 1 and incidents[0].dedup_key == "am:" + group["groupKey"]
    assert rows(sourced, InboxRow) == []


def test_alertmanager_tokens_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTMANAGER_TOKENS", "prod:abc123, staging:def456")
    assert load_settings(_env_file=None).alertmanager_tokens == {"prod": "abc123", "staging": "def456"}
    for bad in ("prod", "prod:", "PROD:x", "prod:a,prod:b"):
        monkeypatch.setenv("ALERTMANAGER_TOKENS", bad)
        with pytest.raises(SettingsError, match="ALERTMANAGER_TOKENS"):
            load_settings(_env_file=None)


def grafana_group(name: str = "GrafX", status: str = "firing") -> dict:
    """Grafana-managed alerting's contact point (version 1): its groups are source ``grafana``."""
    group = copy.deepcopy(firing_group(name))
    group.update({"version": "1", "orgId": 1, "groupKey": f'{{}}:{{alertname="{name}"}}', "status": status})
    for alert in group["alerts"]:
        alert["status"] = status
    return group


def test_a_grafana_body_needs_grafanas_own_token_even_without_source_in_the_url(
    db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO
) -> None:
    """The source a group belongs to may come from its body (Grafana's version 1): the token
    checked is that source's, so the default token cannot resolve Grafana's incidents."""
    grafana = "grafana-secret"
    settings = make_settings(db_url, ALERTMANAGER_TOKEN=TOKEN, ALERTMANAGER_TOKENS=f"grafana:{grafana}")
    container = build_container(settings, clock=clock, transcript_stream=transcript, engine=engine)
    with client(container) as http:
        assert http.post(URL + "?source=grafana", json=grafana_group(), headers=bearer(grafana)).status_code == 202
        before = row_counts(container)
        for url in (URL, URL + "?source=grafana"):
            refused = http.post(url, json=grafana_group(status="resolved"), headers=bearer(TOKEN))
            assert refused.status_code == 401, url
            assert "ALERTMANAGER_TOKENS (grafana)" in refused.json()["error"]
        assert row_counts(container) == before  # nothing queued, nothing changed
        assert ingested(http.post(URL + "?source=grafana", json=grafana_group(status="resolved"), headers=bearer(grafana))) == ["updated"]
    assert [row.dedup_key for row in rows(container, IncidentRow)] == ['am@grafana:{}:{alertname="GrafX"}']
