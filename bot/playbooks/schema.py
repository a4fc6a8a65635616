"""The playbook file format, as pydantic models.

Playbooks are YAML written by people, so validation is strict (unknown keys are errors, not
silently ignored) and messages name the offending value. The models are plain data: matching,
scheduling and chat rendering live elsewhere and only read them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bot.domain.durations import parse_delay, parse_duration
from bot.domain.severity import Severity

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
#: A Prometheus label name.
LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

PhaseKind = Literal[
    "symptoms", "diagnosis", "resolution", "verification", "communication", "prevention",
    "procedure", "other",
]

#: Words people write instead of the canonical phase kinds.
PHASE_KIND_ALIASES: dict[str, str] = {
    "confirm": "symptoms",
    "symptom": "symptoms",
    "diagnose": "diagnosis",
    "investigation": "diagnosis",
    "resolve": "resolution",
    "mitigation": "resolution",
    "verify": "verification",
    "communicate": "communication",
    "comms": "communication",
    "follow-up": "prevention",
}

DeadlineAction = Literal["escalate", "remind", "notify"]
Condition = Literal["unacknowledged", "unresolved"]


def _check_duration(value: str) -> str:
    parse_delay(value)
    return value.strip().lower()


def _as_list(value: Any) -> Any:
    """Let a single value stand for a one-item list: ``alertname: X`` reads better than ``[X]``."""
    if isinstance(value, str):
        return [value]
    return value


def _normalise_kind(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        return PHASE_KIND_ALIASES.get(lowered, lowered)
    return value


#: Longest phase title, and longest step owner and escalation level name (``escalate_to``
#: names a level): what the database stores for each step of an attached playbook
#: (``playbook_step_states``). PostgreSQL refuses a longer value, and the refusal would undo
#: the declaration of the incident the playbook was attached to; refused here, lint names the
#: line and a server skips the playbook instead.
MAX_PHASE_TITLE = 200
MAX_NAME = 64

Duration = Annotated[str, AfterValidator(_check_duration)]
StrList = Annotated[list[str], BeforeValidator(_as_list)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Target(_Strict):
    """Who an escalation level notifies: exactly one of the keys.

    ``who`` is free text for people the importer could name but not resolve to an account
    ("DBA on call"); delivery shows it to responders instead of paging anyone.
    """

    slack_user: str | None = None
    slack_group: str | None = None
    slack_channel: str | None = None
    pagerduty_escalation_policy: str | None = None
    pagerduty_user: str | None = None
    who: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        given = [name for name, value in self.__dict__.items() if value]
        if len(given) != 1:
            keys = ", ".join(type(self).model_fields)
            raise ValueError(f"a target needs exactly one of: {keys} (got {len(given)})")
        return self

    @property
    def kind(self) -> str:
        return next(name for name, value in self.__dict__.items() if value)

    @property
    def value(self) -> str:
        return str(getattr(self, self.kind))


class EscalationLevel(_Strict):
    """Notify ``targets`` once ``delay`` has passed since the incident started and the
    incident is still ``condition`` (not acknowledged, or not resolved)."""

    name: str | None = Field(default=None, max_length=MAX_NAME)
    delay: Duration
    condition: Condition = "unacknowledged"
    targets: list[Target] = Field(min_length=1)
    description: str | None = None

    @property
    def delay_seconds(self) -> int:
        return parse_duration(self.delay)


class EscalationPolicy(_Strict):
    """Ordered levels. Delays count from the incident start, so they must not decrease."""

    levels: list[EscalationLevel] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_and_order(self) -> EscalationPolicy:
        for index, level in enumerate(self.levels, start=1):
            if level.name is None:
                level.name = f"L{index}"
        names = [level.name for level in self.levels]
        duplicates = sorted({name for name in names if names.count(name) > 1 and name})
        if duplicates:
            raise ValueError(f"escalation level names must be unique: {', '.join(duplicates)}")
        delays = [level.delay_seconds for level in self.levels]
        if delays != sorted(delays):
            raise ValueError(
                "escalation level delays count from the incident start and must not decrease: "
                + ", ".join(level.delay for level in self.levels)
            )
        return self

    def level(self, name: str) -> EscalationLevel | None:
        return next((level for level in self.levels if level.name == name), None)


#: What the incident itself can show done (``done_when``): it was acknowledged (or mitigated,
#: or resolved), it was mitigated (or resolved), or a role has a holder.
DoneWhen = Literal["acknowledged", "mitigated", "commander", "comms", "scribe"]


class Step(_Strict):
    """One thing a responder does. ``deadline`` starts when the step's phase becomes current.

    ``done_when``: the step is the incident's own state (acknowledge it, name a commander),
    so it is marked done by itself once every condition holds, whichever way that came
    about (a command, a button, PagerDuty): nobody is reminded to do what is done."""

    text: str = Field(min_length=1)
    commands: list[str] = Field(default_factory=list)
    owner: str | None = Field(default=None, max_length=MAX_NAME)
    deadline: Duration | None = None
    on_deadline: DeadlineAction | None = None
    escalate_to: str | None = Field(default=None, max_length=MAX_NAME)
    done_when: Annotated[list[DoneWhen], BeforeValidator(_as_list)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _deadline_rules(self) -> Step:
        if self.on_deadline and self.deadline is None:
            raise ValueError("on_deadline needs a deadline (e.g. deadline: 5m)")
        if self.deadline is not None and self.on_deadline is None:
            self.on_deadline = "remind"
        if self.escalate_to and self.on_deadline != "escalate":
            raise ValueError("escalate_to is only meaningful with on_deadline: escalate")
        return self

    @property
    def deadline_seconds(self) -> int | None:
        return None if self.deadline is None else parse_duration(self.deadline)


class Phase(_Strict):
    kind: Annotated[PhaseKind, BeforeValidator(_normalise_kind)]
    title: str | None = Field(default=None, max_length=MAX_PHASE_TITLE)
    steps: list[Step] = Field(default_factory=list)


class MatchRules(_Strict):
    """All given rule kinds must hold; within a kind one hit is enough (labels: all of them).

    A label value starting with ``=~`` is a regular expression matched against the whole value.
    ``runbook`` and ``alertname`` both name the alert a playbook is for, so either one is
    enough: ``runbook`` holds when the alert's ``runbook_url`` ends in that runbook (file stem,
    case-insensitive; ``path#anchor`` also needs the URL's ``#anchor``).
    """

    alertname: StrList = Field(default_factory=list)
    runbook: StrList = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    pagerduty_service: StrList = Field(default_factory=list)
    title_keywords: StrList = Field(default_factory=list)

    @model_validator(mode="after")
    def _regexes_compile(self) -> MatchRules:
        for key, value in self.labels.items():
            if value.startswith("=~"):
                try:
                    re.compile(value[2:])
                except re.error as exc:
                    raise ValueError(f"label {key!r}: invalid regular expression: {exc}") from None
        return self

    @property
    def is_empty(self) -> bool:
        return not (self.alertname or self.runbook or self.labels or self.pagerduty_service or self.title_keywords)


class SeverityDefinition(_Strict):
    level: str = Field(min_length=1)
    name: str | None = None
    description: str = ""


class Provenance(_Strict):
    """Where an imported playbook came from, so importing the runbook again rewrites this file
    (same id) instead of adding a copy, and refuses to overwrite it once someone edited it.

    ``content_hash`` is the SHA-256 of the file as the importer wrote it (with this value
    blank); a file whose text no longer hashes to it has been edited.
    """

    source: str = Field(min_length=1)
    heading: str = Field(min_length=1)
    content_hash: str = ""


class Playbook(_Strict):
    """A guided response to one kind of incident, or a procedure attached by hand.

    ``manual`` playbooks (imported procedures, reference notes) are never matched
    automatically; ``default`` marks the fallback used when nothing else matches.
    """

    id: str = Field(pattern=SLUG_PATTERN, max_length=100)
    title: str = Field(min_length=1)
    description: str = ""
    default: bool = False
    manual: bool = False
    match: MatchRules = Field(default_factory=MatchRules)
    severity: Severity | None = None
    escalation: EscalationPolicy | None = None
    phases: list[Phase] = Field(default_factory=list)
    notes: str = ""
    severity_definitions: list[SeverityDefinition] = Field(default_factory=list)
    source: str | None = None
    owner: str | None = None
    tags: StrList = Field(default_factory=list)
    imported: Provenance | None = None
    #: Label names a new alert group matching this playbook must share with an open incident
    #: to join it (overrides ``FIREBREAK_CORRELATE_BY`` for those groups; ``[]``: never).
    correlate_by: StrList | None = None

    @model_validator(mode="after")
    def _correlate_by_labels(self) -> Playbook:
        if self.correlate_by is None:
            return self
        bad = [name for name in self.correlate_by if not LABEL_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"correlate_by: {bad[0][:60]!r} is not a label name (letters, digits and _, not starting with a digit)")
        self.correlate_by = list(dict.fromkeys(self.correlate_by))
        return self

    @model_validator(mode="after")
    def _flags(self) -> Playbook:
        if self.default and self.manual:
            raise ValueError("a playbook cannot be both default and manual")
        if self.default and not self.match.is_empty:
            raise ValueError("a default playbook is the fallback; give it no match rules")
        return self

    @property
    def is_fallback(self) -> bool:
        return self.default or (self.match.is_empty and not self.manual)

    def steps(self) -> list[tuple[int, Phase, Step]]:
        """All steps with their 1-based number across phases (what ``/incident step done 3`` uses)."""
        numbered: list[tuple[int, Phase, Step]] = []
        for phase in self.phases:
            for step in phase.steps:
                numbered.append((len(numbered) + 1, phase, step))
        return numbered
