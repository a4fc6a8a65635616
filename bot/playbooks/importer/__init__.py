"""Markdown runbook -> playbooks. See :func:`import_runbook`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.domain.severity import DEFAULT_LABEL_MAPPING, Severity
from bot.playbooks.importer.build import build
from bot.playbooks.importer.context import ImportContext
from bot.playbooks.importer.frontmatter import split_front_matter
from bot.playbooks.importer.markdown import parse_sections
from bot.playbooks.importer.report import ImportReport
from bot.playbooks.importer.writer import dump_playbook, write_playbooks
from bot.playbooks.schema import Playbook

__all__ = ["ImportReport", "ImportResult", "dump_playbook", "import_runbook", "import_text", "write_playbooks"]


@dataclass
class ImportResult:
    playbooks: list[Playbook]
    report: ImportReport


def import_text(
    text: str,
    source: str = "runbook.md",
    existing_ids: set[str] | None = None,
    severity_words: Mapping[str, Severity] | None = None,
    *,
    preferred_ids: Mapping[str, str] | None = None,
) -> ImportResult:
    """Playbooks from markdown ``text``; ids avoid ``existing_ids`` (e.g. files already in the
    output directory) so importing several runbooks into one directory stays lint-clean.

    ``source`` is the runbook's path as recorded in each playbook (``match.runbook`` and
    ``imported.source``); ``severity_words`` maps stated severities ("critical") to levels,
    the same mapping alert labels use (default: the built-in label mapping).
    ``preferred_ids`` (heading -> id) keeps the ids an earlier import gave each heading.
    """
    front, body = split_front_matter(text)
    ctx = ImportContext(
        lines=body.splitlines(),
        source=source,
        severity_words={k.lower(): v for k, v in (severity_words or DEFAULT_LABEL_MAPPING).items()},
        used_ids=set(existing_ids or set()),
        front=front,
        preferred_ids=dict(preferred_ids or {}),
    )
    playbooks, report = build(ctx, parse_sections(body))
    return ImportResult(playbooks, report)


def import_runbook(
    path: str | Path,
    existing_ids: set[str] | None = None,
    severity_words: Mapping[str, Severity] | None = None,
    source: str | None = None,
) -> ImportResult:
    runbook = Path(path)
    return import_text(runbook.read_text(encoding="utf-8"), source or runbook.name, existing_ids, severity_words)
