"""PagerDuty Webhooks V3 payloads: ``{"event": {id, event_type, occurred_at, agent, data}}``.

Only what Firebreak acts on is modelled; the rest is ignored. ``data`` is an incident for
most ``incident.*`` events and a note for ``incident.annotated``, so it stays a dict here
and is validated per event type by ``incident()`` / ``note()``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain.source_time import showable

_ID = Field(min_length=1, max_length=64)
#: Characters of a PagerDuty incident's title kept; the rest is cut, not refused.
TITLE_KEPT = 4000
#: Characters of a PagerDuty note kept, and what marks the cut.
NOTE_KEPT = 25000
NOTE_CUT = " … (cut: the rest of this note is in PagerDuty)"


#: Longest link kept; a longer one is left out (a cut link would lead nowhere).
MAX_URL = 2048
#: Longest incident key read. Firebreak's own keys are short: a longer one cannot link to
#: one of its incidents, so it is read as no key rather than refused.
MAX_INCIDENT_KEY = 512
#: Characters of a service's or policy's name kept.
SUMMARY_KEPT = 2000


def _link_or_none(value: object) -> object:
    """A link too long to keep is left out, never refused: PagerDuty does not send a
    refused event again, and the incident it carries would be lost."""
    return None if isinstance(value, str) and len(value) > MAX_URL else value


class Reference(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = _ID
    summary: str = Field("", max_length=SUMMARY_KEPT)
    html_url: str | None = Field(None, max_length=MAX_URL)

    @field_validator("html_url", mode="before")
    @classmethod
    def _overlong_link(cls, value: object) -> object:
        return _link_or_none(value)

    @field_validator("summary", mode="before")
    @classmethod
    def _cut_summary(cls, value: object) -> object:
        return value[:SUMMARY_KEPT] if isinstance(value, str) else value


class Priority(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: str = Field("", max_length=200)

    @field_validator("summary", mode="before")
    @classmethod
    def _short(cls, value: object) -> object:
        """Priority names are the account's to choose: a long one is cut, never refused
        (a refused event is one PagerDuty will not send again)."""
        return value[:200] if isinstance(value, str) else value


class PdIncident(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = _ID
    number: int | None = None
    title: str = Field("", max_length=4000)
    status: str = Field("", max_length=32)
    urgency: str = Field("", max_length=16)
    html_url: str | None = Field(None, max_length=MAX_URL)
    incident_key: str | None = Field(None, max_length=MAX_INCIDENT_KEY)
    priority: Priority | None = None
    service: Reference | None = None
    escalation_policy: Reference | None = None
    assignees: list[Reference] = Field(default_factory=list)

    @field_validator("title", mode="before")
    @classmethod
    def _cut_title(cls, value: object) -> object:
        """A title is whatever was typed or sent in PagerDuty: a long one is cut (Firebreak
        keeps 200 characters of it anyway), never refused, or the incident would never open."""
        return value[:TITLE_KEPT] if isinstance(value, str) else value

    @field_validator("html_url", mode="before")
    @classmethod
    def _overlong_link(cls, value: object) -> object:
        return _link_or_none(value)

    @field_validator("incident_key", mode="before")
    @classmethod
    def _overlong_key(cls, value: object) -> object:
        return None if isinstance(value, str) and len(value) > MAX_INCIDENT_KEY else value


class PdNote(BaseModel):
    model_config = ConfigDict(extra="ignore")

    incident: Reference
    content: str = Field(max_length=NOTE_KEPT + len(NOTE_CUT))

    @field_validator("content", mode="before")
    @classmethod
    def _cut_content(cls, value: object) -> object:
        """A note longer than Firebreak keeps is cut with a marker, never refused (a refused
        event is one PagerDuty will not send again, and the note would be lost whole)."""
        if isinstance(value, str) and len(value) > NOTE_KEPT:
            return value[:NOTE_KEPT] + NOTE_CUT
        return value


class Event(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    event_type: str = Field(min_length=1, max_length=100)
    resource_type: str = Field("", max_length=100)
    occurred_at: datetime | None = None
    agent: Reference | None = None
    data: dict[str, Any]

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """PagerDuty sends UTC with ``Z``; a time without a zone is read as UTC too, so
        every ``occurred_at`` can be compared with every other."""
        if value is None:
            return None
        # 9999-12-31T23:59:59-14:00 has no UTC time: a 422, not a retried 5xx.
        return showable(value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    @property
    def actor(self) -> str:
        """Who did it in PagerDuty; ``agent`` is null for PagerDuty's own actions."""
        return (self.agent.summary if self.agent and self.agent.summary else "PagerDuty")[:200]

    def incident(self) -> PdIncident:
        return PdIncident.model_validate(self.data)

    def note(self) -> PdNote:
        return PdNote.model_validate(self.data)


class Delivery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event: Event
