"""A located problem in a playbook file, shared by the loader and the linter."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class LintProblem:
    """Formats as ``file:line: message`` so editors and CI can jump to it.

    A ``warning`` does not stop the file from loading (lint still prints it): it flags
    something a person should look at, where skipping the file would do more harm.
    """

    path: str
    line: int | None
    message: str
    warning: bool = False

    def __str__(self) -> str:
        message = f"warning: {self.message}" if self.warning else self.message
        if self.line is None:
            return f"{self.path}: {message}"
        return f"{self.path}:{self.line}: {message}"


class PlaybookLoadError(Exception):
    """Raised by :func:`bot.playbooks.registry.load_directory` when any file has problems."""

    def __init__(self, problems: list[LintProblem]) -> None:
        problems = [problem for problem in problems if not problem.warning]
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))
