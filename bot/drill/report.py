"""The score as markdown (for people and CI logs) and as JSON (for tools).

Text from alerts and scripted replies is untrusted: markdown cells are made one line and
stripped of control characters (bot/text_safety.py), and pipes cannot break the tables.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from bot.drill.expect import duration
from bot.drill.results import IncidentScore, Score
from bot.text_safety import one_line


def _cell(text: object) -> str:
    return one_line(str(text)).replace("|", "\\|")


def _at(seconds: float) -> str:
    return "+" + duration(seconds)


def to_json(score: Score) -> str:
    """The whole score; times in seconds: ``at`` from the drill's start (each entry's own time),
    ``after_open`` and the ``acknowledged``/``mitigated``/``resolved`` times from the incident's opening."""
    data: dict[str, Any] = {
        "scenario": score.scenario,
        "drill": True,
        "started_at": score.started_at.isoformat(),
        "simulated_seconds": score.simulated_seconds,
        "elapsed_seconds": round(score.elapsed_seconds, 3),
        "passed": score.passed,
        "expectations": [asdict(result) for result in score.expectations],
        "incidents": [{**asdict(item), "max_escalation_level": item.max_escalation_level} for item in score.incidents],
        "would_page": score.would_page,
        "responses": score.responses,
    }
    return json.dumps(data, indent=2, default=str)


def to_markdown(score: Score) -> str:
    lines = [f"# Drill: {_cell(score.scenario)}", ""]
    verdict = "passed" if score.passed else f"FAILED ({len(score.failed)} of {len(score.expectations)} expectations missed)"
    lines.append(
        f"Simulated {duration(score.simulated_seconds)} in {score.elapsed_seconds:.2f} s; "
        f"{len(score.incidents)} incident(s), all marked as drills. Result: {verdict if score.expectations else 'no expectations'}."
    )
    if score.expectations:
        lines += ["", "## Expectations", "", "| expectation | expected | actual | |", "| --- | --- | --- | --- |"]
        for result in score.expectations:
            lines.append(
                f"| {result.name} | {_cell(result.expected)} | {_cell(result.actual)} | {'met' if result.met else '**missed**'} |"
            )
    for item in score.incidents:
        lines += _incident(item)
    lines += ["", "## Would have paged", ""]
    lines += [f"- {_cell(page)}" for page in score.would_page] or ["Nobody: no escalation fired."]
    if score.responses:
        lines += ["", "## Scripted responses", "", "| at | who | command | answer |", "| --- | --- | --- | --- |"]
        for response in score.responses:
            answer = ("refused: " if response["refused"] else "") + str(response["reply"])
            lines.append(
                f"| {_at(float(str(response['at'])))} | {_cell(response['user'])} | `{_cell(response['command'])}` | {_cell(answer)[:160]} |"
            )
    return "\n".join(lines) + "\n"


def _incident(item: IncidentScore) -> list[str]:
    lines = ["", f"## {item.ref} (drill) [{item.severity}] {_cell(item.title)}", ""]
    lines += [
        f"- opened at {_at(item.opened_at)}, now {item.status}",
        f"- playbook: {_cell(item.playbook) if item.playbook else 'none matched'}",
        f"- time to acknowledge: {duration(item.acknowledged)}; to mitigate: {duration(item.mitigated)}; to resolve: {duration(item.resolved)}",
        "- steps done: " + (", ".join(f"{m.step} ({_at(m.at)})" for m in item.steps_done) or "none"),
        "- steps skipped: " + (", ".join(str(m.step) for m in item.steps_skipped) or "none"),
        "- steps overdue: " + (", ".join(f"{m.step} ({_at(m.at)})" for m in item.steps_overdue) or "none"),
    ]
    if item.escalations:
        for fired in item.escalations:
            lines.append(f"- escalated to level {fired.level} at {_at(fired.at)} {fired.how}: {_cell(', '.join(fired.targets))}")
    else:
        lines.append("- escalations: none fired")
    lines += ["", "| at | what | who | |", "| --- | --- | --- | --- |"]
    for entry in item.timeline:
        lines.append(f"| {_at(entry.at)} | {entry.kind} | {_cell(entry.actor)} | {_cell(entry.text)[:200]} |")
    return lines
