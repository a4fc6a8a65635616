"""``/incident step done|skip <n>`` and ``/incident run <id>``: who, when, and clear errors."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.chat.commands import CommandContext
from bot.container import Container
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.store.models import OutboxRow, PlaybookRunRow, PlaybookStepRow, TimelineRow


def declare(container: Container, title: str = "TimedAlert firing") -> tuple[int, CommandContext]:
    context = CommandContext(actor="alice", source=Source.CONSOLE)
    incident = container.service.declare(title=title, severity=Severity.P2, actor="am", source=Source.ALERTMANAGER, labels={"alertname": "TimedAlert"})
    context.last_incident = incident.number
    return incident.number, context


def steps(container: Container) -> list[PlaybookStepRow]:
    with container.sessions() as session:
        run = session.scalars(select(PlaybookRunRow).where(PlaybookRunRow.active.is_(True))).one()
        return list(session.scalars(select(PlaybookStepRow).where(PlaybookStepRow.run_id == run.id).order_by(PlaybookStepRow.step)))


def test_done_and_skip_record_who_and_when(timed: Container, clock) -> None:
    number, alice = declare(timed)
    clock.advance(minutes=1)
    reply = timed.commands.handle("/incident step done 1", alice)
    assert reply.text == f"☑️ INC-{number}: step 1 done by alice" and reply.public
    clock.advance(minutes=1)
    bob = CommandContext(actor="bob", source=Source.SLACK, channel_incident=number)
    assert "step 2 skipped by bob" in timed.commands.handle("/incident step skip 2", bob).text

    rows = steps(timed)
    start = clock.now() - timedelta(minutes=2)
    assert [(r.status, r.actor) for r in rows[:2]] == [("done", "alice"), ("skipped", "bob")]
    assert rows[0].at.replace(tzinfo=start.tzinfo) == start + timedelta(minutes=1)
    assert rows[1].at.replace(tzinfo=start.tzinfo) == start + timedelta(minutes=2)

    entries = [e for e in timed.service.timeline(number) if e.kind in (EntryKind.STEP_DONE, EntryKind.STEP_SKIPPED)]
    assert [(e.kind, e.actor, e.source) for e in entries] == [(EntryKind.STEP_DONE, "alice", Source.CONSOLE), (EntryKind.STEP_SKIPPED, "bob", Source.SLACK)]
    assert entries[0].data == {
        "playbook_id": "timed",
        "phase": "symptoms",
        "phase_title": "Confirm symptoms",
        "step": 1,
        "text": "Acknowledge and take command.",
        "phase_completed": False,
    }
    assert entries[1].data["phase_completed"] is True
    assert entries[1].at == start + timedelta(minutes=2)


def test_completing_a_phase_starts_the_next_phase_clocks_and_posts_the_guide(timed: Container, clock) -> None:
    _number, alice = declare(timed)
    timed.commands.handle("/incident step done 1", alice)
    clock.advance(minutes=3)
    timed.commands.handle("/incident step done 2", alice)
    rows = steps(timed)
    now = clock.now()
    assert rows[2].deadline_at.replace(tzinfo=now.tzinfo) == now + timedelta(minutes=2)  # phase 2 became current now
    assert rows[3].deadline_at is None  # no deadline declared
    with timed.sessions() as session:
        guides = [row.payload for row in session.scalars(select(OutboxRow).order_by(OutboxRow.id)) if row.payload.get("kind") == "playbook_guide"]
    assert len(guides) == 2  # on attach, and when phase 1 was completed (not after step 1)
    assert "Phase 2/2: Resolve" in guides[1]["text"]
    assert "  [ ] 3. Roll back the deploy. (owner: commander; due" in guides[1]["text"]


def test_errors_are_clear_and_change_nothing(timed: Container) -> None:
    _number, alice = declare(timed)
    timed.commands.handle("/incident step done 1", alice)
    with timed.sessions() as session:
        before = session.query(TimelineRow).count(), session.query(OutboxRow).count()
    cases = {
        "/incident step done 1": "⚠️ step 1 is already done (by alice)",
        "/incident step skip 1": "⚠️ step 1 is already done (by alice)",
        "/incident step done 9": "⚠️ playbook timed has steps 1–4; there is no step 9",
        "/incident step done x": "⚠️ 'x' is not a step number.\nUsage: /incident step done|skip <n>",
        "/incident step finish 2": "⚠️ Usage: /incident step done|skip <n>",
        "/incident step": "⚠️ Usage: /incident step done|skip <n>",
        "/incident step done 0": "⚠️ '0' is not a step number.\nUsage: /incident step done|skip <n>",
    }
    for line, expected in cases.items():
        assert timed.commands.handle(line, alice).text == expected, line
    nobody = CommandContext(actor="x", source=Source.CONSOLE)
    assert "which incident?" in timed.commands.handle("/incident step done 2", nobody).text
    assert "there is no incident INC-99" in timed.commands.handle("/incident step done 2 INC-99", nobody).text
    with timed.sessions() as session:
        assert (session.query(TimelineRow).count(), session.query(OutboxRow).count()) == before


def test_an_incident_without_a_playbook_says_how_to_attach_one(container: Container) -> None:
    context = CommandContext(actor="a", source=Source.CONSOLE)
    number = container.commands.handle("/incident declare Something odd", context).incident
    context.last_incident = number
    assert container.commands.handle("/incident step done 1", context).text == f"⚠️ INC-{number} has no playbook. Attach one: /incident run <playbook-id>"


def test_run_attaches_by_hand_replacing_the_current_playbook(timed: Container, clock) -> None:
    number, alice = declare(timed)
    timed.commands.handle("/incident step done 1", alice)
    clock.advance(minutes=1)
    reply = timed.commands.handle("/incident run checkout-errors", alice)
    assert reply.text == f"📋 INC-{number}: playbook checkout-errors attached"
    assert timed.service.get(number).playbook_id == "checkout-errors"
    attached = [e for e in timed.service.timeline(number) if e.kind is EntryKind.PLAYBOOK_ATTACHED]
    assert [(e.data["playbook_id"], e.data["matched_by"], e.actor) for e in attached] == [("timed", "auto", "firebreak"), ("checkout-errors", "manual", "alice")]
    assert attached[1].data["replaced"] == "timed" and "replacing timed" in attached[1].text
    with timed.sessions() as session:
        runs = list(session.scalars(select(PlaybookRunRow).order_by(PlaybookRunRow.id)))
    assert [(r.playbook_id, r.active) for r in runs] == [("timed", False), ("checkout-errors", True)]
    # The new run starts fresh; the old run's records stay for the post-mortem.
    assert [(r.step, r.status) for r in steps(timed)] == [(1, "pending")]
    assert "step 1 done" in timed.commands.handle("/incident step done 1", alice).text
    # Running the same playbook again restarts it.
    assert "attached" in timed.commands.handle("/incident run checkout-errors", alice).text
    assert [(r.step, r.status) for r in steps(timed)] == [(1, "pending")]


def test_run_with_an_unknown_or_missing_id_lists_the_playbooks(timed: Container) -> None:
    number, alice = declare(timed)
    expected_ids = "Playbooks: checkout-errors, default, timed"
    unknown = timed.commands.handle("/incident run nope", alice).text
    assert unknown == f"⚠️ there is no playbook 'nope'. Usage: /incident run <playbook-id>\n{expected_ids}"
    assert timed.commands.handle("/incident run", alice).text == f"⚠️ Usage: /incident run <playbook-id>\n{expected_ids}"
    assert timed.service.get(number).playbook_id == "timed"
    assert timed.commands.handle("/incident run default INC-404", alice).text == "⚠️ there is no incident INC-404"


def test_run_on_a_resolved_incident_asks_to_reopen_it_first(timed: Container) -> None:
    """Its deadlines would never fire: the guide would show due times that mean nothing."""
    number, alice = declare(timed)
    timed.service.resolve(number, actor="alice", source=Source.CONSOLE)
    reply = timed.commands.handle(f"/incident run checkout-errors INC-{number}", alice)
    assert reply.text == f"⚠️ INC-{number} is resolved: reopen it first (/incident reopen INC-{number}), then run a playbook"
    assert timed.service.get(number).playbook_id == "timed"


def test_status_shows_the_summary_and_the_current_phase(timed: Container) -> None:
    number, alice = declare(timed)
    timed.commands.handle("/incident step done 1", alice)
    text = timed.commands.handle("/incident status", alice).text
    assert text.startswith(f"INC-{number} [P2] TimedAlert firing")
    assert "Playbook timed: Timed test playbook — 1/4 steps settled" in text
    assert "  [x] 1. Acknowledge and take command. (done by alice at 09:26:53 UTC)" in text
    assert "  [ ] 2. Check the dashboard. (due 09:36:53 UTC, then remind)" in text
    assert "This playbook suggests severity P1: `/incident sev P1`" in text
