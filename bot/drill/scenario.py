"""The scenario file: an incident as it unfolds, what scripted people do, and what must hold.

Offsets (``at``) are duration strings from the start of the drill (``0s``, ``3m``, ``1h30m``),
so a scenario reads like the incident it rehearses and does not depend on the day it runs.
Events carry their source and group identity, so two clusters sending the same alert are two
groups, as they would be for real.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.domain.durations import parse_duration
from bot.ingest.alertmanager.identity import valid_source


class _Strict(BaseModel):
    """Unknown keys are mistakes (``respones:``), so they are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


#: Limits of one scenario, so a typo (``99999999999h``, a pasted log of thousands of events)
#: is refused at once instead of running for hours or overflowing the clock.
MAX_OFFSET = 7 * 86400
MAX_EVENTS = 500
MAX_RESPONSES = 500
#: The error type of a limit: ``drill lint`` and ``drill run`` exit 2 (usage) on it, not 1.
LIMIT = "drill_limit"


def seconds_of(value: object) -> int:
    """A duration string as seconds; a bare number is refused (seconds or minutes?)."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration: write it with a unit, e.g. 30s, 5m, 1h30m")
    return parse_duration(value)


def offset_of(value: object) -> int:
    """An offset or the duration of the drill: a duration of at most :data:`MAX_OFFSET`."""
    seconds = seconds_of(value)
    if seconds > MAX_OFFSET:
        raise PydanticCustomError(LIMIT, "{value} is past the limit of a drill: at most 7d from the start", {"value": value})
    return seconds


class Offset(_Strict):
    """Something that happens ``at`` an offset from the start."""

    at: int = Field(description="seconds from the start")

    @field_validator("at", mode="before")
    @classmethod
    def _duration(cls, value: object) -> int:
        return offset_of(value)


class AlertSpec(_Strict):
    status: Literal["firing", "resolved"] = "firing"
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _named(self) -> AlertSpec:
        if "alertname" not in self.labels:
            raise ValueError("labels need an alertname")
        return self


class AlertmanagerEvent(_Strict):
    """One notification of one alert group, as Alertmanager sends it.

    Either one alert (``status``, ``labels``, ``annotations``) or several (``alerts``).
    ``group`` is the groupKey (default: grouped by alertname, Alertmanager's usual route);
    ``source`` the cluster the webhook URL names (``?source=``).
    """

    status: Literal["firing", "resolved"] | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] = Field(default_factory=dict)
    alerts: list[AlertSpec] | None = None
    group: str | None = Field(default=None, min_length=1, max_length=400)
    source: str | None = None

    @field_validator("source")
    @classmethod
    def _source_name(cls, value: str | None) -> str | None:
        if value is not None and not valid_source(value):
            raise ValueError("a source is 1-32 characters: a-z, 0-9, '-' or '_' (e.g. prod)")
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> AlertmanagerEvent:
        if self.alerts is not None and (self.labels is not None or self.status is not None):
            raise ValueError("give either alerts: [...] or one alert's status and labels, not both")
        if self.alerts is None and self.labels is None:
            raise ValueError("an alertmanager event needs labels (one alert) or alerts")
        if self.alerts is not None and not self.alerts:
            raise ValueError("alerts: needs at least one alert")
        if self.labels is not None:
            AlertSpec(status=self.status or "firing", labels=self.labels, annotations=self.annotations)
        return self

    def alert_list(self) -> list[AlertSpec]:
        if self.alerts is not None:
            return list(self.alerts)
        return [AlertSpec(status=self.status or "firing", labels=self.labels or {}, annotations=self.annotations)]

    def group_key(self) -> str:
        if self.group is not None:
            return self.group
        return '{}:{alertname="' + self.alert_list()[0].labels["alertname"] + '"}'


PAGERDUTY_EVENT_TYPES = (
    "incident.triggered",
    "incident.acknowledged",
    "incident.unacknowledged",
    "incident.resolved",
    "incident.reopened",
    "incident.priority_updated",
    "incident.annotated",
)


class PagerDutyEvent(_Strict):
    """One PagerDuty V3 webhook event about one PagerDuty incident (its group identity)."""

    event_type: str
    incident: str = Field(min_length=1, max_length=40, description="the PagerDuty incident id, e.g. PABC123")
    title: str = ""
    urgency: Literal["high", "low"] = "high"
    priority: str | None = None
    service: str | None = None
    agent: str | None = None
    note: str | None = None

    @field_validator("event_type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in PAGERDUTY_EVENT_TYPES:
            raise ValueError(f"unknown event_type {value!r}; one of {', '.join(PAGERDUTY_EVENT_TYPES)}")
        return value

    @model_validator(mode="after")
    def _note_for_annotated(self) -> PagerDutyEvent:
        if self.event_type == "incident.annotated" and not self.note:
            raise ValueError("incident.annotated needs a note")
        return self


class Event(Offset):
    alertmanager: AlertmanagerEvent | None = None
    pagerduty: PagerDutyEvent | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Event:
        if (self.alertmanager is None) == (self.pagerduty is None):
            raise ValueError("an event is either alertmanager: {...} or pagerduty: {...}")
        return self


class Response(Offset):
    """A scripted person typing a command, under the permission model like anyone else."""

    user: str = Field(min_length=1, max_length=80)
    command: str = Field(min_length=1, max_length=2000)
    incident: int | None = Field(
        default=None, ge=1, description="which incident of the drill (1 = the first opened); default the newest"
    )

    @field_validator("command")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not value.strip().startswith("/incident"):
            raise ValueError("a response is an /incident command, e.g. /incident ack")
        return value.strip()


class Standing(enum.StrEnum):
    """How the permission model sees a scripted user."""

    MEMBER = "member"
    GUEST = "guest"
    EXTERNAL = "external"
    ADMIN = "admin"


class Expectations(_Strict):
    """Checks for ``--check``, about the drill's first incident (``incidents`` counts them all)."""

    acknowledged_within: int | None = None
    mitigated_within: int | None = None
    resolved_within: int | None = None
    playbook: str | None = None
    max_escalation_level: int | None = Field(default=None, ge=0)
    min_escalation_level: int | None = Field(default=None, ge=0)
    steps_done_within: dict[int, int] = Field(default_factory=dict)
    incidents: int | None = Field(default=None, ge=0)
    severity: str | None = None

    @field_validator("acknowledged_within", "mitigated_within", "resolved_within", mode="before")
    @classmethod
    def _duration(cls, value: object) -> int | None:
        return None if value is None else seconds_of(value)

    @field_validator("steps_done_within", mode="before")
    @classmethod
    def _steps(cls, value: object) -> dict[int, int]:
        if not isinstance(value, dict):
            raise ValueError("steps_done_within maps step numbers to durations, e.g. {1: 10m}")
        steps: dict[int, int] = {}
        for key, duration in value.items():
            if isinstance(key, bool) or not isinstance(key, int) or key < 1:
                raise ValueError(f"step {key!r} is not a step number (1, 2, …)")
            steps[key] = seconds_of(duration)
        return steps

    def names(self) -> list[str]:
        return [name for name, value in self.model_dump(exclude_defaults=True).items() if value not in (None, {})]


class Scenario(_Strict):
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    duration: int | None = Field(default=None, description="run until this offset (default: the last event or response)")
    users: dict[str, Standing] = Field(default_factory=dict)
    events: list[Event] = Field(min_length=1)
    responses: list[Response] = Field(default_factory=list)
    expect: Expectations = Field(default_factory=lambda: Expectations())

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: object) -> int | None:
        return None if value is None else offset_of(value)

    @field_validator("events", "responses", mode="before")
    @classmethod
    def _not_too_many(cls, value: object, info: ValidationInfo) -> object:
        """Counted before each item is validated: a file of thousands is refused at once."""
        limit = MAX_EVENTS if info.field_name == "events" else MAX_RESPONSES
        if isinstance(value, list) and len(value) > limit:
            raise PydanticCustomError(
                LIMIT, "{count} {name}: a drill has at most {limit}", {"count": len(value), "name": info.field_name, "limit": limit}
            )
        return value

    @property
    def end(self) -> int:
        """The offset the drill runs to."""
        last = max([event.at for event in self.events] + [response.at for response in self.responses])
        return max(self.duration or 0, last)

    def standing_of(self, user: str) -> Standing:
        return self.users.get(user, Standing.MEMBER)


def scenario_from(data: Any) -> Scenario:
    return Scenario.model_validate(data)
