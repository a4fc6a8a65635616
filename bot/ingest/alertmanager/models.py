"""The Alertmanager webhook payload, as its two senders post it.

Version 4 is Prometheus Alertmanager's ``notify/webhook``. Version 1 is Grafana-managed
alerting's webhook contact point: the same shape plus ``orgId``, ``state``, ``title`` and
``message`` at the top and, per alert, Grafana's links (``dashboardURL``, ``panelURL``,
``silenceURL``) and the query values (``values``, ``valueString``).

Validation is strict about types (labels are strings, times are RFC 3339) because a payload
that fails here can never succeed, and Alertmanager drops it on the 4xx we answer.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, field_validator, model_validator

from bot.domain.source_time import showable
from bot.ingest.alertmanager.identity import GRAFANA_SOURCE, group_dedup_key
from bot.ingest.lenient import cut, left_out

#: The zero time Go marshals for "not set" (``endsAt`` of a firing alert).
_GO_ZERO_YEAR = 1
ALERTMANAGER_VERSION = "4"
GRAFANA_VERSION = "1"
VERSIONS = (ALERTMANAGER_VERSION, GRAFANA_VERSION)
SUPPORTED = "Firebreak understands version 4 (Alertmanager) and version 1 (Grafana-managed alerting)"
#: Labels of the alert Grafana sends when someone presses "Test" on a contact point.
GRAFANA_TEST_LABELS = {"alertname": "TestAlert", "instance": "Grafana"}
#: Longest link kept. A longer one (Prometheus puts the whole URL-encoded rule expression
#: in ``generatorURL``) is left out, not refused: Alertmanager drops a notification we
#: answer 4xx, and a cut URL would lead nowhere.
MAX_URL = 4096
#: Longest free text kept from Grafana (``valueString`` lists every series); the rest is cut.
MAX_VALUE_STRING = 20_000
MAX_GRAFANA_TITLE = 20_000
MAX_GRAFANA_MESSAGE = 200_000

#: A link too long to keep is left out (empty), not cut.
Link = Annotated[str, left_out(MAX_URL, instead="")]


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = Field(None, alias="startsAt")
    ends_at: datetime | None = Field(None, alias="endsAt")
    generator_url: Link = Field("", alias="generatorURL", max_length=MAX_URL)
    fingerprint: str = Field("", max_length=128)
    # Grafana (version 1) only
    silence_url: Link = Field("", alias="silenceURL", max_length=MAX_URL)
    dashboard_url: Link = Field("", alias="dashboardURL", max_length=MAX_URL)
    panel_url: Link = Field("", alias="panelURL", max_length=MAX_URL)
    values: dict[str, float | None] | None = None
    value_string: Annotated[str, cut(MAX_VALUE_STRING)] = Field("", alias="valueString", max_length=MAX_VALUE_STRING)

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
        # 9999-12-31T23:59:59-14:00 parses, but cannot be stored or shown: refused here
        # rather than accepted and then never applied (or never exported).
        return showable(value if value.tzinfo else value.replace(tzinfo=UTC))

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
    external_url: Link = Field("", alias="externalURL", max_length=MAX_URL)
    alerts: list[Alert] = Field(min_length=1)
    # Grafana (version 1) only
    org_id: StrictInt | None = Field(None, alias="orgId")
    state: str = Field("", max_length=64)
    title: Annotated[str, cut(MAX_GRAFANA_TITLE)] = Field("", max_length=MAX_GRAFANA_TITLE)
    message: Annotated[str, cut(MAX_GRAFANA_MESSAGE)] = Field("", max_length=MAX_GRAFANA_MESSAGE)

    #: The source the webhook URL named (``?source=``), set by whoever parsed the body.
    _source: str | None = PrivateAttr(None)

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value not in VERSIONS:
            raise ValueError(f"unsupported webhook version {value!r}: {SUPPORTED}")
        return value

    @model_validator(mode="after")
    def _grafana_has_org(self) -> AlertGroup:
        if self.version == GRAFANA_VERSION and self.org_id is None:
            raise ValueError("version 1 is Grafana's webhook, which always carries orgId")
        return self

    @property
    def is_grafana(self) -> bool:
        return self.version == GRAFANA_VERSION

    @property
    def is_grafana_test(self) -> bool:
        """Grafana's contact-point test: every alert carries Grafana's test labels."""
        return self.is_grafana and all(
            all(alert.labels.get(name) == value for name, value in GRAFANA_TEST_LABELS.items()) for alert in self.alerts
        )

    @property
    def source(self) -> str | None:
        """The named source; Grafana's groups default to ``grafana`` (see ``identity``)."""
        if self._source is not None:
            return self._source
        return GRAFANA_SOURCE if self.is_grafana else None

    def from_source(self, source: str | None) -> AlertGroup:
        """This group as sent to the URL naming ``source`` (None: the URL named none)."""
        self._source = source
        return self

    @property
    def dedup_key(self) -> str:
        """The group's identity (``bot.ingest.alertmanager.identity``)."""
        return group_dedup_key(self.group_key, self.source)
