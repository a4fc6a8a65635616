"""SQLAlchemy tables. Rows are storage shapes; the domain never sees them.

Unique keys here are what make duplicate deliveries harmless: two replicas receiving the
same alert group race on ``incidents.dedup_key``, and the database picks one winner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonType = JSON().with_variant(JSONB(), "postgresql")
UtcDateTime = DateTime(timezone=True)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JsonType, datetime: UtcDateTime}


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_severity", "status", "severity"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    mitigated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime]
    roles: Mapped[dict[str, Any]] = mapped_column(default=dict)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    links: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedup_key: Mapped[str | None] = mapped_column(String(512), unique=True)
    playbook_id: Mapped[str | None] = mapped_column(String(128))
    reopen_count: Mapped[int] = mapped_column(default=0)
    escalation_level: Mapped[int] = mapped_column(default=0)
    pagerduty_incident_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    pagerduty_service_id: Mapped[str | None] = mapped_column(String(64))
    pagerduty_escalation_policy_id: Mapped[str | None] = mapped_column(String(64))
    chat_channel_id: Mapped[str | None] = mapped_column(String(64))
    chat_channel_name: Mapped[str | None] = mapped_column(String(80))
    chat_summary_ref: Mapped[str | None] = mapped_column(String(64))


class TimelineRow(Base):
    """Append-only: an ORM-level guard below refuses updates and deletes."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_incident_at", "incident_id", "at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ActionItemRow(Base):
    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    owner: Mapped[str | None] = mapped_column(String(255))
    done: Mapped[bool] = mapped_column(default=False)


class AlertRow(Base):
    """One alert (by Alertmanager fingerprint) inside the incident its group opened."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("incident_id", "fingerprint", name="uq_alerts_incident_fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    generator_url: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InboundEventRow(Base):
    """Ids of webhook events already applied, so a retried delivery changes nothing."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_inbound_source_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime]


class OutboxRow(Base):
    """A message to the outside world, written in the same transaction as its cause."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_ordering", "ordering_key", "status"),
        Index("ix_outbox_coalesce", "coalesce_key", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    target: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    ordering_key: Mapped[str | None] = mapped_column(String(255))
    coalesce_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class TranscriptRow(Base):
    """What the console backend 'posted': local mode's record of the conversation."""

    __tablename__ = "transcript"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    outbox_id: Mapped[int | None] = mapped_column(Integer, unique=True)


class AppendOnlyViolation(RuntimeError):
    pass


@event.listens_for(TimelineRow, "before_update")
def _refuse_timeline_update(mapper: Any, connection: Any, target: TimelineRow) -> None:
    raise AppendOnlyViolation("timeline entries are append-only")


@event.listens_for(TimelineRow, "before_delete")
def _refuse_timeline_delete(mapper: Any, connection: Any, target: TimelineRow) -> None:
    raise AppendOnlyViolation("timeline entries are append-only")
