"""The composition root: the one place that picks adapters from settings and wires them.

Read top to bottom it is the map of the app: storage and time, the incident service and
command router, playbooks, PagerDuty out, escalation, guided steps, export, chat (Slack or
the console), the outbox worker, webhooks in; then who hears about a change, the
``/incident`` verbs, the HTTP routes and the loops of each process role. Every component
gets what it uses in its constructor; the few connections between features are small
functions in ``bot/wiring/``. Nothing else decides between Slack and the console, or checks
whether PagerDuty is configured.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from bot.chat.commands import CommandRouter
from bot.chat.console.transcript import ConsoleDeliverer
from bot.chat.operations import ARCHIVE, CHANNEL_SETUP_LANE
from bot.chat.slack import (
    PauseCollector,
    SlackRuntime,
    build_runtime,
    make_slack_subscriber,
    pause_note,
    slack_routes,
    socket_mode_task,
)
from bot.delivery.message import Deliverer
from bot.delivery.worker import DeadLetterHook, DeliveryWorker
from bot.domain.clock import Clock, SystemClock
from bot.domain.permissions import Policy
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.export.chat import PostDraftOnResolve, export_handler, timeline_handler
from bot.export.http import postmortem_routes
from bot.export.service import Exporter
from bot.guided import DeadlineTicker, GuidedSteps, guide_poster, register_verbs
from bot.ingest.inbox_writer import InboxWriter
from bot.ingest.ingester import Ingester
from bot.ingest.install import webhook_appliers, webhook_routes
from bot.metrics import Metrics
from bot.pagerduty.deliverer import TARGET as PAGERDUTY
from bot.pagerduty.outbound import pagerduty_outbound
from bot.playbooks.registry import load_registry, log_registry, registry_warnings
from bot.roles import ALL_ROLES, Role
from bot.schedule import EscalationEngine, build_escalation, escalate_handler
from bot.service.chat_notifications import CHAT, chat_notifier, post_recorded
from bot.service.incidents import IncidentService
from bot.service.oncall import OncallDirectory
from bot.settings import Settings
from bot.store.db import SessionFactory, make_engine, make_session_factory
from bot.store.incidents import IncidentRepository
from bot.store.models import OutboxRow
from bot.store.notify import INBOX_CHANNEL, OUTBOX_CHANNEL, NotificationListener
from bot.tuning import webhook_pressure
from bot.webview import build_webview
from bot.wiring.playbook_escalation import missed_step_escalation, playbook_policy_lookup
from bot.wiring.playbook_slack import summary_steps
from bot.wiring.unreachable_targets import unreachable

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
    guided: GuidedSteps
    #: The step-deadline loop (``guided``'s ``on_deadline`` actions).
    deadlines: DeadlineTicker
    escalation: EscalationEngine
    oncall: OncallDirectory
    exporter: Exporter
    #: The Slack backend; None in local mode (the console transcript is the chat).
    slack: SlackRuntime | None = None
    routes: list[BaseRoute] = field(default_factory=list)
    local_mode: bool = True
    #: Loops of the worker role (escalation scheduler, guided-steps ticker); the ingester and
    #: delivery worker come on top (see ``bot.web.loops_for``).
    background: list[BackgroundTask] = field(default_factory=list)
    #: Loops of the web role (Slack Socket Mode: one socket per web process).
    web_background: list[BackgroundTask] = field(default_factory=list)
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
    drill: bool = False,
) -> Container:
    """``files_dir``: where local mode saves the files it would upload to Slack (post-mortems).

    ``roles``: the process this is for (bot/roles.py); it only changes the tuning (bot/tuning.py),
    the loops and routes to run are picked by ``bot.web.loops_for`` and ``create_app``.

    ``drill``: a rehearsal (bot/drill): incidents, inbox rows and outbox rows are marked as
    drills, and its ingester and delivery worker take only drill rows (a real container only
    real ones), so the two may share a database.
    """
    # Storage, time, metrics.
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url, pool_max=settings.db_pool_max)
    sessions = make_session_factory(engine, drill=drill)
    metrics = Metrics(sessions, inbox_capacity=settings.inbox_max_rows)

    # The incident core: every change goes through the service, every /incident verb through the router.
    service = IncidentService(sessions, clock=clock, drill=drill)
    commands = CommandRouter(
        service, zone=settings.zone, policy=Policy(takeover_after=settings.takeover_after), auto_resolve=frozenset(settings.auto_resolve)
    )

    # Playbooks, loaded leniently (a broken file is skipped and logged): matched to new
    # incidents, grouping alerts (correlate_by), escalation policies.
    registry = load_registry(settings.playbooks_dir)
    log_registry(registry)

    # PagerDuty out: where pages go, the incident sync, who is on call.
    pagerduty = pagerduty_outbound(settings, clock=clock)
    startup_warnings = registry_warnings(registry) + unreachable(settings, registry)
    for line in startup_warnings:
        log.warning(line)

    # Escalation: timers from the attached playbook's policy, else the default policy.
    escalation = build_escalation(settings, service, engine, lookup=playbook_policy_lookup(registry))

    # Guided steps: the attached playbook's steps; a missed step escalates through the engine.
    guided = GuidedSteps(service, registry, zone=settings.zone, escalates=escalation.planner.escalates)
    deadlines = DeadlineTicker(service, escalate_now=missed_step_escalation(escalation.engine), escalates=escalation.planner.escalates)

    # Post-mortems: drafted on resolve, exported by command and over HTTP.
    exporter = Exporter(sessions, clock=clock, zone=settings.zone, templates_dir=settings.templates_dir, public_url=settings.public_url)

    # Chat: Slack with credentials, else the console transcript (local mode).
    slack = (
        build_runtime(
            settings, sessions=sessions, clock=clock, router=commands, service=service, oncall=pagerduty.oncall, steps=summary_steps(guided)
        )
        if settings.slack_enabled
        else None
    )
    chat: Deliverer = (
        slack.deliverer
        if slack is not None
        else ConsoleDeliverer(
            sessions, stream=transcript_stream, clock=clock, zone=settings.zone, announcements=settings.slack_incidents_channel, files_dir=files_dir
        )
    )

    # The outbox worker: one deliverer per target.
    worker = DeliveryWorker(
        sessions,
        {CHAT: chat, PAGERDUTY: pagerduty.deliverer},
        clock=clock,
        max_attempts=settings.outbox_max_attempts,
        poll_seconds=settings.outbox_poll_seconds,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        on_dead=_dead_letter(metrics, clock),
        on_attempt=metrics.record_delivery_attempt,
        setup_operations=CHANNEL_SETUP_LANE,
        setup_target=CHAT,
        setup_per_claim=settings.outbox_setup_per_claim,
        closing_operations={ARCHIVE},
        drill=drill,
    )

    # Webhooks in: answered once queued in the inbox, applied by the ingester.
    inbox = InboxWriter(sessions, max_rows=settings.inbox_max_rows, drill=drill)
    appliers = webhook_appliers(settings, service, metrics, registry)
    ingester = Ingester(
        sessions,
        appliers.rows,
        batch_appliers=appliers.batches,
        preparers=appliers.preparers,
        clock=clock,
        on_applied=lambda source, outcome: metrics.ingested.labels(source=source, outcome=outcome).inc(),
        on_committed=service.notify_committed,
        pressure=webhook_pressure(roles),
        poll_seconds=settings.inbox_poll_seconds,
        # P0 and whatever the storm guard exempts jump the inbox queue (bot/ingest/inbox.py).
        urgent={0, *(level.rank for level in settings.storm_exempt)},
        drill=drill,
    )
    listener = (
        NotificationListener(engine.url, {INBOX_CHANNEL: ingester.notify, OUTBOX_CHANNEL: worker.notify})
        if settings.pg_notify and engine.dialect.name == "postgresql"
        else None
    )

    # Who hears about a change, in this order, inside its transaction; then the worker wakes.
    service.declare_hooks.append(guided.on_declare)
    service.subscribers.extend(
        [
            chat_notifier(timedelta(seconds=settings.summary_batch_seconds)),
            *([pagerduty.sync] if pagerduty.sync is not None else []),
            guided.on_reopened,  # before the guide is posted: it shows the deadlines
            guided.on_state_shown,
            guide_poster(guided),
            guided.on_raised,
            escalation.planner.on_change,
            PostDraftOnResolve(exporter),
            *([make_slack_subscriber(archive_after_seconds=settings.slack_archive_after_seconds)] if slack is not None else []),
        ]
    )
    service.after_commit.append(worker.notify)

    # The /incident verbs beyond the core ones.
    register_verbs(commands, guided)
    commands.register("escalate", escalate_handler(commands, escalation.engine))
    commands.register("timeline", timeline_handler(commands, exporter))
    commands.register("export", export_handler(commands, exporter))

    # HTTP routes, and the loops of each role (bot.web.loops_for adds the ingester and worker).
    routes: list[BaseRoute] = [*webhook_routes(settings, service, metrics, inbox, ingester), *postmortem_routes(exporter, settings.api_token)]
    # The web view: read-only pages for people outside the channel (bot/webview).
    webview = build_webview(settings, engine=engine, sessions=sessions, clock=clock, exporter=exporter)
    routes.extend(webview.routes)
    startup_warnings.extend(webview.warnings)
    web_background: list[BackgroundTask] = [webview.warm_up]
    readiness_notes: list[Callable[[], dict[str, Any]]] = []
    if slack is not None:
        if settings.slack_signing_secret:
            routes.extend(slack_routes(slack.handler, settings.slack_signing_secret, slack.seen))
        if settings.slack_app_token:
            web_background.append(socket_mode_task(slack.app, settings.slack_app_token, slack.seen))
        metrics.registry.register(PauseCollector(slack.pause))
        readiness_notes.append(lambda: pause_note(slack.pause))

    return Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        metrics=metrics,
        service=service,
        worker=worker,
        ingester=ingester,
        inbox=inbox,
        commands=commands,
        guided=guided,
        deadlines=deadlines,
        escalation=escalation.engine,
        oncall=pagerduty.oncall,
        exporter=exporter,
        slack=slack,
        routes=routes,
        local_mode=slack is None,
        background=[deadlines.run, escalation.runner.run],
        web_background=web_background,
        readiness_notes=readiness_notes,
        listener=listener,
        startup_warnings=startup_warnings,
    )


def _dead_letter(metrics: Metrics, clock: Clock) -> DeadLetterHook:
    """A message given up: count it, and put it on the incident's timeline (and so in chat)."""

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

    return dead_letter


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
