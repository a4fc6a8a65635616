"""The Alertmanager webhook payload (version 4), as Alertmanager's ``notify/webhook`` sends it.

Validation is strict about types (labels are strings, times are RFC 3339) because a payload
that fails here can never succeed, and Alertmanager drops it on the 4xx we answer.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

#: The zero time Go marshals for "not set" (``endsAt`` of a firing alert).
_GO_ZERO_YEAR = 1


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = Field(None, alias="startsAt")
    ends_at: datetime | None = Field(None, alias="endsAt")
    generator_url: str = Field("", alias="generatorURL", max_length=4096)
    fingerprint: str = Field("", max_length=128)

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _rfc3339_text(cls, value: object) -> object:
        """Alertmanager sends RFC 3339 strings; numbers would be read as epoch seconds."""
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an RFC 3339 timestamp string")
        return value

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _unset_is_none(cls, value: datetime | None) -> datetime | None:
        if value is None or value.year <= _GO_ZERO_YEAR:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _fingerprint_from_labels(self) -> Alert:
        """Alertmanager always sends one; older senders don't, and the labels identify an alert."""
        if not self.fingerprint:
            canonical = "\x1f".join(f"{key}\x1e{self.labels[key]}" for key in sorted(self.labels))
            self.fingerprint = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        return self

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


class AlertGroup(BaseModel):
    """One notification: the whole current state of one alert group."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str
    group_key: str = Field(alias="groupKey", min_length=1)
    truncated_alerts: StrictInt = Field(0, alias="truncatedAlerts", ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field("", alias="externalURL", max_length=4096)
    alerts: list[Alert] = Field(min_length=1)

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value != "4":
            raise ValueError(f"unsupported webhook version {value!r}: Firebreak understands version 4")
        return value

    @property
    def dedup_key(self) -> str:
        """``am:<groupKey>``; very long keys (many group labels) are hashed to fit the column."""
        key = f"am:{self.group_key}"
        if len(key) <= 500:
            return key
        return "am:sha256:" + hashlib.sha256(self.group_key.encode()).hexdigest()
