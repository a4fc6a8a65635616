"""Markdown runbook -> playbooks. See :func:`import_runbook`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.playbooks.importer.build import RunbookBuilder
from bot.playbooks.importer.markdown import parse_sections
from bot.playbooks.importer.report import ImportReport
from bot.playbooks.importer.writer import dump_playbook, write_playbooks
from bot.playbooks.schema import Playbook

__all__ = ["ImportReport", "ImportResult", "dump_playbook", "import_runbook", "import_text", "write_playbooks"]


@dataclass
class ImportResult:
    playbooks: list[Playbook]
    report: ImportReport


def import_text(text: str, source: str = "runbook.md", existing_ids: set[str] | None = None) -> ImportResult:
    """Playbooks from markdown ``text``; ids avoid ``existing_ids`` (e.g. files already in the
    output directory) so importing several runbooks into one directory stays lint-clean."""
    builder = RunbookBuilder(text, source, existing_ids or set())
    playbooks, report = builder.build(parse_sections(text))
    return ImportResult(playbooks, report)


def import_runbook(path: str | Path, existing_ids: set[str] | None = None) -> ImportResult:
    runbook = Path(path)
    return import_text(runbook.read_text(encoding="utf-8"), runbook.name, existing_ids)
