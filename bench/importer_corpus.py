"""Measure the runbook importer on the test corpus, per style and in total.

    python bench/importer_corpus.py                 # both parts of tests/playbooks/corpus
    python bench/importer_corpus.py --part heldout  # only the part the rules were not tuned on
    python bench/importer_corpus.py --verbose       # also list every miss

Each ``X.md`` in the corpus has ``X.expected.yaml`` beside it (alert names with the severity
the runbook states, the commands a responder runs, escalation levels, decoy words). For each
runbook this imports it with ``python -m bot.playbooks import`` into a fresh folder, twice,
and counts:

- names: expected alert names found in a non-manual playbook's ``match.alertname``;
- false names: alert names that are not expected (decoys and anything else);
- severities: stated severities read into the playbook of that alert;
- commands: expected commands found verbatim as step commands;
- steps / notes: steps written, and blocks the report says went to notes;
- playbooks: runbooks giving the expected number of playbooks (one runbook, one playbook);
- manual: playbooks never attached automatically, of all playbooks written (reference
  playbooks aside);
- escalation: expected levels found (who and delay), and levels with a 0-second delay or a
  phrase as target (both must be 0);
- idempotent: runbooks whose second import leaves the folder byte for byte as the first.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.durations import parse_duration  # noqa: E402
from bot.playbooks.loader import playbook_files, read_file  # noqa: E402
from bot.playbooks.schema import Playbook  # noqa: E402

CORPUS = ROOT / "tests" / "playbooks" / "corpus"
PHRASE_TARGETS = ("immediately", "at page", "right away", "asap", "now")


@dataclass
class Tally:
    """Counts for one runbook, a style or a total (``add`` sums them)."""

    files: int = 0
    names: int = 0
    names_expected: int = 0
    false_names: int = 0
    severities: int = 0
    severities_expected: int = 0
    commands: int = 0
    commands_expected: int = 0
    steps: int = 0
    notes: int = 0
    manual: int = 0
    playbooks: int = 0
    playbooks_right: int = 0
    playbooks_checked: int = 0
    levels: int = 0
    levels_expected: int = 0
    bad_levels: int = 0
    idempotent: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name, value in vars(other).items():
            if name == "misses":
                self.misses.extend(value)
            else:
                setattr(self, name, getattr(self, name) + value)


def run_import(runbook: Path, output: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.playbooks", "import", str(runbook), "-o", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.glob("*.y*ml"))}


def loaded(directory: Path) -> list[Playbook]:
    return [item.playbook for item in map(read_file, playbook_files(directory)) if item.playbook is not None]


def is_reference(playbook: Playbook) -> bool:
    return playbook.manual and not playbook.phases


def measure(runbook: Path, expected: dict[str, Any]) -> Tally:
    tally = Tally(files=1)
    where = runbook.relative_to(CORPUS)
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "out"
        first = run_import(runbook, output)
        if first.returncode not in (0, 1):
            tally.misses.append(f"{where}: import failed: {first.stderr.strip()[-300:]}")
            return tally
        before = snapshot(output)
        playbooks = loaded(output)
        second = run_import(runbook, output)
        if second.returncode in (0, 1) and snapshot(output) == before:
            tally.idempotent = 1
        else:
            tally.misses.append(f"{where}: second import changed the folder ({len(snapshot(output))} files, was {len(before)})")
        tally.notes = len(re.findall(r"^\s+line \d+: ", first.stdout, re.MULTILINE))
    real = [p for p in playbooks if not is_reference(p)]
    tally.steps = sum(len(p.steps()) for p in playbooks)
    tally.playbooks = len(real)
    tally.manual = sum(p.manual for p in real)
    if expected.get("playbooks") is not None:
        tally.playbooks_checked = 1
        if len(real) == expected["playbooks"]:
            tally.playbooks_right = 1
        else:
            tally.misses.append(f"{where}: {len(real)} playbooks, expected {expected['playbooks']}: {[p.id for p in real]}")
    alerts: dict[str, str | None] = expected.get("alerts") or {}
    by_alert: dict[str, list[Playbook]] = defaultdict(list)
    for playbook in playbooks:
        for name in playbook.match.alertname:
            by_alert[name].append(playbook)
    for name, severity in alerts.items():
        tally.names_expected += 1
        holders = [p for p in by_alert.get(name, []) if not p.manual]
        if holders:
            tally.names += 1
        else:
            tally.misses.append(f"{where}: alert {name} not matched")
        if severity is not None:
            tally.severities_expected += 1
            got = {p.severity.value if p.severity else None for p in holders}
            if got == {severity}:
                tally.severities += 1
            else:
                tally.misses.append(f"{where}: {name} severity {sorted(map(str, got))}, expected {severity}")
    for name in sorted(set(by_alert) - set(alerts)):
        tally.false_names += 1
        tally.misses.append(f"{where}: false alert name {name!r}")
    commands = {" ".join(c.split()) for p in playbooks for _, _, step in p.steps() for c in step.commands}
    for command in expected.get("commands") or []:
        tally.commands_expected += 1
        if " ".join(command.split()) in commands:
            tally.commands += 1
        else:
            tally.misses.append(f"{where}: command not kept: {command}")
    levels = [level for p in real if p.escalation for level in p.escalation.levels]
    for level in levels:
        phrase = any(t.value.strip().lower() in PHRASE_TARGETS for t in level.targets)
        if level.delay_seconds == 0 or phrase:
            tally.bad_levels += 1
            tally.misses.append(f"{where}: bad level {level.name} delay {level.delay} targets {[t.value for t in level.targets]}")
    for delay, who in expected.get("escalation") or []:
        tally.levels_expected += 1
        hit = any(
            any(who.lower() in t.value.lower() for t in level.targets)
            and (level.delay_seconds > 0 if delay is None else level.delay_seconds == parse_duration(delay))
            for level in levels
        )
        if hit:
            tally.levels += 1
        else:
            tally.misses.append(f"{where}: escalation level {delay} {who} not found")
    return tally


def corpus(part: str) -> list[tuple[str, Path, dict[str, Any]]]:
    found = []
    for runbook in sorted((CORPUS / part).glob("*/*.md")):
        expected = yaml.safe_load(runbook.with_suffix(".expected.yaml").read_text(encoding="utf-8"))
        found.append((runbook.parent.name, runbook, expected))
    return found


def pct(hit: int, total: int) -> str:
    return f"{hit}/{total} ({100 * hit / total:.0f}%)" if total else "-"


def row(label: str, t: Tally) -> str:
    return (
        f"{label:<16}{t.files:>5}  {pct(t.names, t.names_expected):<14}{t.false_names:>5}  "
        f"{pct(t.severities, t.severities_expected):<14}{pct(t.commands, t.commands_expected):<15}"
        f"{t.steps:>5}/{t.notes:<5} {pct(t.playbooks_right, t.playbooks_checked):<12}"
        f"{pct(t.levels, t.levels_expected):<12}{t.bad_levels:>4}  {pct(t.idempotent, t.files):<14}"
        f"{t.manual}/{t.playbooks}"
    )


def report(part: str, verbose: bool) -> Tally:
    styles: dict[str, Tally] = defaultdict(Tally)
    for style, runbook, expected in corpus(part):
        styles[style].add(measure(runbook, expected))
    total = Tally()
    print(f"\n== {part} ==")
    print(f"{'style':<16}{'files':>5}  {'names':<14}{'false':>5}  {'severities':<14}{'commands':<15}"
          f"{'steps/notes':<12}{'playbooks':<12}{'escalation':<12}{'bad':>4}  {'idempotent':<14}manual")
    for style in sorted(styles):
        print(row(style, styles[style]))
        total.add(styles[style])
    print(row("total", total))
    if verbose and total.misses:
        print("misses:")
        for miss in total.misses:
            print(f"  {miss}")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("tuned", "heldout", "all"), default="all")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    parts = ("tuned", "heldout") if args.part == "all" else (args.part,)
    grand = Tally()
    for part in parts:
        grand.add(report(part, args.verbose))
    if len(parts) > 1:
        print("\n== all ==")
        print(row("total", grand))


if __name__ == "__main__":
    main()
