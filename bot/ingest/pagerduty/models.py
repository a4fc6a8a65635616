"""PagerDuty Webhooks V3 payloads: ``{"event": {id, event_type, occurred_at, agent, data}}``.

Only what Firebreak acts on is modelled; the rest is ignored. ``data`` is an incident for
most ``incident.*`` events and a note for ``incident.annotated``, so it stays a dict here
and is validated per event type by ``incident()`` / ``note()``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain.source_time import showable
from bot.ingest.lenient import cut, left_out

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

#: A link too long to keep is left out (bot/ingest/lenient.py).
Link = Annotated[str | None, left_out(MAX_URL, instead=None)]


class Reference(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = _ID
    summary: Annotated[str, cut(SUMMARY_KEPT)] = Field("", max_length=SUMMARY_KEPT)
    html_url: Link = Field(None, max_length=MAX_URL)


class Priority(BaseModel):
    model_config = ConfigDict(extra="ignore")

    #: Priority names are the account's to choose: a long one is cut.
    summary: Annotated[str, cut(200)] = Field("", max_length=200)


class PdIncident(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = _ID
    number: int | None = None
    #: Whatever was typed or sent in PagerDuty (Firebreak keeps 200 characters of it anyway).
    title: Annotated[str, cut(TITLE_KEPT)] = Field("", max_length=TITLE_KEPT)
    status: str = Field("", max_length=32)
    urgency: str = Field("", max_length=16)
    html_url: Link = Field(None, max_length=MAX_URL)
    incident_key: Annotated[str | None, left_out(MAX_INCIDENT_KEY, instead=None)] = Field(None, max_length=MAX_INCIDENT_KEY)
    priority: Priority | None = None
    service: Reference | None = None
    escalation_policy: Reference | None = None
    assignees: list[Reference] = Field(default_factory=list)


class PdNote(BaseModel):
    model_config = ConfigDict(extra="ignore")

    incident: Reference
    content: Annotated[str, cut(NOTE_KEPT, marker=NOTE_CUT)] = Field(max_length=NOTE_KEPT + len(NOTE_CUT))


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
