"""Two ``firebreak web`` and two ``firebreak worker`` processes on one PostgreSQL database.

What it proves, each with real processes and real HTTP on 127.0.0.1:
- every webhook is applied once and in order per alert group, whichever web queued it and
  whichever worker applied it (notifications of many groups interleaved across both webs);
- every outbox message reaches Slack once (the fake records each post's metadata key);
- every escalation deadline fires once: the PagerDuty page and the chat post of each level
  happen exactly once per incident, though both workers run the scheduler.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bot.domain.timeline import EntryKind
from bot.store.models import AlertGroupRow, AlertRow, IncidentRow, OutboxRow, TimelineRow
from tests.conftest import NO_PLAYBOOKS
from tests.fakes.alertmanager_payloads import alert, payload
from tests.fakes.fixtures import PAGERDUTY_FROM_EMAIL
from tests.fakes.pagerduty_api import FakePagerDuty
from tests.fakes.slack_api import FakeSlack
from tests.faults.support import (
    duplicated_posts,
    inbox_empty,
    metadata_key,
    outbox_by_status,
    outbox_settled,
    slack_env,
    undelivered,
)
from tests.replicas.conftest import Cluster
from tests.support.processes import firebreak_env
from tests.support.waiting import wait_until

#: Skipped on SQLite by the ``cluster`` fixture: replicas share one PostgreSQL database.
#: Four processes boot side by side first: on a busy two-core machine that alone can take a minute.
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]

TOKEN = "replicas-token"
ALERT_KINDS = (EntryKind.ALERT_FIRING.value, EntryKind.ALERT_RESOLVED.value)


def replica_env(db_url: str, slack: FakeSlack, **extra: str) -> dict[str, str]:
    return firebreak_env(
        db_url,
        ALERTMANAGER_TOKEN=TOKEN,
        FIREBREAK_PLAYBOOKS_DIR=str(NO_PLAYBOOKS),
        FIREBREAK_STORM_THRESHOLD="0",  # one incident per group: the storm guard is tested elsewhere
        FIREBREAK_OUTBOX_POLL_SECONDS="0.1",
        FIREBREAK_INBOX_POLL_SECONDS="0.1",
        **slack_env(slack),
        **extra,
    )


class Sender:
    """Sends each group's notifications in order (the next once the last was answered, as
    Alertmanager does), alternating between the webs; groups go in parallel, interleaved."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.statuses: Counter[str] = Counter()
        self.by_web: Counter[str] = Counter()
        self._lock = threading.Lock()

    def send_chain(self, group: int, bodies: list[dict[str, Any]]) -> None:
        with httpx.Client(timeout=20, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            for k, body in enumerate(bodies):
                url = self.urls[(group + k) % len(self.urls)]
                try:
                    status = str(client.post(url + "/webhooks/alertmanager", json=body).status_code)
                except httpx.HTTPError as error:
                    status = type(error).__name__
                with self._lock:
                    self.statuses[status] += 1
                    self.by_web[url] += 1

    def send(self, chains: list[list[dict[str, Any]]], *, threads: int = 8) -> None:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(self.send_chain, group, bodies) for group, bodies in enumerate(chains)]:
                future.result(timeout=60)


def lifecycle(group: int, severity: str) -> list[dict[str, Any]]:
    """Four notifications of one group: a0 fires; a0+a1 fire; a0 resolves; both resolved.

    Applied out of order the group would end elsewhere (firing, or with an alert re-fired)
    and its timeline would show it.
    """
    started = datetime.now(UTC) - timedelta(minutes=5)
    resolved_at = datetime.now(UTC)
    labels = [{"alertname": f"Replica{group}", "severity": severity, "instance": f"host-{n}"} for n in range(2)]

    def a(n: int, status: str) -> dict[str, Any]:
        return alert(labels[n], {"summary": f"group {group} alert {n}"}, status=status, starts_at=started, ends_at=resolved_at if status == "resolved" else None)

    states = [[a(0, "firing")], [a(0, "firing"), a(1, "firing")], [a(0, "resolved"), a(1, "firing")], [a(0, "resolved"), a(1, "resolved")]]
    return [payload(alerts, group_by=("alertname",)) for alerts in states]


def wait_applied(cluster: Cluster, engine: Engine, *, timeout: float) -> None:
    wait_until(
        lambda: inbox_empty(engine) or bool(cluster.dead()),
        timeout=timeout,
        interval=0.1,
        what="every queued webhook applied",
    )
    assert not cluster.dead(), (cluster.dead(), cluster.log_tail())


def test_every_webhook_applied_once_and_in_order_per_group(db_url: str, engine: Engine, fake_slack: FakeSlack, cluster: Callable[..., Cluster]) -> None:
    groups = 16
    running = cluster(replica_env(db_url, fake_slack))
    chains = [lifecycle(group, "warning") for group in range(groups)]
    sender = Sender([web.url for web in running.webs])
    sender.send(chains)
    assert sender.statuses == Counter({"202": groups * 4}), sender.statuses
    assert len(sender.by_web) == 2 and min(sender.by_web.values()) == groups * 2
    wait_applied(running, engine, timeout=40)

    with engine.connect() as connection:
        children = list(connection.execute(select(AlertGroupRow.incident_id, AlertGroupRow.title, AlertGroupRow.status)))
        alerts = Counter(connection.execute(select(AlertRow.incident_id, AlertRow.status)).all())
        timeline: dict[int, list[tuple[str, str]]] = {}
        entries = select(TimelineRow.incident_id, TimelineRow.kind, TimelineRow.data).where(TimelineRow.kind.in_(ALERT_KINDS)).order_by(TimelineRow.id)
        for incident_id, kind, data in connection.execute(entries):
            timeline.setdefault(incident_id, []).append((kind, str(data["labels"]["instance"])))
        incidents = int(connection.execute(select(func.count()).select_from(IncidentRow)).scalar_one())

    assert incidents == groups
    assert len(children) == groups and {status for _, _, status in children} == {"resolved"}
    # Both alerts of every group stored once, both resolved.
    assert alerts == Counter({(incident_id, "resolved"): 2 for incident_id, _, _ in children})
    expected = [("alert_firing", "host-0"), ("alert_firing", "host-1"), ("alert_resolved", "host-0"), ("alert_resolved", "host-1")]
    out_of_order = {number: seen for number, seen in timeline.items() if seen != expected}
    assert out_of_order == {} and len(timeline) == groups, out_of_order


def test_every_outbox_message_delivered_once(db_url: str, engine: Engine, make_fake_slack: Callable[..., FakeSlack], cluster: Callable[..., Cluster]) -> None:
    # Slack's tiers sped up 60×: posts queue behind pacing, so both workers hold claims at once.
    slack = make_fake_slack(rate_limit_scale=60)
    groups = 8
    running = cluster(replica_env(db_url, slack))
    chains = [lifecycle(group, ("critical", "error")[group % 2])[:2] for group in range(groups)]  # P1/P2: a channel each
    Sender([web.url for web in running.webs]).send(chains)
    wait_until(
        lambda: (inbox_empty(engine) and outbox_settled(engine)) or bool(running.dead()),
        timeout=50,
        interval=0.2,
        what="outbox delivered",
        explain=lambda: undelivered(engine),
    )
    assert not running.dead(), running.log_tail()
    by_status = outbox_by_status(engine)
    assert set(by_status) == {"delivered"}, (by_status, undelivered(engine))

    with engine.connect() as connection:
        delivered_by = Counter(locked for (locked,) in connection.execute(select(OutboxRow.locked_by)))
        channel_ids = [row[0] for row in connection.execute(select(IncidentRow.chat_channel_id))]
    print(f"\noutbox rows by worker: {dict(delivered_by)}")
    assert None not in channel_ids and len(set(channel_ids)) == groups
    slack_channels = [channel for channel in slack.channels if channel.name.startswith("inc-")]
    assert len(slack_channels) == groups, [channel.name for channel in slack_channels]
    assert len(slack.calls("conversations.create", ok=True)) == groups
    assert duplicated_posts(slack) == {}
    for channel in slack_channels:
        summaries = [m for m in slack.messages(channel.id) if (metadata_key(m) or ("",))[0] == "firebreak_summary"]
        assert len(summaries) == 1, channel.name
    announcements = [m for m in slack.messages("#incidents") if (metadata_key(m) or ("",))[0] == "firebreak_announcement"]
    assert len(announcements) == groups


def test_every_escalation_deadline_fires_once(
    db_url: str, engine: Engine, fake_slack: FakeSlack, fake_pagerduty: FakePagerDuty, cluster: Callable[..., Cluster]
) -> None:
    # Level 1 pages PagerDuty, level 2 pings a person in the channel; level 3 comes last so
    # that, once it fired, both schedulers have long run past the first two deadlines.
    policy = "unacknowledged:1s:pd:PEPPRIM,unacknowledged:2s:user:U0BOB,unacknowledged:4s:user:U0CAROL"
    pagerduty = {
        "PAGERDUTY_API_URL": fake_pagerduty.url,
        "PAGERDUTY_API_TOKEN": fake_pagerduty.api_token,
        "PAGERDUTY_FROM_EMAIL": PAGERDUTY_FROM_EMAIL,
        "PAGERDUTY_SERVICE_ID": "PSVCAPI",
        **({"SSL_CERT_FILE": fake_pagerduty.ca_file} if fake_pagerduty.ca_file else {}),
    }
    incidents = 4
    running = cluster(replica_env(db_url, fake_slack, FIREBREAK_DEFAULT_ESCALATION=policy, **pagerduty))
    Sender([web.url for web in running.webs]).send([lifecycle(group, "critical")[:1] for group in range(incidents)])

    def escalations() -> Counter[tuple[int, int]]:
        with engine.connect() as connection:
            rows = connection.execute(select(TimelineRow.incident_id, TimelineRow.data).where(TimelineRow.kind == EntryKind.ESCALATED.value))
            return Counter((incident_id, int(data["level"])) for incident_id, data in rows)

    wait_until(
        lambda: sum(1 for (_, level) in escalations() if level == 3) == incidents or bool(running.dead()),
        timeout=40,
        interval=0.2,
        what="level 3 of every incident",
        explain=escalations,
    )
    wait_until(lambda: outbox_settled(engine) or bool(running.dead()), timeout=30, interval=0.2, what="outbox delivered", explain=lambda: undelivered(engine))
    assert not running.dead(), running.log_tail()

    with engine.connect() as connection:
        numbers = [number for (number,) in connection.execute(select(IncidentRow.id))]
    assert len(numbers) == incidents
    assert escalations() == Counter({(number, level): 1 for number in numbers for level in (1, 2, 3)})

    # Every attempt counts, refused ones too (the fake refuses a second open incident per key).
    pages = fake_pagerduty.calls("POST /incidents")
    keys = Counter(str(call.params["body"]["incident"]["incident_key"]) for call in pages)
    assert sorted(keys) == sorted(f"INC-{number}-L1-c0-PEPPRIM" for number in numbers), keys
    assert set(keys.values()) == {1}

    assert duplicated_posts(fake_slack) == {}
    with engine.connect() as connection:
        channels = dict(connection.execute(select(IncidentRow.id, IncidentRow.chat_channel_id)).all())
    pings = {
        number: Counter(user for message in fake_slack.messages(str(channels[number])) for user in ("U0BOB", "U0CAROL") if f"<@{user}>" in str(message.get("text", "")))
        for number in numbers
    }
    assert pings == {number: Counter({"U0BOB": 1, "U0CAROL": 1}) for number in numbers}
