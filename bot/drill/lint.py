"""``firebreak drill lint``: every problem in scenario files, as ``file:line: message``.

The same shape as ``firebreak playbooks lint`` (bot/playbooks/problems.py), so editors and CI
jump to the line. Beyond the schema: commands that do not parse, the playbook an expectation
names missing from the playbooks the drill will load, and scripted times past the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.chat.grammar import parse
from bot.domain.errors import DomainError
from bot.drill.scenario import LIMIT, Scenario, scenario_from
from bot.playbooks.problems import LintProblem
from bot.playbooks.yamlmarks import MAX_DOCUMENT_CHARACTERS, MarkedDocument, load_marked


@dataclass(frozen=True)
class LimitProblem(LintProblem):
    """A scenario past a limit of drills (bot/drill/scenario.py): a usage error, exit status 2."""


def past_limits(problems: list[LintProblem]) -> bool:
    return any(isinstance(problem, LimitProblem) for problem in problems)


@dataclass(frozen=True)
class LoadedScenario:
    """``scenario`` is set when the schema holds, even if other checks found problems."""

    path: Path
    scenario: Scenario | None
    document: MarkedDocument | None
    problems: list[LintProblem]


class ScenarioError(Exception):
    """A scenario that cannot run; ``problems`` say where and why."""

    def __init__(self, problems: list[LintProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def read_scenario(path: Path) -> LoadedScenario:
    """Parse and validate one file; never raises for what is in it."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return LoadedScenario(path, None, None, [LintProblem(shown, None, f"cannot read: {error}")])
    if len(text) > MAX_DOCUMENT_CHARACTERS:
        return LoadedScenario(path, None, None, [LintProblem(shown, None, f"the file is longer than {MAX_DOCUMENT_CHARACTERS:,} characters")])
    try:
        reused = _anchors_and_aliases(text)
        if reused:
            return LoadedScenario(path, None, None, [LintProblem(shown, line, message) for line, message in reused])
        document = load_marked(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        return LoadedScenario(
            path, None, None, [LintProblem(shown, mark.line + 1 if mark else None, f"YAML syntax error: {problem}")]
        )
    problems = [
        LintProblem(shown, line, f"duplicate key {key!r} (the later one would win)") for key, line in document.duplicate_keys
    ]
    if not isinstance(document.data, dict):
        problems.append(LintProblem(shown, document.line_of(()), "a scenario file must be a mapping (name: ..., events: ...)"))
        return LoadedScenario(path, None, document, problems)
    try:
        scenario = scenario_from(document.data)
    except ValidationError as error:
        return LoadedScenario(path, None, document, problems + _locate(shown, document, error))
    problems += _check(shown, scenario, document)
    return LoadedScenario(path, scenario, document, problems)


def _anchors_and_aliases(text: str) -> list[tuple[int, str]]:
    """Where the file uses YAML anchors (``&name``) or aliases (``*name``), which scenarios refuse.

    Nested aliases expand exponentially (a few lines become gigabytes: the "billion laughs"),
    so they are found in the parser's event stream, before anything is built from them.
    """
    found: list[tuple[int, str]] = []
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent):
            found.append((line, f"YAML alias *{anchor} is not allowed in a scenario: write the value out"))
        elif anchor:
            found.append((line, f"YAML anchor &{anchor} is not allowed in a scenario: write each value out"))
        if len(found) >= 20:
            break
    return found


def load_scenario(path: Path) -> Scenario:
    """The scenario in ``path``; raises :class:`ScenarioError` with every problem."""
    loaded = read_scenario(path)
    if loaded.scenario is None or any(not problem.warning for problem in loaded.problems):
        raise ScenarioError(loaded.problems)
    return loaded.scenario


def lint_paths(paths: list[Path], playbook_ids: frozenset[str] | None = None) -> list[LintProblem]:
    """Problems of every file; ``playbook_ids``: the playbooks a drill would load (None: unchecked)."""
    problems: list[LintProblem] = []
    for path in paths:
        loaded = read_scenario(path)
        problems += loaded.problems
        if loaded.scenario is not None and loaded.document is not None and playbook_ids is not None:
            wanted = loaded.scenario.expect.playbook
            if wanted is not None and wanted not in playbook_ids:
                line = loaded.document.line_of(("expect", "playbook"))
                problems.append(
                    LintProblem(str(path), line, f"expect.playbook: no playbook {wanted!r} among the loaded playbooks")
                )
    return sorted(problems, key=lambda p: (p.path, p.line or 0, p.message))


def _check(shown: str, scenario: Scenario, document: MarkedDocument) -> list[LintProblem]:
    problems = []
    for index, response in enumerate(scenario.responses):
        try:
            parse(response.command)
        except (DomainError, ValueError) as error:
            problems.append(
                LintProblem(shown, document.line_of(("responses", index, "command")), f"responses.{index}.command: {error}")
            )
    if scenario.duration is not None:
        late = [(("events", i), e.at) for i, e in enumerate(scenario.events)] + [
            (("responses", i), r.at) for i, r in enumerate(scenario.responses)
        ]
        for path, at in late:
            if at > scenario.duration:
                problems.append(
                    LintProblem(
                        shown, document.line_of((*path, "at")), f"{path[0]}.{path[1]}.at: after the end of the drill (duration)"
                    )
                )
    return problems


def _locate(shown: str, document: MarkedDocument, error: ValidationError) -> list[LintProblem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(part for part in item["loc"] if isinstance(part, (str, int)))
        where = ".".join(str(part) for part in loc) or "scenario"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}" if loc else "unknown key"
        kind = LimitProblem if item["type"] == LIMIT else LintProblem
        problems.append(kind(shown, document.line_of(loc), f"{where}: {message}"))
    return problems
