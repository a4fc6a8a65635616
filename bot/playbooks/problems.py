"""A located problem in a playbook file, shared by the loader and the linter."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class LintProblem:
    """Formats as ``file:line: message`` so editors and CI can jump to it."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


class PlaybookLoadError(Exception):
    """Raised by :func:`bot.playbooks.loader.load_directory` when any file has problems."""

    def __init__(self, problems: list[LintProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))
