"""The slips a new user met in local mode during the first hour, each kept fixed."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bot.chat.commands import CommandContext
from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.export.service import Exporter
from bot.guided import fire_due_step_deadlines
from bot.store.models import OutboxRow
from tests.conftest import REPO_PLAYBOOKS, make_settings
from tests.fakes.alertmanager_payloads import alert, firing_group, payload
from tests.ingest.support import TOKEN, bearer, client
from tests.support.playbooks import ESCALATING_FALLBACK

URL = "/webhooks/alertmanager"


def build(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO, tmp_path: Path, **settings: str) -> Container:
    values = {"FIREBREAK_PLAYBOOKS_DIR": str(REPO_PLAYBOOKS), "ALERTMANAGER_TOKEN": TOKEN, **settings}
    return build_container(make_settings(db_url, **values), clock=clock, transcript_stream=transcript, engine=engine, files_dir=tmp_path)


@pytest.fixture
def local(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO, tmp_path: Path) -> Container:
    return build(db_url, engine, clock, transcript, tmp_path)


def say(container: Container, line: str, actor: str = "alice") -> str:
    context = CommandContext(actor=actor, source=Source.CONSOLE, last_incident=1)
    reply = container.commands.handle(line, context)
    asyncio.run(container.worker.drain(timeout=10))
    return reply.text


def drain(container: Container) -> None:
    asyncio.run(container.worker.drain(timeout=10))


# 3. /incident run credits the person who ran it, at that time ------------------------------


def test_export_credits_the_person_who_ran_the_playbook(local: Container, clock: FrozenClock) -> None:
    local.service.declare(title="Checkout latency high", severity=Severity.P2, actor="alice", source=Source.CONSOLE)
    assert local.service.get(1).playbook_id == "high-latency"  # attached automatically, by title
    clock.advance(minutes=3)
    assert "attached" in say(local, "/incident run high-latency", actor="bob")

    document = Exporter(local.sessions, clock=clock).document(1)
    book = document["playbooks"][0]
    assert book["attached_by"] == "bob" and book["matched_by"] == "manual"
    assert book["attached_at"] == (clock.now()).isoformat().replace("+00:00", "Z")
    markdown = Exporter(local.sessions, clock=clock).render(1, "md")
    assert "attached by hand by bob" in markdown and "by hand by firebreak" not in markdown


# 10. the export lists pending steps; resolved incidents stop their clock; export writes a file ---


def test_export_lists_every_step_even_those_nobody_touched(local: Container) -> None:
    local.service.declare(title="Disk full on db-1", severity=Severity.P2, actor="alice", source=Source.CONSOLE)
    say(local, "/incident step done 1")

    steps = Exporter(local.sessions).document(1)["playbooks"][0]["steps"]
    assert [step["outcome"] for step in steps][:2] == ["done", "pending"]
    assert len(steps) == 7 and all(step["text"] for step in steps)


def test_resolved_incidents_show_how_long_they_were_open(local: Container, clock: FrozenClock) -> None:
    local.service.declare(title="Queue backlog", severity=Severity.P2, actor="alice", source=Source.CONSOLE)
    clock.advance(minutes=4)
    say(local, "/incident resolve")
    clock.advance(hours=2)
    status = say(local, "/incident status")
    assert "resolved after 4m" in status and "open for" not in status


def test_console_export_saves_the_file(local: Container, tmp_path: Path, transcript: io.StringIO) -> None:
    local.service.declare(title="Queue backlog", severity=Severity.P2, actor="alice", source=Source.CONSOLE)
    say(local, "/incident export")
    saved = tmp_path / "INC-1-postmortem.md"
    assert saved.is_file() and saved.read_text(encoding="utf-8").startswith("# ")
    assert f"saved as {saved}" in transcript.getvalue()


# 4. P3 in the console: no channel, updates in the announcement's thread, deadlines notify -----


def test_p3_stays_in_the_announcement_thread(local: Container, transcript: io.StringIO) -> None:
    local.service.declare(title="Queue backlog", severity=Severity.P3, actor="alice", source=Source.CONSOLE)
    say(local, "/incident ack")
    say(local, "/incident note drained by hand")
    out = transcript.getvalue()
    assert "no channel for P3; updates follow in this thread" in out
    assert "#inc-1" not in out
    assert "[#incidents › INC-1] 🔄 alice: INC-1 acknowledged" in out or "[#incidents › INC-1] 🔄" in out
    assert "pinned summary" not in out and "(announcement of INC-1 updated)" in out


def test_a_p3_raised_into_a_channel_announces_the_channel(local: Container, transcript: io.StringIO) -> None:
    """The announcement said "no channel for P3; updates follow in this thread"; raised to P1
    (by a person, or by a worse alert as a storm incident is), the incident's posts moved to
    a channel nobody was told about. As in Slack, the channel is opened and announced."""
    local.service.declare(title="Queue backlog", severity=Severity.P3, actor="alice", source=Source.CONSOLE)
    drain(local)
    say(local, "/incident sev P1")
    drain(local)
    out = transcript.getvalue()
    assert "[#incidents] 🚨 INC-1 [P1] Queue backlog (declared via console) → #inc-1-queue-backlog" in out, out
    assert "[#inc-1-queue-backlog] 📌 INC-1 [P1] Queue backlog" in out, out


def test_an_incident_lowered_to_p3_keeps_posting_in_its_channel(local: Container, transcript: io.StringIO) -> None:
    local.service.declare(title="Checkout down", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    drain(local)
    say(local, "/incident sev P3")
    say(local, "/incident resolve")
    say(local, "/incident reopen")
    out = transcript.getvalue()
    reopened = [line for line in out.splitlines() if "reopened" in line]
    assert reopened and all(line.startswith("[#inc-1-checkout-down]") for line in reopened), out
    assert "[#incidents › INC-1]" not in out  # as in Slack: the channel stays the incident's conversation


def test_an_incident_raised_back_into_its_channel_is_not_announced_again(local: Container, transcript: io.StringIO) -> None:
    """P1 → P3 → P1: the channel it had is still its conversation. Slack skips the open
    ("channel already open"); the console announced the channel and pinned a summary again."""
    local.service.declare(title="Checkout down", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    drain(local)
    say(local, "/incident sev P3")
    say(local, "/incident sev P1")
    out = transcript.getvalue()
    assert out.count("→ #inc-1-checkout-down") == 1, out
    assert out.count("[#inc-1-checkout-down] 📌 INC-1") == 1, out




def test_p3_escalate_deadline_is_a_notification_that_says_why(
    db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO, tmp_path: Path
) -> None:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "fallback.yaml").write_text(ESCALATING_FALLBACK, encoding="utf-8")
    local = build(db_url, engine, clock, transcript, tmp_path, FIREBREAK_PLAYBOOKS_DIR=str(playbooks))
    local.service.declare(title="Something odd", severity=Severity.P3, actor="alice", source=Source.CONSOLE)
    assert local.service.get(1).playbook_id == "fallback"
    ticker = local.deadlines
    assert fire_due_step_deadlines(local.service, clock.now() + timedelta(minutes=6), escalate_now=ticker.escalate_now, escalates=ticker.escalates) == 1
    entry = next(e for e in local.service.timeline(1) if e.kind is EntryKind.STEP_DEADLINE)
    assert entry.text.startswith("INC-1 step 1 is still open after 5m")
    assert "P3 incidents do not escalate on their own, so this is a notification" in entry.text
    assert "escalating" not in entry.text
    assert not [e for e in local.service.timeline(1) if e.kind is EntryKind.ESCALATED]
    drain(local)
    assert "[#incidents › INC-1] ⌛ firebreak: INC-1 step 1" in transcript.getvalue()


# 6. an INFO group raised by a critical alert gets its playbook --------------------------------


def test_info_group_raised_to_p1_gets_a_playbook(local: Container) -> None:
    base = firing_group("DiskFull", severity="info")
    with client(local) as http:
        assert http.post(URL, json=base, headers=bearer()).status_code == 202
        assert local.service.get(1).playbook_id is None
        worse = {**payload(base["alerts"] + [alert({**base["alerts"][0]["labels"], "instance": "db-2", "severity": "critical"})]), "groupKey": base["groupKey"]}
        assert http.post(URL, json=worse, headers=bearer()).status_code == 202
    incident = local.service.get(1)
    assert incident.severity is Severity.P1 and incident.playbook_id == "disk-full"
    kinds = [entry.kind for entry in local.service.timeline(1)]
    assert kinds.index(EntryKind.SEVERITY_CHANGED) < kinds.index(EntryKind.PLAYBOOK_ATTACHED)
    with local.sessions() as session:
        posts = [row.payload.get("kind") for row in session.scalars(select(OutboxRow).where(OutboxRow.target == "chat", OutboxRow.operation == "post"))]
    assert "playbook_attached" in posts and "playbook_guide" in posts


# The starter default playbook: no severity suggestion, the default escalation policy ----------


def test_default_playbook_suggests_no_severity_and_uses_the_default_policy(local: Container, transcript: io.StringIO) -> None:
    local.service.declare(title="Something odd", severity=Severity.P3, actor="alice", source=Source.CONSOLE)
    drain(local)
    assert local.service.get(1).playbook_id == "default"
    assert "suggests severity" not in transcript.getvalue()
    assert local.escalation is not None
    policy = local.escalation.planner.policy_for(local.service.get(1))
    assert [target.label for level in policy.levels for target in level.targets] == ["@oncall-primary", "@oncall-secondary"]


# 5. pages nobody can deliver: warned at start, and said in the incident channel -----------------


def test_unreachable_pagerduty_targets_are_warned_and_failed_pages_posted(
    db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO, tmp_path: Path
) -> None:
    container = build(db_url, engine, clock, transcript, tmp_path, FIREBREAK_DEFAULT_ESCALATION="unacknowledged:5m:pd:PRIMARY_ONCALL")
    assert any("PagerDuty escalation policy PRIMARY_ONCALL cannot be paged" in line and "PAGERDUTY_API_TOKEN" in line for line in container.startup_warnings)
    container.service.declare(title="Checkout is failing", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    say(container, "/incident escalate nobody answers")
    drain(container)
    out = transcript.getvalue()
    assert "📣" in out and "PRIMARY_ONCALL" in out
    assert "❗ firebreak: page to PagerDuty escalation policy PRIMARY_ONCALL failed after 1 attempt:" in out
    assert "PagerDuty is not configured (PAGERDUTY_API_TOKEN is not set); nobody was paged" in out
    failed = [e for e in container.service.timeline(1) if e.kind is EntryKind.DELIVERY_FAILED]
    assert len(failed) == 1


# 8. extra arguments are refused with the usage ----------------------------------------------------


def test_ack_with_two_incidents_is_refused(local: Container) -> None:
    for title in ("One", "Two", "Three"):
        local.service.declare(title=title, severity=Severity.P2, actor="alice", source=Source.CONSOLE)
    reply = say(local, "/incident ack INC-2 INC-3")
    assert "unexpected 'INC-3'" in reply and "Usage: /incident ack [INC-n]" in reply
    assert local.service.get(2).status.value == "triggered" and local.service.get(3).status.value == "triggered"


# 9. unknown severity labels: logged once, counted ---------------------------------------------------


def test_unknown_severity_label_is_logged_once_and_counted(local: Container, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.ingest.alertmanager.severity_labels")
    with client(local) as http:
        for name in ("PageMe", "PageMeToo"):
            assert http.post(URL, json=firing_group(name, severity="page"), headers=bearer()).status_code == 202
        metrics = http.get("/metrics").text
    assert local.service.get(1).severity is Severity.P3
    warnings = [record.getMessage() for record in caplog.records if "unknown severity label" in record.getMessage()]
    assert warnings == ["unknown severity label 'page': treated as P3; map it with FIREBREAK_SEVERITY_MAPPING"]
    counted = [line for line in metrics.splitlines() if line.startswith("firebreak_unknown_severity_labels_total")]
    assert counted and float(counted[0].split()[-1]) >= 2


# 7. the readiness probe does not log -----------------------------------------------------------------


def test_readyz_logs_nothing(local: Container, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with client(local) as http:
        caplog.clear()
        for _ in range(3):
            assert http.get("/readyz").json() == {"status": "ready"}
    assert [record.getMessage() for record in caplog.records if record.name.startswith("alembic")] == []


def test_a_delivered_page_is_posted_in_the_incident_channel(
    fake_pagerduty_env: object, db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO
) -> None:
    container = build_container(make_settings(db_url), clock=clock, transcript_stream=transcript, engine=engine)
    # Tests run without playbooks (tests/support/no_playbooks), which is itself a warning.
    paging = [line for line in container.startup_warnings if not line.startswith("no playbooks loaded")]
    assert paging == [] or all("PAGERDUTY_SERVICE_ID" in line for line in paging)
    container.service.declare(title="Checkout is failing", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    drain(container)
    drain(container)  # the PAGED post is queued by the page's own delivery
    assert "[#inc-1-checkout-is-failing] 📟 firebreak: paged through the PagerDuty Events API (dedup key INC-1)" in transcript.getvalue()
