"""Golden output of the importer for the shared runbooks: one YAML stream and one report per runbook.

``python -m tests.playbooks.golden_tool`` rewrites the golden files from today's importer; the
test in ``test_shared_runbooks.py`` compares against them so every change shows up as a diff
to review.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parents[2]


def shared_runbooks_dir() -> Path | None:
    """``../shared/runbooks`` next to the checkout (a worktree sits one level deeper)."""
    candidates = [Path(os.environ["FIREBREAK_SHARED_RUNBOOKS"])] if os.environ.get("FIREBREAK_SHARED_RUNBOOKS") else []
    candidates += [REPO.parent / "shared" / "runbooks", REPO.parent.parent / "shared" / "runbooks", Path("/work/shared/runbooks")]
    return next((path for path in candidates if path.is_dir()), None)


def render(runbook: Path) -> tuple[str, str]:
    """(playbooks as one YAML stream, the import report) for ``runbook``."""
    from bot.playbooks.importer import dump_playbook, import_runbook

    result = import_runbook(runbook)
    stream = "".join(f"---\n{dump_playbook(playbook)}" for playbook in result.playbooks)
    return stream, result.report.format() + "\n"


def main() -> None:
    directory = shared_runbooks_dir()
    if directory is None:
        raise SystemExit("shared runbooks not found")
    GOLDEN.mkdir(exist_ok=True)
    for runbook in sorted(directory.glob("*.md")):
        stream, report = render(runbook)
        (GOLDEN / f"{runbook.stem}.playbooks.yaml").write_text(stream, encoding="utf-8")
        (GOLDEN / f"{runbook.stem}.report.txt").write_text(report, encoding="utf-8")
        print(f"wrote golden files for {runbook.name}")


if __name__ == "__main__":
    main()
