"""Read playbook files from a directory into validated models.

Reading and locating problems happen together because a problem without a line number is
hard to fix; :mod:`bot.playbooks.lint` adds the checks that need several files at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.playbooks.problems import LintProblem
from bot.playbooks.schema import Playbook
from bot.playbooks.yamlmarks import MarkedDocument, load_marked

PLAYBOOK_SUFFIXES = (".yaml", ".yml")


@dataclass
class LoadedFile:
    """One file's outcome: the playbook if it validated, and the problems found on the way."""

    path: Path
    playbook: Playbook | None
    document: MarkedDocument | None
    problems: list[LintProblem]


def playbook_files(directory: Path) -> list[Path]:
    """``*.yaml`` and ``*.yml`` files directly in ``directory``, sorted for stable output."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in PLAYBOOK_SUFFIXES)


def read_file(path: Path) -> LoadedFile:
    """Parse and validate one file; never raises for content problems."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return LoadedFile(path, None, None, [LintProblem(shown, None, f"cannot read: {exc}")])
    try:
        document = load_marked(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return LoadedFile(path, None, None, [LintProblem(shown, line, f"YAML syntax error: {problem}")])
    problems = [
        LintProblem(shown, line, f"duplicate key {key!r} (the later one would win)")
        for key, line in document.duplicate_keys
    ]
    if not isinstance(document.data, dict):
        problems.append(LintProblem(shown, document.line_of(()), "a playbook file must be a mapping (id: ..., title: ...)"))
        return LoadedFile(path, None, document, problems)
    try:
        playbook = Playbook.model_validate(document.data)
    except ValidationError as exc:
        problems.extend(_locate(shown, document, exc))
        return LoadedFile(path, None, document, problems)
    return LoadedFile(path, playbook, document, problems)


def _locate(shown: str, document: MarkedDocument, error: ValidationError) -> list[LintProblem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(part for part in item["loc"] if isinstance(part, (str, int)))
        where = ".".join(str(part) for part in loc) or "playbook"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}" if loc else "unknown key"
        problems.append(LintProblem(shown, document.line_of(loc), f"{where}: {message}"))
    return problems


def read_directory(directory: Path) -> list[LoadedFile]:
    return [read_file(path) for path in playbook_files(directory)]
