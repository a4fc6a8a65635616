"""Import runbooks into a playbook folder again and again without copies.

Every imported file records its runbook and heading (``imported``). A second import of the
same runbook writes each playbook over the file that came from the same heading, under the
same id, when that file is exactly as the importer left it; a file someone edited is
refused unless ``force`` (their edit would be lost). Files whose heading is gone from the
runbook are kept and reported, never deleted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.severity import Severity
from bot.playbooks.importer import ImportResult, import_text
from bot.playbooks.importer.writer import is_edited, render
from bot.playbooks.loader import playbook_files, read_file


@dataclass(frozen=True)
class Written:
    path: Path
    playbook_id: str
    action: str  # written | rewritten | unchanged | refused | kept


@dataclass
class FileImport:
    """What importing one runbook did to the folder."""

    runbook: Path
    source: str
    result: ImportResult | None = None
    files: list[Written] = field(default_factory=list)
    error: str | None = None

    @property
    def refused(self) -> list[Written]:
        return [item for item in self.files if item.action == "refused"]


@dataclass(frozen=True)
class _Existing:
    path: Path
    playbook_id: str
    edited: bool


def source_name(runbook: Path) -> str:
    """How a runbook is recorded: its path from the working directory (the runbook repository
    root, typically), so importing one file or the folder holding it records the same path."""
    resolved = runbook.resolve()
    relative = os.path.relpath(resolved, Path.cwd().resolve())
    return Path(relative).as_posix() if not relative.startswith("..") else resolved.as_posix()


def _same_runbook(source: str, recorded: set[str]) -> str:
    """The recorded source this runbook was imported under before, if any.

    The recorded path depends on the folder the import ran from; importing the same file
    from elsewhere must still find its earlier playbooks, not write copies beside them. A
    recorded path counts as the same runbook when one path ends with the other
    (``runbooks/a.md`` and ``a.md``) and no other recorded path does; ``team-b/a.md`` and
    ``runbooks/a.md`` are two runbooks.
    """
    if source in recorded:
        return source
    mine = Path(source).parts
    same = [src for src in recorded if _ends_with(Path(src).parts, mine) or _ends_with(mine, Path(src).parts)]
    return same[0] if len(same) == 1 else source


def _ends_with(parts: tuple[str, ...], tail: tuple[str, ...]) -> bool:
    return len(tail) <= len(parts) and parts[len(parts) - len(tail) :] == tail


def _existing(directory: Path) -> tuple[dict[tuple[str, str], _Existing], set[str]]:
    by_key: dict[tuple[str, str], _Existing] = {}
    ids: set[str] = set()
    if not directory.is_dir():
        return by_key, ids
    for path in playbook_files(directory):
        ids.add(path.stem)
        loaded = read_file(path)
        if loaded.playbook is None:
            continue
        ids.add(loaded.playbook.id)
        origin = loaded.playbook.imported
        if origin is not None:
            edited = is_edited(path.read_text(encoding="utf-8"))
            by_key.setdefault((origin.source, origin.heading), _Existing(path, loaded.playbook.id, edited))
    return by_key, ids


def import_into(
    runbook: Path,
    directory: Path,
    *,
    source: str,
    force: bool = False,
    severity_words: Mapping[str, Severity] | None = None,
) -> FileImport:
    """Import ``runbook`` into ``directory`` (see the module doc for the rules)."""
    outcome = FileImport(runbook, source)
    try:
        text = runbook.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        outcome.error = f"cannot read: {exc}"
        return outcome
    existing, ids = _existing(directory)
    source = _same_runbook(source, {src for src, _heading in existing})
    outcome.source = source
    mine = {heading: item for (src, heading), item in existing.items() if src == source}
    preferred = {heading: item.playbook_id for heading, item in mine.items()}
    result = import_text(text, source, ids - set(preferred.values()), severity_words, preferred_ids=preferred)
    outcome.result = result
    directory.mkdir(parents=True, exist_ok=True)
    produced: set[str] = set()
    for playbook in result.playbooks:
        heading = playbook.imported.heading if playbook.imported else ""
        produced.add(heading)
        previous = mine.get(heading)
        path = previous.path if previous is not None else directory / f"{playbook.id}.yaml"
        content = render(playbook)
        if previous is not None and previous.edited and not force:
            outcome.files.append(Written(path, playbook.id, "refused"))
            continue
        if path.exists() and path.read_text(encoding="utf-8") == content:
            outcome.files.append(Written(path, playbook.id, "unchanged"))
            continue
        action = "rewritten" if path.exists() else "written"
        path.write_text(content, encoding="utf-8")
        outcome.files.append(Written(path, playbook.id, action))
    for heading, item in sorted(mine.items()):
        if heading not in produced:
            outcome.files.append(Written(item.path, item.playbook_id, "kept"))
    return outcome
