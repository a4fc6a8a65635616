"""Alert storm across clusters: 10,000 alerts in 1,000 groups over 10 clusters within 60 s.

A real ``firebreak serve`` process receives Alertmanager webhooks; Slack is the fake
(tests/fakes/slack_api.py), which enforces Slack's published rate tiers at
``--rate-limit-scale 1`` (``conversations.create`` is Tier 2: 20 per minute after a burst
of 5). The database is a temporary SQLite file or a scratch PostgreSQL database on
127.0.0.1:5432 (created and dropped here). Each scenario gets a fresh database, fake Slack
and server:

A  correlate  FIREBREAK_CORRELATE_BY=cluster: the storm becomes one incident per cluster.
B  guard      correlation off, the storm guard at its default (FIREBREAK_STORM_THRESHOLD=10,
              window 5m), and a P0 group sent in the middle of the storm.
C  before     correlation off and the guard off (FIREBREAK_STORM_THRESHOLD=0), with the
              same P0 group; bounded to ``--before-seconds`` of wall time, since 1,000
              channels at Tier 2 take about 50 minutes.

Group ``g`` is ``alertname=Storm<g // clusters>, cluster=c<g % clusters>`` (its groupKey
has both), ``--alerts / --groups`` alerts differing by ``instance``; about one group in
``--critical-every`` is ``severity=critical`` (P1, a channel), the rest ``warning`` (P3, an
announcement only): some clusters start with a critical group, the others with a warning one
and turn P1 a few groups later. Like
Alertmanager, every group sends ``--webhooks`` notifications spread over ``--seconds``,
each carrying the group's whole current state; a non-2xx answer is retried with back-off.

Goals (the exit status is 1 when one of A's or B's is missed, after every figure is printed):
A: incidents = clusters, alerts stored = sent, every channel ready (created + summary posted)
   within 60 s of the first webhook, outbox emptied before ``--timeout``.
B: channels ≤ threshold + 1 (+1 per P0 group, which the guard never folds), first channel
   ready within 5 s, the P0 group's channel has its first post within 10 s of its webhook,
   alerts stored = sent, outbox emptied before ``--timeout``.

    python -m bench.storm [--db sqlite|postgres] [--scenario A B C] [--json]
                          [--groups 1000] [--alerts 10000] [--clusters 10] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from bench.load import ALERTMANAGER_AUTH, Process, firebreak_server
from bench.scratch_db import POSTGRES_ADMIN, scratch_postgres
from bench.storm_bench import outbox_open
from bot.ingest.alertmanager.identity import group_dedup_key
from bot.store.models import AlertGroupRow, AlertRow, InboxRow, IncidentRow, OutboxRow
from tests.fakes.alertmanager_payloads import alert, payload
from tests.fakes.rate_limits import SLACK_METHOD_LIMITS
from tests.fakes.slack_api import FakeSlack

SIGNING_SECRET = "bench-signing-secret"
RETRIES = 8
GROUP_BY = ("alertname", "cluster")
P0_ALERTNAME = "StormP0Probe"
SCENARIOS = ("A", "B", "C")
CHANNEL_SEVERITIES = ("P0", "P1", "P2")  # P3 is an announcement only, INFO stays off Slack
NAMES = {"A": "correlate", "B": "guard", "C": "before"}
#: Goals (seconds) the brief sets for A and B.
A_ALL_READY_S = 60.0
B_FIRST_READY_S = 5.0
B_P0_FIRST_POST_S = 10.0


# ----------------------------------------------------------------------------- the storm


@dataclass(frozen=True)
class Storm:
    groups: int
    per_group: int
    clusters: int
    seconds: float
    webhooks: int
    critical_every: int
    p0: bool  # one P0 group, sent at seconds / 2

    def alerts_of(self, group: int) -> list[dict[str, Any]]:
        critical = (group // self.clusters + group % self.clusters) % self.critical_every == 0
        severity = "critical" if critical else "warning"
        labels = {"alertname": f"Storm{group // self.clusters}", "cluster": f"c{group % self.clusters}", "severity": severity}
        return [
            alert({**labels, "instance": f"node-{index}"}, {"summary": f"storm alert {index} of group {group}"})
            for index in range(self.per_group)
        ]

    def p0_alerts(self) -> list[dict[str, Any]]:
        labels = {"alertname": P0_ALERTNAME, "cluster": "c0", "severity": "critical", "priority": "P0"}
        return [alert({**labels, "instance": f"node-{index}"}, {"summary": "the P0 in the storm"}) for index in range(self.per_group)]


@dataclass
class Sent:
    accepted: set[tuple[int, str]] = field(default_factory=set)  # (group, fingerprint) answered 2xx; P0 is group -1
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    gave_up: int = 0
    first: float = 0.0  # wall clock (time.time(), as the fake records calls)
    last_answer: float = 0.0
    p0_sent: float | None = None
    p0_answered: float | None = None
    p0_group_key: str | None = None
    latencies: list[float] = field(default_factory=list)  # seconds per answered request
    late: float = 0.0  # how far behind its schedule the generator sent a notification, at worst
    cut_off: int = 0  # notifications still unanswered when the sender gave up on them

    def latency(self, p: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def send_storm(url: str, storm: Storm, give_up_after: float) -> Sent:
    """Notification k of group g goes out at (k + g/groups) · seconds/webhooks; the P0 at seconds/2.

    Whatever is still unanswered ``give_up_after`` seconds after the first webhook is given up
    (counted in ``gave_up``), so a server that stops answering cannot hold the bench forever.
    """
    sent = Sent()
    everything = [storm.alerts_of(group) for group in range(storm.groups)]
    schedule: list[tuple[float, int, int]] = []
    for k in range(storm.webhooks):
        for group in range(storm.groups):
            schedule.append(((k + group / storm.groups) * storm.seconds / storm.webhooks, group, k))
    if storm.p0:
        schedule.append((storm.seconds / 2, -1, storm.webhooks - 1))
    schedule.sort()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=ALERTMANAGER_AUTH) as client:

        async def deliver(group: int, k: int) -> None:
            if group < 0:
                alerts = storm.p0_alerts()
            else:
                alerts = everything[group][: storm.per_group * (k + 1) // storm.webhooks]
            body = payload(alerts, group_by=GROUP_BY)
            if group < 0:
                sent.p0_group_key = body["groupKey"]
                sent.p0_sent = time.time()
            for attempt in range(RETRIES):
                try:
                    asked = time.perf_counter()
                    response = await client.post(url, json=body)
                    sent.latencies.append(time.perf_counter() - asked)
                    sent.statuses[response.status_code] += 1
                    if response.is_success:
                        sent.accepted.update((group, a["fingerprint"]) for a in alerts)
                        sent.last_answer = time.time()
                        if group < 0:
                            sent.p0_answered = sent.last_answer
                        return
                except httpx.HTTPError:
                    sent.transport_errors += 1
                await asyncio.sleep(min(5.0, 0.25 * 2**attempt))  # Alertmanager backs off too
            sent.gave_up += 1

        started = time.perf_counter()
        sent.first = time.time()
        tasks = []
        for offset, group, k in schedule:
            delay = started + offset - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent.late = max(sent.late, -delay)
            tasks.append(asyncio.create_task(deliver(group, k)))
        _done, pending = await asyncio.wait(tasks, timeout=max(0.0, started + give_up_after - time.perf_counter()))
        for task in pending:
            task.cancel()
        sent.gave_up += len(pending)
        sent.cut_off = len(pending)
    return sent


# ----------------------------------------------------------------------------- measuring


def wait_empty(engine: Engine, deadline: float, poll: float = 0.5) -> float | None:
    """Wall time the inbox and outbox were first seen empty (and still empty a second later), or None."""
    while time.time() < deadline:
        if outbox_open(engine) == 0:
            seen = time.time()
            time.sleep(1.0)
            if outbox_open(engine) == 0:
                return seen
            continue
        time.sleep(poll)
    return None


class InboxWatcher:
    """Samples the inbox depth (webhooks answered but not yet applied) every half second."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                with self.engine.connect() as connection:
                    depth = connection.execute(
                        select(func.count()).select_from(InboxRow).where(InboxRow.dead_at.is_(None))
                    ).scalar_one()
                self.samples.append((time.time(), int(depth)))
            except Exception:  # a busy database skips a sample, never the run
                continue

    def applied_after(self, since: float) -> float | None:
        """First sample at or after ``since`` with an empty inbox (None: never seen empty)."""
        return next((at for at, depth in self.samples if at >= since and depth == 0), None)

    def peak(self) -> int:
        return max((depth for _at, depth in self.samples), default=0)

    def __enter__(self) -> InboxWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.engine.dispose()


class RssSampler:
    """The server's peak RSS (VmHWM) and its CPU seconds, read from /proc until stopped."""

    def __init__(self, server: Process) -> None:
        self.server = server
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.sample()

    def sample(self) -> None:
        try:
            self.peak_mib = max(self.peak_mib, self.server.peak_rss_mib())
        except OSError:
            pass

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()


def channel_ready_times(fake: FakeSlack) -> dict[str, float]:
    """Incident channel id → wall time of its first successful post (the summary)."""
    incident_channels = {channel.id for channel in fake.channels if channel.name.startswith("inc-")}
    ready: dict[str, float] = {}
    for call in fake.calls("chat.postMessage", ok=True):
        channel = str(call.params.get("channel", ""))
        if channel in incident_channels and channel not in ready:
            ready[channel] = call.time
    return ready


def database_figures(engine: Engine, p0_key: str | None) -> dict[str, Any]:
    with engine.connect() as connection:
        scalar: Callable[[Any], int] = lambda statement: int(connection.execute(statement).scalar_one())  # noqa: E731
        figures: dict[str, Any] = {
            "incidents": scalar(select(func.count()).select_from(IncidentRow)),
            "storm_incidents": scalar(select(func.count()).select_from(IncidentRow).where(IncidentRow.storm.is_(True))),
            "incidents_without_channel": scalar(
                select(func.count()).select_from(IncidentRow).where(IncidentRow.chat_channel_id.is_(None), IncidentRow.severity.in_(CHANNEL_SEVERITIES))
            ),
            "alerts_stored": scalar(select(func.count()).select_from(AlertRow)),
            "alert_groups": scalar(select(func.count()).select_from(AlertGroupRow)),
            "groups_by_joined_by": {str(k): int(v) for k, v in connection.execute(
                select(AlertGroupRow.joined_by, func.count()).group_by(AlertGroupRow.joined_by)
            ).all()},
            "outbox_by_status": {str(k): int(v) for k, v in connection.execute(
                select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
            ).all()},
            "outbox_open_by_operation": {str(k): int(v) for k, v in connection.execute(
                select(OutboxRow.operation, func.count())
                .where(OutboxRow.status.in_(("pending", "in_flight")))
                .group_by(OutboxRow.operation)
            ).all()},
            "outbox_failed": [[str(op), str(error)[:200], int(n)] for op, error, n in connection.execute(
                select(OutboxRow.operation, OutboxRow.last_error, func.count())
                .where(OutboxRow.status == "failed")
                .group_by(OutboxRow.operation, OutboxRow.last_error)
            ).all()],
            "inbox_left": scalar(select(func.count()).select_from(InboxRow).where(InboxRow.dead_at.is_(None))),
            "p0_channel": None,
        }
        if p0_key is not None:
            row = connection.execute(
                select(IncidentRow.id, IncidentRow.chat_channel_id, IncidentRow.severity, IncidentRow.created_at)
                .join(AlertGroupRow, AlertGroupRow.incident_id == IncidentRow.id)
                .where(AlertGroupRow.dedup_key == group_dedup_key(p0_key, None))
            ).first()
            if row is None:  # a build without alert groups: the group is the incident
                row = connection.execute(
                    select(IncidentRow.id, IncidentRow.chat_channel_id, IncidentRow.severity, IncidentRow.created_at)
                    .where(IncidentRow.dedup_key == group_dedup_key(p0_key, None))
                ).first()
            if row is not None:
                figures["p0_incident"] = int(row[0])
                figures["p0_channel"] = row[1]
                figures["p0_incident_severity"] = row[2]
                created: datetime = row[3]
                figures["p0_incident_created"] = (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()
    return figures


# ----------------------------------------------------------------------------- databases


@contextmanager
def scratch_database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh empty database URL; the server migrates it on start."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'storm-{uuid.uuid4().hex[:6]}.db'}"
        return
    with scratch_postgres("firebreak_storm") as url:
        yield url


def database_version(kind: str) -> str:
    if kind == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    engine = create_engine(POSTGRES_ADMIN)
    try:
        with engine.connect() as connection:
            return "PostgreSQL " + str(connection.execute(text("SHOW server_version")).scalar_one()).split()[0]
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- one scenario


def scenario_env(scenario: str, args: argparse.Namespace) -> dict[str, str]:
    if scenario == "A":
        return {"FIREBREAK_CORRELATE_BY": "cluster", "FIREBREAK_STORM_THRESHOLD": str(args.storm_threshold)}
    if scenario == "B":
        return {"FIREBREAK_CORRELATE_BY": "", "FIREBREAK_STORM_THRESHOLD": str(args.storm_threshold)}
    return {"FIREBREAK_CORRELATE_BY": "", "FIREBREAK_STORM_THRESHOLD": "0"}


def run_scenario(scenario: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    storm = Storm(
        groups=args.groups, per_group=args.alerts // args.groups, clusters=args.clusters, seconds=args.seconds,
        webhooks=args.webhooks, critical_every=args.critical_every, p0=scenario in ("B", "C"),
    )
    fake = FakeSlack(rate_limit_scale=args.rate_limit_scale).start()
    load_before = os.getloadavg()
    bench_cpu = time.process_time()
    try:
        with scratch_database(args.db, tmp) as database_url:
            env = {
                "DATABASE_URL": database_url,
                "SLACK_BOT_TOKEN": fake.token,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": fake.api_url,
                **scenario_env(scenario, args),
            }
            server = firebreak_server(env)
            engine = create_engine(database_url)
            try:
                server.wait_ready()
                with RssSampler(server) as rss, InboxWatcher(database_url) as inbox:
                    cpu_start = rss.cpu_seconds()
                    give_up = args.before_seconds if scenario == "C" else args.seconds + args.send_grace
                    sent = asyncio.run(send_storm(server.url + "/webhooks/alertmanager", storm, give_up))
                    if scenario == "C":
                        bound = sent.first + args.before_seconds
                        time.sleep(max(0.0, bound - time.time()))
                        emptied = None
                    else:
                        bound = sent.first + args.timeout
                        emptied = wait_empty(engine, bound)
                    ended = time.time()
                    open_left = outbox_open(engine)
                    cpu = rss.cpu_seconds() - cpu_start
                figures = database_figures(engine, sent.p0_group_key)
                applied = inbox.applied_after(sent.last_answer)
                figures["webhooks_applied_s"] = None if applied is None else applied - sent.first
                figures["inbox_peak"] = inbox.peak()
            finally:
                server.stop()
                engine.dispose()
    finally:
        fake.stop()
    load_after = os.getloadavg()
    figures["bench_cpu_s"] = time.process_time() - bench_cpu
    return measure(scenario, args, storm, fake, sent, figures, emptied, ended, open_left, rss.peak_mib, cpu, load_before, load_after)


def measure(
    scenario: str, args: argparse.Namespace, storm: Storm, fake: FakeSlack, sent: Sent, figures: dict[str, Any],
    emptied: float | None, ended: float, open_left: int, peak_rss: float, cpu: float,
    load_before: tuple[float, float, float], load_after: tuple[float, float, float],
) -> dict[str, Any]:
    ready = channel_ready_times(fake)
    since = {channel: at - sent.first for channel, at in ready.items()}
    by_method: Counter[str] = Counter(call.method for call in fake.calls())
    creates_ok = len(fake.calls("conversations.create", ok=True))
    alerts_sent = len(sent.accepted)
    result: dict[str, Any] = {
        "scenario": scenario,
        "name": NAMES[scenario],
        "rate_limit_scale": args.rate_limit_scale,
        "db": args.db,
        "groups": storm.groups + (1 if storm.p0 else 0),
        "alerts_sent": alerts_sent,
        "webhooks_by_status": dict(sent.statuses),
        "webhooks_given_up": sent.gave_up,
        "webhooks_cut_off": sent.cut_off,
        "transport_errors": sent.transport_errors,
        "send_seconds": sent.last_answer - sent.first,
        "webhook_p50_ms": (sent.latency(50) or 0.0) * 1000,
        "webhook_p99_ms": (sent.latency(99) or 0.0) * 1000,
        "generator_late_s": sent.late,
        **figures,
        "alerts_lost": alerts_sent - figures["alerts_stored"],
        "channels_created": creates_ok,
        "channels_ready": len(ready),
        "first_ready_s": min(since.values()) if since else None,
        "all_ready_s": max(since.values()) if since and figures["incidents_without_channel"] == 0 else None,
        "ready_within_60s": sum(1 for s in since.values() if s <= 60.0),
        "outbox_empty_s": (emptied - sent.first) if emptied is not None else None,
        "outbox_open_left": open_left,
        "elapsed_s": ended - sent.first,
        "slack_calls": sum(by_method.values()),
        "slack_calls_by_method": dict(sorted(by_method.items())),
        "slack_calls_per_alert": sum(by_method.values()) / max(1, alerts_sent),
        "served_429": fake.served_429,
        "peak_rss_mib": peak_rss,
        "server_cpu_s": cpu,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "p0_first_post_s": None,
    }
    channel = figures.get("p0_channel")
    result["p0_opened_s"] = result["p0_channel_created_s"] = result["p0_answered_s"] = None
    if sent.p0_sent is not None:
        if sent.p0_answered is not None:
            result["p0_answered_s"] = sent.p0_answered - sent.p0_sent
        if "p0_incident_created" in figures:
            result["p0_opened_s"] = figures["p0_incident_created"] - sent.p0_sent
        created = [c.time for c in fake.calls("conversations.create", ok=True) if (c.response or {}).get("channel", {}).get("id") == channel]
        if channel is not None and created:
            result["p0_channel_created_s"] = created[0] - sent.p0_sent
        if channel in ready:
            result["p0_first_post_s"] = ready[channel] - sent.p0_sent
    if scenario == "C":
        result["projected_empty_s"] = project_empty(result, fake, sent.first, ended)
    result["goals"] = goals(scenario, args, result)
    return result


def project_empty(result: Mapping[str, Any], fake: FakeSlack, first: float, ended: float) -> float | None:
    """When the outbox would be empty: the channels still to create at Tier 2's sustained rate
    (Slack's bottleneck), or the rest of the outbox at the delivery rate of the last minute,
    whichever is later."""
    if result["outbox_open_left"] == 0:
        return result["elapsed_s"]
    create = SLACK_METHOD_LIMITS["conversations.create"]
    scale = float(result.get("rate_limit_scale", 1.0))
    per_second = create.per_minute * scale / 60.0
    channels_left = result["incidents_without_channel"]
    by_channels = channels_left / per_second
    window = min(60.0, ended - first)
    recent = sum(1 for call in fake.calls() if call.ok and call.time >= ended - window)
    by_rate = result["outbox_open_left"] / (recent / window) if recent else float("inf")
    later = max(by_channels, by_rate)
    return None if later == float("inf") else result["elapsed_s"] + later


def goals(scenario: str, args: argparse.Namespace, r: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """(goal, met) for A and B; C is the baseline and has none."""
    drained = r["outbox_empty_s"] is not None
    if scenario == "A":
        return [
            (f"incidents = {args.clusters} (one per cluster)", r["incidents"] == args.clusters),
            (f"alerts stored = sent ({r['alerts_sent']})", r["alerts_lost"] == 0 and r["webhooks_given_up"] == 0),
            (f"every channel ready ≤ {A_ALL_READY_S:.0f} s", r["all_ready_s"] is not None and r["all_ready_s"] <= A_ALL_READY_S),
            (f"outbox empty within {args.timeout:.0f} s", drained),
        ]
    if scenario == "B":
        limit = args.storm_threshold + 1 + 1  # + the P0 group, which the guard never folds
        return [
            (f"channels ≤ threshold + 1 + P0 = {limit}", r["channels_created"] <= limit),
            (f"first channel ready ≤ {B_FIRST_READY_S:.0f} s", r["first_ready_s"] is not None and r["first_ready_s"] <= B_FIRST_READY_S),
            (f"P0 webhook → first post ≤ {B_P0_FIRST_POST_S:.0f} s",
             r["p0_first_post_s"] is not None and r["p0_first_post_s"] <= B_P0_FIRST_POST_S),
            (f"alerts stored = sent ({r['alerts_sent']})", r["alerts_lost"] == 0 and r["webhooks_given_up"] == 0),
            (f"outbox empty within {args.timeout:.0f} s", drained),
        ]
    return []


# ----------------------------------------------------------------------------- output


def seconds(value: float | None, suffix: str = " s") -> str:
    return "—" if value is None else f"{value:.1f}{suffix}"


ROWS: list[tuple[str, Callable[[Mapping[str, Any]], str]]] = [
    ("alerts sent / stored / missing", lambda r: f"{r['alerts_sent']} / {r['alerts_stored']} / {r['alerts_lost']}"
        + (f" (webhooks not yet applied: {r['inbox_left']})" if r["inbox_left"] else "")),
    ("webhooks by status (given up)", lambda r: f"{r['webhooks_by_status']} ({r['webhooks_given_up']}"
        + (f", {r['webhooks_cut_off']} unanswered at the cut-off)" if r["webhooks_cut_off"] else ")")),
    ("storm sent in (last 2xx; sender late ≤)", lambda r: f"{seconds(r['send_seconds'])} ({seconds(r['generator_late_s'])})"),
    ("webhook answer p50 / p99", lambda r: f"{r['webhook_p50_ms']:.0f} / {r['webhook_p99_ms']:.0f} ms"),
    ("incidents (storm incidents)", lambda r: f"{r['incidents']} ({r['storm_incidents']})"),
    ("groups by joined_by", lambda r: str(r["groups_by_joined_by"])),
    ("channels created", lambda r: str(r["channels_created"])),
    ("channels ready ≤ 60 s", lambda r: str(r["ready_within_60s"])),
    ("first channel ready", lambda r: seconds(r["first_ready_s"])),
    ("every channel ready", lambda r: seconds(r["all_ready_s"]) if r["all_ready_s"] is not None
        else f"not yet ({r['incidents_without_channel']} without a channel)"),
    ("P0: webhook → first post", lambda r: "no P0 sent" if r["scenario"] == "A" else seconds(r["p0_first_post_s"])
        if r["p0_first_post_s"] is not None else "no post yet"),
    ("P0: → answered → incident opened → channel created", lambda r: "—" if r["scenario"] == "A"
        else f"{seconds(r['p0_answered_s'])} → {seconds(r['p0_opened_s'])} → {seconds(r['p0_channel_created_s'])}"),
    ("webhooks all applied after (inbox peak)", lambda r: f"{seconds(r['webhooks_applied_s'])} ({r['inbox_peak']})"),
    ("outbox empty after", lambda r: seconds(r["outbox_empty_s"]) if r["outbox_empty_s"] is not None
        else f"not empty at {r['elapsed_s']:.0f} s"),
    ("outbox + inbox left at end", lambda r: f"{r['outbox_open_left']} {r['outbox_open_by_operation'] or ''}".strip()),
    ("projected empty after", lambda r: seconds(r.get("projected_empty_s")) if r["scenario"] == "C" else "—"),
    ("Slack calls (429s served)", lambda r: f"{r['slack_calls']} ({r['served_429']})"),
    ("Slack calls per alert", lambda r: f"{r['slack_calls_per_alert']:.4f}"),
    ("server peak RSS (VmHWM)", lambda r: f"{r['peak_rss_mib']:.0f} MiB"),
    ("CPU: server / bench (load, fake Slack)", lambda r: f"{seconds(r['server_cpu_s'])} / {seconds(r['bench_cpu_s'])}"),
    ("load average before → after", lambda r: f"{r['load_before'][0]:.2f} → {r['load_after'][0]:.2f}"),
]


def table(results: list[dict[str, Any]]) -> str:
    headers = ["figure"] + [f"{r['scenario']} {r['name']} ({r['db']})" for r in results]
    body = [[label] + [render(r) for r in results] for label, render in ROWS]
    widths = [max(len(row[i]) for row in [headers, *body]) for i in range(len(headers))]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |" for row in [headers, *body]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report(results: list[dict[str, Any]], args: argparse.Namespace, out: Any) -> None:
    print(f"storm: {args.alerts} alerts in {args.groups} groups over {args.clusters} clusters within {args.seconds:.0f} s "
          f"({args.webhooks} notifications per group), Slack rate scale {args.rate_limit_scale}, {database_version(args.db)}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs", file=out)
    print(table(results), file=out)
    for r in results:
        for goal, met in r["goals"]:
            print(f"goal {r['scenario']} ({r['db']}): {goal}: {'met' if met else 'MISSED'}", file=out)
        print(f"slack calls {r['scenario']}: {r['slack_calls_by_method']}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--scenario", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="the storm arrives within this time")
    parser.add_argument("--webhooks", type=int, default=2, help="notifications per group")
    parser.add_argument("--critical-every", type=int, default=4, help="one group in N is critical (P1), the rest warning (P3)")
    parser.add_argument("--storm-threshold", type=int, default=10, help="FIREBREAK_STORM_THRESHOLD for A and B")
    parser.add_argument("--rate-limit-scale", type=float, default=1.0, help="1 = Slack's real limits")
    parser.add_argument("--before-seconds", type=float, default=120.0, help="C stops this long after the first webhook")
    parser.add_argument("--send-grace", type=float, default=120.0,
                        help="A and B: notifications unanswered this long after the storm's end are given up")
    parser.add_argument("--timeout", type=float, default=600.0, help="A and B: give up waiting for the outbox after this")
    parser.add_argument("--json", action="store_true", help="JSON on stdout (the table goes to stderr)")
    args = parser.parse_args(argv)
    if args.alerts < args.groups or args.groups < args.clusters:
        parser.error("--alerts must be at least --groups, and --groups at least --clusters")
    results = []
    with tempfile.TemporaryDirectory() as tmp, redirect_stdout(sys.stderr if args.json else sys.stdout):
        for scenario in args.scenario:
            results.append(run_scenario(scenario, args, Path(tmp)))
            if len(args.scenario) > 1:  # each scenario's figures as soon as it ends: a later one may be interrupted
                print(table(results[-1:]), file=sys.stderr, flush=True)
    report(results, args, sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps({"args": vars(args), "results": results}, indent=2, default=str))
    missed = [goal for r in results for goal, met in r["goals"] if not met]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
