import pytest
from pydantic import ValidationError

from bot.domain.durations import format_duration
from bot.domain.severity import Severity
from bot.playbooks import Playbook, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("2d", 172800), ("0s", 0), (" 10M ", 600)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5", "", "5 minutes", "30m1h", "1.5h", "-5m", "m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0, 45, 300, 5400, 90061])
def test_format_duration_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def _base(**extra: object) -> dict:
    return {"id": "db-down", "title": "Database down", "phases": [{"kind": "diagnosis", "steps": [{"text": "look"}]}], **extra}


def _errors(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        Playbook.model_validate(data)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in info.value.errors()]


def test_valid_playbook_normalises_kinds_and_lists() -> None:
    playbook = Playbook.model_validate(
        _base(
            severity="P1",
            match={"alertname": "PostgresDown", "labels": {"env": "=~prod|staging"}},
            phases=[{"kind": "confirm", "steps": [{"text": "check", "deadline": "5m"}]}],
        )
    )
    assert playbook.match.alertname == ["PostgresDown"]
    assert playbook.phases[0].kind == "symptoms"
    assert playbook.phases[0].steps[0].on_deadline == "remind"
    assert playbook.severity is Severity.P1
    assert playbook.steps()[0][0] == 1


def test_unknown_keys_and_bad_slug_are_errors() -> None:
    errors = _errors(_base(id="Not A Slug", colour="red"))
    assert ("id", "String should match pattern '^[a-z0-9]+(?:-[a-z0-9]+)*$'") in errors
    assert any(loc == "colour" and "Extra inputs" in msg for loc, msg in errors)


def test_target_needs_exactly_one_key() -> None:
    errors = _errors(_base(escalation={"levels": [{"delay": "5m", "targets": [{"slack_user": "U1", "who": "DBA"}]}]}))
    assert errors[0][0] == "escalation.levels.0.targets.0"
    assert "exactly one of" in errors[0][1]


def test_escalation_delays_must_not_decrease_and_names_default() -> None:
    errors = _errors(
        _base(escalation={"levels": [{"delay": "30m", "targets": [{"who": "a"}]}, {"delay": "5m", "targets": [{"who": "b"}]}]})
    )
    assert "must not decrease" in errors[0][1]
    ok = Playbook.model_validate(
        _base(escalation={"levels": [{"delay": "0s", "targets": [{"who": "a"}]}, {"delay": "5m", "condition": "unresolved", "targets": [{"slack_group": "S1"}]}]})
    )
    assert [level.name for level in ok.escalation.levels] == ["L1", "L2"]
    assert ok.escalation.levels[1].targets[0].kind == "slack_group"
    assert ok.escalation.levels[1].delay_seconds == 300


def test_step_deadline_rules() -> None:
    errors = _errors(_base(phases=[{"kind": "resolution", "steps": [{"text": "x", "on_deadline": "escalate"}]}]))
    assert "on_deadline needs a deadline" in errors[0][1]
    errors = _errors(_base(phases=[{"kind": "resolution", "steps": [{"text": "x", "deadline": "5 min"}]}]))
    assert errors[0][0] == "phases.0.steps.0.deadline"
    assert "invalid duration '5 min'" in errors[0][1]
    errors = _errors(_base(phases=[{"kind": "resolution", "steps": [{"text": "x", "deadline": "5m", "escalate_to": "L2"}]}]))
    assert "escalate_to is only meaningful" in errors[0][1]


def test_bad_regex_label_and_default_with_rules() -> None:
    errors = _errors(_base(match={"labels": {"env": "=~(prod"}}))
    assert "invalid regular expression" in errors[0][1]
    errors = _errors(_base(default=True, match={"alertname": "X"}))
    assert "default playbook" in errors[0][1]


def test_unknown_phase_kind() -> None:
    errors = _errors(_base(phases=[{"kind": "panic", "steps": [{"text": "x"}]}]))
    assert errors[0][0] == "phases.0.kind"


@pytest.mark.parametrize(("where", "path"), [("delay", "escalation.levels.0.delay"), ("deadline", "phases.0.steps.0.deadline")])
@pytest.mark.parametrize("value", ["31d", "30000d", "99999999999d", "720h1s"])
def test_delays_and_deadlines_longer_than_30_days_are_refused(where: str, path: str, value: str) -> None:
    """Planned from the moment an incident opens (``99999999999d`` overflowed the date) and
    stored in an INTEGER column (``30000d`` did not fit on PostgreSQL): either failed the
    declaration of the incident the playbook matched."""
    delay, deadline = (value, "5m") if where == "delay" else ("5m", value)
    errors = _errors(
        _base(
            escalation={"levels": [{"delay": delay, "targets": [{"who": "a"}]}]},
            phases=[{"kind": "resolution", "steps": [{"text": "x", "deadline": deadline}]}],
        )
    )
    assert [error[0] for error in errors] == [path]
    assert "at most 30 days" in errors[0][1]
    Playbook.model_validate(_base(escalation={"levels": [{"delay": "30d", "targets": [{"who": "a"}]}]}))


def test_the_default_policy_refuses_a_delay_longer_than_30_days() -> None:
    from bot.domain.escalation_parse import parse_policy

    with pytest.raises(ValueError, match="at most 30 days"):
        parse_policy("unacknowledged:5m:@oncall,unresolved:99999999999d:@lead")
    assert parse_policy("unacknowledged:30d:@oncall").levels[0].delay_seconds == 30 * 86400
