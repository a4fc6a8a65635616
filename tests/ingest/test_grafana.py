"""Grafana-managed alerting (webhook version 1): its links, its values, and its test button."""

from __future__ import annotations

import asyncio
import copy
import io
import json
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bot.chat.render import summary
from bot.chat.slack.blocks import summary_blocks
from bot.container import Container, build_container
from bot.delivery.message import OutboxMessage
from bot.domain.clock import FrozenClock
from bot.store.models import IncidentRow, OutboxRow, TimelineRow, TranscriptRow
from tests.conftest import make_settings
from tests.fakes.alertmanager_corpus import GRAFANA_FIRING, GRAFANA_TEST
from tests.fakes.fixtures import SLACK_SIGNING_SECRET
from tests.fakes.slack_api import FakeSlack
from tests.ingest.support import TOKEN, bearer, client, ingested, row_counts, rows

URL = "/webhooks/alertmanager"


def test_grafana_alert_opens_an_incident_with_grafanas_links_and_values(am_container: Container) -> None:
    with client(am_container) as http:
        response = http.post(URL, json=GRAFANA_FIRING, headers=bearer())
    assert response.status_code == 202 and ingested(response) == ["created"]
    incident = am_container.service.get(1)
    alert = GRAFANA_FIRING["alerts"][0]
    assert incident.title == "Disk usage above 90% on nas-1"
    assert incident.links["dashboard"] == alert["dashboardURL"]
    assert incident.links["panel"] == alert["panelURL"]
    assert incident.links["silence"] == alert["silenceURL"]
    assert incident.links["grafana"] == GRAFANA_FIRING["externalURL"] and "alertmanager" not in incident.links
    assert incident.dedup_key == "am@grafana:" + GRAFANA_FIRING["groupKey"]
    firing = rows(am_container, TimelineRow, kind="alert_firing")[0]
    assert "values: A=91.2, C=1" in firing.text
    shown = summary(incident, now=am_container.clock.now(), zone=ZoneInfo("UTC"))
    assert alert["dashboardURL"] in shown and alert["panelURL"] in shown and alert["silenceURL"] in shown
    blocks = json.dumps(summary_blocks(incident))
    assert all(json.dumps(alert[key])[1:-1] in blocks for key in ("dashboardURL", "panelURL", "silenceURL"))


def test_a_grafana_group_with_overlong_text_and_links_still_opens(am_container: Container) -> None:
    """Grafana's title, message and links are cut or left out, never refused (a 4xx is dropped)."""
    body = copy.deepcopy(GRAFANA_FIRING)
    body["title"] = "T" * 25_000
    body["message"] = "M" * 250_000
    body["alerts"][0]["dashboardURL"] = "https://grafana.example.com/d/x?" + "v=1&" * 1200
    with client(am_container) as http:
        response = http.post(URL, json=body, headers=bearer())
    assert response.status_code == 202, response.text
    assert "dashboard" not in am_container.service.get(1).links


def test_grafana_and_alertmanager_groups_with_one_group_key_stay_apart(am_container: Container) -> None:
    from_alertmanager = copy.deepcopy(GRAFANA_FIRING)
    for key in ("orgId", "state", "title", "message"):
        del from_alertmanager[key]
    from_alertmanager["version"] = "4"
    with client(am_container) as http:
        http.post(URL, json=GRAFANA_FIRING, headers=bearer())
        http.post(URL, json=from_alertmanager, headers=bearer())
    keys = sorted(row.dedup_key for row in rows(am_container, IncidentRow))
    assert keys == ["am:" + GRAFANA_FIRING["groupKey"], "am@grafana:" + GRAFANA_FIRING["groupKey"]]


def test_contact_point_test_is_one_console_line_and_nothing_else(am_container: Container, transcript: io.StringIO) -> None:
    with client(am_container) as http:
        response = http.post(URL, json=GRAFANA_TEST, headers=bearer())
        metrics = http.get("/metrics").text
    assert response.status_code == 202 and ingested(response) == ["test_notification"]
    assert 'firebreak_ingested_total{outcome="test_notification",source="alertmanager"} 1.0' in metrics
    counts = row_counts(am_container)
    assert counts["incidents"] == 0 and counts["timeline_entries"] == 0 and counts["alerts"] == 0 and counts["escalations"] == 0
    assert [row.operation for row in rows(am_container, OutboxRow)] == ["notice"]
    assert asyncio.run(am_container.worker.drain(timeout=20))
    lines = rows(am_container, TranscriptRow)
    assert [(row.channel, "contact-point test" in row.text) for row in lines] == [("#incidents", True)]
    assert "[#incidents]" in transcript.getvalue()


def test_contact_point_test_is_one_slack_line_in_the_announcements_channel(
    db_url: str, engine: Engine, clock: FrozenClock, fake_slack: FakeSlack
) -> None:
    settings = make_settings(
        db_url, ALERTMANAGER_TOKEN=TOKEN, SLACK_BOT_TOKEN=fake_slack.token, SLACK_SIGNING_SECRET=SLACK_SIGNING_SECRET, SLACK_API_URL=fake_slack.api_url
    )
    container = build_container(settings, clock=clock, transcript_stream=None, engine=engine)
    hostile = copy.deepcopy(GRAFANA_TEST)
    hostile["receiver"] = "<!channel> firebreak"
    with client(container) as http:
        assert http.post(URL, json=hostile, headers=bearer()).status_code == 202
    assert asyncio.run(container.worker.drain(timeout=20))
    posted = fake_slack.messages("#incidents")
    assert len(posted) == 1
    assert "contact-point test" in posted[0]["text"] and "<!channel>" not in posted[0]["text"]
    assert fake_slack.calls("conversations.create") == []
    assert [row.operation for row in rows(container, OutboxRow)] == ["notice"]


def test_a_retried_notice_whose_first_post_reached_slack_is_not_posted_twice(
    db_url: str, engine: Engine, clock: FrozenClock, fake_slack: FakeSlack
) -> None:
    settings = make_settings(
        db_url, ALERTMANAGER_TOKEN=TOKEN, SLACK_BOT_TOKEN=fake_slack.token, SLACK_SIGNING_SECRET=SLACK_SIGNING_SECRET, SLACK_API_URL=fake_slack.api_url
    )
    container = build_container(settings, clock=clock, transcript_stream=None, engine=engine)
    with client(container) as http:
        assert http.post(URL, json=GRAFANA_TEST, headers=bearer()).status_code == 202
    queued = rows(container, OutboxRow)[0]
    channel = fake_slack.channel("#incidents")
    with fake_slack.workspace.lock:  # the first attempt's post arrived; its answer was lost
        channel.messages.append(
            {"type": "message", "user": "U0BOT", "ts": "1700000000.000100", "text": "Grafana contact-point test received",
             "metadata": {"event_type": "firebreak_notice", "event_payload": {"key": queued.idempotency_key}}}
        )
    retry = OutboxMessage(queued.id, queued.idempotency_key, "chat", queued.operation, queued.payload, None, attempt=2)
    result = asyncio.run(container.slack.deliverer.deliver(retry))
    assert result.detail == {"skipped": "already posted"}
    assert fake_slack.calls("chat.postMessage") == []


def test_an_empty_alert_list_is_422_naming_the_field_and_changes_nothing(am_container: Container) -> None:
    """Neither Alertmanager nor Grafana sends a notification without alerts; one is refused."""
    bodies = [{**copy.deepcopy(GRAFANA_FIRING), "alerts": []}]
    bodies.append({**bodies[0], "version": "4"})
    with client(am_container) as http:
        for body in bodies:
            response = http.post("/webhooks/alertmanager", json=body, headers=bearer())
            assert response.status_code == 422, response.text
            assert [e["field"] for e in response.json()["details"]["errors"]] == ["alerts"]
    assert sum(row_counts(am_container).values()) == 0
