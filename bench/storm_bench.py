"""Alert storm: 10,000 alerts in 100 groups within 10 s at a running ``firebreak serve`` on Slack.

Slack is the fake (tests/fakes/slack_api.py) enforcing Slack's published rate limits
(``--rate-limit-scale 1`` = real speed). Each group gets ``--webhooks`` notifications spread
over ``--seconds``; like Alertmanager, every notification carries the group's whole current
state (so later ones repeat earlier alerts), and a non-2xx answer is retried, as Alertmanager
does. Then it waits until the outbox is drained and prints:

- incidents created (must equal the number of groups: the storm guard is off here, see
  bench/storm.py for it) and alerts stored vs sent (0 lost);
- Slack calls by method, set-up calls vs the rest, calls per alert beyond set-up, 429s;
- the time from the first webhook until every channel is ready (created + summary posted);
- the server's peak RSS (VmHWM).

    python -m bench.storm_bench [--groups 100] [--alerts 10000] [--seconds 10] [--webhooks 10]
                                [--rate-limit-scale 1.0] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from bench.load import ALERTMANAGER_AUTH, firebreak_server
from bot.store.models import AlertRow, InboxRow, IncidentRow, OutboxRow
from tests.fakes.alertmanager_payloads import alert, payload
from tests.fakes.slack_api import FakeSlack

SIGNING_SECRET = "bench-signing-secret"
SEVERITIES = ("critical", "error")  # P1 and P2: both open a channel; no PagerDuty key is set
#: Calls that open an incident in Slack (the rest is "beyond set-up").
SETUP_METHODS = frozenset(
    {"auth.test", "conversations.create", "conversations.list", "conversations.info", "conversations.join",
     "conversations.setTopic", "conversations.invite", "pins.add", "bookmarks.add", "users.lookupByEmail"}
)
RETRIES = 8
OPENING_POSTS_PER_CHANNEL = 3  # summary, "playbook attached", the playbook guide


@dataclass
class Sent:
    accepted: set[tuple[int, str]] = field(default_factory=set)  # (group, fingerprint) answered 2xx
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    gave_up: int = 0
    first: float = 0.0
    last_answer: float = 0.0


def group_alerts(group: int, count: int, run: str) -> list[dict[str, Any]]:
    severity = SEVERITIES[group % len(SEVERITIES)]
    return [
        alert(
            {"alertname": f"Storm{group}", "severity": severity, "instance": f"pod-{group}-{index}", "run": run},
            {"summary": f"storm alert {index} of group {group}"},
        )
        for index in range(count)
    ]


def notification(alerts: list[dict[str, Any]], group: int, run: str) -> dict[str, Any]:
    body = payload(alerts, group_by=("alertname",))
    body["groupKey"] = f'{{}}:{{alertname="Storm{group}",run="{run}"}}'
    return body


async def send_storm(url: str, groups: int, per_group: int, webhooks: int, seconds: float, run: str) -> Sent:
    """Notification k of every group goes out at k·seconds/webhooks, groups spread across it."""
    sent = Sent()
    everything = [group_alerts(group, per_group, run) for group in range(groups)]
    schedule: list[tuple[float, int, int]] = []
    for k in range(webhooks):
        for group in range(groups):
            schedule.append(((k + group / groups) * seconds / webhooks, group, k))
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=ALERTMANAGER_AUTH) as client:

        async def deliver(group: int, k: int) -> None:
            upto = per_group * (k + 1) // webhooks
            alerts = everything[group][:upto]
            body = notification(alerts, group, run)
            for attempt in range(RETRIES):
                try:
                    response = await client.post(url, json=body)
                    sent.statuses[response.status_code] += 1
                    if response.is_success:
                        sent.accepted.update((group, a["fingerprint"]) for a in alerts)
                        sent.last_answer = time.perf_counter()
                        return
                except httpx.HTTPError:
                    sent.transport_errors += 1
                await asyncio.sleep(min(5.0, 0.25 * 2**attempt))  # Alertmanager backs off too
            sent.gave_up += 1

        sent.first = time.perf_counter()
        tasks = []
        for offset, group, k in schedule:
            delay = sent.first + offset - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(deliver(group, k)))
        await asyncio.gather(*tasks)
    return sent


def outbox_open(engine: Any) -> int:
    """Work not done yet: webhooks still queued in the inbox, messages not yet delivered."""
    with engine.connect() as connection:
        statement = select(func.count()).select_from(OutboxRow).where(OutboxRow.status.in_(("pending", "in_flight")))
        queued = select(func.count()).select_from(InboxRow).where(InboxRow.dead_at.is_(None))
        return int(connection.execute(statement).scalar_one()) + int(connection.execute(queued).scalar_one())


def wait_drained(engine: Any, timeout: float) -> bool:
    """Inbox and outbox have nothing left to do (twice in a row, a second apart)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        quiet = quiet + 1 if outbox_open(engine) == 0 else 0
        if quiet >= 2:
            return True
        time.sleep(1.0)
    return False


def channel_ready_times(fake: FakeSlack) -> dict[str, float]:
    """Incident channel id → wall time of its first successful post (the summary)."""
    incident_channels = {channel.id for channel in fake.channels if channel.name.startswith("inc-")}
    ready: dict[str, float] = {}
    for call in fake.calls("chat.postMessage", ok=True):
        channel = str(call.params.get("channel", ""))
        if channel in incident_channels and channel not in ready:
            ready[channel] = call.time
    return ready


def count_calls(fake: FakeSlack, channels: int) -> tuple[Counter[str], int, int]:
    """(calls by method, set-up calls, calls beyond set-up); refused (429) calls count too.

    Set-up: the methods in SETUP_METHODS, and per incident the posts that opening it makes
    whatever its alerts: the summary, the playbook-attached note and the playbook guide in
    its channel, and one announcement in the incidents channel. Everything else (summary
    edits, further posts, refused calls) is "beyond set-up".
    """
    by_method: Counter[str] = Counter(call.method for call in fake.calls())
    setup = sum(n for method, n in by_method.items() if method in SETUP_METHODS)
    posts = sum(1 for call in fake.calls("chat.postMessage", ok=True))
    setup += min(posts, (OPENING_POSTS_PER_CHANNEL + 1) * channels)
    total = sum(by_method.values())
    return by_method, setup, total - setup


def run(args: argparse.Namespace) -> dict[str, Any]:
    per_group = args.alerts // args.groups
    fake = FakeSlack(rate_limit_scale=args.rate_limit_scale).start()
    tmp = tempfile.TemporaryDirectory()
    database_url = args.database_url or f"sqlite:///{Path(tmp.name) / 'storm.db'}"
    env = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        # Every group its own incident and channel: what this measures is Slack set-up at
        # scale. Folding a storm into one incident is bench/storm.py's subject.
        "FIREBREAK_STORM_THRESHOLD": "0",
    }
    server = firebreak_server(env)
    engine = create_engine(database_url)
    try:
        server.wait_ready()
        started_wall = time.time()
        sent = asyncio.run(
            send_storm(server.url + "/webhooks/alertmanager", args.groups, per_group, args.webhooks, args.seconds, uuid.uuid4().hex[:6])
        )
        send_seconds = sent.last_answer - sent.first
        drained = wait_drained(engine, args.timeout)
        peak_rss = server.peak_rss_mib()
        with engine.connect() as connection:
            incidents = int(connection.execute(select(func.count()).select_from(IncidentRow)).scalar_one())
            stored = int(connection.execute(select(func.count()).select_from(AlertRow)).scalar_one())
            outbox = dict(connection.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all())
            undone = select(OutboxRow.operation, OutboxRow.last_error, func.count()).where(OutboxRow.status != "delivered")
            left = [tuple(row) for row in connection.execute(undone.group_by(OutboxRow.operation, OutboxRow.last_error)).all()]
            queued = int(connection.execute(select(func.count()).select_from(InboxRow)).scalar_one())
        ready = channel_ready_times(fake)
        by_method, setup, beyond = count_calls(fake, len(ready))
        result = {
            "groups": args.groups,
            "alerts_sent": len(sent.accepted),
            "alerts_stored": stored,
            "alerts_lost": len(sent.accepted) - stored,
            "incidents": incidents,
            "webhooks_by_status": dict(sent.statuses),
            "webhooks_given_up": sent.gave_up,
            "send_seconds": send_seconds,
            "drained": drained,
            "outbox": outbox,
            "outbox_left": left,
            "inbox_left": queued,
            "channels_ready": len(ready),
            "all_ready_seconds": (max(ready.values()) - started_wall) if ready else float("nan"),
            "slack_calls": sum(by_method.values()),
            "slack_calls_by_method": dict(sorted(by_method.items())),
            "setup_calls": setup,
            "calls_beyond_setup": beyond,
            "calls_per_alert_beyond_setup": beyond / max(1, len(sent.accepted)),
            "served_429": fake.served_429,
            "peak_rss_mib": peak_rss,
        }
    finally:
        server.stop()
        engine.dispose()
        fake.stop()
        tmp.cleanup()
    return result


def report(result: dict[str, Any]) -> None:
    print(f"storm: {result['alerts_sent']} alerts in {result['groups']} groups, sent in {result['send_seconds']:.1f} s "
          f"(webhooks by status {result['webhooks_by_status']}, given up {result['webhooks_given_up']})")
    print(f"incidents created: {result['incidents']} (groups {result['groups']})")
    print(f"alerts stored: {result['alerts_stored']} of {result['alerts_sent']} sent; lost: {result['alerts_lost']}")
    print(f"outbox drained: {result['drained']}; rows by status {result['outbox']}; inbox rows left {result['inbox_left']}")
    for operation, error, count in result["outbox_left"]:
        print(f"  not delivered: {count} × {operation} (last error: {error})")
    print(f"channels ready: {result['channels_ready']}; all ready after {result['all_ready_seconds']:.1f} s")
    print(f"slack calls: {result['slack_calls']} {result['slack_calls_by_method']}")
    print(f"set-up calls: {result['setup_calls']}; beyond set-up: {result['calls_beyond_setup']} = "
          f"{result['calls_per_alert_beyond_setup']:.4f} per alert (target ≤ 0.05)")
    print(f"429s served: {result['served_429']}")
    print(f"server peak RSS (VmHWM): {result['peak_rss_mib']:.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="the storm arrives within this time")
    parser.add_argument("--webhooks", type=int, default=10, help="notifications per group")
    parser.add_argument("--rate-limit-scale", type=float, default=1.0, help="1 = Slack's real limits")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up waiting for delivery after this")
    report(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
