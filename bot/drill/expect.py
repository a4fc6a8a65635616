"""A scenario's expectations, each met or missed, with what was expected and what happened.

They are about the drill's first incident (the one its first event opens); ``incidents``
counts every incident the drill opened.
"""

from __future__ import annotations

from bot.domain.durations import format_duration
from bot.drill.results import ExpectationResult, IncidentScore
from bot.drill.scenario import Expectations


def duration(seconds: float | None) -> str:
    return "never" if seconds is None else format_duration(round(seconds))


def _within(name: str, limit: int, actual: float | None) -> ExpectationResult:
    return ExpectationResult(name, f"within {format_duration(limit)}", duration(actual), actual is not None and actual <= limit)


def evaluate(expect: Expectations, incidents: list[IncidentScore]) -> list[ExpectationResult]:
    results: list[ExpectationResult] = []
    if expect.incidents is not None:
        results.append(
            ExpectationResult("incidents", str(expect.incidents), str(len(incidents)), len(incidents) == expect.incidents)
        )
    first = incidents[0] if incidents else None
    wanted_of_first = [name for name in expect.names() if name != "incidents"]
    if first is None:
        return results + [ExpectationResult(name, "an incident", "no incident was opened", False) for name in wanted_of_first]
    if expect.acknowledged_within is not None:
        results.append(_within("acknowledged_within", expect.acknowledged_within, first.acknowledged))
    if expect.mitigated_within is not None:
        results.append(_within("mitigated_within", expect.mitigated_within, first.mitigated))
    if expect.resolved_within is not None:
        results.append(_within("resolved_within", expect.resolved_within, first.resolved))
    if expect.playbook is not None:
        results.append(
            ExpectationResult("playbook", expect.playbook, first.playbook or "none", first.playbook == expect.playbook)
        )
    if expect.severity is not None:
        results.append(
            ExpectationResult("severity", expect.severity, first.severity, first.severity.upper() == expect.severity.upper())
        )
    level = first.max_escalation_level
    if expect.max_escalation_level is not None:
        results.append(
            ExpectationResult(
                "max_escalation_level", f"at most {expect.max_escalation_level}", str(level), level <= expect.max_escalation_level
            )
        )
    if expect.min_escalation_level is not None:
        results.append(
            ExpectationResult(
                "min_escalation_level",
                f"at least {expect.min_escalation_level}",
                str(level),
                level >= expect.min_escalation_level,
            )
        )
    for step, limit in sorted(expect.steps_done_within.items()):
        done = next((mark.after_open for mark in first.steps_done if mark.step == step), None)
        results.append(_within(f"steps_done_within.{step}", limit, done))
    return results
