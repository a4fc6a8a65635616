"""Alert groups as children of incidents: correlation, the storm guard, per-child state.

Every test posts real webhooks through the in-process app (queued, then applied by the
ingester) with the settings it names, on SQLite and (``--db=postgres``) PostgreSQL.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from bot.container import Container, build_container
from bot.domain.children import JoinedBy
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.ingest.alertmanager import apply
from bot.ingest.alertmanager.grouping import Correlation
from bot.ingest.alertmanager.placement import Placement
from bot.store.models import AlertGroupRow, AlertRow, IncidentRow, OutboxRow, TimelineRow
from tests.conftest import make_settings
from tests.fakes.alertmanager_payloads import alert, payload, resolved, rfc3339
from tests.fakes.pagerduty_webhook import webhook_body, webhook_event, webhook_headers
from tests.ingest.support import TOKEN, client, ingested, rows

URL = "/webhooks/alertmanager"
MAPPING = "page=P0,critical=P1,error=P2,warning=P3,info=INFO"
PD_SECRET = "pd-secret-for-children"

Make = Callable[..., Container]


@pytest.fixture
def make(db_url: str, engine: Engine, clock: FrozenClock) -> Iterator[Make]:
    """A container with the given settings (storm guard off unless a test turns it on)."""

    def build(**overrides: Any) -> Container:
        values: dict[str, Any] = {
            "ALERTMANAGER_TOKEN": TOKEN,
            "FIREBREAK_SEVERITY_MAPPING": MAPPING,
            "FIREBREAK_STORM_THRESHOLD": "0",
            **overrides,
        }
        return build_container(make_settings(db_url, **values), clock=clock, transcript_stream=io.StringIO(), engine=engine)

    yield build


def group(
    alertname: str, *, severity: str = "warning", count: int = 1, truncated: int = 0, status: str = "firing", **labels: str
) -> dict[str, Any]:
    """A group of ``count`` alerts sharing ``labels`` (common labels), grouped by alertname and them."""
    alerts = [
        alert({"alertname": alertname, "severity": severity, "instance": f"{alertname.lower()}-{i}", **labels}, {"summary": f"{alertname} fires"}, status=status)
        for i in range(count)
    ]
    return payload(alerts, group_by=("alertname", *labels), truncated_alerts=truncated)


def post(http: TestClient, body: dict[str, Any], source: str | None = None) -> list[str]:
    url = URL if source is None else f"{URL}?source={source}"
    response = http.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 202, response.text
    return ingested(response)


def incidents(container: Container) -> list[IncidentRow]:
    return sorted(rows(container, IncidentRow), key=lambda row: row.id)


def children(container: Container, number: int) -> list[AlertGroupRow]:
    return sorted(rows(container, AlertGroupRow, incident_id=number), key=lambda row: row.child_number)


def kinds(container: Container, number: int) -> list[str]:
    return [row.kind for row in sorted(rows(container, TimelineRow, incident_id=number), key=lambda row: row.id)]


def entries(container: Container, number: int, kind: EntryKind) -> list[TimelineRow]:
    return [row for row in sorted(rows(container, TimelineRow, incident_id=number), key=lambda row: row.id) if row.kind == kind.value]


# -- correlation -------------------------------------------------------------------------


def test_a_correlated_group_joins_the_open_incident_as_its_next_child(make: Make, clock: FrozenClock) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster")
    with client(container) as http:
        assert post(http, group("DiskFull", cluster="eu-1")) == ["created"]
        clock.advance(minutes=4)
        assert post(http, group("HighLatency", severity="critical", count=2, cluster="eu-1")) == ["joined_correlated"]
    [incident] = incidents(container)
    assert incident.correlation_key == "am|cluster=eu-1"
    first, second = children(container, incident.id)
    assert (first.child_number, first.joined_by, first.correlation) == (1, "opened", {})
    assert (second.child_number, second.joined_by, second.correlation, second.severity) == (2, "correlated", {"cluster": "eu-1"}, "P1")
    # The parent's severity rose to its worst child's, and the joined group's alerts are its own.
    assert incident.severity == "P1"
    assert {row.group_id for row in rows(container, AlertRow) if row.labels["alertname"] == "HighLatency"} == {second.id}
    [joined] = entries(container, incident.id, EntryKind.GROUP_JOINED)
    assert joined.data == {
        "child": 2,
        "dedup_key": second.dedup_key,
        "labels": second.labels,
        "correlation": {"cluster": "eu-1"},
        "joined_by": "correlated",
        "severity": "P1",
        "alerts": 2,
    }
    assert "#2" in joined.text and "cluster=eu-1" in joined.text
    firing = entries(container, incident.id, EntryKind.ALERT_FIRING)
    assert sorted(row.data["child"] for row in firing) == [1, 2, 2]
    [raised] = entries(container, incident.id, EntryKind.SEVERITY_CHANGED)
    assert (raised.data["from"], raised.data["to"]) == ("P3", "P1") and "#2" in raised.data["reason"]


def test_a_label_missing_empty_or_not_common_never_correlates(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster,region")
    mixed = payload(
        [
            alert({"alertname": "Mixed", "severity": "warning", "cluster": "eu-1", "region": "eu"}),
            alert({"alertname": "Mixed", "severity": "warning", "cluster": "eu-2", "region": "eu"}),
        ],
        group_by=("alertname",),
    )
    with client(container) as http:
        post(http, group("Opener", cluster="eu-1", region="eu"))
        assert post(http, group("NoRegion", cluster="eu-1")) == ["created"]
        assert post(http, group("EmptyRegion", cluster="eu-1", region="")) == ["created"]
        assert post(http, mixed) == ["created"]  # cluster differs between its alerts: not a label of the group
        assert post(http, group("Joiner", cluster="eu-1", region="eu")) == ["joined_correlated"]
    assert [len(children(container, row.id)) for row in incidents(container)] == [2, 1, 1, 1]
    assert [row.correlation_key for row in incidents(container)] == ["am|cluster=eu-1|region=eu", None, None, None]


def test_after_the_window_a_related_group_opens_a_new_incident(make: Make, clock: FrozenClock) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster", FIREBREAK_CORRELATE_WINDOW="5m")
    with client(container) as http:
        post(http, group("DiskFull", cluster="eu-1"))
        clock.advance(minutes=5, seconds=1)
        assert post(http, group("HighLatency", cluster="eu-1")) == ["created"]
        clock.advance(minutes=1)
        # The newest incident of the key is the one within the window now.
        assert post(http, group("Errors", cluster="eu-1")) == ["joined_correlated"]
    first, second = incidents(container)
    assert [len(children(container, first.id)), len(children(container, second.id))] == [1, 2]


def test_a_resolved_incident_takes_no_new_children(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster")
    with client(container) as http:
        post(http, group("DiskFull", cluster="eu-1"))
        container.service.resolve(1, actor="alice", source=Source.CONSOLE)
        assert post(http, group("HighLatency", cluster="eu-1")) == ["created"]
    assert len(incidents(container)) == 2


def test_a_parent_resolved_after_the_decision_is_not_reopened_by_a_new_group(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster")
    with client(container) as http:
        post(http, group("DiskFull", cluster="eu-1"))
        container.service.resolve(1, actor="alice", source=Source.CONSOLE)
        # The placement was decided while #1 was open; a person resolved it before the row lock.
        decided = Placement(JoinedBy.CORRELATED, parent=1, correlation=Correlation("am|cluster=eu-1", {"cluster": "eu-1"}))
        monkeypatch.setattr(apply, "place", lambda *_args: decided)
        assert post(http, group("HighLatency", cluster="eu-1")) == ["created"]
    first, second = incidents(container)
    assert (first.status, first.reopen_count, second.correlation_key) == ("resolved", 0, "am|cluster=eu-1")


def test_groups_of_different_sources_never_correlate(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster")
    with client(container) as http:
        post(http, group("DiskFull", cluster="eu-1"), source="prod")
        assert post(http, group("HighLatency", cluster="eu-1"), source="staging") == ["created"]
        assert post(http, group("Errors", cluster="eu-1")) == ["created"]  # no source is a source of its own
        assert post(http, group("Saturation", cluster="eu-1"), source="prod") == ["joined_correlated"]
    assert [row.correlation_key for row in incidents(container)] == ["am@prod|cluster=eu-1", "am@staging|cluster=eu-1", "am|cluster=eu-1"]


PLAYBOOK = """
id: {id}
title: {id}
match:
  alertname: {alertname}
correlate_by: {correlate_by}
phases:
  - kind: diagnosis
    steps:
      - text: Look at it
"""


def test_the_matching_playbooks_correlate_by_overrides_the_setting(make: Make, tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "disk.yaml").write_text(PLAYBOOK.format(id="disk", alertname="DiskFull", correlate_by="[node]"))
    (folder / "noisy.yaml").write_text(PLAYBOOK.format(id="noisy", alertname="Noisy", correlate_by="[]"))
    container = make(FIREBREAK_CORRELATE_BY="cluster", FIREBREAK_PLAYBOOKS_DIR=str(folder))
    with client(container) as http:
        post(http, group("DiskFull", cluster="eu-1", node="n1", mount="/"))  # #1: key node=n1
        # Another DiskFull group (other mount): its playbook says node, and node matches.
        assert post(http, group("DiskFull", cluster="eu-2", node="n1", mount="/var")) == ["joined_correlated"]
        post(http, group("Latency", cluster="eu-1", node="n1"))  # #2: no playbook, the setting: cluster
        assert post(http, group("Errors", cluster="eu-1", node="n9")) == ["joined_correlated"]
        assert post(http, group("Noisy", cluster="eu-1", node="n1")) == ["created"]  # correlate_by: [] never joins
    rows_ = incidents(container)
    assert [row.correlation_key for row in rows_] == ["am|node=n1", "am|cluster=eu-1", None]
    assert [len(children(container, row.id)) for row in rows_] == [2, 2, 1]


def test_pagerduty_incidents_never_correlate(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster", PAGERDUTY_WEBHOOK_SECRET=PD_SECRET)
    with client(container) as http:
        body = webhook_body(webhook_event("incident.triggered", incident_id="Q1", title="eu-1 down", priority="P1"))
        assert http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PD_SECRET, body)).status_code == 202
        assert post(http, group("DiskFull", cluster="eu-1")) == ["created"]
        assert post(http, group("Latency", cluster="eu-1")) == ["joined_correlated"]
    pd, am = incidents(container)
    assert (pd.source, pd.correlation_key, children(container, pd.id)) == ("pagerduty", None, [])
    assert (am.correlation_key, len(children(container, am.id))) == ("am|cluster=eu-1", 2)


# -- storm guard -------------------------------------------------------------------------


def storm_of(container: Container) -> list[IncidentRow]:
    return [row for row in incidents(container) if row.storm]


def test_past_the_threshold_new_groups_fold_into_one_storm_incident_but_p0_opens_its_own(make: Make) -> None:
    container = make(FIREBREAK_STORM_THRESHOLD="3")
    with client(container) as http:
        assert [post(http, group(f"Alert{i}"))[0] for i in range(3)] == ["created"] * 3
        assert post(http, group("Alert3")) == ["created"]  # opens the storm incident
        assert post(http, group("Alert4", severity="critical")) == ["joined_storm"]
        assert post(http, group("Alert5")) == ["joined_storm"]
        assert post(http, group("Paging", severity="page")) == ["created"]  # P0 is exempt
        assert post(http, group("Alert6", severity="critical")) == ["joined_storm"]
    [storm] = storm_of(container)
    started = storm.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert (storm.title, storm.severity, storm.correlation_key) == (f"Alert storm since {started} UTC", "P1", None)
    # The title stays as the storm grows: no rename, so no title_changed entry either.
    assert entries(container, storm.id, EntryKind.TITLE_CHANGED) == []
    assert [(row.child_number, row.joined_by) for row in children(container, storm.id)] == [(1, "storm"), (2, "storm"), (3, "storm"), (4, "storm")]
    assert len(entries(container, storm.id, EntryKind.GROUP_JOINED)) == 3
    assert [row.severity for row in incidents(container) if not row.storm] == ["P3", "P3", "P3", "P0"]
    # Announced like any incident: at P3 (its first group's) without a channel, then its one
    # channel opened when the P1 group raised it, as in Slack.
    opened = [row.incident_id for row in rows(container, OutboxRow, target="chat") if row.operation == "open_incident"]
    assert opened.count(storm.id) == 2 and len(opened) == 6


def test_exempt_severities_can_include_p1(make: Make) -> None:
    container = make(FIREBREAK_STORM_THRESHOLD="2", FIREBREAK_STORM_EXEMPT="P0,P1")
    with client(container) as http:
        post(http, group("A"))
        post(http, group("B"))
        assert post(http, group("C", severity="critical")) == ["created"]
        assert post(http, group("D", severity="page")) == ["created"]
        assert post(http, group("E", severity="error")) == ["created"]  # P2: the storm incident
        assert post(http, group("F")) == ["joined_storm"]
    assert [row.storm for row in incidents(container)] == [False, False, False, False, True]


def test_the_storm_ends_after_a_quiet_window(make: Make, clock: FrozenClock) -> None:
    container = make(FIREBREAK_STORM_THRESHOLD="2", FIREBREAK_STORM_WINDOW="5m")
    with client(container) as http:
        post(http, group("A"))
        post(http, group("B"))
        post(http, group("C"))  # storm incident
        clock.advance(minutes=4)
        assert post(http, group("D")) == ["joined_storm"]  # A, B, C arrived in the window
        clock.advance(minutes=5, seconds=1)
        # Nothing new for a whole window: over.
        assert post(http, group("F")) == ["created"]
        assert post(http, group("G")) == ["created"]
        assert post(http, group("H")) == ["created"]  # a new storm: its own storm incident
        assert post(http, group("I")) == ["joined_storm"]
    storms = storm_of(container)
    assert [len(children(container, row.id)) for row in storms] == [2, 2]


def test_a_trickle_below_the_threshold_ends_the_storm_a_sustained_one_keeps_folding(make: Make, clock: FrozenClock) -> None:
    container = make(FIREBREAK_STORM_THRESHOLD="3", FIREBREAK_STORM_WINDOW="5m")
    with client(container) as http:
        for name in "ABC":
            post(http, group(name))
        assert post(http, group("D")) == ["created"]  # 3 new in the window: the storm incident
        for name in "EFGH":  # sustained: 3 or more new groups in every window
            clock.advance(minutes=1)
            assert post(http, group(name)) == ["joined_storm"], name
        clock.advance(minutes=4)
        # A trickle: one group every 3 minutes is never 3 in a window, however long it goes on,
        # though the storm incident took a group less than a window ago.
        outcomes = []
        for name in ("T1", "T2", "T3", "T4"):
            outcomes += post(http, group(name))
            clock.advance(minutes=3)
    assert outcomes == ["created"] * 4
    [storm] = storm_of(container)
    assert len(children(container, storm.id)) == 5


def test_threshold_zero_turns_the_guard_off(make: Make) -> None:
    container = make(FIREBREAK_STORM_THRESHOLD="0")
    with client(container) as http:
        for i in range(12):
            post(http, group(f"Alert{i}"))
    assert len(incidents(container)) == 12 and storm_of(container) == []


def test_the_storm_guard_is_on_by_default(db_url: str, engine: Engine, clock: FrozenClock) -> None:
    container = build_container(make_settings(db_url, ALERTMANAGER_TOKEN=TOKEN), clock=clock, transcript_stream=io.StringIO(), engine=engine)
    with client(container) as http:
        outcomes = [post(http, group(f"Alert{i}"))[0] for i in range(12)]
    assert outcomes == ["created"] * 11 + ["joined_storm"]
    assert len(storm_of(container)) == 1


# -- per-child state, severity, resolving ---------------------------------------------------


def test_severity_rises_to_the_worst_child_and_is_never_lowered(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster")
    with client(container) as http:
        post(http, group("A", severity="error", cluster="eu-1"))
        container.service.change_severity(1, Severity.P1, actor="alice", source=Source.CONSOLE)
        post(http, group("B", severity="warning", cluster="eu-1"))
        assert container.service.get(1).severity is Severity.P1  # a person's choice stands
        post(http, group("C", severity="page", cluster="eu-1"))
    assert container.service.get(1).severity is Severity.P0
    assert [row.severity for row in children(container, 1)] == ["P2", "P3", "P0"]


def test_the_incident_resolves_itself_only_once_every_child_has(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster", FIREBREAK_AUTO_RESOLVE="P3")
    a, b = group("A", cluster="eu-1"), group("B", count=2, cluster="eu-1")
    with client(container) as http:
        post(http, a)
        post(http, b)
        post(http, resolved(a))
        assert container.service.get(1).status.is_open
        first = children(container, 1)[0]
        assert (first.status, first.resolved_at is not None) == ("resolved", True)
        [note] = [row for row in entries(container, 1, EntryKind.NOTE) if row.data.get("child_resolved")]
        assert note.data == {"child": 1, "child_resolved": True} and "#1" in note.text
        assert entries(container, 1, EntryKind.ALERTS_ALL_RESOLVED) == []
        post(http, resolved(b))
    assert not container.service.get(1).status.is_open
    [done] = entries(container, 1, EntryKind.ALERTS_ALL_RESOLVED)
    assert done.data == {"count": 3, "auto_resolved": True}
    # A child's own "resolved" note refreshes the summary; it is not posted.
    posts = [row.payload.get("entry_id") for row in rows(container, OutboxRow, target="chat") if row.operation == "post"]
    assert note.id not in posts


def test_a_truncated_child_holds_the_incident_open(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster", FIREBREAK_AUTO_RESOLVE="P3")
    a, b = group("A", cluster="eu-1"), group("B", cluster="eu-1", truncated=3)
    with client(container) as http:
        post(http, a)
        post(http, b)
        assert children(container, 1)[1].truncated_alerts == 3
        post(http, resolved(b))
        post(http, resolved(a))
        # Every alert shown has cleared, but child #2 hides 3: paused, said once.
        assert container.service.get(1).status.is_open
        assert len([row for row in entries(container, 1, EntryKind.NOTE) if row.data.get("auto_resolve_paused")]) == 1
        post(http, {**resolved(b), "truncatedAlerts": 0})
    assert not container.service.get(1).status.is_open
    assert children(container, 1)[1].truncated_alerts == 0


def test_a_child_firing_again_reopens_the_incident(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster", FIREBREAK_AUTO_RESOLVE="P3")
    a, b = group("A", cluster="eu-1"), group("B", cluster="eu-1")
    with client(container) as http:
        post(http, a)
        post(http, b)
        post(http, resolved(a))
        post(http, resolved(b))
        assert not container.service.get(1).status.is_open
        # The same alert fires again: a new episode, starting after the resolve.
        refire = group("B", cluster="eu-1")
        refire["alerts"][0]["startsAt"] = rfc3339(datetime.now(UTC) + timedelta(minutes=1))
        assert post(http, refire) == ["updated"]
    incident = container.service.get(1)
    assert incident.status.value == "triggered" and incident.reopen_count == 1
    assert [row.status for row in children(container, 1)] == ["resolved", "firing"]
    assert len(incidents(container)) == 1


# -- a joined group is an update of its parent ----------------------------------------------


def test_a_joined_group_opens_no_channel_pages_nobody_and_arms_no_escalation(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster", PAGERDUTY_ROUTING_KEY="R" * 32)
    with client(container) as http:
        post(http, group("A", severity="critical", cluster="eu-1"))
        before = {(row.target, row.operation) for row in rows(container, OutboxRow)}
        count = len(rows(container, OutboxRow))
        assert post(http, group("B", severity="critical", cluster="eu-1")) == ["joined_correlated"]
        assert post(http, group("C", severity="page", cluster="eu-1")) == ["joined_correlated"]
    assert ("chat", "open_incident") in before and ("pagerduty", "trigger") in before
    new = rows(container, OutboxRow)[count:]
    assert {row.incident_id for row in new} <= {1}
    assert [row.operation for row in new if row.operation in ("open_incident", "trigger")] == []
    assert len(incidents(container)) == 1
    # Said in the parent's channel by refreshing its summary, not by a post per group.
    assert "refresh_summary" in [row.operation for row in new if row.target == "chat"]
    joined_ids = {row.id for row in entries(container, 1, EntryKind.GROUP_JOINED)}
    assert len(joined_ids) == 2 and not joined_ids & {row.payload.get("entry_id") for row in new if row.operation == "post"}
    # The parent's one escalation plan: still one, never one per child.
    assert kinds(container, 1).count(EntryKind.DECLARED.value) == 1


def test_the_joined_entry_text_is_one_clean_line_of_hostile_labels(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster")
    hostile = "eu-1\x1b[31m\u202e\nnext"
    with client(container) as http:
        post(http, group("DiskFull", cluster=hostile))
        assert post(http, group("Latency\r\nInjected", cluster=hostile)) == ["joined_correlated"]
    [joined] = entries(container, 1, EntryKind.GROUP_JOINED)
    assert "\x1b" not in joined.text and "\u202e" not in joined.text and "\n" not in joined.text
    assert "cluster=eu-1[31m ⏎ next" in joined.text
    assert joined.data["correlation"] == {"cluster": hostile}  # the data keeps what was sent


# -- one alert in two children ----------------------------------------------------------------


def two_routes(alertname: str = "DiskFull", **labels: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """One alert routed to two receivers (``continue: true``): two groups, one fingerprint."""
    body = group(alertname, cluster="eu-1", **labels)
    other = payload(body["alerts"], group_by=("alertname", "cluster", *labels), receiver="firebreak-team", route='{}/{team="db"}')
    assert other["groupKey"] != body["groupKey"] and other["alerts"][0]["fingerprint"] == body["alerts"][0]["fingerprint"]
    return body, other


def test_one_alert_in_two_children_is_kept_in_each_and_holds_the_incident_open(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster", FIREBREAK_AUTO_RESOLVE="P3")
    first, second = two_routes()
    with client(container) as http:
        assert post(http, first) == ["created"]
        assert post(http, second) == ["joined_correlated"]
        kids = children(container, 1)
        assert [(row.group_id, row.status) for row in rows(container, AlertRow)] == [(kids[0].id, "firing"), (kids[1].id, "firing")]
        post(http, resolved(first))
        # Child #1's copy cleared; child #2's still fires: the incident stays open.
        assert container.service.get(1).status.is_open
        assert [row.status for row in children(container, 1)] == ["resolved", "firing"]
        assert entries(container, 1, EntryKind.ALERTS_ALL_RESOLVED) == []
        post(http, resolved(second))
    assert not container.service.get(1).status.is_open
    [done] = entries(container, 1, EntryKind.ALERTS_ALL_RESOLVED)
    assert done.data["count"] == 2


def test_merging_two_incidents_holding_one_alert_keeps_both_with_their_children(make: Make) -> None:
    container = make()
    first, second = two_routes()
    with client(container) as http:
        assert post(http, first) == ["created"]
        assert post(http, second) == ["created"]
    result = container.commands.regroup.merge(1, 2, actor="alice", source=Source.CONSOLE)
    assert result is not None
    kids = children(container, 1)
    assert [row.dedup_key for row in kids] == [row.dedup_key for row in sorted(rows(container, AlertGroupRow), key=lambda row: row.id)]
    alerts = sorted(rows(container, AlertRow), key=lambda row: row.id)
    assert [(row.incident_id, row.group_id, row.status) for row in alerts] == [(1, kids[0].id, "firing"), (1, kids[1].id, "firing")]
    assert container.service.get(2).status.value == "resolved"
    # Each child keeps applying its own notifications after the merge.
    with client(container) as http:
        post(http, resolved(second))
    assert [row.status for row in children(container, 1)] == ["firing", "resolved"]
    assert container.service.get(1).status.is_open


def test_a_milder_alert_never_lowers_its_childs_severity_and_a_split_keeps_it(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster")
    critical = group("Latency", severity="critical", cluster="eu-1")
    milder = alert({"alertname": "Latency", "severity": "warning", "instance": "latency-9", "cluster": "eu-1"}, {"summary": "Latency fires"})
    both = payload([*critical["alerts"], milder], group_by=("alertname", "cluster"))
    assert both["groupKey"] == critical["groupKey"]
    with client(container) as http:
        post(http, group("DiskFull", cluster="eu-1"))
        assert post(http, critical) == ["joined_correlated"]
        assert post(http, both) == ["updated"]  # the critical alert still fires, a warning one joins
        assert [row.severity for row in children(container, 1)] == ["P3", "P1"]
        # Once every alert of the child has cleared, a new episode starts from its own alerts.
        post(http, resolved(both))
        refire = payload([{**milder, "startsAt": rfc3339(datetime.now(UTC) + timedelta(minutes=1))}], group_by=("alertname", "cluster"))
        post(http, refire)
        assert [row.severity for row in children(container, 1)] == ["P3", "P3"]
        post(http, {**both, "alerts": [{**a, "startsAt": rfc3339(datetime.now(UTC) + timedelta(minutes=2))} for a in both["alerts"]]})
    assert [row.severity for row in children(container, 1)] == ["P3", "P1"]
    result = container.commands.regroup.split(1, "#2", actor="alice", source=Source.CONSOLE)
    assert result.incident.severity is Severity.P1


def test_a_truncated_child_is_never_called_resolved(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster", FIREBREAK_AUTO_RESOLVE="P3")
    a, b = group("A", cluster="eu-1"), group("B", cluster="eu-1", truncated=3)
    with client(container) as http:
        post(http, a)
        post(http, b)
        post(http, resolved(b))  # every alert shown cleared; 3 more are hidden
        assert [(row.status, row.resolved_at) for row in children(container, 1)][1] == ("firing", None)
        assert [row for row in entries(container, 1, EntryKind.NOTE) if row.data.get("child_resolved")] == []
        post(http, {**resolved(b), "truncatedAlerts": 0})  # shown whole: now it has cleared
    assert children(container, 1)[1].status == "resolved"
    [note] = [row for row in entries(container, 1, EntryKind.NOTE) if row.data.get("child_resolved")]
    assert note.data["child"] == 2


def test_separators_in_label_values_never_make_two_groups_correlate(make: Make) -> None:
    container = make(FIREBREAK_CORRELATE_BY="cluster,namespace")
    with client(container) as http:
        assert post(http, group("A", cluster="eu-1|namespace=payments", namespace="x")) == ["created"]
        assert post(http, group("B", cluster="eu-1", namespace="payments|namespace=x")) == ["created"]
        assert post(http, group("C", cluster="eu-1%7Cnamespace%3Dpayments", namespace="x")) == ["created"]
        assert post(http, group("D", cluster="eu-1|namespace=payments", namespace="x")) == ["joined_correlated"]
    keys = [row.correlation_key for row in incidents(container)]
    assert len(set(keys)) == 3 and all(key is not None and len(key) <= 512 for key in keys)


@pytest.mark.parametrize(
    ("exempt", "sentence"),
    [("P0", "(its own alerts and state). Groups of P0 still open their own incidents. The first group:"),
     ("none", "(its own alerts and state). Groups of every severity fold into it. The first group:")],
)
def test_the_storm_incident_says_in_plain_sentences_which_groups_still_open_their_own(make: Make, exempt: str, sentence: str) -> None:
    container = make(FIREBREAK_STORM_THRESHOLD="2", FIREBREAK_STORM_EXEMPT=exempt)
    with client(container) as http:
        for name in ("A", "B", "C"):
            post(http, group(name))
    [storm] = storm_of(container)
    assert sentence in storm.description


def test_a_post_mortem_leaves_out_the_alerts_of_groups_that_moved_to_another_incident(make: Make) -> None:
    """A split or merged-away group takes its alert rows along, but its alerts' earlier firing
    entries stay on the old incident's timeline. The post-mortem must not rebuild them from
    there as alerts of this incident that are "still firing" forever: they resolve elsewhere."""
    container = make(FIREBREAK_CORRELATE_BY="cluster")
    with client(container) as http:
        post(http, group("DiskFull", cluster="eu-1"))
        post(http, group("Latency", severity="critical", cluster="eu-1"))
        post(http, group("ErrorRate", cluster="us-1"))
        split = container.commands.regroup.split(1, "#2", actor="alice", source=Source.CONSOLE).incident.number
        container.commands.regroup.merge(split, 2, actor="alice", source=Source.CONSOLE)
        post(http, resolved(group("Latency", severity="critical", cluster="eu-1")))
        post(http, resolved(group("ErrorRate", cluster="us-1")))
    parent = container.exporter.document(1)
    assert [a["alertname"] for a in parent["alerts"]] == ["DiskFull"]
    assert parent["impact"]["alert_count"] == 1 and parent["impact"]["alerts_still_firing"] == 1
    merged_away = container.exporter.document(2)
    assert merged_away["alerts"] == [] and merged_away["impact"]["alerts_still_firing"] == 0
    assert parent["alerts_moved"] == [{"child": 2, "into": split, "how": "split"}]
    assert f"Alert group #1 moved to INC-{split} by the merge: its alerts are listed there." in container.exporter.render(2, "md")
    taken = container.exporter.document(split)
    assert sorted((a["alertname"], a["status"]) for a in taken["alerts"]) == [("ErrorRate", "resolved"), ("Latency", "resolved")]
