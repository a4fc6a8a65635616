"""The inbox and the ingester: answered once queued, applied in order, nothing lost.

These drive the ingester by hand (``apply_pending``/``apply_all``) against a real database,
so every step is deterministic; the running loop is covered by the process tests.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
import threading
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError, InternalError, OperationalError
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.domain.timeline import EntryKind
from bot.ingest import inbox
from bot.ingest.inbox_writer import InboxWriter, Webhook
from bot.ingest.ingester import Ingester
from bot.ingest.pressure import WebhookPressure
from bot.store.handoff_lock import HandoffLock
from bot.store.models import AlertRow, InboxRow, IncidentRow, TimelineRow
from bot.web import create_app
from tests.conftest import make_settings
from tests.fakes.alertmanager_payloads import firing_group
from tests.fakes.pagerduty_webhook import webhook_body, webhook_event, webhook_headers
from tests.ingest.conftest import PD_SECRET
from tests.ingest.support import TOKEN, bearer, row_counts, rows
from tests.support.waiting import wait_until

URL = "/webhooks/alertmanager"


def queued_only(container: Container) -> TestClient:
    """A client whose requests are answered but not applied: the ingester is ours to run."""
    return TestClient(create_app(container, migrate=False, run_worker=False))


def resolved(group: dict[str, Any]) -> dict[str, Any]:
    out = {**group, "status": "resolved", "alerts": [dict(item) for item in group["alerts"]]}
    for item in out["alerts"]:
        item["status"], item["endsAt"] = "resolved", "2099-01-01T00:00:00Z"
    return out


def applied(container: Container) -> dict[tuple[str, str], float]:
    values: dict[tuple[str, str], float] = {}
    for metric in container.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == "firebreak_ingested_total":
                values[(sample.labels["source"], sample.labels["outcome"])] = sample.value
    return values


def test_an_answered_webhook_waits_in_the_inbox_until_the_ingester_applies_it(am_container: Container) -> None:
    with queued_only(am_container) as http:
        response = http.post(URL, json=firing_group(count=2), headers=bearer())
    assert response.status_code == 202 and response.json()["status"] == "accepted"
    counts = row_counts(am_container)
    assert counts["inbox"] == 1 and counts["incidents"] == 0 and counts["alerts"] == 0

    assert am_container.ingester.apply_all() == 1
    counts = row_counts(am_container)
    assert counts["inbox"] == 0 and counts["incidents"] == 1 and counts["alerts"] == 2
    assert applied(am_container) == {("alertmanager", "created"): 1.0}


def test_a_fresh_process_applies_what_an_earlier_one_accepted(am_container: Container, db_url: str, engine: Any, clock: FrozenClock) -> None:
    with queued_only(am_container) as http:
        for name in ("DiskFull", "HighLatency"):
            assert http.post(URL, json=firing_group(name), headers=bearer()).status_code == 202
    settings = make_settings(db_url, ALERTMANAGER_TOKEN=TOKEN)
    restarted = build_container(settings, clock=clock, transcript_stream=io.StringIO(), engine=engine)
    assert restarted.ingester.apply_all() == 2
    assert sorted(row.title for row in rows(restarted, IncidentRow)) == ["DiskFull on checkout", "HighLatency on checkout"]


def test_a_groups_queued_webhooks_apply_in_arrival_order(am_container: Container) -> None:
    group = firing_group(count=2, severity="critical")
    with queued_only(am_container) as http:
        for body in (group, resolved(group), group, resolved(group)):
            assert http.post(URL, json=body, headers=bearer()).status_code == 202
    # A transaction stops taking rows once its time budget is spent (here: after one row),
    # so a busy group cannot hold the database's writer; the rest follow in later passes.
    strict = Ingester(am_container.sessions, dict(am_container.ingester._appliers), clock=am_container.clock, transaction_budget=0)
    assert strict.apply_pending() == 1 and row_counts(am_container)["inbox"] == 3
    assert am_container.ingester.apply_all() == 3
    assert {row.status for row in rows(am_container, AlertRow)} == {"resolved"}
    kinds = [row.kind for row in rows(am_container, TimelineRow)]
    assert kinds.count(EntryKind.ALERT_FIRING.value) == 2 and kinds.count(EntryKind.ALERT_RESOLVED.value) == 2
    # the same firing re-sent after its resolve is stale (starts before the stored end): unchanged
    assert applied(am_container) == {("alertmanager", "updated"): 1.0, ("alertmanager", "unchanged"): 2.0}


def test_a_failing_webhook_is_retried_then_kept_dead_and_only_its_group_waits(am_container: Container, clock: FrozenClock) -> None:
    broken, healthy = firing_group("Broken"), firing_group("Healthy")
    with queued_only(am_container) as http:
        for body in (broken, resolved(broken), healthy):
            assert http.post(URL, json=body, headers=bearer()).status_code == 202
    real = am_container.ingester._appliers["alertmanager"]
    failing = {"on": True}

    def flaky(session: Session, row: InboxRow) -> str:
        if failing["on"] and "Broken" in row.group_key and '"firing"' in row.body:
            raise ValueError("cannot apply this one")
        return real(session, row)

    am_container.ingester.add_applier("alertmanager", flaky)
    assert am_container.ingester.apply_pending() == 2  # the healthy group applied; the broken head set aside
    waiting = rows(am_container, InboxRow)
    assert [row.group_key for row in waiting] == ['am:{}:{alertname="Broken", service="checkout"}'] * 2
    head = waiting[0]
    assert head.attempts == 1 and head.not_before is not None and head.not_before > clock.now()
    assert head.last_error == "ValueError: cannot apply this one" and head.dead_at is None
    assert am_container.ingester.apply_pending() == 0  # not due yet; the resolve behind it waits too

    for _ in range(7):  # up to max_attempts (8): kept, never dropped
        clock.advance(minutes=10)
        am_container.ingester.apply_pending()
    dead = rows(am_container, InboxRow)[0]
    assert dead.dead_at is not None and dead.attempts == 8
    assert rows(am_container, InboxRow)[1].dead_at is None
    clock.advance(minutes=10)
    assert am_container.ingester.apply_pending() == 1  # the group moves on past its dead head
    assert [row.id for row in rows(am_container, InboxRow)] == [dead.id]
    assert applied(am_container)[("alertmanager", "dead")] == 1.0
    assert applied(am_container)[("alertmanager", "retry")] == 7.0


def test_a_database_that_is_away_stops_the_pass_and_keeps_everything(am_container: Container) -> None:
    with queued_only(am_container) as http:
        assert http.post(URL, json=firing_group(), headers=bearer()).status_code == 202

    def away(session: Session, row: InboxRow) -> str:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"), connection_invalidated=True)

    real = am_container.ingester._appliers["alertmanager"]
    am_container.ingester.add_applier("alertmanager", away)
    with pytest.raises(OperationalError):
        am_container.ingester.apply_pending()
    queued = rows(am_container, InboxRow)
    assert len(queued) == 1 and queued[0].attempts == 0 and queued[0].not_before is None  # not the row's fault
    am_container.ingester.add_applier("alertmanager", real)
    assert am_container.ingester.apply_all() == 1 and row_counts(am_container)["inbox"] == 0


def _sqlite_full() -> Exception:
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode, error.sqlite_errorname = 13, "SQLITE_FULL"  # what the driver sets
    return error


CANNOT_WRITE = {
    "postgres disk full": lambda: OperationalError("INSERT", {}, psycopg.errors.DiskFull('could not extend file "base/1/2": No space left on device')),
    "postgres standby": lambda: InternalError("INSERT", {}, psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction")),
    "sqlite disk full": lambda: OperationalError("INSERT", {}, _sqlite_full()),
}


@pytest.mark.parametrize("trouble", sorted(CANNOT_WRITE))
def test_a_database_that_cannot_write_never_sets_a_webhook_aside(am_container: Container, clock: FrozenClock, trouble: str) -> None:
    """A full disk or a read-only database fails every row alike: an outage longer than a
    row's retries (8 attempts, a couple of minutes) used to set every queued webhook aside
    as dead, and their incidents did not open when the database came back."""
    with queued_only(am_container) as http:
        assert http.post(URL, json=firing_group("DiskFull"), headers=bearer()).status_code == 202
    real = am_container.ingester._appliers["alertmanager"]

    def cannot_write(session: Session, row: InboxRow) -> str:
        raise CANNOT_WRITE[trouble]()

    am_container.ingester.add_applier("alertmanager", cannot_write)
    for _ in range(12):  # longer than a row's retries
        with pytest.raises((OperationalError, InternalError)):
            am_container.ingester.apply_pending()
        clock.advance(minutes=10)
    (queued,) = rows(am_container, InboxRow)
    assert queued.dead_at is None and queued.attempts == 0 and queued.not_before is None  # not the row's fault
    am_container.ingester.add_applier("alertmanager", real)
    assert am_container.ingester.apply_all() == 1 and row_counts(am_container)["inbox"] == 0
    assert [row.title for row in rows(am_container, IncidentRow)] == ["DiskFull on checkout"]


def test_a_pagerduty_replay_queued_before_the_original_applied_is_discarded(am_container: Container) -> None:
    body = webhook_body(webhook_event("incident.triggered", incident_id="QDUP1"))
    with queued_only(am_container) as http:
        for webhook_id in ("W1", "W2"):  # PagerDuty retried before we applied the first
            response = http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PD_SECRET, body, webhook_id=webhook_id))
            assert response.status_code == 202
    assert am_container.ingester.apply_all() == 2
    assert applied(am_container) == {("pagerduty", "applied"): 1.0, ("pagerduty", "duplicate"): 1.0}
    assert len(rows(am_container, IncidentRow)) == 1
    assert [row.kind for row in rows(am_container, TimelineRow)] == ["declared"]


def test_two_ingesters_applying_the_same_group_at_once_apply_each_webhook_once(am_container: Container) -> None:
    group = firing_group(count=1)
    with queued_only(am_container) as http:
        for index in range(12):  # the group re-sent with one more alert each time
            body = {**group, "alerts": [{**group["alerts"][0], "fingerprint": f"fp{n:02d}", "labels": {**group["alerts"][0]["labels"], "n": str(n)}} for n in range(index + 1)]}
            assert http.post(URL, json=body, headers=bearer()).status_code == 202
    queued = [row.id for row in rows(am_container, InboxRow)]
    real = am_container.ingester._appliers["alertmanager"]
    applied: list[tuple[int, str]] = []
    first_inside = threading.Event()

    def recording(name: str) -> Any:
        def apply(session: Session, row: InboxRow) -> str:
            applied.append((row.id, name))
            if name == "first" and not first_inside.is_set():
                first_inside.set()
                threading.Event().wait(0.3)  # a slow apply, which this stand-in is for: the second ingester meets the group's rows held
            return real(session, row)

        return apply

    first = Ingester(am_container.sessions, {"alertmanager": recording("first")}, clock=am_container.clock, rows_per_group=3)
    second = Ingester(am_container.sessions, {"alertmanager": recording("second")}, clock=am_container.clock, rows_per_group=3)
    errors: list[BaseException] = []

    def drain(ingester: Ingester, after: threading.Event | None) -> None:
        try:
            if after is not None:
                assert after.wait(10)
            ingester.apply_all()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=drain, args=(first, None)), threading.Thread(target=drain, args=(second, first_inside))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and row_counts(am_container)["inbox"] == 0
    ids = [inbox_id for inbox_id, _name in applied]
    assert ids == queued, applied  # each queued webhook applied exactly once, in the order queued
    assert {name for _id, name in applied} <= {"first", "second"}
    assert len(rows(am_container, IncidentRow)) == 1
    firing = [row for row in rows(am_container, TimelineRow) if row.kind == EntryKind.ALERT_FIRING.value]
    assert [row.data["fingerprint"] for row in firing] == [f"fp{n:02d}" for n in range(12)]


def test_an_operational_error_of_the_rows_own_is_retried_and_does_not_stop_other_groups(am_container: Container) -> None:
    with queued_only(am_container) as http:
        for name in ("Poison", "Healthy"):
            assert http.post(URL, json=firing_group(name), headers=bearer()).status_code == 202
    real = am_container.ingester._appliers["alertmanager"]

    def statement_timeout(session: Session, row: InboxRow) -> str:
        if "Poison" in row.group_key:
            raise OperationalError("SELECT", {}, Exception("canceling statement due to statement timeout"))
        return real(session, row)

    am_container.ingester.add_applier("alertmanager", statement_timeout)
    assert am_container.ingester.apply_pending() == 2
    (waiting,) = rows(am_container, InboxRow)
    assert "Poison" in waiting.group_key and waiting.attempts == 1 and "statement timeout" in (waiting.last_error or "")
    assert [row.title for row in rows(am_container, IncidentRow)] == ["Healthy on checkout"]


def test_due_groups_look_past_a_window_of_groups_waiting_out_retries(am_container: Container, clock: FrozenClock) -> None:
    with queued_only(am_container) as http:
        for _ in range(3):
            http.post(URL, json=firing_group("Waiting"), headers=bearer())
        http.post(URL, json=firing_group("Ready"), headers=bearer())
    with am_container.sessions.begin() as session:
        head = session.scalars(select(InboxRow).order_by(InboxRow.id)).first()
        assert head is not None
        head.not_before = clock.now() + timedelta(minutes=5)
    with am_container.sessions() as session:
        due = inbox.due_groups(session, now=clock.now(), limit=10, window=3)
    assert due.groups == ['am:{}:{alertname="Ready", service="checkout"}']


def test_the_ingester_gives_way_while_webhooks_arrive(am_container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    with queued_only(am_container) as http:
        for name in ("One", "Two"):
            http.post(URL, json=firing_group(name), headers=bearer())
    pressure = WebhookPressure(linger_seconds=60)
    ingester = Ingester(am_container.sessions, dict(am_container.ingester._appliers), clock=am_container.clock, pressure=pressure, busy_share=0.25)
    pauses: list[float] = []
    monkeypatch.setattr("bot.ingest.ingester.time.sleep", pauses.append)
    assert ingester.apply_pending() == 2 and pauses == []  # nobody waiting: no pauses
    with queued_only(am_container) as http:
        for name in ("Three", "Four"):
            http.post(URL, json=firing_group(name), headers=bearer())
    pressure.enter()
    assert ingester.apply_pending() == 2
    assert len(pauses) == 2 and all(pause > 0 for pause in pauses)  # 3× each group's own time at a 25 % share

    with queued_only(am_container) as http:
        http.post(URL, json=firing_group("Five"), headers=bearer())
    am_container.clock.advance(seconds=11)  # type: ignore[attr-defined]
    assert ingester.apply_pending() == 1  # queued 11 s ago, past max_lag (10 s): no giving way
    pressure.exit()
    assert len(pauses) == 2


def test_due_groups_skip_a_head_waiting_out_its_retry(am_container: Container, clock: FrozenClock) -> None:
    with queued_only(am_container) as http:
        for name in ("Waiting", "Ready"):
            http.post(URL, json=firing_group(name), headers=bearer())
    with am_container.sessions.begin() as session:
        head = session.scalars(select(InboxRow).order_by(InboxRow.id)).first()
        assert head is not None
        head.not_before = clock.now() + timedelta(seconds=30)
    with am_container.sessions() as session:
        due = inbox.due_groups(session, now=clock.now(), limit=10)
    assert due.groups == ['am:{}:{alertname="Ready", service="checkout"}']
    assert due.oldest == clock.now()  # the waiting head still counts for the lag


# -- the inbox writer (group commit) ---------------------------------------------------


def test_concurrent_accepts_each_get_their_own_committed_row(am_container: Container, clock: FrozenClock) -> None:
    writer = InboxWriter(am_container.sessions)

    async def burst() -> list[int]:
        return await asyncio.gather(
            *(writer.accept(Webhook("alertmanager", f"am:g{i % 7}", f'{{"n": {i}}}', clock.now())) for i in range(60))
        )

    ids = asyncio.run(burst())
    writer.close()
    assert len(set(ids)) == 60
    stored = {row.id: row for row in rows(am_container, InboxRow)}
    assert set(stored) == set(ids)
    assert all(stored[inbox_id].body == f'{{"n": {i}}}' for i, inbox_id in enumerate(ids))


def test_a_database_that_is_away_fails_the_whole_batch_at_once(am_container: Container, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = InboxWriter(am_container.sessions)
    calls: list[int] = []

    def away(webhooks: list[Webhook]) -> list[int]:
        calls.append(len(webhooks))
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(writer, "_insert", away)
    batch: list[tuple[Webhook, Future[int]]] = [(Webhook("alertmanager", "am:x", str(n), clock.now()), Future()) for n in range(5)]
    writer._write(batch)
    assert calls == [5]  # one attempt, not one per webhook: every sender gets its 503 now
    for _webhook, future in batch:
        with pytest.raises(OperationalError):
            future.result(timeout=1)


def test_a_row_the_database_refuses_fails_alone_not_its_batch(am_container: Container, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = InboxWriter(am_container.sessions)
    real = writer._insert

    def refuse_poison(webhooks: list[Webhook]) -> list[int]:
        if any(webhook.body == "poison" for webhook in webhooks):
            raise DataError("INSERT", {}, Exception("value too long"))
        return real(webhooks)

    monkeypatch.setattr(writer, "_insert", refuse_poison)
    batch: list[tuple[Webhook, Future[int]]] = [
        (Webhook("alertmanager", "am:x", body, clock.now()), Future()) for body in ("good-1", "poison", "good-2")
    ]
    writer._write(batch)
    assert batch[0][1].result(timeout=1) > 0 and batch[2][1].result(timeout=1) > 0
    with pytest.raises(DataError):
        batch[1][1].result(timeout=1)
    assert sorted(row.body for row in rows(am_container, InboxRow)) == ["good-1", "good-2"]


# -- the SQLite writer lock ------------------------------------------------------------


def test_handoff_lock_serves_waiters_first_come_first_served() -> None:
    lock = HandoffLock()
    assert lock.acquire(timeout=1)
    order: list[str] = []
    started: list[threading.Event] = []

    def wait_turn(name: str) -> None:
        ready = threading.Event()
        started.append(ready)
        ready.set()
        assert lock.acquire(timeout=10)
        order.append(name)
        lock.release()

    threads = []
    for name in ("first", "second", "third"):
        thread = threading.Thread(target=wait_turn, args=(name,))
        thread.start()
        threads.append(thread)
        wait_until(lambda: len(lock._waiters) >= len(threads), timeout=10, interval=0.001, what=f"{name} queued")  # before the next one starts
    lock.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["first", "second", "third"]
    assert lock.acquire(timeout=1)  # free again once everyone is done
    lock.release()


def test_handoff_lock_waiter_that_times_out_leaves_the_queue() -> None:
    lock = HandoffLock()
    assert lock.acquire(timeout=1)
    assert lock.acquire(timeout=0.05) is False
    assert not lock._waiters
    lock.release()
    assert lock.acquire(timeout=0.05)
    lock.release()


def test_handoff_lock_lets_an_urgent_waiter_go_first() -> None:
    lock = HandoffLock()
    assert lock.acquire(timeout=1)
    order: list[str] = []

    def wait_turn(name: str, urgent: bool) -> None:
        assert lock.acquire(timeout=10, urgent=urgent)
        order.append(name)
        lock.release()

    threads = []
    for name, urgent in (("delivery", False), ("ingester", False), ("webhook", True)):
        thread = threading.Thread(target=wait_turn, args=(name, urgent))
        thread.start()
        threads.append(thread)
        wait_until(lambda: len(lock._waiters) >= len(threads), timeout=10, interval=0.001, what=f"{name} queued")
    lock.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["webhook", "delivery", "ingester"]
