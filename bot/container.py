"""The composition root: the one place that picks adapters from settings and wires them.

Features plug in here (subscribers on the incident service, deliverers on the worker,
verbs on the command router, routes on the web app), so the rest of the code never
decides between Slack and the console, or checks whether PagerDuty is configured.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from bot.chat.commands import CommandRouter
from bot.chat.console.transcript import ConsoleDeliverer
from bot.chat.operations import CHANNEL_SETUP_LANE
from bot.chat.slack import install as install_slack
from bot.delivery.worker import DeliveryWorker
from bot.domain.clock import Clock, SystemClock
from bot.domain.permissions import Policy
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.export.install import install as install_export
from bot.guided import install as install_guided
from bot.ingest.inbox_writer import InboxWriter
from bot.ingest.ingester import Ingester
from bot.ingest.install import install as install_ingest
from bot.metrics import Metrics
from bot.roles import ALL_ROLES, Role
from bot.schedule import EscalationEngine
from bot.schedule import install as install_escalation
from bot.service.chat_notifications import CHAT, notify_chat, post_recorded
from bot.service.incidents import IncidentService
from bot.service.oncall import NoOncallDirectory, OncallDirectory
from bot.settings import Settings
from bot.store.db import SessionFactory, make_engine, make_session_factory
from bot.store.incidents import IncidentRepository
from bot.store.models import OutboxRow
from bot.store.notify import INBOX_CHANNEL, OUTBOX_CHANNEL, NotificationListener
from bot.tuning import webhook_pressure
from bot.webview import install as install_webview
from bot.wiring.playbook_escalation import connect as connect_playbooks_to_escalation
from bot.wiring.playbook_slack import connect as connect_playbooks_to_slack
from bot.wiring.unreachable_targets import install as install_unreachable_targets

if TYPE_CHECKING:
    from bot.guided import GuidedSteps

log = logging.getLogger(__name__)

#: A loop a process runs until ``stop`` is set (see bot/web.py and bot/worker.py).
BackgroundTask = Callable[[asyncio.Event], Awaitable[None]]


@dataclass
class Container:
    settings: Settings
    engine: Engine
    sessions: SessionFactory
    clock: Clock
    metrics: Metrics
    service: IncidentService
    worker: DeliveryWorker
    ingester: Ingester
    inbox: InboxWriter
    commands: CommandRouter
    routes: list[BaseRoute] = field(default_factory=list)
    local_mode: bool = True
    #: Loops of the worker role (escalation scheduler, guided-steps ticker); the ingester and
    #: delivery worker come on top (see ``bot.web.loops_for``).
    background: list[BackgroundTask] = field(default_factory=list)
    #: Loops of the web role (Slack Socket Mode: one socket per web process).
    web_background: list[BackgroundTask] = field(default_factory=list)
    guided: GuidedSteps | None = None
    oncall: OncallDirectory = field(default_factory=NoOncallDirectory)
    escalation: EscalationEngine | None = None
    slack: Any = None
    readiness_notes: list[Callable[[], dict[str, Any]]] = field(default_factory=list)
    """Each adds to ``/readyz``'s answer (a paused Slack delivery, …) without failing it."""
    #: On PostgreSQL, wakes the ingester and delivery worker on new rows (bot/store/notify.py).
    listener: NotificationListener | None = None
    #: Problems found while wiring that do not stop the start (``serve`` prints them too).
    startup_warnings: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.inbox.close()
        self.engine.dispose()


def build_container(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transcript_stream: TextIO | None = sys.stdout,
    engine: Engine | None = None,
    files_dir: Path | None = None,
    roles: frozenset[Role] = ALL_ROLES,
) -> Container:
    """``files_dir``: where local mode saves the files it would upload to Slack (post-mortems).

    ``roles``: the process this is for (bot/roles.py); it only changes the tuning (bot/tuning.py),
    the loops and routes to run are picked by ``bot.web.loops_for`` and ``create_app``.
    """
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    metrics = Metrics(sessions, inbox_capacity=settings.inbox_max_rows)
    service = IncidentService(sessions, clock=clock, subscribers=[notify_chat])

    def dead_letter(session: Session, row: OutboxRow) -> None:
        metrics.delivery_dead.labels(target=row.target, operation=row.operation).inc()
        if row.incident_id is None or (row.operation == "post" and row.payload.get("kind") == EntryKind.DELIVERY_FAILED.value):
            return
        entry = TimelineEntry(
            kind=EntryKind.DELIVERY_FAILED,
            at=clock.now(),
            actor="firebreak",
            source=Source.SYSTEM,
            text=_failure_text(row),
            data={"outbox_id": row.id, "target": row.target, "operation": row.operation},
        )
        (entry_id,) = IncidentRepository.append(session, row.incident_id, [entry])
        if row.target != CHAT:  # a chat post that failed cannot be said in chat; the timeline has it
            post_recorded(session, row.incident_id, entry_id, entry, now=clock.now())

    worker = DeliveryWorker(
        sessions,
        {},
        clock=clock,
        max_attempts=settings.outbox_max_attempts,
        poll_seconds=settings.outbox_poll_seconds,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        on_dead=dead_letter,
        on_attempt=metrics.record_delivery_attempt,
        setup_operations=CHANNEL_SETUP_LANE,
        setup_target=CHAT,
        setup_per_claim=settings.outbox_setup_per_claim,
    )
    service.after_commit.append(worker.notify)
    ingester = Ingester(
        sessions,
        clock=clock,
        on_folded=lambda source, outcome: metrics.ingested.labels(source=source, outcome=outcome).inc(),
        on_committed=service.notify_committed,
        pressure=webhook_pressure(roles),
        poll_seconds=settings.inbox_poll_seconds,
        # P0 and whatever the storm guard exempts jump the inbox queue (bot/ingest/inbox.py).
        urgent={0, *(level.rank for level in settings.storm_exempt)},
    )
    commands = CommandRouter(
        service, zone=settings.zone, policy=Policy(takeover_after=settings.takeover_after), auto_resolve=frozenset(settings.auto_resolve)
    )
    container = Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        metrics=metrics,
        service=service,
        worker=worker,
        ingester=ingester,
        inbox=InboxWriter(sessions, max_rows=settings.inbox_max_rows),
        commands=commands,
        local_mode=not settings.slack_enabled,
    )
    if settings.pg_notify and engine.dialect.name == "postgresql":
        container.listener = NotificationListener(engine.url, {INBOX_CHANNEL: ingester.notify, OUTBOX_CHANNEL: worker.notify})
    install_ingest(container)
    if container.local_mode:
        worker.add_deliverer(
            CHAT,
            ConsoleDeliverer(
                sessions,
                stream=transcript_stream,
                clock=clock,
                zone=settings.zone,
                announcements=settings.slack_incidents_channel,
                files_dir=files_dir,
            ),
        )
    install_guided(container)
    install_escalation(container)
    exporter = install_export(container)
    install_webview(container, exporter)
    install_slack(container)
    connect_playbooks_to_escalation(container)
    connect_playbooks_to_slack(container)
    install_unreachable_targets(container)
    return container


def _failure_text(row: OutboxRow) -> str:
    """What the timeline (and so the incident channel) says about a message given up."""
    tries = f"{row.attempts} attempt{'s' if row.attempts != 1 else ''}"
    if row.target == "pagerduty" and row.operation == "page":
        policy, user = row.payload.get("escalation_policy_id"), row.payload.get("user_id")
        who = f"PagerDuty escalation policy {policy}" if policy else f"PagerDuty user {user}"
        return f"page to {who} failed after {tries}: {row.last_error}"
    return f"could not deliver {row.target}.{row.operation} after {tries}: {row.last_error}"


def database_location(url: str) -> str:
    """Where the data lives, as a person would look for it: the SQLite file's absolute path."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return "in memory (SQLite)"
        return str(Path(parsed.database).expanduser().absolute())
    return parsed.render_as_string(hide_password=True)
