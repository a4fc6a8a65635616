"""Re-importing runbooks (no copies, edits kept), importing folders, duplicate match rules,
and matching an alert to its runbook by ``runbook_url``."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.playbooks import IncidentFacts, Playbook, import_text, lint_directory, load_directory, rank_playbooks
from bot.playbooks.importer.sync import import_into
from bot.playbooks.importer.writer import is_edited
from bot.playbooks.matching import runbook_matches
from bot.playbooks.registry import load_registry
from tests.guided.conftest import build

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"
RUNBOOK = """# queueConsumerStuck

## Meaning

Consumers stopped taking messages.

**Severity:** Warning

## Diagnosis

1. `kubectl get pods -n queue -l app=consumer`

## Mitigation

1. `kubectl rollout restart deploy/consumer -n queue`
"""


def cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.playbooks", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env, check=False)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.glob("*.yaml"))}


# -- point 8: re-import ---------------------------------------------------------------------

def test_reimport_rewrites_same_ids_and_adds_no_copies(tmp_path: Path) -> None:
    runbook, out = tmp_path / "queueConsumerStuck.md", tmp_path / "out"
    runbook.write_text(RUNBOOK)
    first = import_into(runbook, out, source="queueConsumerStuck.md")
    assert [(w.playbook_id, w.action) for w in first.files] == [("queue-consumer-stuck", "written")]
    assert not is_edited((out / "queue-consumer-stuck.yaml").read_text())
    again = import_into(runbook, out, source="queueConsumerStuck.md")
    assert [(w.playbook_id, w.action) for w in again.files] == [("queue-consumer-stuck", "unchanged")]
    # the runbook changes: the same file is rewritten under the same id
    runbook.write_text(RUNBOOK.replace("Warning", "Critical"))
    changed = import_into(runbook, out, source="queueConsumerStuck.md")
    assert [(w.playbook_id, w.action) for w in changed.files] == [("queue-consumer-stuck", "rewritten")]
    [playbook] = load_directory(out)
    assert playbook.severity is Severity.P1 and len(snapshot(out)) == 1


def test_reimport_from_another_folder_finds_its_earlier_playbooks(tmp_path: Path) -> None:
    runbook, out = tmp_path / "queueConsumerStuck.md", tmp_path / "out"
    runbook.write_text(RUNBOOK)
    import_into(runbook, out, source="runbooks/queueConsumerStuck.md")  # imported from the repository root
    again = import_into(runbook, out, source="queueConsumerStuck.md")  # later, from inside runbooks/
    assert [(w.playbook_id, w.action) for w in again.files] == [("queue-consumer-stuck", "unchanged")]
    assert again.source == "runbooks/queueConsumerStuck.md" and len(snapshot(out)) == 1
    # two different runbooks that share a file name stay apart
    other = tmp_path / "elsewhere" / "queueConsumerStuck.md"
    other.parent.mkdir()
    other.write_text(RUNBOOK.replace("queueConsumerStuck", "queueConsumerStuckToo"))
    team_b = import_into(other, out, source="team-b/queueConsumerStuck.md")
    assert team_b.source == "team-b/queueConsumerStuck.md" and len(snapshot(out)) == 2
    third = import_into(runbook, out, source="queueConsumerStuck.md")
    assert third.source == "queueConsumerStuck.md"  # ambiguous now: recorded as given


def test_edited_files_are_refused_without_force(tmp_path: Path) -> None:
    runbook, out = tmp_path / "queueConsumerStuck.md", tmp_path / "out"
    runbook.write_text(RUNBOOK)
    import_into(runbook, out, source="queueConsumerStuck.md")
    target = out / "queue-consumer-stuck.yaml"
    edited = target.read_text().replace("title: queueConsumerStuck", "title: Queue consumers stuck (edited)")
    target.write_text(edited)
    assert is_edited(edited)
    refused = import_into(runbook, out, source="queueConsumerStuck.md")
    assert [(w.playbook_id, w.action) for w in refused.files] == [("queue-consumer-stuck", "refused")]
    assert target.read_text() == edited and len(snapshot(out)) == 1
    forced = import_into(runbook, out, source="queueConsumerStuck.md", force=True)
    assert [w.action for w in forced.files] == ["rewritten"]
    assert "(edited)" not in target.read_text() and len(snapshot(out)) == 1


def test_cli_refuses_edited_file_with_exit_one_and_force_overwrites(tmp_path: Path) -> None:
    runbook, out = tmp_path / "queueConsumerStuck.md", tmp_path / "out"
    runbook.write_text(RUNBOOK)
    assert cli("import", str(runbook), "-o", str(out), cwd=tmp_path).returncode == 0
    target = out / "queue-consumer-stuck.yaml"
    target.write_text(target.read_text() + "# reviewed by dana\n")
    refused = cli("import", str(runbook), "-o", str(out), cwd=tmp_path)
    assert refused.returncode == 1
    assert "NOT written: queue-consumer-stuck.yaml was edited since the last import (use --force to overwrite)" in refused.stdout
    assert target.read_text().endswith("# reviewed by dana\n")
    forced = cli("import", str(runbook), "-o", str(out), "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "# reviewed by dana" not in target.read_text()


def test_heading_gone_from_runbook_keeps_its_file(tmp_path: Path) -> None:
    runbook, out = tmp_path / "ops.md", tmp_path / "out"
    runbook.write_text("# Ops\n\n## Cache Down\n\n1. Restart cache\n\n## Queue Down\n\n1. Restart queue\n")
    import_into(runbook, out, source="ops.md")
    runbook.write_text("# Ops\n\n## Cache Down\n\n1. Restart cache pods\n")
    second = import_into(runbook, out, source="ops.md")
    assert sorted((w.playbook_id, w.action) for w in second.files) == [("cache-down", "rewritten"), ("queue-down", "kept")]
    assert sorted(snapshot(out)) == ["cache-down.yaml", "queue-down.yaml"]


# -- point 8: duplicate match rules -------------------------------------------------------------

def test_same_match_rules_warn_and_the_first_id_is_kept(tmp_path: Path) -> None:
    body = "title: {t}\nmatch:\n  alertname: [DiskFull]\nphases:\n  - kind: resolution\n    steps: [{{text: clean up}}]\n"
    (tmp_path / "disk-b.yaml").write_text("id: disk-b\n" + body.format(t="B"))
    (tmp_path / "disk-a.yaml").write_text("id: disk-a\n" + body.format(t="A"))
    problems = lint_directory(tmp_path)
    assert [(Path(p.path).name, p.line, p.warning) for p in problems] == [("disk-b.yaml", 3, True)]
    assert "same match rules as 'disk-a'" in str(problems[0]) and str(problems[0]).split(": ")[1] == "warning"
    registry = load_registry(tmp_path)
    assert sorted(registry.playbooks) == ["disk-a", "disk-b"]  # neither file is skipped
    playbook, _ = registry.match(IncidentFacts(alertname="DiskFull", labels={"alertname": "DiskFull"}))
    assert playbook is not None and playbook.id == "disk-a"
    assert len(load_directory(tmp_path)) == 2
    lint = cli("lint", str(tmp_path))
    assert lint.returncode == 0 and lint.stdout.strip().endswith("2 playbook(s) in " + str(tmp_path) + ": 1 warning(s)")


# -- point 9: whole folders ---------------------------------------------------------------------

def test_import_folder_with_one_report(tmp_path: Path) -> None:
    repo = tmp_path / "runbooks"
    shutil.copytree(CORPUS / "tuned" / "per_alert", repo / "openshift")
    shutil.copy(CORPUS / "tuned" / "decoys" / "README.md", repo / "README.md")
    (repo / "openshift" / "notes.txt").write_text("not markdown")
    out = tmp_path / "playbooks"
    result = cli("import", "runbooks", "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    imported = [line for line in lines if line.startswith("Imported ")]
    assert imported == [
        "Imported runbooks/README.md: 1 playbook(s)",
        "Imported runbooks/openshift/CephOSDDiskNotResponding.md: 1 playbook(s)",
        "Imported runbooks/openshift/KubePodCrashLooping.md: 1 playbook(s)",
        "Imported runbooks/openshift/MCCDrainError.md: 1 playbook(s)",
        "Imported runbooks/openshift/etcdMembersDown.md: 1 playbook(s)",
    ]
    assert any("alerts: etcdMembersDown, severity P1: written etcd-members-down.yaml" in line for line in lines)
    assert lines[-1] == f"5 runbook(s) into {out}: 5 written, 0 rewritten, 0 unchanged, 0 refused (edited), 0 kept; 4 alert name(s) matched"
    assert lint_directory(out) == []
    before = snapshot(out)
    again = cli("import", "runbooks", "-o", str(out), cwd=tmp_path)
    assert again.stdout.splitlines()[-1].startswith("5 runbook(s) into") and "5 unchanged" in again.stdout
    assert snapshot(out) == before
    # importing one file of the folder records the same source: still no copy
    single = cli("import", "runbooks/openshift/MCCDrainError.md", "-o", str(out), cwd=tmp_path)
    assert "unchanged mcc-drain-error.yaml" in single.stdout and snapshot(out) == before


def test_severity_mapping_setting_applies_to_runbook_words(tmp_path: Path) -> None:
    runbook = tmp_path / "queueConsumerStuck.md"
    runbook.write_text(RUNBOOK)
    env = {**os.environ, "FIREBREAK_SEVERITY_MAPPING": '{"warning": "P2", "critical": "P1"}'}
    assert cli("import", str(runbook), "-o", str(tmp_path / "out"), env=env, cwd=tmp_path).returncode == 0
    assert load_directory(tmp_path / "out")[0].severity is Severity.P2
    bad = cli("import", str(runbook), "-o", str(tmp_path / "x"), env={**os.environ, "FIREBREAK_SEVERITY_MAPPING": '{"warning": "P9"}'})
    assert bad.returncode == 2 and bad.stderr.startswith("FIREBREAK_SEVERITY_MAPPING:")


# -- point 2: runbook_url ------------------------------------------------------------------------

def test_runbook_url_matches_by_file_stem_case_insensitively() -> None:
    assert runbook_matches("alerts/etcdMembersDown.md", "https://github.com/acme/runbooks/blob/main/alerts/etcdMembersDown.md")
    assert runbook_matches("alerts/etcdMembersDown.md", "https://runbooks.acme.dev/alerts/etcdmembersdown/")
    assert runbook_matches("alerts/etcdMembersDown.md", "https://runbooks.acme.dev/etcdmembersdown.html?x=1")
    assert runbook_matches("db/_index.md", "https://handbook.acme.dev/runbooks/db/")
    assert runbook_matches("k8s.md#kubeletdown", "https://x/k8s.md#KubeletDown")
    assert not runbook_matches("k8s.md#kubeletdown", "https://x/k8s.md#kubeapidown")
    assert not runbook_matches("alerts/etcdMembersDown.md", "https://x/alerts/etcdMembersDownOld.md")


def test_runbook_url_finds_the_playbook_when_no_name_matches() -> None:
    imported = [p for p in import_text(RUNBOOK, "alerts/queueConsumerStuck.md").playbooks if p.phases]
    named = Playbook.model_validate({"id": "named", "title": "n", "match": {"alertname": "QueueConsumerStuckV2"}, "phases": [{"kind": "other", "steps": [{"text": "x"}]}]})
    facts = IncidentFacts(alertname="QueueConsumerStuckV2", runbook_url="https://runbooks.acme.dev/alerts/queueconsumerstuck")
    ranked = rank_playbooks([*imported, named], facts)
    assert [(r.playbook.id, r.score) for r in ranked] == [("queue-consumer-stuck", 150), ("named", 100)]
    assert rank_playbooks(imported, IncidentFacts(alertname="Other", runbook_url="https://x/other.md")) == []


@pytest.fixture
def imported_container(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO, tmp_path: Path):
    runbook = tmp_path / "queueConsumerStuck.md"
    runbook.write_text(RUNBOOK)
    import_into(runbook, tmp_path / "playbooks", source="alerts/queueConsumerStuck.md")
    (tmp_path / "playbooks" / "default.yaml").write_text(
        "id: default\ntitle: Fallback\ndefault: true\nphases:\n  - kind: other\n    steps: [{text: look}]\n"
    )
    yield build(db_url, engine, clock, transcript, tmp_path / "playbooks")


def test_incident_from_renamed_alert_gets_its_runbook_playbook(imported_container) -> None:
    incident = imported_container.service.declare(
        title="[FIRING:1] QueueConsumerStalled", severity=Severity.P2, actor="alertmanager", source=Source.ALERTMANAGER,
        labels={"alertname": "QueueConsumerStalled"},
        links={"runbook": "https://runbooks.acme.dev/alerts/queueconsumerstuck"},
    )
    assert incident.playbook_id == "queue-consumer-stuck"
    attached = imported_container.service.timeline(incident.number)[1]
    assert "runbook_url=https://runbooks.acme.dev/alerts/queueconsumerstuck" in attached.data["matched"]
    other = imported_container.service.declare(
        title="x", severity=Severity.P2, actor="alertmanager", source=Source.ALERTMANAGER, labels={"alertname": "Unrelated"},
    )
    assert other.playbook_id == "default"


def test_runbook_url_matches_a_playbook_known_only_by_title_keywords_and_runbook() -> None:
    from bot.playbooks.registry import PlaybookRegistry

    text = RUNBOOK.replace("# queueConsumerStuck", "# Queue consumers stuck")
    [playbook] = [p for p in import_text(text, "queue-consumers.md").playbooks if p.phases]
    assert playbook.match.alertname == [] and playbook.match.title_keywords == ["queue consumers stuck"]
    registry = PlaybookRegistry.of([playbook])
    facts = IncidentFacts(alertname="QueueLag", labels={"alertname": "QueueLag"}, title="[FIRING:1] QueueLag",
                          runbook_url="https://wiki.acme.dev/runbooks/Queue-Consumers")
    found, matched = registry.match(facts)
    assert found is not None and found.id == playbook.id and matched == ("runbook_url=https://wiki.acme.dev/runbooks/Queue-Consumers",)
    assert registry.match(IncidentFacts(alertname="QueueLag", labels={"alertname": "QueueLag"}, title="x"))[0] is None
