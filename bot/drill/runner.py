"""Run a scenario through the real pipeline, in this process, on the drill's own database.

The container is the one ``serve`` builds (ingest, playbook matching, escalation, step
deadlines, reminders, chat), with three differences: its clock is simulated, its settings
carry no Slack or PagerDuty credentials (chat goes to the console backend, pages to
:class:`~bot.drill.pager.DrillPager`), and its incident service marks every incident it opens
as a drill. Between scripted moments the clock jumps to the next deadline or reminder, and at
every moment the pipeline is run until it has nothing left to do.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast

from sqlalchemy import Engine, func, select

from bot.chat.commands import CommandContext
from bot.container import Container, build_container
from bot.domain.permissions import Principal
from bot.domain.permissions import Standing as PolicyStanding
from bot.domain.timeline import Source
from bot.drill.clock import Pace, SimulatedClock
from bot.drill.feed import Feed
from bot.drill.pager import DrillPager, DrillStream
from bot.drill.scenario import Event, Response, Scenario, Standing
from bot.drill.wakeups import next_wakeup
from bot.roles import Role
from bot.schedule.engine import PAGERDUTY
from bot.settings import Settings
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import IncidentRow

if TYPE_CHECKING:
    from bot.drill.results import Score

#: Rounds of "apply, tick, deliver" at one moment before the runner gives up on quiet.
MAX_ROUNDS = 50
#: Settings a drill never inherits: it must not reach Slack or PagerDuty.
STRIPPED = {
    "slack_bot_token": None,
    "slack_signing_secret": None,
    "slack_app_token": None,
    "pagerduty_api_token": None,
    "pagerduty_from_email": None,
    "pagerduty_routing_key": None,
    "pagerduty_webhook_secret": None,
    "pagerduty_service_id": None,
    "pg_notify": False,
    # The simulated clock jumps only to scripted moments and deadlines: a refresh waiting to
    # gather alert updates would show after the next moment's posts, or never at the end.
    "summary_batch_seconds": 0.0,
}
#: The same, by environment name, given when the settings are read: the outbound PagerDuty and
#: Slack settings a drill ignores are not validated either (an ``http://`` PagerDuty URL of a
#: test setup is no reason to refuse a rehearsal that never calls it).
OUTBOUND_DEFAULTS: dict[str, object] = {
    "SLACK_BOT_TOKEN": None,
    "SLACK_SIGNING_SECRET": None,
    "SLACK_APP_TOKEN": None,
    "SLACK_API_URL": "https://slack.com/api/",
    "PAGERDUTY_API_TOKEN": None,
    "PAGERDUTY_API_URL": "https://api.pagerduty.com",
    "PAGERDUTY_FROM_EMAIL": None,
    "PAGERDUTY_WEBHOOK_SECRET": None,
    "PAGERDUTY_ROUTING_KEY": None,
    "PAGERDUTY_EVENTS_URL": "https://events.pagerduty.com",
    "PAGERDUTY_SERVICE_ID": None,
}


@dataclass(frozen=True)
class ResponseResult:
    """What a scripted person typed and what the bot answered."""

    at: int
    user: str
    command: str
    reply: str
    refused: bool
    incident: int | None


@dataclass
class DrillRun:
    """What the runner saw; bot/drill/score.py reads the incidents from the database."""

    scenario: Scenario
    container: Container
    clock: SimulatedClock
    after_id: int
    responses: list[ResponseResult] = field(default_factory=list)
    pager: DrillPager | None = None
    elapsed_seconds: float = 0.0
    score: Score | None = None

    def incident_numbers(self) -> list[int]:
        with self.container.sessions() as session:
            statement = (
                select(IncidentRow.id).where(IncidentRow.drill.is_(True), IncidentRow.id > self.after_id).order_by(IncidentRow.id)
            )
            return list(session.scalars(statement))


def drill_settings(base: Settings, database_url: str, playbooks_dir: Path | None = None) -> Settings:
    """``base`` without anything that reaches the outside, on ``database_url``."""
    update: dict[str, object] = {**STRIPPED, "database_url": database_url}
    if playbooks_dir is not None:
        update["playbooks_dir"] = playbooks_dir
    return base.model_copy(update=update)


@contextmanager
def drill_database(database_url: str | None) -> Iterator[tuple[str, Engine]]:
    """A migrated database: a throw-away SQLite file unless ``database_url`` opts in to another."""
    with tempfile.TemporaryDirectory(prefix="firebreak-drill-") as folder:
        url = database_url or f"sqlite:///{Path(folder) / 'drill.db'}"
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield url, engine
        finally:
            engine.dispose()


class Runner:
    def __init__(
        self,
        scenario: Scenario,
        settings: Settings,
        engine: Engine,
        *,
        out: TextIO | None = None,
        pace: Pace | None = None,
        start: datetime | None = None,
    ) -> None:
        self.scenario = scenario
        self.pace = pace or Pace()
        self.clock = SimulatedClock(start or datetime.now(UTC).replace(microsecond=0))
        container = build_container(
            settings,
            clock=self.clock,
            transcript_stream=cast(TextIO, DrillStream(out)) if out else None,
            engine=engine,
            drill=True,
            roles=frozenset({Role.WORKER}),  # no webhook answers to protect: the ingester never gives way
        )
        self.pager = DrillPager(out, settings.slack_incidents_channel)
        container.worker.add_deliverer(PAGERDUTY, self.pager)
        self.container = container
        self.reminder_after = timedelta(seconds=settings.reminder_after_seconds)
        self.feed = Feed(uuid.uuid4().hex[:8], settings.severity_mapping)
        with container.sessions() as session:
            after_id = int(session.scalar(select(func.coalesce(func.max(IncidentRow.id), 0))) or 0)
        self.run = DrillRun(scenario, container, self.clock, after_id, pager=self.pager)

    async def execute(self) -> DrillRun:
        """Play the scenario to its end; returns what happened."""
        began = time.perf_counter()
        script: list[Event | Response] = sorted(
            [*self.scenario.events, *self.scenario.responses], key=lambda item: (item.at, isinstance(item, Response))
        )
        end = self.clock.start + timedelta(seconds=self.scenario.end)
        index = 0
        await self._settle(timers=True)
        while True:
            now = self.clock.now()
            scripted = self.clock.start + timedelta(seconds=script[index].at) if index < len(script) else None
            with self.container.sessions() as session:
                wake = next_wakeup(session, after_id=self.run.after_id, reminder_after=self.reminder_after, after=now)
            candidates = [moment for moment in (scripted, wake) if moment is not None]
            target = max(min(candidates), now) if candidates else None
            if target is None or target > end:
                self._jump(end)
                await self._settle(timers=True)
                break
            self._jump(target)
            if wake is not None and wake <= target:  # what falls due runs before the script acts
                await self._settle(timers=True)
            while index < len(script) and self.clock.start + timedelta(seconds=script[index].at) <= self.clock.now():
                item = script[index]
                index += 1
                await self._play(item)
                await self._settle(queued=isinstance(item, Event))
        self.run.elapsed_seconds = time.perf_counter() - began
        return self.run

    def _jump(self, moment: datetime) -> None:
        self.pace.wait(moment - self.clock.now())
        self.clock.jump_to(moment)

    async def _play(self, item: Event | Response) -> None:
        if isinstance(item, Response):
            self._respond(item)
            return
        now = self.clock.now()
        if item.alertmanager is not None:
            webhook = self.feed.alertmanager(item.alertmanager, now)
        elif item.pagerduty is not None:
            webhook = self.feed.pagerduty(item.pagerduty, now)
        else:  # the schema requires one of them
            return
        await self.container.inbox.accept(webhook)

    def _respond(self, response: Response) -> None:
        numbers = self.run.incident_numbers()
        if response.incident is not None:
            number = numbers[response.incident - 1] if response.incident <= len(numbers) else None
        else:
            number = numbers[-1] if numbers else None
        standing = self.scenario.standing_of(response.user)
        principal = Principal(
            key=response.user,
            name=response.user,
            standing=PolicyStanding.MEMBER if standing in (Standing.MEMBER, Standing.ADMIN) else PolicyStanding(standing.value),
            is_admin=standing is Standing.ADMIN,
            note=f"a {standing.value} in this drill" if standing in (Standing.GUEST, Standing.EXTERNAL) else "",
        )
        context = CommandContext(
            actor=response.user, source=Source.CONSOLE, channel_incident=number, last_incident=number, principal=principal
        )
        reply = self.container.commands.handle(response.command, context)
        self.run.responses.append(ResponseResult(response.at, response.user, response.command, reply.text, reply.refused, number))

    async def _settle(self, *, queued: bool = False, timers: bool = False) -> None:
        """Run the pipeline at this moment until nothing more happens.

        ``queued``: a webhook was queued (apply it); ``timers``: a deadline or reminder is due
        now (fire them). Checking either when nothing can be due only costs queries, and
        a two-hour drill has hundreds of moments.
        """
        container = self.container
        for _ in range(MAX_ROUNDS):
            done = 0
            if queued:
                done += container.ingester.apply_all()
                queued = False
            if timers:
                done += container.escalation.tick()
                done += container.deadlines.tick()
            # Until a pass finds nothing due: every message it takes is delivered before it
            # returns. (``DeliveryWorker.drain`` polls with real sleeps, which a simulated
            # clock does not need.)
            while await container.worker.run_once():
                pass
            if done == 0:
                return


async def run_scenario(
    scenario: Scenario,
    settings: Settings,
    *,
    database_url: str | None = None,
    out: TextIO | None = None,
    pace: Pace | None = None,
    start: datetime | None = None,
    scorer: Callable[[DrillRun], Score] | None = None,
) -> DrillRun:
    """Run ``scenario`` on its own database (or ``database_url``) and, with a ``scorer``
    (bot/drill/score.py's ``score``), score it while that database is open."""
    with drill_database(database_url) as (url, engine):
        runner = Runner(scenario, drill_settings(settings, url), engine, out=out, pace=pace, start=start)
        try:
            run = await runner.execute()
            if scorer is not None:
                run.score = scorer(run)
            return run
        finally:
            runner.container.close()
