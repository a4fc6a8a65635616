"""Guided steps as something to show: a chat-agnostic view model and its plain-text form.

The console prints :func:`render_guide`; the Slack adapter builds Block Kit (a Done and a
Skip button per pending step, commands in code blocks) from the same :class:`GuideView`, or
from its JSON form (:meth:`GuideView.to_dict`) carried in the ``post`` outbox payload. Keeping
the decisions here (which phase is current, what is overdue, which commands to offer) means
both backends agree on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.domain.severity import Severity
from bot.playbooks.schema import Phase, Playbook

StepStatus = Literal["pending", "done", "skipped"]
PENDING: StepStatus = "pending"
DONE: StepStatus = "done"
SKIPPED: StepStatus = "skipped"

PHASE_NAMES: dict[str, str] = {
    "symptoms": "Confirm symptoms",
    "diagnosis": "Diagnose",
    "resolution": "Resolve",
    "verification": "Verify",
    "communication": "Communicate",
    "prevention": "Prevent recurrence",
    "procedure": "Procedure",
    "other": "Other",
}

_MARKS: dict[str, str] = {PENDING: "[ ]", DONE: "[x]", SKIPPED: "[-]"}


def phase_name(phase: Phase) -> str:
    return phase.title or PHASE_NAMES.get(phase.kind, phase.kind.capitalize())


@dataclass(frozen=True)
class StepState:
    """One step of an attached playbook and what happened to it."""

    number: int
    phase_index: int
    phase_kind: str
    phase_title: str
    text: str
    commands: tuple[str, ...] = ()
    owner: str | None = None
    status: str = PENDING
    actor: str | None = None
    at: datetime | None = None
    deadline_seconds: int | None = None
    on_deadline: str | None = None
    escalate_to: str | None = None
    deadline_at: datetime | None = None
    deadline_fired: bool = False
    done_when: tuple[str, ...] = ()


def initial_states(playbook: Playbook) -> list[StepState]:
    """Every step of ``playbook``, pending, numbered across phases as ``step done <n>`` uses."""
    phase_index = {id(phase): index for index, phase in enumerate(playbook.phases)}
    return [
        StepState(
            number=number,
            phase_index=phase_index[id(phase)],
            phase_kind=phase.kind,
            phase_title=phase_name(phase),
            text=step.text,
            commands=tuple(step.commands),
            owner=step.owner,
            deadline_seconds=step.deadline_seconds,
            on_deadline=step.on_deadline,
            escalate_to=step.escalate_to,
            done_when=tuple(step.done_when),
        )
        for number, phase, step in playbook.steps()
    ]


def current_phase_index(states: Sequence[StepState]) -> int | None:
    """The first phase that still has a pending step; ``None`` when every step is settled."""
    pending = [state.phase_index for state in states if state.status == PENDING]
    return min(pending) if pending else None


@dataclass(frozen=True)
class GuideStep:
    number: int
    text: str
    commands: tuple[str, ...]
    owner: str | None
    status: str
    actor: str | None
    at: datetime | None
    deadline_at: datetime | None
    on_deadline: str | None
    overdue: bool
    done_command: str
    skip_command: str


@dataclass(frozen=True)
class GuidePhase:
    position: int  # 1-based among the playbook's phases
    kind: str
    title: str
    steps: tuple[GuideStep, ...]


@dataclass(frozen=True)
class GuideView:
    """What responders see: the current phase and how to move on.

    ``phase`` is ``None`` once every step is done or skipped. ``commands`` are the
    ``/incident`` commands worth offering right now, as copyable text.
    """

    incident_ref: str
    playbook_id: str
    playbook_title: str
    phase: GuidePhase | None
    phase_count: int
    done: int
    skipped: int
    total: int
    next_phase: str | None = None
    suggested_severity: str | None = None
    commands: tuple[str, ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        return self.phase is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly (datetimes as ISO strings), for outbox payloads."""
        data: dict[str, Any] = _jsonable(asdict(self))
        return data | {"complete": self.complete}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def guide_view(
    *,
    incident_ref: str,
    playbook_id: str,
    playbook_title: str,
    states: Sequence[StepState],
    now: datetime | None = None,
    incident_severity: str | None = None,
    playbook_severity: str | None = None,
    escalating: bool = True,
) -> GuideView:
    """``escalating``: whether the incident's severity escalates at all; where it does not
    (P3, INFO), a missed deadline that would escalate is a notification, and says so."""
    ordered = sorted(states, key=lambda state: state.number)
    current = current_phase_index(ordered)
    phase_indexes = sorted({state.phase_index for state in ordered})
    phase: GuidePhase | None = None
    next_phase: str | None = None
    commands: list[str] = []
    if current is not None:
        in_phase = [state for state in ordered if state.phase_index == current]
        phase = GuidePhase(
            position=phase_indexes.index(current) + 1,
            kind=in_phase[0].phase_kind,
            title=in_phase[0].phase_title,
            steps=tuple(_guide_step(state, now, escalating=escalating) for state in in_phase),
        )
        later = [state for state in ordered if state.phase_index > current]
        next_phase = later[0].phase_title if later else None
        first_pending = next(state.number for state in in_phase if state.status == PENDING)
        commands += [f"/incident step done {first_pending}", f"/incident step skip {first_pending}"]
    suggested = playbook_severity if _more_severe(playbook_severity, incident_severity) else None
    if suggested:
        commands.append(f"/incident sev {suggested}")
    return GuideView(
        incident_ref=incident_ref,
        playbook_id=playbook_id,
        playbook_title=playbook_title,
        phase=phase,
        phase_count=len(phase_indexes),
        done=sum(state.status == DONE for state in ordered),
        skipped=sum(state.status == SKIPPED for state in ordered),
        total=len(ordered),
        next_phase=next_phase,
        suggested_severity=suggested,
        commands=tuple(commands),
    )


def _more_severe(suggested: str | None, current: str | None) -> bool:
    """Only suggest raising severity: a playbook's default is a floor, not a downgrade."""
    if not suggested or not current:
        return False
    try:
        return Severity(suggested).is_more_severe_than(Severity(current))
    except ValueError:
        return False


def _guide_step(state: StepState, now: datetime | None, *, escalating: bool) -> GuideStep:
    overdue = bool(state.status == PENDING and state.deadline_at is not None and now is not None and now >= state.deadline_at)
    return GuideStep(
        number=state.number,
        text=state.text,
        commands=state.commands,
        owner=state.owner,
        status=state.status,
        actor=state.actor,
        at=state.at,
        deadline_at=state.deadline_at,
        on_deadline="notify" if state.on_deadline == "escalate" and not escalating else state.on_deadline,
        overdue=overdue,
        done_command=f"/incident step done {state.number}",
        skip_command=f"/incident step skip {state.number}",
    )


def render_guide(view: GuideView, *, zone: ZoneInfo | None = None) -> str:
    """Plain text: one line per step, commands on their own lines as `code` to copy."""
    zone = zone or ZoneInfo("UTC")
    settled = view.done + view.skipped
    lines = [f"Playbook {view.playbook_id}: {view.playbook_title} — {settled}/{view.total} steps settled"]
    if view.phase is None:
        lines.append(f"All steps are done or skipped ({view.done} done, {view.skipped} skipped).")
        return "\n".join(lines)
    phase = view.phase
    lines.append(f"Phase {phase.position}/{view.phase_count}: {phase.title}")
    for step in phase.steps:
        lines.append(f"  {_MARKS.get(step.status, '[?]')} {step.number}. {step.text}{_step_suffix(step, zone)}")
        if step.status == PENDING:
            lines.extend(f"        `{command}`" for command in step.commands)
    if view.next_phase:
        lines.append(f"Next phase: {view.next_phase}")
    if view.suggested_severity:
        lines.append(f"This playbook suggests severity {view.suggested_severity}: `/incident sev {view.suggested_severity}`")
    lines.append("Mark steps: " + " · ".join(f"`{command}`" for command in view.commands if " step " in command))
    return "\n".join(lines)


def _step_suffix(step: GuideStep, zone: ZoneInfo) -> str:
    parts: list[str] = []
    if step.owner:
        parts.append(f"owner: {step.owner}")
    if step.status != PENDING:
        when = f" at {_time(step.at, zone)}" if step.at else ""
        parts.append(f"{step.status} by {step.actor}{when}")
    elif step.deadline_at is not None:
        action = f", then {step.on_deadline}" if step.on_deadline else ""
        parts.append(("OVERDUE since " if step.overdue else "due ") + _time(step.deadline_at, zone) + action)
    return f" ({'; '.join(parts)})" if parts else ""


def _time(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return local.strftime("%H:%M:%S ") + (local.tzname() or "")
