"""Drills stay apart: never PagerDuty (the fake would see it), never in real lists, storms,
metrics or the real escalation engine; scripted users under the permission model."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from bot.container import build_container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.ingest.alertmanager.placement import new_groups_since
from bot.settings import load_settings
from tests.conftest import make_settings
from tests.drill.conftest import START, drill_settings, example, run
from tests.fakes.pagerduty_api import FakePagerDuty

PD_POLICY = "unacknowledged:5m:pd:PEPPRIM+@oncall"


def test_a_drill_never_reaches_pagerduty(
    fake_pagerduty_env: FakePagerDuty, drill_db: str | None, db_url: str, engine: Engine, clock: FrozenClock
) -> None:
    # The control: with these settings a real container pages the fake.
    real = build_container(
        make_settings(db_url, PAGERDUTY_SERVICE_ID="PSVCAPI", FIREBREAK_DEFAULT_ESCALATION=PD_POLICY),
        clock=clock,
        transcript_stream=io.StringIO(),
        engine=engine,
    )
    number = real.service.declare(title="Real one", severity=Severity.P1, actor="alice", source=Source.CONSOLE).number
    clock.advance(minutes=5)
    assert real.escalation is not None and real.escalation.tick() == 1
    assert asyncio.run(real.worker.drain(timeout=20))
    assert fake_pagerduty_env.calls("POST /incidents"), "the control must reach the fake"
    fake_pagerduty_env.reset()

    settings = load_settings(
        _env_file=None,
        PAGERDUTY_SERVICE_ID="PSVCAPI",
        FIREBREAK_DEFAULT_ESCALATION=PD_POLICY,
        FIREBREAK_PLAYBOOKS_DIR=str(drill_settings().playbooks_dir),
    )
    assert settings.pagerduty_api_token and settings.pagerduty_routing_key  # the drill is handed real credentials
    out = io.StringIO()
    scenario = {
        "name": "pages",
        "duration": "30m",
        "events": [{"at": "0s", "alertmanager": {"labels": {"alertname": "Unmatched", "severity": "critical"}}}],
        "responses": [{"at": "20m", "user": "alice", "command": "/incident resolve"}],
    }
    drill = run(scenario, drill_db, settings=settings, out=out)
    assert drill.score is not None
    (incident,) = drill.score.incidents
    assert [(fired.level, fired.targets) for fired in incident.escalations] == [
        (1, ["PagerDuty escalation policy PEPPRIM", "@oncall"])
    ]
    assert drill.score.would_page == [
        f"(drill) would page PagerDuty escalation policy PEPPRIM for {incident.ref} (level 1)",
        f"(drill) would page @oncall for {incident.ref} (level 1)",
    ]
    assert f"(drill) would page PagerDuty escalation policy PEPPRIM for {incident.ref} (level 1)" in out.getvalue()
    assert fake_pagerduty_env.calls() == []
    assert number == 1


def test_drill_incidents_stay_out_of_real_lists_metrics_storms_and_engines(
    db_url: str, engine: Engine, clock: FrozenClock
) -> None:
    """One database for both (``--database-url`` opted in): the real side never sees the drill."""
    drill = run(example(), db_url)
    assert drill.score is not None and drill.score.incidents[0].drill
    clock.set(START + timedelta(hours=5))
    real = build_container(
        make_settings(db_url, FIREBREAK_PLAYBOOKS_DIR=str(drill_settings().playbooks_dir)),
        clock=clock,
        transcript_stream=io.StringIO(),
        engine=engine,
    )
    assert real.service.recent() == []
    counts = {
        (s.name, tuple(s.labels.values())): s.value
        for family in real.metrics.registry.collect()
        if family.name == "firebreak_incidents"
        for s in family.samples
    }
    assert all(value == 0 for value in counts.values())
    with real.sessions() as session:
        assert new_groups_since(session, START - timedelta(hours=1)) == 0
        assert new_groups_since(session, START - timedelta(hours=1), drill=True) == 1
    # The drill's incident is still open with pending deadlines; the real engine leaves them.
    assert real.escalation is not None and real.escalation.tick() == 0
    assert real.deadlines.tick() == 0
    assert real.commands.handle("/incident list", _console()).text.count("INC-") == 0


def _console():  # type: ignore[no-untyped-def]
    from bot.chat.commands import CommandContext

    return CommandContext(actor="ops", source=Source.CONSOLE)


@pytest.mark.parametrize(("standing", "refused"), [("guest", True), ("member", True), ("admin", False)])
def test_scripted_users_act_under_the_permission_model(drill_db: str | None, standing: str, refused: bool) -> None:
    """Once carol commands, only role holders and admins change severity (a member by default)."""
    scenario = {
        "name": "who",
        "users": {"gus": standing},
        "events": [{"at": "0s", "alertmanager": {"labels": {"alertname": "HighLatency", "severity": "critical"}}}],
        "responses": [
            {"at": "1m", "user": "carol", "command": "/incident role commander carol"},
            {"at": "2m", "user": "gus", "command": "/incident sev P3"},
        ],
    }
    drill = run(scenario, drill_db)
    assert drill.score is not None
    first, second = drill.score.responses
    assert first["refused"] is False
    assert second["refused"] is refused, second["reply"]
    assert drill.score.incidents[0].severity == ("P1" if refused else "P3")


def test_pagerduty_events_open_and_acknowledge_by_their_incident(drill_db: str | None) -> None:
    scenario = {
        "name": "pd",
        "events": [
            {
                "at": "0s",
                "pagerduty": {"event_type": "incident.triggered", "incident": "PABC", "title": "Checkout down", "priority": "P1"},
            },
            {
                "at": "2m",
                "pagerduty": {"event_type": "incident.triggered", "incident": "PXYZ", "title": "Search slow", "urgency": "low"},
            },
            {"at": "4m", "pagerduty": {"event_type": "incident.acknowledged", "incident": "PABC", "agent": "Dana"}},
        ],
        "expect": {"incidents": 2, "acknowledged_within": "4m"},
    }
    drill = run(scenario, drill_db)
    assert drill.score is not None and drill.score.passed, [str(r) for r in drill.score.failed]
    first, second = drill.score.incidents
    assert (first.title, first.acknowledged, second.title, second.acknowledged) == ("Checkout down", 240.0, "Search slow", None)
    assert all(incident.drill for incident in drill.score.incidents)


def test_sources_keep_groups_apart(drill_db: str | None) -> None:
    labels = {"alertname": "DiskFull", "severity": "warning"}
    scenario = {
        "name": "two clusters",
        "events": [
            {"at": "0s", "alertmanager": {"labels": labels, "source": "prod"}},
            {"at": "1m", "alertmanager": {"labels": labels, "source": "staging"}},
            {"at": "2m", "alertmanager": {"labels": labels, "source": "prod", "annotations": {"summary": "again"}}},
        ],
        "expect": {"incidents": 2},
    }
    drill = run(scenario, drill_db)
    assert drill.score is not None and drill.score.passed, [str(r) for r in drill.score.failed]


def test_a_drill_ending_on_an_alert_update_shows_the_summary_updated(drill_db: str | None) -> None:
    """A drill's clock jumps only to scripted moments and deadlines, so it does not batch
    summary refreshes (FIREBREAK_SUMMARY_BATCH_SECONDS): the last alert update shows."""
    out = io.StringIO()
    labels = {"alertname": "HighLatency", "severity": "critical"}
    scenario = {
        "name": "ends on an alert update",
        "events": [
            {"at": "0s", "alertmanager": {"labels": {**labels, "instance": "a"}}},
            {"at": "2m", "alertmanager": {"labels": {**labels, "instance": "b"}}},
        ],
    }
    assert drill_settings().summary_batch_seconds > 0  # what a drill is handed: batching on
    run(scenario, drill_db, out=out)
    updated = out.getvalue().split("(pinned summary updated)")
    assert len(updated) == 2 and "open for 2m" in updated[1]
