"""Groups the notification alone cannot settle: first seen resolved, and truncated (max_alerts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.container import Container
from bot.store.models import InboxRow, IncidentRow, OutboxRow, TimelineRow
from tests.fakes.alertmanager_payloads import alert, firing_group, payload, resolved
from tests.ingest.support import bearer, client, ingested, row_counts, rows

URL = "/webhooks/alertmanager"


def test_a_group_first_seen_resolved_opens_nothing_and_is_counted(am_container: Container) -> None:
    group = resolved(firing_group("BackupFailed", count=2, severity="critical"))
    with client(am_container) as http:
        response = http.post(URL, json=group, headers=bearer())
        again = http.post(URL, json=group, headers=bearer())
        metrics = http.get("/metrics").text
    assert response.status_code == 202 and ingested(response) == ["first_seen_resolved"] and ingested(again) == ["first_seen_resolved"]
    counts = row_counts(am_container)
    assert all(counts[table] == 0 for table in ("incidents", "timeline_entries", "alerts", "outbox", "escalations", "inbox"))
    assert 'firebreak_ingested_total{outcome="first_seen_resolved",source="alertmanager"} 2.0' in metrics


def test_queued_resolved_then_firing_opens_on_the_firing_one(am_container: Container) -> None:
    """In one batch: the resolved notification opens nothing, the firing one after it opens."""
    firing = firing_group("CacheMisses", severity="critical")
    firing["alerts"][0]["startsAt"] = "2099-01-01T00:00:00Z"
    old = resolved(firing_group("CacheMisses", severity="critical"))
    key = "am:" + firing["groupKey"]
    with am_container.sessions() as session:
        for body in (old, firing):
            session.add(InboxRow(source="alertmanager", group_key=key, body=json.dumps(body), received_at=datetime.now(UTC), attempts=0))
        session.commit()
    assert am_container.ingester.apply_all() == 2
    incidents = rows(am_container, IncidentRow)
    assert len(incidents) == 1 and incidents[0].status == "triggered" and incidents[0].severity == "P1"
    assert [row.kind for row in rows(am_container, TimelineRow)].count("alert_firing") == 1


def test_truncated_group_says_once_that_auto_resolve_is_paused(am_container: Container) -> None:
    labels = [{"alertname": "QueueBacklog", "service": "workers", "severity": "warning", "instance": f"w-{i}"} for i in range(6)]
    with client(am_container) as http:
        # Alertmanager drops resolved alerts once notified, so each pair is shown in turn
        for pair, hidden in (((0, 1), 4), ((2, 3), 2)):
            shown = payload([alert(labels[i]) for i in pair], truncated_alerts=hidden)
            assert ingested(http.post(URL, json=shown, headers=bearer())) in (["created"], ["updated"])
            done = resolved(shown)
            assert done["status"] == "resolved" and done["truncatedAlerts"] == hidden
            assert ingested(http.post(URL, json=done, headers=bearer())) == ["updated"]
    incident = rows(am_container, IncidentRow)[0]
    notes = [row.data for row in rows(am_container, TimelineRow, kind="note")]
    kinds = [row.kind for row in rows(am_container, TimelineRow)]
    assert incident.status == "triggered" and incident.severity == "P3"
    assert sum(1 for data in notes if data.get("auto_resolve_paused")) == 1
    assert [data["truncated_alerts"] for data in notes if "truncated_alerts" in data] == [4, 2]
    assert "alerts_all_resolved" not in kinds
    posted = [row.payload.get("text", "") for row in rows(am_container, OutboxRow, operation="post")]
    assert sum("auto-resolve paused" in text for text in posted) == 1


def test_once_truncation_ends_all_resolved_and_auto_resolve_work_again(am_container: Container) -> None:
    labels = [{"alertname": "QueueBacklog", "service": "workers", "severity": "warning", "instance": f"w-{i}"} for i in range(3)]
    with client(am_container) as http:
        http.post(URL, json=payload([alert(item) for item in labels[:2]], truncated_alerts=1), headers=bearer())
        complete = payload([alert(item) for item in labels])
        http.post(URL, json=complete, headers=bearer())
        http.post(URL, json=resolved(complete), headers=bearer())
    assert rows(am_container, IncidentRow)[0].status == "resolved"
    assert [row.kind for row in rows(am_container, TimelineRow)].count("alerts_all_resolved") == 1


def test_a_paused_group_resolves_itself_once_a_notification_shows_it_whole(am_container: Container) -> None:
    """Paused while truncated; the next notification with nothing hidden and every alert resolved
    lifts the pause, even though no alert changed state in it."""
    labels = [{"alertname": "DiskFilling", "service": "logs", "severity": "warning", "instance": f"l-{i}"} for i in range(5)]
    shown = payload([alert(item) for item in labels[:2]], truncated_alerts=3)
    with client(am_container) as http:
        assert ingested(http.post(URL, json=shown, headers=bearer())) == ["created"]
        done = resolved(shown)
        assert ingested(http.post(URL, json=done, headers=bearer())) == ["updated"]
        assert rows(am_container, IncidentRow)[0].status == "triggered"  # paused: three alerts unseen
        whole = {**done, "truncatedAlerts": 0}
        assert ingested(http.post(URL, json=whole, headers=bearer())) == ["updated"]
        assert ingested(http.post(URL, json=whole, headers=bearer())) == ["unchanged"]  # a re-send adds nothing
    incident = rows(am_container, IncidentRow)[0]
    kinds = [row.kind for row in rows(am_container, TimelineRow)]
    assert incident.severity == "P3" and incident.status == "resolved"
    assert kinds.count("alerts_all_resolved") == 1


def test_a_paused_group_still_firing_when_shown_whole_stays_open(am_container: Container) -> None:
    labels = [{"alertname": "DiskFilling", "service": "logs", "severity": "warning", "instance": f"l-{i}"} for i in range(3)]
    with client(am_container) as http:
        shown = payload([alert(item) for item in labels[:2]], truncated_alerts=1)
        http.post(URL, json=shown, headers=bearer())
        http.post(URL, json=resolved(shown), headers=bearer())
        still = payload([alert(labels[2])])  # the hidden one, shown now, still firing
        http.post(URL, json={**still, "groupKey": shown["groupKey"]}, headers=bearer())
    assert rows(am_container, IncidentRow)[0].status == "triggered"
    assert "alerts_all_resolved" not in [row.kind for row in rows(am_container, TimelineRow)]
