"""Two (or eight) ingesters placing new groups at once never split what belongs together.

Threads, each with its own connection and transaction, start together on a barrier, as
replicas would. On PostgreSQL the placement is serialised on advisory locks (the group's
correlation key, then the storm guard); on SQLite writers are serialised. Either way: one
incident per correlation key, one storm incident, and child numbers that do not collide.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select

from bot.container import Container
from bot.domain.severity import DEFAULT_LABEL_MAPPING, Severity
from bot.ingest.alertmanager.apply import Outcome, Policy, apply_group
from bot.ingest.alertmanager.grouping import Grouping
from bot.ingest.alertmanager.models import AlertGroup
from bot.store.models import AlertGroupRow, InboxRow, IncidentRow
from tests.conftest import NO_PLAYBOOKS
from tests.fakes.alertmanager_payloads import alert, payload
from tests.ingest.support import TOKEN, rows
from tests.support.processes import Server, firebreak_env
from tests.support.waiting import wait_until

COPIES = 8


def policy(**grouping: object) -> Policy:
    return Policy(mapping=DEFAULT_LABEL_MAPPING, auto_resolve=frozenset({Severity.P3}), grouping=Grouping(**grouping))  # type: ignore[arg-type]


def new_group(name: str, **labels: str) -> AlertGroup:
    body = payload([alert({"alertname": name, "severity": "warning", **labels})], group_by=("alertname", *labels))
    return AlertGroup.model_validate(body)


def at_once(container: Container, groups: list[AlertGroup], rule: Policy) -> list[Outcome]:
    barrier = threading.Barrier(len(groups), timeout=10)
    results: list[Outcome | BaseException] = [RuntimeError("not run")] * len(groups)

    def one(index: int) -> None:
        try:
            barrier.wait()
            with container.service.sessions.begin() as session:
                results[index] = apply_group(session, container.service, groups[index], rule)
        except BaseException as error:  # reported by the assertion below
            results[index] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(groups))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert all(isinstance(result, Outcome) for result in results), results
    return [result for result in results if isinstance(result, Outcome)]


def test_ingesters_racing_on_one_correlation_key_open_one_incident(container: Container) -> None:
    groups = [new_group(f"Alert{i}", cluster="eu-1") for i in range(COPIES)]
    outcomes = at_once(container, groups, policy(correlate_by=("cluster",)))
    assert sum(outcome.created for outcome in outcomes) == 1
    assert sorted(outcome.joined or "opened" for outcome in outcomes) == ["correlated"] * (COPIES - 1) + ["opened"]
    [incident] = rows(container, IncidentRow)
    assert incident.correlation_key == "am|cluster=eu-1"
    numbers = sorted(row.child_number for row in rows(container, AlertGroupRow))
    assert numbers == list(range(1, COPIES + 1))


def test_ingesters_racing_on_several_keys_open_one_incident_per_key(container: Container) -> None:
    groups = [new_group(f"Alert{i}", cluster=f"eu-{i % 3}") for i in range(COPIES + 1)]
    at_once(container, groups, policy(correlate_by=("cluster",)))
    keys = sorted(row.correlation_key or "" for row in rows(container, IncidentRow))
    assert keys == ["am|cluster=eu-0", "am|cluster=eu-1", "am|cluster=eu-2"]
    assert len(rows(container, AlertGroupRow)) == COPIES + 1


def test_ingesters_racing_into_a_storm_open_one_storm_incident(container: Container) -> None:
    rule = policy(storm_threshold=2, storm_window=timedelta(minutes=5), correlate_by=("cluster",))
    at_once(container, [new_group("First"), new_group("Second")], rule)
    # Correlatable groups too: the correlation lock comes first, the storm lock second.
    groups = [new_group(f"Storm{i}", cluster=f"c{i % 2}") for i in range(COPIES)]
    outcomes = at_once(container, groups, rule)
    storms = [row for row in rows(container, IncidentRow) if row.storm]
    assert len(storms) == 1
    assert sum(outcome.created for outcome in outcomes) == 1
    assert len(rows(container, AlertGroupRow, incident_id=storms[0].id)) == COPIES


def test_two_servers_sharing_the_database_open_one_incident_per_correlation_key(db_url: str, engine: Engine, tmp_path: Path) -> None:
    """Two real ``firebreak serve`` processes (two ingesters) take related groups at once."""
    env = firebreak_env(db_url, ALERTMANAGER_TOKEN=TOKEN, FIREBREAK_CORRELATE_BY="cluster", FIREBREAK_STORM_THRESHOLD="0", FIREBREAK_PLAYBOOKS_DIR=str(NO_PLAYBOOKS))
    count = 16
    with Server(env, log=tmp_path / "a.log") as first, Server(env, log=tmp_path / "b.log") as second:
        bodies = [payload([alert({"alertname": f"Alert{i}", "severity": "warning", "cluster": f"eu-{i % 2}"})], group_by=("alertname", "cluster")) for i in range(count)]
        barrier = threading.Barrier(2, timeout=10)
        statuses: list[int] = []

        def send(server: Server, mine: list[dict[str, object]]) -> None:
            with httpx.Client(timeout=15, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                barrier.wait()
                statuses.extend(http.post(server.url + "/webhooks/alertmanager", json=body).status_code for body in mine)

        threads = [threading.Thread(target=send, args=(first, bodies[0::2])), threading.Thread(target=send, args=(second, bodies[1::2]))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert statuses == [202] * count

        def applied() -> bool:
            with engine.connect() as connection:
                queued = connection.execute(select(func.count()).select_from(InboxRow)).scalar_one()
                groups = connection.execute(select(func.count()).select_from(AlertGroupRow)).scalar_one()
            return queued == 0 and groups == count

        wait_until(applied, timeout=60, interval=0.1, what="both servers applied every group")
    with engine.connect() as connection:
        keys = sorted(connection.execute(select(IncidentRow.correlation_key)).scalars())
        children = connection.execute(select(AlertGroupRow.incident_id, func.count()).group_by(AlertGroupRow.incident_id)).all()
    assert keys == ["am|cluster=eu-0", "am|cluster=eu-1"]
    assert sorted(int(number) for _incident, number in children) == [count // 2, count // 2]
