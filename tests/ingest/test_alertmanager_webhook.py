"""POST /webhooks/alertmanager in-process: grouping, re-sends, resolution, auth, errors."""

from __future__ import annotations

import copy
import io
import json
from urllib.parse import quote_plus

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.domain.timeline import EntryKind
from bot.store.models import AlertRow, IncidentRow, OutboxRow, TimelineRow
from bot.web import create_app
from tests.conftest import make_settings
from tests.fakes.alertmanager_payloads import alert, firing_group, payload
from tests.ingest.support import INGESTED, TOKEN, basic, bearer, client, ingested, row_counts, rows

URL = "/webhooks/alertmanager"


def resolved(group: dict, *indexes: int) -> dict:
    """The same group with the given alerts (all when none given) resolved."""
    out = copy.deepcopy(group)
    for index, item in enumerate(out["alerts"]):
        if not indexes or index in indexes:
            item["status"] = "resolved"
            item["endsAt"] = "2099-01-01T00:00:00Z"
    out["status"] = "firing" if any(a["status"] == "firing" for a in out["alerts"]) else "resolved"
    return out


def regroup(group: dict, alerts: list) -> dict:
    """A notification of the same group (same groupKey) carrying ``alerts``."""
    return {**payload(alerts, group_by=tuple(group["groupLabels"])), "groupKey": group["groupKey"]}


def kinds(container: Container, number: int = 1) -> list[str]:
    return [row.kind for row in rows(container, TimelineRow, incident_id=number)]


def test_firing_group_opens_one_incident_with_alert_details(am_container: Container) -> None:
    group = firing_group("HighErrorRate", count=2, severity="critical", service="checkout")
    with client(am_container) as http:
        response = http.post(URL, json=group, headers=bearer())
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "id": 1}
    assert ingested(response) == ["created"]
    incident = am_container.service.get(1)
    assert incident.title == "HighErrorRate on checkout"
    assert incident.severity.value == "P1"
    assert incident.dedup_key == "am:" + group["groupKey"]
    assert incident.description.startswith("HighErrorRate: error ratio")
    assert incident.links["runbook"] == "https://runbooks.example.com/higherrorrate"
    assert incident.links["dashboard"] == "https://grafana.example.com/d/checkout"
    assert incident.links["source"].startswith("http://prometheus.example.com:9090/graph")
    assert incident.links["alertmanager"] == group["externalURL"]
    assert {row.fingerprint for row in rows(am_container, AlertRow)} == {a["fingerprint"] for a in group["alerts"]}
    firing = [row for row in rows(am_container, TimelineRow) if row.kind == EntryKind.ALERT_FIRING.value]
    assert len(firing) == 2
    assert firing[0].data["labels"]["instance"] == "checkout-0:9100"
    # ``child``: the short id of the alert group (child of the incident) the alert arrived in.
    assert set(firing[0].data) == {"fingerprint", "alertname", "labels", "annotations", "starts_at", "ends_at", "generator_url", "child"}
    assert firing[0].data["child"] == 1
    assert firing[0].data["ends_at"] is None  # Go's zero time means "not set"


def test_resent_group_changes_nothing(am_container: Container, clock: FrozenClock) -> None:
    group = firing_group(count=3)
    with client(am_container) as http:
        assert http.post(URL, json=group, headers=bearer()).status_code == 202
        before = row_counts(am_container)
        updated_at = rows(am_container, IncidentRow)[0].updated_at
        # Less than the default policy's 5 minutes to its first escalation, which is a change
        # of its own (the scheduler may run between the re-sends): this is about the re-sends.
        clock.advance(minutes=4)
        for _ in range(3):  # group_interval, repeat_interval, an HA peer
            response = http.post(URL, json=group, headers=bearer())
            assert response.status_code == 202 and ingested(response) == ["unchanged"]
    assert row_counts(am_container) == before
    assert rows(am_container, IncidentRow)[0].updated_at == updated_at


def test_alerts_join_resolve_and_all_resolved_is_posted_without_auto_resolving_p1(am_container: Container) -> None:
    group = firing_group(count=1, severity="critical")
    bigger = regroup(group, group["alerts"] + [alert({**group["alerts"][0]["labels"], "instance": "checkout-9:9100"}, group["alerts"][0]["annotations"])])
    with client(am_container) as http:
        http.post(URL, json=group, headers=bearer())
        assert http.post(URL, json=bigger, headers=bearer()).extensions[INGESTED] == ["updated"]
        assert len(rows(am_container, AlertRow)) == 2
        http.post(URL, json=resolved(bigger, 0), headers=bearer())
        assert kinds(am_container).count(EntryKind.ALERTS_ALL_RESOLVED.value) == 0
        http.post(URL, json=resolved(bigger), headers=bearer())
        http.post(URL, json=resolved(bigger), headers=bearer())  # re-sent resolution
    assert kinds(am_container).count(EntryKind.ALERT_RESOLVED.value) == 2
    assert kinds(am_container).count(EntryKind.ALERTS_ALL_RESOLVED.value) == 1
    all_resolved = next(r for r in rows(am_container, TimelineRow) if r.kind == EntryKind.ALERTS_ALL_RESOLVED.value)
    assert all_resolved.data == {"count": 2, "auto_resolved": False}
    assert am_container.service.get(1).status.value == "triggered"  # P1: people resolve
    posts = [r.payload for r in rows(am_container, OutboxRow, target="chat", operation="post")]
    assert any(p["kind"] == EntryKind.ALERTS_ALL_RESOLVED.value for p in posts)
    assert {row.status for row in rows(am_container, AlertRow)} == {"resolved"}


def test_alerts_firing_again_after_all_resolved_are_posted_once(am_container: Container) -> None:
    """The channel was told "all alerts resolved"; an alert firing again while the incident is
    still open must be said there too, once per return (not per alert, not per re-send)."""
    group = firing_group(count=2, severity="critical")
    with client(am_container) as http:
        http.post(URL, json=group, headers=bearer())
        http.post(URL, json=resolved(group), headers=bearer())
        refired = copy.deepcopy(group)
        for item in refired["alerts"]:
            item["startsAt"] = "2099-06-01T00:00:00Z"  # a new firing, after the resolve
        http.post(URL, json=refired, headers=bearer())
        http.post(URL, json=refired, headers=bearer())  # re-sent: nothing new to say
    assert am_container.service.get(1).status.value == "triggered"  # never resolved (P1)
    posts = [r.payload for r in rows(am_container, OutboxRow, target="chat", operation="post")]
    again = [p for p in posts if p["kind"] == EntryKind.ALERT_FIRING.value]
    assert len(again) == 1
    assert again[0]["data"]["again"] is True
    assert again[0]["text"].startswith("firing again after all alerts had resolved: alert ")
    # The first firing opened the incident: that one is the announcement, not a post.
    firing = [r for r in rows(am_container, TimelineRow) if r.kind == EntryKind.ALERT_FIRING.value]
    assert [bool(r.data.get("again")) for r in firing] == [False, False, True, False]


def test_a_flapping_alert_shows_in_the_post_mortem_as_flapping(am_container: Container) -> None:
    """The alerts table showed a flapping alert's last episode only: started at its last
    firing, while the impact window began at its first, and nothing said it had fired more
    than once. It now says how many times it fired and when it first started."""
    group = firing_group(count=1, severity="critical")
    group["alerts"][0]["startsAt"] = "2099-06-01T10:00:00Z"
    with client(am_container) as http:
        http.post(URL, json=group, headers=bearer())
        for minute in (5, 10):
            ended = resolved(group)
            ended["alerts"][0]["startsAt"] = group["alerts"][0]["startsAt"]
            ended["alerts"][0]["endsAt"] = f"2099-06-01T10:{minute - 1:02d}:00Z"
            http.post(URL, json=ended, headers=bearer())
            group = copy.deepcopy(group)
            group["alerts"][0]["startsAt"] = f"2099-06-01T10:{minute:02d}:00Z"
            http.post(URL, json=group, headers=bearer())
    (alert_doc,) = am_container.exporter.document(1)["alerts"]
    assert alert_doc["firings"] == 3
    assert alert_doc["first_started_at"] == "2099-06-01T10:00:00Z" and alert_doc["starts_at"] == "2099-06-01T10:10:00Z"
    markdown = am_container.exporter.render(1, "md")
    section = markdown.split("## Alerts involved", 1)[1].split("\n## ", 1)[0]
    (row,) = [line for line in section.splitlines() if line.startswith("| HighErrorRate")]
    assert "2099-06-01 10:00:00 UTC (fired 3 times; last from 2099-06-01 10:10:00 UTC)" in row, row


def test_p3_group_resolves_itself_and_refiring_reopens(am_container: Container) -> None:
    group = firing_group(severity="warning")
    with client(am_container) as http:
        http.post(URL, json=group, headers=bearer())
        assert am_container.service.get(1).severity.value == "P3"
        http.post(URL, json=resolved(group), headers=bearer())
        assert am_container.service.get(1).status.value == "resolved"
        refired = copy.deepcopy(group)
        refired["alerts"][0]["startsAt"] = "2099-06-01T00:00:00Z"  # a new firing, after the resolve
        http.post(URL, json=refired, headers=bearer())
    assert am_container.service.get(1).status.value == "triggered"
    statuses = [r.data for r in rows(am_container, TimelineRow) if r.kind == EntryKind.STATUS_CHANGED.value]
    assert statuses[0]["to"] == "resolved" and statuses[1].get("reopened") is True


def test_stale_firing_after_resolve_is_ignored(am_container: Container) -> None:
    group = firing_group(severity="critical")
    with client(am_container) as http:
        http.post(URL, json=group, headers=bearer())
        http.post(URL, json=resolved(group), headers=bearer())
        before = row_counts(am_container)
        late = http.post(URL, json=group, headers=bearer())  # an HA peer's older notification
    assert ingested(late) == ["unchanged"]
    assert row_counts(am_container) == before


def test_priority_label_wins_and_a_worse_alert_raises_severity(am_container: Container) -> None:
    with client(am_container) as http:
        http.post(URL, json=firing_group(severity="warning", extra_labels={"priority": "P0"}), headers=bearer())
        assert am_container.service.get(1).severity.value == "P0"
        base = firing_group("DiskFull", severity="warning", service="db")
        http.post(URL, json=base, headers=bearer())
        worse = regroup(base, base["alerts"] + [alert({**base["alerts"][0]["labels"], "instance": "db-2", "severity": "critical"})])
        http.post(URL, json=worse, headers=bearer())
    incident = am_container.service.get(2)
    assert incident.severity.value == "P1"
    change = [r for r in rows(am_container, TimelineRow, incident_id=2) if r.kind == EntryKind.SEVERITY_CHANGED.value]
    assert change[0].data["from"] == "P3" and "DiskFull" in change[0].data["reason"]


def test_info_groups_stay_on_the_timeline_and_never_reach_chat(am_container: Container) -> None:
    group = firing_group("Deployed", severity="info")
    with client(am_container) as http:
        http.post(URL, json=group, headers=bearer())
        http.post(URL, json=resolved(group), headers=bearer())
    incident = am_container.service.get(1)
    assert incident.severity.value == "INFO" and incident.status.value == "resolved"
    assert EntryKind.ALERT_FIRING.value in kinds(am_container)
    assert rows(am_container, OutboxRow, target="chat") == []


def test_info_incident_raised_above_info_is_opened_in_chat(am_container: Container) -> None:
    base = firing_group("Flaky", severity="info")
    with client(am_container) as http:
        http.post(URL, json=base, headers=bearer())
        worse = regroup(base, base["alerts"] + [alert({**base["alerts"][0]["labels"], "instance": "x", "severity": "high"})])
        http.post(URL, json=worse, headers=bearer())
    assert am_container.service.get(1).severity.value == "P2"
    assert rows(am_container, OutboxRow, target="chat")[0].operation == "open_incident"


def test_truncated_alerts_are_recorded_once(am_container: Container) -> None:
    group = payload(firing_group(count=2)["alerts"], truncated_alerts=40)
    with client(am_container) as http:
        http.post(URL, json=group, headers=bearer())
        http.post(URL, json=group, headers=bearer())
    notes = [r for r in rows(am_container, TimelineRow) if r.kind == EntryKind.NOTE.value]
    assert len(notes) == 1 and notes[0].data == {"truncated_alerts": 40}


def test_credentials_bearer_and_basic(am_container: Container) -> None:
    group = firing_group()
    with client(am_container) as http:
        for headers in ({}, bearer("wrong"), basic("wrong"), {"Authorization": "Token am-secret-token"}, {"Authorization": "Basic !!!"}):
            response = http.post(URL, json=group, headers=headers)
            assert response.status_code == 401, headers
            assert "credentials" in response.json()["error"]
        assert row_counts(am_container)["incidents"] == 0
        assert http.post(URL, json=group, headers=basic()).status_code == 202
        metrics = http.get("/metrics").text
    assert 'firebreak_webhooks_total{outcome="unauthorized",source="alertmanager"} 5.0' in metrics
    assert 'firebreak_webhooks_total{outcome="accepted",source="alertmanager"} 1.0' in metrics
    assert 'firebreak_ingested_total{outcome="created",source="alertmanager"} 1.0' in metrics
    assert 'firebreak_inbox_depth{state="pending"} 0.0' in metrics
    assert 'firebreak_webhook_latency_seconds_count{source="alertmanager"} 6.0' in metrics


def test_no_token_configured_refuses_everyone_with_403_naming_the_variable(container: Container) -> None:
    with client(container) as http:
        for headers in ({}, bearer(), bearer("")):
            response = http.post(URL, json=firing_group(), headers=headers)
            assert response.status_code == 403, response.text
            assert "ALERTMANAGER_TOKEN" in response.json()["error"]
        metrics = http.get("/metrics").text
    assert sum(row_counts(container).values()) == 0
    assert 'firebreak_webhooks_total{outcome="forbidden",source="alertmanager"} 3.0' in metrics


def test_an_overlong_link_or_value_never_costs_the_alert(am_container: Container) -> None:
    """Prometheus puts the whole URL-encoded expression in generatorURL, so a long rule makes a
    long URL, and Grafana lists every series in valueString. Alertmanager does not send a
    refused (4xx) notification again: such an alert must still open its incident. A link too
    long to keep is left out (a cut URL would lead nowhere); valueString is cut."""
    group = firing_group()
    expr = "sum(rate(http_requests_total{" + ",".join(f'label_{i}=~"value_{i}.*"' for i in range(150)) + "}[5m])) > 0"
    long_url = "http://prometheus.example.com:9090/graph?g0.expr=" + quote_plus(expr) + "&g0.tab=1"
    assert len(long_url) > 4096
    group["alerts"][0]["generatorURL"] = long_url
    group["alerts"][0]["valueString"] = "[ var='A' labels={instance=x} value=1 ], " * 1000
    with client(am_container) as http:
        response = http.post(URL, json=group, headers=bearer())
    assert response.status_code == 202, response.text
    incident = am_container.service.get(1)
    assert "source" not in incident.links
    firing = [row for row in rows(am_container, TimelineRow) if row.kind == EntryKind.ALERT_FIRING.value]
    assert not firing[0].data["generator_url"]


def test_input_that_can_never_succeed_is_a_clear_4xx(am_container: Container) -> None:
    group = firing_group()
    v3 = {**group, "version": "3"}
    no_alerts = {**group, "alerts": []}
    bad_label = copy.deepcopy(group)
    bad_label["alerts"][0]["labels"]["severity"] = 5
    beyond_utc = copy.deepcopy(group)  # parses, but no database can hold it: it could never be applied
    beyond_utc["alerts"][0]["startsAt"] = "9999-12-31T23:59:59-14:00"
    beyond_berlin = copy.deepcopy(group)  # a UTC time, but past the year 9999 east of Greenwich
    beyond_berlin["alerts"][0]["endsAt"] = "9999-12-31T23:59:59Z"
    with client(am_container) as http:
        cases = [
            (http.post(URL, content=b"{nope", headers={**bearer(), "Content-Type": "application/json"}), 400, "malformed JSON"),
            (http.post(URL, content=b"<xml/>", headers={**bearer(), "Content-Type": "application/xml"}), 415, "content type"),
            (http.post(URL, json=v3, headers=bearer()), 422, "version"),
            (http.post(URL, json=no_alerts, headers=bearer()), 422, "invalid"),
            (http.post(URL, json=bad_label, headers=bearer()), 422, "invalid"),
            (http.post(URL, json=[group], headers=bearer()), 422, "JSON object"),
            (http.post(URL, json=beyond_utc, headers=bearer()), 422, "invalid"),
            (http.post(URL, json=beyond_berlin, headers=bearer()), 422, "invalid"),
        ]
        huge = http.post(URL, content=b"[" + b"1," * 600_000 + b"1]", headers={**bearer(), "Content-Type": "application/json"})
    for response, status, words in cases:
        assert response.status_code == status, response.text
        assert words in response.json()["error"]
    assert cases[4][0].json()["details"]["errors"][0]["field"] == "alerts.0.labels.severity"
    assert cases[6][0].json()["details"]["errors"][0]["field"] == "alerts.0.startsAt"
    assert cases[7][0].json()["details"]["errors"][0]["field"] == "alerts.0.endsAt"
    assert huge.status_code == 413
    assert sum(row_counts(am_container).values()) == 0


def test_database_unreachable_is_503_with_retry_after(transcript: io.StringIO) -> None:
    settings = make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none", ALERTMANAGER_TOKEN=TOKEN)
    dead = build_container(settings, transcript_stream=transcript)
    with TestClient(create_app(dead, migrate=False, run_worker=False)) as http:
        response = http.post(URL, json=firing_group(), headers=bearer())
        metrics = http.get("/metrics").text
    dead.close()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "database unavailable" in response.json()["error"]
    assert 'firebreak_webhooks_total{outcome="unavailable",source="alertmanager"} 1.0' in metrics


def test_incident_row_is_locked_and_found_by_dedup_key(am_container: Container) -> None:
    group = firing_group()
    with client(am_container) as http:
        http.post(URL, json=group, headers=bearer())
    with am_container.sessions() as session:
        found = session.scalars(select(IncidentRow).where(IncidentRow.dedup_key == "am:" + group["groupKey"])).one()
    assert found.source == "alertmanager"


def test_times_with_a_utc_offset_keep_their_order(am_container: Container) -> None:
    """10:05+02:00 is after 10:00+02:00 on every database (SQLite drops offsets if we let it)."""
    group = firing_group(severity="critical")
    group["alerts"][0]["startsAt"] = "2026-03-14T10:00:00+02:00"
    ended = resolved(group)
    ended["alerts"][0]["endsAt"] = "2026-03-14T10:05:00+02:00"
    refired = copy.deepcopy(group)
    refired["alerts"][0]["startsAt"] = "2026-03-14T10:30:00+02:00"
    with client(am_container) as http:
        http.post(URL, json=group, headers=bearer())
        assert http.post(URL, json=ended, headers=bearer()).extensions[INGESTED] == ["updated"]
        assert http.post(URL, json=refired, headers=bearer()).extensions[INGESTED] == ["updated"]
    stored = rows(am_container, AlertRow)[0]
    assert stored.status == "firing"
    assert stored.starts_at.isoformat() == "2026-03-14T08:30:00+00:00"
    assert kinds(am_container).count(EntryKind.ALERT_RESOLVED.value) == 1


def test_an_alert_with_nul_or_a_lone_surrogate_still_opens_its_incident(am_container: Container) -> None:
    """Alertmanager does not retry a 4xx: refusing a notification because an annotation holds a
    stray byte would lose the alert. Each NUL and lone surrogate becomes U+FFFD (PostgreSQL
    stores neither), in what is queued as in what is applied."""
    group = firing_group("DiskFull", severity="critical", service="storage")
    group["alerts"][0]["annotations"]["description"] = "probe said: \x00\x00 then \ud800 done"
    group["alerts"][0]["labels"]["device"] = "sd\x00a"
    group["commonLabels"]["device"] = "sd\x00a"
    body = json.dumps(group)  # ASCII escapes, as senders write them: \u0000, \ud800
    with client(am_container) as http:
        response = http.post(URL, content=body, headers={**bearer(), "Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    assert ingested(response) == ["created"]
    assert am_container.service.get(1).title == "DiskFull on storage"
    (stored,) = rows(am_container, AlertRow)
    assert stored.labels["device"] == "sd\ufffda"
    assert stored.annotations["description"] == "probe said: \ufffd\ufffd then \ufffd done"
