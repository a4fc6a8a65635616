"""A worker on PostgreSQL applies many groups in one transaction, and nothing else changes.

Each group's own round trips (lock its rows, delete them, commit) are most of what a group
with one or two new webhooks costs, so ``firebreak worker`` shares them across the groups
of a pass. These tests hold it to what one group per transaction guaranteed: order within
a group, a failing row isolated and retried while the others still count, and locks taken
in one statement never trusted beyond the transaction that took them.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine, event, select
from starlette.testclient import TestClient

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.roles import Role
from bot.store import alert_groups
from bot.store.incidents import IncidentRepository
from bot.store.models import AlertRow, InboxRow, IncidentRow, TimelineRow
from bot.web import create_app
from tests.conftest import make_settings
from tests.fakes.alertmanager_payloads import firing_group
from tests.ingest.support import TOKEN, bearer, row_counts, rows

URL = "/webhooks/alertmanager"


@pytest.fixture
def worker(db_url: str, engine: Engine, clock: FrozenClock) -> Iterator[Container]:
    """What ``firebreak worker`` builds: no webhook endpoints in the process, so no pacing."""
    settings = make_settings(db_url, ALERTMANAGER_TOKEN=TOKEN)
    yield build_container(settings, clock=clock, transcript_stream=io.StringIO(), engine=engine, roles=frozenset({Role.WORKER}))


def queue(container: Container, *groups: dict[str, object]) -> None:
    """Answered and queued, not applied (the test runs the ingester)."""
    with TestClient(create_app(container, migrate=False, run_worker=False)) as http:
        for group in groups:
            assert http.post(URL, json=group, headers=bearer()).status_code == 202


@contextlib.contextmanager
def commits_during(engine: Engine) -> Iterator[list[int]]:
    counted = [0]

    def count(*_args: object) -> None:
        counted[0] += 1

    event.listen(engine, "commit", count)
    try:
        yield counted
    finally:
        event.remove(engine, "commit", count)


def firing_texts(container: Container, alertname: str) -> list[str]:
    with container.sessions() as session:
        number = session.scalars(select(IncidentRow.id).where(IncidentRow.title.contains(alertname))).one()
        statement = select(TimelineRow.text).where(TimelineRow.incident_id == number, TimelineRow.kind == "alert_firing").order_by(TimelineRow.id)
        return list(session.scalars(statement))


def test_a_worker_pass_applies_its_groups_in_one_transaction_on_postgresql(worker: Container, engine: Engine, db_backend: str) -> None:
    names = ["DiskFull", "HighLatency", "QueueBacklog", "CertExpiry"]
    queue(worker, *(firing_group(name, count=2) for name in names))
    assert worker.ingester.apply_all() == 4  # four new incidents
    queue(worker, *(firing_group(name, count=3) for name in names), *(firing_group(name, count=4) for name in names))
    with commits_during(engine) as commits:
        assert worker.ingester.apply_pending() == 8
    # One transaction for the four groups on PostgreSQL; SQLite keeps one per group (its
    # single writer must not be held while the web answers).
    assert commits[0] == (1 if db_backend == "postgres" else 4)
    counts = row_counts(worker)
    assert counts["inbox"] == 0 and counts["incidents"] == 4 and counts["alerts"] == 4 * 4
    for name in names:  # each group's webhooks in arrival order: instance 2 (2nd webhook), then 3 (3rd)
        texts = firing_texts(worker, name)
        assert [index for index, text in enumerate(texts) for i in range(4) if f"instance=checkout-{i}:9100" in text] == [0, 1, 2, 3]
        with worker.sessions() as session:
            statement = (
                select(AlertRow.labels).join(IncidentRow, IncidentRow.id == AlertRow.incident_id).where(IncidentRow.title.contains(name)).order_by(AlertRow.id)
            )
            instances = [labels["instance"] for labels in session.scalars(statement)]
        assert instances == [f"checkout-{i}:9100" for i in range(4)]


def test_a_failing_row_is_set_aside_and_the_other_groups_of_the_pass_still_count(worker: Container, clock: FrozenClock) -> None:
    queue(worker, firing_group("DiskFull"), firing_group("HighLatency"), firing_group("QueueBacklog"))
    assert worker.ingester.apply_all() == 3
    queue(worker, firing_group("DiskFull", count=2), firing_group("HighLatency", count=2), firing_group("HighLatency", count=3), firing_group("QueueBacklog", count=2))
    with worker.sessions.begin() as session:  # HighLatency's next webhook can never apply
        poisoned = session.scalars(select(InboxRow).where(InboxRow.group_key.contains("HighLatency")).order_by(InboxRow.id)).first()
        assert poisoned is not None
        poisoned.body = json.dumps({**json.loads(poisoned.body), "alerts": "not a list"})

    assert worker.ingester.apply_pending() == 3  # two groups applied, the poison set aside
    waiting = rows(worker, InboxRow)
    assert len(waiting) == 2 and waiting[0].id == poisoned.id  # the poison and the row behind it
    assert waiting[0].attempts == 1 and waiting[0].not_before is not None and waiting[0].last_error is not None
    assert waiting[1].attempts == 0 and waiting[1].not_before is None  # waits its turn, untouched
    counts = row_counts(worker)
    assert counts["alerts"] == 2 + 1 + 2  # DiskFull and QueueBacklog have their second alert; HighLatency not
    ingested = {
        (sample.labels["source"], sample.labels["outcome"]): sample.value
        for metric in worker.metrics.registry.collect()
        for sample in metric.samples
        if sample.name == "firebreak_ingested_total"
    }
    # Counted once each, although the shared transaction that first tried them was rolled back.
    assert ingested == {("alertmanager", "created"): 3.0, ("alertmanager", "updated"): 2.0, ("alertmanager", "retry"): 1.0}


def test_an_urgent_webhook_is_applied_in_a_transaction_ahead_of_the_rest(db_url: str, engine: Engine, clock: FrozenClock, db_backend: str) -> None:
    settings = make_settings(db_url, ALERTMANAGER_TOKEN=TOKEN, FIREBREAK_SEVERITY_MAPPING='{"page":"P0","warning":"P3"}')
    worker = build_container(settings, clock=clock, transcript_stream=io.StringIO(), engine=engine, roles=frozenset({Role.WORKER}))
    minors = [f"Minor{i}" for i in range(3)]
    queue(worker, *(firing_group(name, severity="warning") for name in minors), firing_group("CheckoutDown", severity="page"))
    assert worker.ingester.apply_all() == 4
    queue(worker, *(firing_group(name, count=2, severity="warning") for name in minors), firing_group("CheckoutDown", count=2, severity="page"))
    with commits_during(engine) as commits:
        assert worker.ingester.apply_pending() == 4
    assert commits[0] == (2 if db_backend == "postgres" else 4)  # the P0 group alone, then the three others together
    with worker.sessions() as session:
        second_alerts = session.execute(
            select(IncidentRow.title, AlertRow.id).join(AlertRow, AlertRow.incident_id == IncidentRow.id).where(AlertRow.labels["instance"].as_string() == "checkout-1:9100").order_by(AlertRow.id)
        ).all()
    assert "CheckoutDown" in second_alerts[0][0]  # queued last, applied first


def test_locks_taken_together_are_trusted_only_in_the_transaction_that_took_them(worker: Container, engine: Engine) -> None:
    queue(worker, firing_group("DiskFull"))
    assert worker.ingester.apply_all() == 1
    with worker.sessions() as session:
        child = session.scalars(select(alert_groups.AlertGroupRow)).one()
        dedup_key, number = child.dedup_key, child.incident_id
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    with worker.sessions() as session:
        locked = alert_groups.lock_by_dedup_keys(session, [dedup_key])
        IncidentRepository.lock_rows(session, [number])
        event.listen(engine, "before_cursor_execute", record)
        try:
            assert alert_groups.lock_by_dedup_key(session, dedup_key) is locked[dedup_key]
            assert IncidentRepository.get_row(session, number, for_update=True).id == number
            assert statements == []  # both from the locks already held
            session.commit()
            assert alert_groups.lock_by_dedup_key(session, dedup_key) is not None
            IncidentRepository.get_row(session, number, for_update=True)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    # A new transaction asks the database again: one SELECT each (… FOR UPDATE on PostgreSQL;
    # SQLite has no row locks, its transaction holds the only writer).
    selects = [statement for statement in statements if statement.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2
    if engine.dialect.name == "postgresql":
        assert all("FOR UPDATE" in statement for statement in selects)


def test_serve_keeps_one_group_per_transaction(am_container: Container, engine: Engine) -> None:
    """``serve`` answers webhooks in the same process: it gives way between groups, so each
    group is its own transaction there, on either database."""
    queue(am_container, firing_group("DiskFull"), firing_group("HighLatency"))
    with commits_during(engine) as commits:
        assert am_container.ingester.apply_pending() == 2
    assert commits[0] == 2
    assert am_container.ingester.pressure is not None


def test_a_new_group_is_applied_in_a_transaction_of_its_own(worker: Container, engine: Engine, db_backend: str) -> None:
    """Placing a new group may take the storm guard's or a correlation lock and then lock
    another incident: it must not wait for those while holding the other groups' incidents."""
    queue(worker, firing_group("DiskFull"), firing_group("HighLatency"))
    assert worker.ingester.apply_all() == 2
    queue(worker, firing_group("DiskFull", count=2), firing_group("CertExpiry"), firing_group("HighLatency", count=2))
    with commits_during(engine) as commits:
        assert worker.ingester.apply_pending() == 3
    assert commits[0] == (2 if db_backend == "postgres" else 3)  # the two known groups together, then the new one
    counts = row_counts(worker)
    assert counts["inbox"] == 0 and counts["incidents"] == 3 and counts["alerts"] == 2 + 2 + 1


def test_a_failing_preparer_falls_back_to_one_group_per_transaction(worker: Container, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    queue(worker, firing_group("DiskFull"), firing_group("HighLatency"))
    assert worker.ingester.apply_all() == 2
    queue(worker, firing_group("DiskFull", count=2), firing_group("HighLatency", count=2))

    def broken(_session: object, _rows: Sequence[InboxRow]) -> set[str]:
        raise RuntimeError("lock timeout")

    monkeypatch.setitem(worker.ingester._preparers, "alertmanager", broken)
    with commits_during(engine) as commits:
        assert worker.ingester.apply_pending() == 2  # not stuck on the same chunk: both applied
    assert commits[0] == 2
    assert row_counts(worker)["inbox"] == 0 and row_counts(worker)["alerts"] == 4
