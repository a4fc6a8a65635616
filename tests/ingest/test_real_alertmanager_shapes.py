"""A real ``prometheus-alertmanager`` notifying a real ``firebreak serve``, with a recorder
beside Firebreak in the same receiver so each test asserts the body Alertmanager really sent
as well as what Firebreak made of it: truncated groups (``max_alerts``), an HA pair, and two
clusters whose groups share a ``groupKey``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select

from bot.store.models import AlertRow, IncidentRow, TimelineRow
from tests.fakes.alertmanager_process import AlertmanagerProcess
from tests.fakes.alertmanager_scenarios import HA_URLS, RESOLVED_FIRST, TIMERS, ha_pair, postable, truncated, wait_body
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.ingest.test_real_alertmanager import scalar, scalar_all, webhook_count
from tests.support.processes import Server, firebreak_env
from tests.support.waiting import wait_until

pytestmark = pytest.mark.alertmanager
PATH = "/webhooks/alertmanager"
TOKEN = "real-alertmanager-token"
PROD, STAGING = "prod-cluster-token", "staging-cluster-token"


def test_truncated_resolved_notification_leaves_the_incident_open(
    db_url: str, engine: Engine, alertmanager: Callable[..., AlertmanagerProcess], webhook_receiver: WebhookReceiver
) -> None:
    env = firebreak_env(db_url, ALERTMANAGER_TOKEN=TOKEN)  # FIREBREAK_AUTO_RESOLVE defaults to P3
    with Server(env) as server:
        am = alertmanager(
            server.url + PATH, bearer_token=TOKEN, max_alerts=2, also_notify=(webhook_receiver.url("/captured"),), **TIMERS
        )
        firing, resolved = truncated(am, webhook_receiver)
        # What Alertmanager really sends: the shown alerts are cut before status is computed.
        assert firing["truncatedAlerts"] == 3 and len(firing["alerts"]) == 2
        assert resolved["status"] == "resolved" and resolved["truncatedAlerts"] == 3
        assert sorted(item["labels"]["instance"] for item in resolved["alerts"]) == list(RESOLVED_FIRST)
        assert {item["status"] for item in resolved["alerts"]} == {"resolved"}

        wait_until(
            lambda: scalar(engine, select(func.count()).select_from(AlertRow).where(AlertRow.status == "resolved")) == 2,
            timeout=20,
            interval=0.2,
            what="Firebreak to apply the resolved notification",
        )
        incident = scalar_all(engine, select(IncidentRow))
        assert len(incident) == 1
        kinds = scalar_all(engine, select(TimelineRow.kind).order_by(TimelineRow.id))
        notes = [data for data in scalar_all(engine, select(TimelineRow.data).where(TimelineRow.kind == "note")) if data]
    assert scalar(engine, select(IncidentRow.status)) == "triggered"  # P3 would resolve itself if not truncated
    assert scalar(engine, select(IncidentRow.severity)) == "P3"
    assert "alerts_all_resolved" not in kinds
    assert sum(1 for data in notes if data.get("auto_resolve_paused")) == 1


def test_ha_pair_notifying_the_same_group_makes_one_incident(
    db_url: str, engine: Engine, alertmanager: Callable[..., AlertmanagerProcess], webhook_receiver: WebhookReceiver
) -> None:
    env = firebreak_env(db_url, ALERTMANAGER_TOKENS=f"prod:{PROD}")
    with Server(env) as server:
        peers = tuple(
            alertmanager(
                server.url + PATH + "?source=prod",
                bearer_token=PROD,
                external_url=url,
                also_notify=(webhook_receiver.url("/captured"),),
                **TIMERS,
            )
            for url in HA_URLS
        )
        first, second = ha_pair((peers[0], peers[1]), webhook_receiver)
        assert first["groupKey"] == second["groupKey"] and first["externalURL"] != second["externalURL"]
        wait_until(
            lambda: webhook_count(server, "created", "firebreak_ingested_total") + webhook_count(server, "unchanged", "firebreak_ingested_total")
            >= 2,
            timeout=20,
            interval=0.2,
            what="both peers' notifications applied",
        )
        assert webhook_count(server, "created", "firebreak_ingested_total") == 1
    keys = scalar_all(engine, select(IncidentRow.dedup_key))
    assert keys == ["am@prod:" + first["groupKey"]]
    assert scalar(engine, select(func.count()).select_from(AlertRow)) == 1


def test_two_clusters_with_the_same_group_key_open_two_incidents(
    db_url: str, engine: Engine, alertmanager: Callable[..., AlertmanagerProcess], webhook_receiver: WebhookReceiver
) -> None:
    env = firebreak_env(db_url, ALERTMANAGER_TOKENS=f"prod:{PROD},staging:{STAGING}")
    labels = {"alertname": "PodCrashLooping", "severity": "critical", "namespace": "payments"}
    with Server(env) as server:
        for source, token in (("prod", PROD), ("staging", STAGING)):
            am = alertmanager(
                server.url + PATH + f"?source={source}",
                bearer_token=token,
                group_by=(),  # no group_by: every cluster's groupKey is "{}:{}"
                external_url=f"http://alertmanager.{source}.example.com:9093/",
                also_notify=(webhook_receiver.url(f"/{source}"),),
                **TIMERS,
            )
            am.post_alerts([postable(labels, {"summary": f"Pods crash-looping in {source}"})])
        for source in ("prod", "staging"):
            body = wait_body(webhook_receiver, lambda body, source=source: source in body["externalURL"])
            assert body["groupKey"] == "{}:{}"
        wait_until(lambda: scalar(engine, select(func.count()).select_from(IncidentRow)) == 2, timeout=20, interval=0.2, what="one incident per cluster")
        assert webhook_count(server, "unauthorized") == 0
    assert sorted(scalar_all(engine, select(IncidentRow.dedup_key))) == ["am@prod:{}:{}", "am@staging:{}:{}"]
    titles = sorted(scalar_all(engine, select(IncidentRow.title)))
    assert titles == ["Pods crash-looping in prod", "Pods crash-looping in staging"]
