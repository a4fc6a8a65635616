"""Drills through the real pipeline: with and without responses, expectations met and missed."""

from __future__ import annotations

import io

from bot.drill.report import to_json, to_markdown
from tests.drill.conftest import example, run

FIRING = {"status": "firing", "labels": {"alertname": "HighLatency", "service": "checkout", "severity": "critical"}}


def test_the_example_scenario_passes_with_its_numbers(drill_db: str | None) -> None:
    out = io.StringIO()
    drill = run(example(), drill_db, out=out)
    score = drill.score
    assert score is not None
    assert score.passed, [str(result) for result in score.failed]
    assert [result.name for result in score.expectations] == [
        "acknowledged_within",
        "playbook",
        "max_escalation_level",
        "steps_done_within.1",
    ]
    (incident,) = score.incidents
    assert incident.drill is True
    assert (incident.playbook, incident.acknowledged, incident.max_escalation_level) == ("high-latency", 180.0, 0)
    assert [(mark.step, mark.at) for mark in incident.steps_done] == [(1, 360.0)]
    assert score.simulated_seconds == 25 * 60
    # The whole transcript is marked as a drill's, and nobody was paged.
    lines = out.getvalue().splitlines()
    assert lines and all(line.startswith("(drill) ") for line in lines)
    assert score.would_page == []
    assert [(r["user"], r["reply"], r["refused"]) for r in score.responses] == [
        ("alice", "INC-1 is now acknowledged", False),
        ("alice", "☑️ INC-1: step 1 done by alice", False),
    ]


def test_without_responses_escalation_fires_and_expectations_are_missed(drill_db: str | None) -> None:
    scenario = example().model_copy(update={"responses": []})
    drill = run(scenario, drill_db)
    score = drill.score
    assert score is not None and not score.passed
    assert {result.name for result in score.failed} == {"acknowledged_within", "max_escalation_level", "steps_done_within.1"}
    (incident,) = score.incidents
    # high-latency's L1 (10m, unacknowledged) pages its PagerDuty policy: in a drill only said.
    assert [(fired.level, fired.at, fired.targets) for fired in incident.escalations] == [
        (1, 600.0, ["PagerDuty escalation policy PRIMARY_ONCALL"])
    ]
    assert "(drill) would page PagerDuty escalation policy PRIMARY_ONCALL for INC-1 (level 1)" in score.would_page
    missed = {result.name: result for result in score.failed}
    assert (missed["acknowledged_within"].expected, missed["acknowledged_within"].actual) == ("within 5m", "never")
    assert missed["max_escalation_level"].actual == "1"


def test_reminders_and_step_deadlines_fire_on_the_simulated_clock(drill_db: str | None) -> None:
    """Two quiet hours after an acknowledge at 1m: a reminder after each 30 quiet minutes
    (the L2 escalation at 45m, unresolved, counts as activity), all at exact minutes."""
    drill = run(
        {
            "name": "quiet",
            "duration": "2h",
            "events": [{"at": "0s", "alertmanager": FIRING}],
            "responses": [{"at": "1m", "user": "alice", "command": "/incident ack"}],
            "expect": {"min_escalation_level": 2},
        },
        drill_db,
    )
    score = drill.score
    assert score is not None and score.passed, [str(r) for r in score.failed]
    (incident,) = score.incidents
    assert [(fired.level, fired.at) for fired in incident.escalations] == [(2, 45 * 60.0)]
    reminders = [line.at / 60 for line in incident.timeline if line.kind == "reminder"]
    assert reminders == [31.0, 75.0, 105.0]


def test_reports_in_markdown_and_json_name_every_part(drill_db: str | None) -> None:
    import json

    drill = run(example(), drill_db)
    assert drill.score is not None
    markdown = to_markdown(drill.score)
    for part in (
        "# Drill: checkout-latency",
        "## Expectations",
        "| acknowledged_within | within 5m | 3m | met |",
        "INC-1 (drill)",
        "time to acknowledge: 3m",
        "steps done: 1 (+6m)",
        "## Would have paged",
        "| +25m | alerts_all_resolved |",
    ):
        assert part in markdown, part
    data = json.loads(to_json(drill.score))
    assert data["drill"] is True and data["passed"] is True
    assert data["incidents"][0]["acknowledged"] == 180.0
    assert data["incidents"][0]["max_escalation_level"] == 0
    assert [item["met"] for item in data["expectations"]] == [True, True, True, True]


def test_the_post_mortem_posted_on_resolve_says_it_was_a_drill(drill_db: str | None) -> None:
    scenario = example()
    resolve = scenario.responses[0].model_copy(update={"at": 20 * 60, "command": "/incident resolve"})
    out = io.StringIO()
    drill = run(scenario.model_copy(update={"responses": [*scenario.responses, resolve]}), drill_db, out=out)
    assert drill.score is not None and drill.score.incidents[0].resolved == 1200.0
    assert "│ # Post-mortem: INC-1 — p99 above 2s (drill)" in out.getvalue()
