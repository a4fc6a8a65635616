"""Several deliveries of the same new group at once still make exactly one incident.

Threads, each with its own connection and transaction, start together on a barrier. On
PostgreSQL the losers hit the unique dedup key and load the winner; on SQLite writers are
serialised. Either way: one incident, one row per alert, one DECLARED entry.
"""

from __future__ import annotations

import threading

import pytest

from bot.container import Container
from bot.domain.severity import DEFAULT_LABEL_MAPPING, Severity
from bot.domain.timeline import EntryKind
from bot.ingest.alertmanager.apply import Outcome, Policy, apply_group
from bot.ingest.alertmanager.models import AlertGroup
from bot.store.models import AlertRow, IncidentRow, OutboxRow, TimelineRow
from tests.fakes.alertmanager_payloads import firing_group
from tests.ingest.support import rows

POLICY = Policy(mapping=DEFAULT_LABEL_MAPPING, auto_resolve=frozenset({Severity.P3}))


def deliver_concurrently(container: Container, group: AlertGroup, copies: int) -> list[Outcome | BaseException]:
    barrier = threading.Barrier(copies, timeout=10)
    results: list[Outcome | BaseException] = [RuntimeError("not run")] * copies

    def one(index: int) -> None:
        try:
            barrier.wait()
            with container.service.sessions.begin() as session:
                results[index] = apply_group(session, container.service, group, POLICY)
        except BaseException as error:  # reported by the assertion below
            results[index] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.parametrize("copies", [8])
def test_concurrent_deliveries_of_a_new_group_make_one_incident(container: Container, copies: int) -> None:
    group = AlertGroup.model_validate(firing_group("RaceAlert", count=3))
    results = deliver_concurrently(container, group, copies)
    assert all(isinstance(result, Outcome) for result in results), results
    assert sum(1 for result in results if isinstance(result, Outcome) and result.created) == 1
    assert {result.number for result in results if isinstance(result, Outcome)} == {rows(container, IncidentRow)[0].id}
    assert len(rows(container, IncidentRow)) == 1
    assert len(rows(container, AlertRow)) == 3
    timeline = [row.kind for row in rows(container, TimelineRow)]
    assert timeline.count(EntryKind.DECLARED.value) == 1
    assert timeline.count(EntryKind.ALERT_FIRING.value) == 3
    assert [row.operation for row in rows(container, OutboxRow, target="chat")] == ["open_incident"]


def test_concurrent_deliveries_of_different_groups_make_one_incident_each(container: Container) -> None:
    groups = [AlertGroup.model_validate(firing_group(f"Group{i}")) for i in range(2)]
    barrier = threading.Barrier(6, timeout=10)
    errors: list[BaseException] = []

    def one(group: AlertGroup) -> None:
        try:
            barrier.wait()
            with container.service.sessions.begin() as session:
                apply_group(session, container.service, group, POLICY)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=one, args=(groups[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(row.dedup_key for row in rows(container, IncidentRow)) == sorted(g.dedup_key for g in groups)
