"""The whole guided flow in ``firebreak console``, as a real process reading a script."""

from __future__ import annotations

from tests.conftest import REPO_PLAYBOOKS
from tests.support.processes import firebreak_env, run_firebreak

SCRIPT = """\
/incident declare Disk full on db-1 P2
/incident step done 1
/incident step skip 2
/incident step done 2
/incident step done 42
/incident run no-such-playbook
/incident run default
/incident status
"""

CHANNEL = "[#inc-1-disk-full-on-db-1]"


def test_console_walks_through_a_starter_playbook(db_url: str) -> None:
    env = firebreak_env(db_url, FIREBREAK_PLAYBOOKS_DIR=str(REPO_PLAYBOOKS))
    result = run_firebreak(["console", "--user", "alice"], env, stdin=SCRIPT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Traceback" not in out + result.stderr

    # Declared from its title, the disk-full playbook is attached and its first phase shown.
    assert f"{CHANNEL} 📋 firebreak: playbook disk-full attached: Disk almost full (matched keyword=disk full)" in out
    attach_guide = out.index(f"{CHANNEL} 📋 firebreak: Playbook disk-full: Disk almost full — 0/")
    assert "Phase 1/" in out[attach_guide:] and "[ ] 1. Confirm usage and how fast it grows" in out[attach_guide:]
    assert "`df -h`" in out[attach_guide:] and "`df -i`" in out[attach_guide:]

    # Done and skipped, with who; phase 1 (one step) completed shows phase 2.
    assert "☑️ INC-1: step 1 done by alice" in out
    assert f"{CHANNEL} ☑️ alice: step 1 done: Confirm usage and how fast it grows (time to full)." in out
    second_guide = out[out.index(f"{CHANNEL} 📋 firebreak: Playbook disk-full: Disk almost full — 1/7 steps settled"):]
    assert second_guide.index("Phase 2/4: Diagnose") < second_guide.index("[ ] 2. Find the largest directories.")
    assert "`du -xh --max-depth=2 / 2>/dev/null | sort -rh | head -20`" in second_guide
    assert "⏭️ INC-1: step 2 skipped by alice" in out
    assert f"{CHANNEL} ⏭️ alice: step 2 skipped: Find the largest directories." in out
    assert "⚠️ step 2 is already skipped (by alice)" in out
    assert "⚠️ playbook disk-full has steps 1–" in out and "there is no step 42" in out

    # Unknown id: usage and the list; then the default playbook by hand, replacing disk-full.
    assert "⚠️ there is no playbook 'no-such-playbook'. Usage: /incident run <playbook-id>" in out
    assert "Playbooks: backup-failure, certificate-expiry, database-connections, default, disk-full" in out
    assert "📋 INC-1: playbook default attached" in out
    assert f"{CHANNEL} 📋 alice: playbook default attached: General incident response (attached by alice), replacing disk-full" in out

    # Status: the summary, then the default playbook's first phase with copyable commands.
    status = out[out.rindex("firebreak> /incident status"):]
    assert "INC-1 [P2] Disk full on db-1" in status and "playbook: default" in status
    assert "Playbook default: General incident response — 0/9 steps settled" in status
    assert "Phase 1/5: Confirm and scope" in status
    assert "[ ] 1. Acknowledge the incident and name a commander" in status
    assert "`curl -sS -o /dev/null" in status
    assert "Mark steps: `/incident step done 1` · `/incident step skip 1`" in status
