"""``kill -9`` of ``firebreak serve`` in the middle of an alert storm, then a restart.

What it proves: a 2xx from the webhook means the alerts are committed (they are all in the
database the moment the process is dead, before anything restarts); a restart finishes the
Slack work the dead process left (outbox rows it held are taken again when their lease runs
out); and nothing is done twice: one incident and one channel per alert group, and no
message posted twice for the same outbox operation (each post carries its key as Slack
message metadata, which the fake records).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.store.models import AlertRow, InboxRow, IncidentRow, OutboxRow
from tests.conftest import NO_PLAYBOOKS
from tests.fakes.alertmanager_payloads import alert, payload
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
from tests.support.processes import Server, firebreak_env
from tests.support.waiting import wait_until

GROUPS = 5
WEBHOOKS_PER_GROUP = 12  # Alertmanager re-sends the whole group, one more alert each time
TOKEN = "storm-token"
LEASE_SECONDS = 3


def storm() -> list[dict[str, Any]]:
    """Webhooks interleaved across groups, the way a storm arrives."""
    bodies = []
    for size in range(1, WEBHOOKS_PER_GROUP + 1):
        for group in range(GROUPS):
            alerts = [
                alert({"alertname": "HighErrorRate", "severity": "critical", "service": f"svc-{group}", "instance": f"pod-{i}"})
                for i in range(size)
            ]
            bodies.append(payload(alerts, group_by=("alertname", "service")))
    return bodies


class Sender:
    """Posts webhooks from a few threads and remembers which ones got a 2xx."""

    def __init__(self, url: str, *, pace: float = 0.0) -> None:
        self.url = url
        self.pace = pace
        self.acked: list[dict[str, Any]] = []
        self.failed: list[dict[str, Any]] = []
        self.statuses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()

    def send(self, body: dict[str, Any]) -> None:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(timeout=10, headers={"Authorization": f"Bearer {TOKEN}"})
        if self.pace:
            time.sleep(self.pace)  # the storm's shape: senders spread over seconds, not a wait for anything
        try:
            status: int | str = client.post(self.url + "/webhooks/alertmanager", json=body).status_code
        except httpx.HTTPError as error:
            status = type(error).__name__
        with self._lock:
            self.statuses[str(status)] += 1
            (self.acked if isinstance(status, int) and 200 <= status < 300 else self.failed).append(body)


def stored_fingerprints(engine: Engine, *, include_queued: bool) -> dict[str, set[str]]:
    """groupKey → fingerprints stored for its incident (and, if asked, still in the inbox)."""
    with engine.connect() as connection:
        rows = connection.execute(select(IncidentRow.dedup_key, AlertRow.fingerprint).join(AlertRow, AlertRow.incident_id == IncidentRow.id))
        out: dict[str, set[str]] = {}
        for dedup_key, fingerprint in rows:
            out.setdefault(str(dedup_key).removeprefix("am:"), set()).add(fingerprint)
        if include_queued:
            for (body,) in connection.execute(select(InboxRow.body)):
                queued = json.loads(body)
                out.setdefault(queued["groupKey"], set()).update(item["fingerprint"] for item in queued["alerts"])
        return out


def missing(engine: Engine, bodies: list[dict[str, Any]], *, include_queued: bool = False) -> list[tuple[str, str]]:
    """Alerts of ``bodies`` not applied to their incident (nor, if asked, queued to be)."""
    stored = stored_fingerprints(engine, include_queued=include_queued)
    return [
        (body["groupKey"], item["fingerprint"])
        for body in bodies
        for item in body["alerts"]
        if item["fingerprint"] not in stored.get(body["groupKey"], set())
    ]


@pytest.fixture
def storm_slack(make_fake_slack) -> FakeSlack:  # type: ignore[no-untyped-def]
    # Slack's tiers, sped up 60×: deliveries queue up behind pacing, so the kill lands mid-work.
    return make_fake_slack(rate_limit_scale=60)


def test_kill_minus_nine_mid_storm_then_restart(db_url: str, engine: Engine, storm_slack: FakeSlack, servers: list[Server], tmp_path: Path) -> None:
    env = firebreak_env(
        db_url,
        ALERTMANAGER_TOKEN=TOKEN,
        FIREBREAK_PLAYBOOKS_DIR=str(NO_PLAYBOOKS),
        FIREBREAK_OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS),
        FIREBREAK_OUTBOX_POLL_SECONDS="0.1",
        **slack_env(storm_slack),
    )
    first = Server(env, log=tmp_path / "server.log")
    servers.append(first.start())
    bodies = storm()
    # Paced over about 2.5 s: answers take milliseconds (webhooks are queued), so an unpaced
    # storm would be answered in full before the kill could land in the middle of it.
    sender = Sender(first.url, pace=0.25)

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(sender.send, body) for body in bodies]
        # Kill once a good part of the storm is in and Slack work has started, not before.
        wait_until(lambda: len(sender.acked) >= len(bodies) // 3 and storm_slack.calls("conversations.create"), timeout=20, what="storm under way")
        assert first.process is not None
        first.process.kill()  # SIGKILL: no shutdown, no cleanup
        first.process.wait(timeout=10)
        for future in futures:
            future.result(timeout=20)

    assert sender.failed, f"the kill should have cut the storm short: {sender.statuses}"
    assert set(sender.statuses) <= {"202", "ConnectError", "RemoteProtocolError", "ReadError", "WriteError"}, sender.statuses
    # Every 2xx is durable: checked while the process is dead, before anything else runs.
    # An answered webhook is applied already or waits in the inbox for the next process.
    assert missing(engine, sender.acked, include_queued=True) == []
    by_status = outbox_by_status(engine)
    assert by_status["pending"] + by_status["in_flight"] > 0, "the kill should leave Slack work undone"
    print(f"\nkilled after {len(sender.acked)}/{len(bodies)} webhooks; outbox at the kill: {dict(by_status)}")

    second = Server(env, port=first.port, log=tmp_path / "server.log")
    servers.append(second.start())
    # What Alertmanager does with the webhooks that got no answer: send them again.
    retry = Sender(second.url)
    for body in sender.failed:
        retry.send(body)
    assert retry.failed == [], retry.statuses

    wait_until(lambda: inbox_empty(engine) and outbox_settled(engine), timeout=25, interval=0.2, what="outbox delivered after the restart", explain=lambda: undelivered(engine))
    assert outbox_by_status(engine)["failed"] == 0, [
        (row.operation, row.last_error) for row in _outbox(engine) if row.status == "failed"
    ]
    assert missing(engine, bodies) == []

    with engine.connect() as connection:
        incidents = list(connection.execute(select(IncidentRow.id, IncidentRow.dedup_key, IncidentRow.chat_channel_id)))
    assert len(incidents) == GROUPS
    assert len({row[1] for row in incidents}) == GROUPS
    channel_ids = [row[2] for row in incidents]
    assert None not in channel_ids and len(set(channel_ids)) == GROUPS

    slack_channels = [channel for channel in storm_slack.channels if channel.name.startswith("inc-")]
    assert len(slack_channels) == GROUPS, [channel.name for channel in slack_channels]
    assert {channel.id for channel in slack_channels} == set(channel_ids)
    assert duplicated_posts(storm_slack) == {}
    for channel in slack_channels:
        summaries = [m for m in storm_slack.messages(channel.id) if (metadata_key(m) or ("",))[0] == "firebreak_summary"]
        assert len(summaries) == 1, channel.name
    announcements = [m for m in storm_slack.messages("#incidents") if (metadata_key(m) or ("",))[0] == "firebreak_announcement"]
    assert len(announcements) == GROUPS


def _outbox(engine: Engine) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(session.scalars(select(OutboxRow)))
