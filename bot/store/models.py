"""SQLAlchemy tables. Rows are storage shapes; the domain never sees them.

Unique keys here are what make duplicate deliveries harmless: two replicas receiving the
same alert group race on ``alert_groups.dedup_key`` (PagerDuty incidents on
``incidents.dedup_key``), and the database picks one winner.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and read back as aware UTC, on every database.

    SQLite keeps only the wall-clock part of an aware datetime: ``10:05+02:00`` would come
    back as ``10:05`` and be read as UTC, two hours off. Converting on the way in makes the
    stored value mean the same thing everywhere.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)



#: How unnamed constraints and indexes are named, the same on every database, so a migration
#: can drop or change one by a name it knows (PostgreSQL's own names, e.g. ``incidents_pkey``,
#: and SQLite's unnamed constraints are not that). Explicit names (``uq_alerts_group_fingerprint``)
#: are kept as written. Migration 0013_naming_convention renamed what existed before.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JsonType, datetime: UtcDateTime()}


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_severity", "status", "severity"),
        Index("ix_incidents_correlation", "correlation_key", "status"),
        Index("ix_incidents_created_at", "created_at"),
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
    #: ``occurred_at`` of the last PagerDuty status / priority event applied: later
    #: deliveries of older events are recorded but not applied.
    pagerduty_status_at: Mapped[datetime | None]
    pagerduty_priority_at: Mapped[datetime | None]
    chat_channel_id: Mapped[str | None] = mapped_column(String(64))
    chat_channel_name: Mapped[str | None] = mapped_column(String(80))
    chat_summary_ref: Mapped[str | None] = mapped_column(String(64))
    #: What related alert groups share to join this incident (``am@source|cluster=eu-1``);
    #: NULL when the incident collects none. Not unique: a later incident may reuse it.
    correlation_key: Mapped[str | None] = mapped_column(String(512))
    #: The storm incident: groups folded in by the storm guard.
    storm: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Set when a person merged this incident into another (its number).
    merged_into: Mapped[int | None]
    #: A rehearsal (``firebreak drill``): kept out of storms, lists and figures.
    drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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
    #: When Firebreak received what caused the entry (NULL on entries older than this column: ``at``).
    received_at: Mapped[datetime | None]
    #: When it happened at the source if sane, else the received time; ``source_time`` says which.
    source_at: Mapped[datetime | None]
    source_time: Mapped[str | None] = mapped_column(String(16))


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
    """One alert (by Alertmanager fingerprint) of one alert group (child) of an incident."""

    __tablename__ = "alerts"
    __table_args__ = (
        # One row per alert *per child*: one alert may arrive in two groups of one incident.
        # These two also serve look-ups by their first column alone (group, incident): an
        # index of that column by itself would only cost every alert written another entry.
        UniqueConstraint("group_id", "fingerprint", name="uq_alerts_group_fingerprint"),
        Index("ix_alerts_incident_fingerprint", "incident_id", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    fingerprint: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    generator_url: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: The alert group (child of the incident) this alert arrived in.
    group_id: Mapped[int | None]


class AlertGroupRow(Base):
    """One alert group inside the incident it belongs to: a *child* of that incident.

    An incident opened by a group has that group as child #1; groups correlated into it
    (same labels within the window), folded in by the storm guard, or moved by a merge join
    as further children. ``dedup_key`` (source + groupKey) is unique: it is how a later
    notification of the group finds its incident, and what two ingesters race on.
    ``child_number`` is the short id people type (``/incident split 3``).
    """

    __tablename__ = "alert_groups"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_alert_groups_dedup_key"),
        UniqueConstraint("incident_id", "child_number", name="uq_alert_groups_incident_child"),
        Index("ix_alert_groups_incident", "incident_id"),
        Index("ix_alert_groups_joined", "joined_by", "joined_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    child_number: Mapped[int]
    dedup_key: Mapped[str] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The label values it was correlated on (empty when it opened the incident by itself).
    correlation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    severity: Mapped[str] = mapped_column(String(8))
    #: "firing" while any of its alerts fires, else "resolved".
    status: Mapped[str] = mapped_column(String(16))
    #: How it came into this incident: opened | correlated | storm | merged.
    joined_by: Mapped[str] = mapped_column(String(16))
    #: The latest ``truncatedAlerts`` of the group: while > 0 the incident never resolves by itself.
    truncated_alerts: Mapped[int] = mapped_column(default=0, server_default="0")
    joined_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class InboundEventRow(Base):
    """Ids of webhook events already applied, so a retried delivery changes nothing."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_inbound_source_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime]


class InboxRow(Base):
    """A webhook accepted but not yet applied: answered 2xx once this row is committed.

    The ingester folds a group's rows in arrival order and deletes them in the same
    transaction, so a crash between the two leaves the row for the next attempt. Rows that
    keep failing are kept (``dead_at``), never dropped: an operator can look at them.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_group_key_id", "group_key", "id"),
        Index("ix_inbox_priority_id", "priority", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))
    group_key: Mapped[str] = mapped_column(String(512))
    body: Mapped[str] = mapped_column(Text)
    webhook_id: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    dead_at: Mapped[datetime | None]
    #: The worst firing severity's rank at acceptance (0 = P0 … 4 = INFO; 3 when unknown):
    #: groups holding an urgent row are applied before the rest (bot/ingest/inbox.py).
    priority: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    #: Queued by a drill: only a drill's ingester applies it (a real one never sees it).
    drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class OutboxRow(Base):
    """A message to the outside world, written in the same transaction as its cause."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_ordering", "ordering_key", "status"),
        Index("ix_outbox_coalesce", "coalesce_key", "status"),
        Index("ix_outbox_priority", "status", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    target: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    ordering_key: Mapped[str | None] = mapped_column(String(255))
    coalesce_key: Mapped[str | None] = mapped_column(String(255))
    #: Lower goes first when Slack's limits hold work back: the incident's severity rank
    #: (P0 = 0 … INFO = 4), 3 for messages about no incident.
    priority: Mapped[int] = mapped_column(default=3, server_default="3")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    #: Written by a drill: only a drill's delivery worker takes it (never real Slack or PagerDuty).
    drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TranscriptRow(Base):
    """What the console backend 'posted': local mode's record of the conversation."""

    __tablename__ = "transcript"
    #: "Has this channel a line yet?" is asked for each open and each post of a P3.
    __table_args__ = (Index("ix_transcript_channel", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    outbox_id: Mapped[int | None] = mapped_column(Integer, unique=True)


class PlaybookRunRow(Base):
    """A playbook attached to an incident. Replacing it (``/incident run``) deactivates the
    old run rather than deleting it, so the post-mortem still shows what was done under it."""

    __tablename__ = "playbook_runs"
    __table_args__ = (Index("ix_playbook_runs_incident_active", "incident_id", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    playbook_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(8))
    matched_by: Mapped[str] = mapped_column(String(16))
    attached_by: Mapped[str] = mapped_column(String(255))
    attached_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=True)


class PlaybookStepRow(Base):
    """One step of a run, copied from the playbook at attach time (a later edit of the YAML
    does not change an incident in progress). ``deadline_fired_at`` is the claim that makes a
    deadline fire once across replicas and restarts."""

    __tablename__ = "playbook_step_states"
    __table_args__ = (
        UniqueConstraint("run_id", "step", name="uq_playbook_step_run_step"),
        Index("ix_playbook_steps_due", "status", "deadline_fired_at", "deadline_at"),
        Index("ix_playbook_steps_incident", "incident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("playbook_runs.id"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    playbook_id: Mapped[str] = mapped_column(String(128))
    step: Mapped[int]
    phase_index: Mapped[int]
    phase_kind: Mapped[str] = mapped_column(String(32))
    phase_title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    commands: Mapped[list[str]] = mapped_column(JsonType, default=list)
    owner: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    actor: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime | None]
    deadline_seconds: Mapped[int | None]
    on_deadline: Mapped[str | None] = mapped_column(String(16))
    escalate_to: Mapped[str | None] = mapped_column(String(64))
    deadline_at: Mapped[datetime | None]
    deadline_fired_at: Mapped[datetime | None]
    #: ``done_when`` of the step (bot/playbooks/schema.py): marked done by itself once the
    #: incident shows every condition.
    done_when: Mapped[list[str] | None] = mapped_column(JsonType, default=list)


class EscalationRow(Base):
    """One escalation deadline of one incident: our own table, not an APScheduler job store.

    ``cycle`` is the incident's reopen count, so a reopen arms a fresh set of levels while
    the earlier ones stay as history. ``anchor_at``/``anchor_level`` is where the level's
    delay counts from (armed at / level 0, or a manual escalation); re-planning on a
    severity change starts from it.
    """

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("incident_id", "cycle", "level", name="uq_escalations_incident_cycle_level"),
        Index("ix_escalations_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    cycle: Mapped[int] = mapped_column(default=0)
    level: Mapped[int] = mapped_column(Integer)
    condition: Mapped[str] = mapped_column(String(16))
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    due_at: Mapped[datetime]
    anchor_at: Mapped[datetime]
    anchor_level: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    manual: Mapped[bool] = mapped_column(default=False)
    fired_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]


class SlackSeenRequestRow(Base):
    """A Slack request already applied: its signature, Events API ``event_id`` or Socket Mode
    ``envelope_id``, kept until a replay or retry of it can no longer arrive."""

    __tablename__ = "slack_seen_requests"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SlackPauseRow(Base):
    """Slack delivery is paused for the bot token with this fingerprint (it was revoked or
    the app uninstalled); a different token (the app installed again) is not paused."""

    __tablename__ = "slack_pause"

    token_fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str] = mapped_column(String(32), default="")
    paused_at: Mapped[datetime]


class WebSignoutRow(Base):
    """A web-view session signed out before its cookie expired: the cookie is refused from
    then on, on every replica, even where a copy of it survives. Pruned after ``expires_at``."""

    __tablename__ = "web_signouts"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AppendOnlyViolation(RuntimeError):
    pass


@event.listens_for(TimelineRow, "before_update")
def _refuse_timeline_update(mapper: Any, connection: Any, target: TimelineRow) -> None:
    raise AppendOnlyViolation("timeline entries are append-only")


@event.listens_for(TimelineRow, "before_delete")
def _refuse_timeline_delete(mapper: Any, connection: Any, target: TimelineRow) -> None:
    raise AppendOnlyViolation("timeline entries are append-only")
