"""Playbook runs and step states in the database: the only place those rows meet the domain."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from bot.playbooks.guide import PENDING, StepState, current_phase_index, initial_states
from bot.playbooks.schema import Playbook
from bot.store import bulk
from bot.store.models import PlaybookRunRow, PlaybookStepRow


def to_state(row: PlaybookStepRow) -> StepState:
    return StepState(
        number=row.step,
        phase_index=row.phase_index,
        phase_kind=row.phase_kind,
        phase_title=row.phase_title,
        text=row.text,
        commands=tuple(row.commands or ()),
        owner=row.owner,
        status=row.status,
        actor=row.actor,
        at=row.at,
        deadline_seconds=row.deadline_seconds,
        on_deadline=row.on_deadline,
        escalate_to=row.escalate_to,
        deadline_at=row.deadline_at,
        deadline_fired=row.deadline_fired_at is not None,
        done_when=tuple(row.done_when or ()),
    )


def active_run(session: Session, number: int) -> PlaybookRunRow | None:
    statement = select(PlaybookRunRow).where(PlaybookRunRow.incident_id == number, PlaybookRunRow.active.is_(True))
    return session.scalars(statement.order_by(PlaybookRunRow.id.desc())).first()


def step_rows(session: Session, run_id: int) -> list[PlaybookStepRow]:
    statement = select(PlaybookStepRow).where(PlaybookStepRow.run_id == run_id).order_by(PlaybookStepRow.step)
    return list(session.scalars(statement))


#: ``session.info`` key: runs started in the session's transaction, by incident number, with
#: their step rows (see ``started_run``).
_STARTED = "firebreak_started_runs"
#: A step row's columns but its id, as ``bulk.insert_rows`` sends them.
_STEP_COLUMNS = bulk.columns_of(PlaybookStepRow.__table__)


def create_run(
    session: Session, number: int, playbook: Playbook, *, matched_by: str, actor: str, now: datetime, new_incident: bool = False
) -> tuple[PlaybookRunRow, list[PlaybookStepRow], PlaybookRunRow | None]:
    """Start ``playbook`` on incident ``number``; the previous run (returned) is deactivated.

    ``new_incident``: the incident was opened in this transaction and has no run to replace
    (not looked for: opening incidents is the worker's busiest path)."""
    previous = None if new_incident else active_run(session, number)
    if previous is not None:
        session.execute(
            update(PlaybookRunRow).where(PlaybookRunRow.incident_id == number, PlaybookRunRow.active.is_(True)).values(active=False)
        )
    run = PlaybookRunRow(
        incident_id=number,
        playbook_id=playbook.id,
        title=playbook.title,
        severity=playbook.severity.value if playbook.severity else None,
        matched_by=matched_by,
        attached_by=actor,
        attached_at=now,
        active=True,
    )
    session.add(run)
    session.flush()
    rows = [
        PlaybookStepRow(
            run_id=run.id,
            incident_id=number,
            playbook_id=playbook.id,
            step=state.number,
            phase_index=state.phase_index,
            phase_kind=state.phase_kind,
            phase_title=state.phase_title,
            text=state.text,
            commands=list(state.commands),
            owner=state.owner,
            status=PENDING,
            actor=None,
            at=None,
            deadline_seconds=state.deadline_seconds,
            on_deadline=state.on_deadline,
            escalate_to=state.escalate_to,
            deadline_at=None,
            deadline_fired_at=None,
            done_when=list(state.done_when),
        )
        for state in initial_states(playbook)
    ]
    arm_current_phase(rows, now)
    _insert_steps(session, rows)
    transaction = session.get_transaction()
    record: tuple[object, dict[int, tuple[PlaybookRunRow, list[PlaybookStepRow]]]] | None = session.info.get(_STARTED)
    if record is None or record[0] is not transaction:
        # The record belongs to the transaction (as bot/store/held_locks.py's): sessions keep
        # their objects across commits, and a run started before may be replaced since.
        record = (transaction, {})
        session.info[_STARTED] = record
    record[1][number] = (run, rows)
    return run, rows, previous


def _insert_steps(session: Session, rows: list[PlaybookStepRow]) -> None:
    """Insert a new run's steps. PostgreSQL: in one statement (bot/store/bulk.py), then
    joined to the session as the rows they are (``make_transient_to_detached``): the
    unit of work's many-row INSERT of a dozen steps cost more than opening the incident's
    other rows together."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.add_all(rows)
        session.flush()
        return
    values = [{name: getattr(row, name) for name, _type in _STEP_COLUMNS} for row in rows]
    ids = bulk.insert_rows(connection, PlaybookStepRow.__tablename__, _STEP_COLUMNS, values, returning="id")
    for row, row_id in zip(rows, ids, strict=True):
        row.id = row_id
        make_transient_to_detached(row)
        session.add(row)


def started_run(session: Session, number: int) -> tuple[PlaybookRunRow, list[PlaybookStepRow]] | None:
    """The run ``create_run`` started on the incident in this session's transaction, still
    active, with its step rows (the same objects, so what was changed since shows): showing
    the guide of a playbook just attached need not read back what was just written."""
    record = session.info.get(_STARTED)
    if record is None or record[0] is not session.get_transaction():
        return None
    started = record[1].get(number)
    if started is None:
        return None
    run, rows = started
    if run not in session or not run.active:
        return None
    return run, rows

def arm_current_phase(rows: list[PlaybookStepRow], now: datetime) -> list[PlaybookStepRow]:
    """Start the deadline clocks of the current phase's pending steps that have none yet.

    A deadline counts from the moment its phase becomes current (the schema's promise): a
    resolution step's "15m" is meaningless while responders are still confirming symptoms.
    """
    current = current_phase_index([to_state(row) for row in rows])
    armed = []
    for row in rows:
        if row.phase_index == current and row.status == PENDING and row.deadline_seconds is not None and row.deadline_at is None:
            row.deadline_at = now + timedelta(seconds=row.deadline_seconds)
            armed.append(row)
    return armed


def rearm_after_reopen(session: Session, number: int, now: datetime) -> list[PlaybookStepRow]:
    """Restart, from ``now``, the deadlines of pending steps that ran out while the incident was
    resolved (the ticker leaves resolved incidents alone), as its escalation restarts from a
    reopen. Left as they were, they all fired, and escalated, the second it reopened."""
    run = active_run(session, number)
    if run is None:
        return []
    rearmed = []
    for row in step_rows(session, run.id):
        expired = row.deadline_at is not None and row.deadline_at <= now and row.deadline_fired_at is None
        if row.status == PENDING and row.deadline_seconds is not None and expired:
            row.deadline_at = now + timedelta(seconds=row.deadline_seconds)
            rearmed.append(row)
    session.flush()
    return rearmed
