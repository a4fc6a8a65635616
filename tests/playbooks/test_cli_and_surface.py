import subprocess
import sys
from pathlib import Path

import bot.playbooks

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.playbooks", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)


def test_lint_ok_exits_zero_with_summary() -> None:
    result = run("lint", "playbooks")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "8 playbook(s) in playbooks: no problems"


def test_lint_defaults_to_env_directory(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("id: a\ntitle: A\nphases:\n  - kind: other\n    steps: []\n")
    import os

    result = run("lint", env={**os.environ, "FIREBREAK_PLAYBOOKS_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"{tmp_path}/a.yaml:4: phase 1 (other) has no steps"]


def test_lint_problems_exit_one(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: Bad Id\ntitle: x\n")
    result = run("lint", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.startswith(f"{tmp_path}/bad.yaml:1: id: String should match pattern")


def test_import_writes_lint_clean_files_and_prints_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("import", str(FIXTURES / "procedures.md"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "Imported tests/playbooks/fixtures/procedures.md: 4 playbook(s)" in result.stdout
    assert "deploy-to-production [procedure] 1 phase(s), 2 step(s), 0 escalation level(s), 0 note(s): written deploy-to-production.yaml" in result.stdout
    names = ["deploy-to-production.yaml", "pre-release-checklist.yaml", "procedures-reference.yaml", "rollback.yaml"]
    assert sorted(p.name for p in out.glob("*.yaml")) == names
    before = {p.name: p.read_bytes() for p in out.glob("*.yaml")}
    # importing again rewrites the same files under the same ids: no copies
    again = run("import", str(FIXTURES / "procedures.md"), "-o", str(out))
    assert again.returncode == 0, again.stderr
    assert {p.name: p.read_bytes() for p in out.glob("*.yaml")} == before
    assert "0 written, 0 rewritten, 4 unchanged, 0 refused (edited), 0 kept" in again.stdout
    assert run("lint", str(out)).returncode == 0


def test_import_missing_file_exits_two(tmp_path: Path) -> None:
    result = run("import", str(tmp_path / "nope.md"), "-o", str(tmp_path))
    assert result.returncode == 2
    assert "no such file or folder" in result.stderr


def test_register_adds_playbooks_subcommand() -> None:
    import argparse

    from bot.playbooks.cli import register

    parser = argparse.ArgumentParser(prog="firebreak")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["playbooks", "lint", "somewhere"])
    assert args.directory == "somewhere" and args.func.__name__ == "run_lint"
    args = parser.parse_args(["playbooks", "import", "r.md", "-o", "out"])
    assert (args.runbook, args.output, args.force, args.func.__name__) == ("r.md", "out", False, "run_import")


def test_public_surface() -> None:
    expected = {"Playbook", "Phase", "Step", "EscalationPolicy", "EscalationLevel", "load_directory",
                "lint_directory", "match_playbook", "import_runbook", "parse_duration"}
    assert expected <= set(bot.playbooks.__all__)
    assert all(hasattr(bot.playbooks, name) for name in bot.playbooks.__all__)


def test_package_imports_no_io_frameworks() -> None:
    code = (
        "import sys, bot.playbooks, bot.playbooks.cli;"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('slack_bolt', 'slack_sdk', 'sqlalchemy', 'httpx', 'pagerduty', 'starlette', 'aiohttp', 'uvicorn')];"
        "print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
