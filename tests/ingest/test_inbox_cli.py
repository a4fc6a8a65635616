"""``firebreak inbox status|apply|retry`` as real processes against the test database."""

from __future__ import annotations

from sqlalchemy import update

from bot.container import Container
from bot.store.models import InboxRow, IncidentRow
from tests.fakes.alertmanager_payloads import firing_group
from tests.ingest.support import TOKEN, bearer, row_counts, rows
from tests.ingest.test_ingester import queued_only
from tests.support.processes import firebreak_env, run_firebreak


def test_status_apply_and_retry_of_a_dead_webhook(am_container: Container, db_url: str) -> None:
    with queued_only(am_container) as http:
        for name in ("Applied", "Stuck"):
            assert http.post("/webhooks/alertmanager", json=firing_group(name), headers=bearer()).status_code == 202
    stuck = rows(am_container, InboxRow)[1]
    with am_container.sessions.begin() as session:  # what 8 failed attempts leave behind
        session.execute(
            update(InboxRow).where(InboxRow.id == stuck.id).values(dead_at=am_container.clock.now(), attempts=8, last_error="ValueError: boom\ndetails")
        )
    env = firebreak_env(db_url, ALERTMANAGER_TOKEN=TOKEN)

    status = run_firebreak(["inbox", "status"], env)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("pending: 1, oldest received ") and "; dead: 1" in status.stdout
    assert f"#{stuck.id} alertmanager" in status.stdout and "attempts=8" in status.stdout and "ValueError: boom" in status.stdout

    applied = run_firebreak(["inbox", "apply"], env)
    assert applied.returncode == 0, applied.stderr
    assert "applied 1 queued webhook(s)" in applied.stdout
    assert [row.title for row in rows(am_container, IncidentRow)] == ["Applied on checkout"]

    assert run_firebreak(["inbox", "retry", "--id", "999"], env).returncode == 1
    retried = run_firebreak(["inbox", "retry", "--all"], env)
    assert retried.returncode == 0 and "1 dead webhook(s) queued again" in retried.stdout
    assert run_firebreak(["inbox", "apply"], env).stdout.strip() == "applied 1 queued webhook(s)"
    assert row_counts(am_container)["inbox"] == 0
    assert sorted(row.title for row in rows(am_container, IncidentRow)) == ["Applied on checkout", "Stuck on checkout"]
    assert run_firebreak(["inbox", "status"], env).stdout.strip() == "pending: 0; dead: 0"


def test_status_shows_a_dead_webhooks_key_and_error_without_escape_sequences(am_container: Container, db_url: str) -> None:
    """The group key is whatever the sender wrote (Alertmanager's groupKey), and the error may
    quote it: neither may clear, retitle or turn around the operator's terminal."""
    hostile = firing_group("Stuck")
    hostile["groupKey"] = "{}:{alertname=\"Stuck\x1b[2J\x1b]0;pwned\x07\u202e\"}"
    with queued_only(am_container) as http:
        assert http.post("/webhooks/alertmanager", json=hostile, headers=bearer()).status_code == 202
    stuck = rows(am_container, InboxRow)[0]
    with am_container.sessions.begin() as session:
        session.execute(
            update(InboxRow).where(InboxRow.id == stuck.id).values(dead_at=am_container.clock.now(), attempts=8, last_error="ValueError: \x1b[31mboom\x9b2J")
        )
    status = run_firebreak(["inbox", "status"], firebreak_env(db_url, ALERTMANAGER_TOKEN=TOKEN))
    assert status.returncode == 0, status.stderr
    assert "alertname=\"Stuck[2J]0;pwned\"" in status.stdout and "ValueError: [31mboom2J" in status.stdout
    assert not any(char in status.stdout for char in "\x1b\x07\x9b\u202e"), repr(status.stdout)


def test_a_drills_dead_webhook_is_neither_listed_nor_revived(am_container: Container, db_url: str) -> None:
    """On a database a drill shares, the drill's rows are its own: the operator's inbox
    commands neither show them nor queue them again (the real ingester never applies them)."""
    with queued_only(am_container) as http:
        assert http.post("/webhooks/alertmanager", json=firing_group("Rehearsed"), headers=bearer()).status_code == 202
    drill_row = rows(am_container, InboxRow)[0]
    with am_container.sessions.begin() as session:
        session.execute(update(InboxRow).where(InboxRow.id == drill_row.id).values(drill=True, dead_at=am_container.clock.now(), attempts=8))
    env = firebreak_env(db_url, ALERTMANAGER_TOKEN=TOKEN)
    assert run_firebreak(["inbox", "status"], env).stdout.strip() == "pending: 0; dead: 0"
    retried = run_firebreak(["inbox", "retry", "--all"], env)
    assert (retried.returncode, retried.stdout.strip()) == (0, "no dead webhooks: nothing to retry"), retried.stderr
    by_id = run_firebreak(["inbox", "retry", "--id", str(drill_row.id)], env)
    assert by_id.returncode == 1 and by_id.stdout == "" and "none of these ids is a dead webhook" in by_id.stderr
    with am_container.sessions() as session:
        assert session.get(InboxRow, drill_row.id).dead_at is not None
