"""``firebreak playbooks import PATH``: one runbook or every markdown file under a folder,
written into the playbook folder with one report."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.domain.severity import Severity
from bot.playbooks.importer.sync import FileImport, import_into, source_name

MARKDOWN_SUFFIXES = (".md", ".markdown")


def runbook_files(path: Path) -> list[Path]:
    """``path`` itself, or the markdown files under it (sorted; hidden folders skipped)."""
    if path.is_file():
        return [path]
    found = [
        item for item in path.rglob("*")
        if item.is_file() and item.suffix.lower() in MARKDOWN_SUFFIXES
        and not any(part.startswith(".") for part in item.relative_to(path).parts)
    ]
    return sorted(found)


def import_path(
    path: Path, output: Path, *, force: bool = False, severity_words: Mapping[str, Severity] | None = None
) -> list[FileImport]:
    return [
        import_into(runbook, output, source=source_name(runbook), force=force, severity_words=severity_words)
        for runbook in runbook_files(path)
    ]


def format_batch(batch: list[FileImport], output: Path) -> str:
    """Per runbook: playbooks with kind, alerts matched and severity, what happened to each
    file, then what went to notes and why; a total line at the end."""
    lines: list[str] = []
    for one in batch:
        if one.error or one.result is None:
            lines.append(f"{one.source}: {one.error}")
            continue
        report = one.result.report
        summaries = {item.id: item for item in report.playbooks}
        lines.append(f"Imported {one.source}: {len(report.playbooks)} playbook(s)")
        for written in one.files:
            item = summaries.get(written.playbook_id)
            if item is None:
                lines.append(f"  {written.playbook_id}: kept {written.path.name} (its heading is no longer in the runbook)")
                continue
            alerts = f", alerts: {', '.join(item.alerts)}" if item.alerts else ""
            severity = f", severity {item.severity}" if item.severity else ""
            action = {
                "refused": f"NOT written: {written.path.name} was edited since the last import (use --force to overwrite)",
                "unchanged": f"unchanged {written.path.name}",
            }.get(written.action, f"{written.action} {written.path.name}")
            lines.append(f"  {item.line()}{alerts}{severity}: {action}")
        lines.extend(report.placed_lines("  "))
    files = [item for one in batch for item in one.files]
    counts = {action: sum(item.action == action for item in files) for action in ("written", "rewritten", "unchanged", "refused", "kept")}
    alert_names = sum(len(item.alerts) for one in batch if one.result for item in one.result.report.playbooks)
    lines.append(
        f"{len(batch)} runbook(s) into {output}: {counts['written']} written, {counts['rewritten']} rewritten, "
        f"{counts['unchanged']} unchanged, {counts['refused']} refused (edited), {counts['kept']} kept; "
        f"{alert_names} alert name(s) matched"
    )
    return "\n".join(lines)
