"""Applying several queued notifications of a group in one pass changes nothing but the cost.

A differential property test: random sequences of notifications for one group are applied
one by one with ``apply_group`` (each in its own transaction) and, into the same database
emptied again, with one ``apply_batch`` call; every table must end up the same. Then the
ingester: a run whose batch fails falls back to applying its rows one by one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from bot.container import Container
from bot.domain.clock import FrozenClock, as_utc
from bot.ingest.alertmanager.apply import Outcome, Policy, apply_batch, apply_group
from bot.ingest.alertmanager.models import AlertGroup
from bot.service.changes import Change
from bot.store.models import Base, InboxRow, IncidentRow, TimelineRow
from tests.fakes.alertmanager_payloads import alert, payload
from tests.ingest.support import rows

DIFFERENTIAL = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
GROUP_KEY = '{}:{alertname="DiskFull"}'
FINGERPRINTS = ("fp-a", "fp-b", "fp-c", "fp-d")

#: One alert of a notification: (fingerprint, firing?, severity, startsAt offset, endsAt - startsAt).
alerts_ = st.tuples(
    st.sampled_from(range(len(FINGERPRINTS))),
    st.booleans(),
    st.sampled_from(("warning", "critical", "error", "warning", "critical", "error", "info")),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=-5, max_value=30),
)
notifications = st.tuples(st.lists(alerts_, min_size=1, max_size=4), st.sampled_from((0, 0, 0, 2, 3)))


def notification(spec: tuple[list[tuple[int, bool, str, int, int]], int]) -> AlertGroup:
    items, truncated = spec
    built = []
    for index, firing, severity, start, length in items:
        starts_at = T0 + timedelta(minutes=start)
        body = alert(
            {"alertname": "DiskFull", "instance": f"host-{index}", "severity": severity},
            {"summary": f"disk {index} is {severity}"},
            status="firing" if firing else "resolved",
            starts_at=starts_at,
            ends_at=None if firing else starts_at + timedelta(minutes=length),
        )
        body["fingerprint"] = FINGERPRINTS[index]  # the same alert, whatever its severity label
        built.append(body)
    body = payload(built, truncated_alerts=truncated)
    body["groupKey"] = GROUP_KEY
    return AlertGroup.model_validate(body)


def _empty(engine: Engine) -> None:
    """Every table emptied, ids counting from 1 again (so outbox keys with ids compare)."""
    names = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("TRUNCATE " + ", ".join(f'"{name}"' for name in names) + " RESTART IDENTITY CASCADE"))
        else:
            for name in names:
                connection.execute(text(f'DELETE FROM "{name}"'))
            if connection.execute(text("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
                connection.execute(text("DELETE FROM sqlite_sequence"))


def _normal(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


def _state(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows in id order. Outbox messages that are coalesced (summary refresh)
    compare apart, without id and idempotency key: one at a time, the first notification
    queues it (keyed by its entry) and later ones fold into it; a batch queues it once, after
    its posts, keyed by its last entry. An open message's ``name_salt`` is random (the last
    channel name Slack may take), so it is compared by its shape only."""
    state = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            found = [{key: _normal(value) for key, value in row._mapping.items()} for row in connection.execute(select(table).order_by(*order))]
            if table.name == "outbox":
                for row in found:
                    row.pop("id")
                    if isinstance(row["payload"], dict) and "name_salt" in row["payload"]:
                        salt = row["payload"]["name_salt"]
                        row["payload"] = {**row["payload"], "name_salt": "<6 hex digits>" if re.fullmatch(r"[0-9a-f]{6}", salt) else salt}
                    if row["coalesce_key"] is not None:
                        row.pop("idempotency_key")
                state["outbox (coalesced)"] = sorted((row for row in found if row["coalesce_key"]), key=lambda row: row["coalesce_key"])
                found = [row for row in found if not row["coalesce_key"]]
            state[table.name] = found
    return state


@pytest.fixture
def policy(am_container: Container) -> Policy:
    settings_ = am_container.settings
    return Policy(mapping=dict(settings_.severity_mapping), auto_resolve=frozenset(settings_.auto_resolve))


@given(
    specs=st.lists(notifications, min_size=2, max_size=8),
    existing=st.booleans(),
)
@DIFFERENTIAL
def test_one_batch_gives_what_one_notification_at_a_time_gives(
    am_container: Container, engine: Engine, clock: FrozenClock, policy: Policy, specs: list[Any], existing: bool
) -> None:
    groups = [notification(spec) for spec in specs]
    service, sessions = am_container.service, am_container.sessions
    seen: list[tuple[Any, ...]] = []

    def watch(change: Change) -> None:
        """What a subscriber sees of each entry: the incident as it was when it was recorded."""
        incident = change.incident
        state = (change.is_new, incident.status, incident.severity, incident.reopen_count, incident.resolved_at)
        seen.extend((recorded.id, recorded.entry.kind, *state) for recorded in change.entries)

    def run(batched: bool) -> list[Outcome]:
        _empty(engine)
        seen.clear()
        todo = groups
        outcomes = []
        if existing:  # the incident exists before the batch (else the batch declares it)
            with sessions.begin() as session:
                outcomes.append(apply_group(session, service, groups[0], policy))
            todo = groups[1:]
        if batched:
            with sessions.begin() as session:
                outcomes += apply_batch(session, service, todo, policy)
        else:
            for group in todo:
                with sessions.begin() as session:
                    outcomes.append(apply_group(session, service, group, policy))
        return outcomes

    service.subscribers.append(watch)
    try:
        one_by_one = run(batched=False)
        expected, expected_seen = _state(engine), list(seen)
        batched = run(batched=True)
    finally:
        service.subscribers.remove(watch)
    assert batched == one_by_one
    assert seen == expected_seen
    actual = _state(engine)
    assert actual.keys() == expected.keys()
    for name in expected:
        assert actual[name] == expected[name], (name, _summary(actual[name]), _summary(expected[name]))


def _summary(found: list[dict[str, Any]]) -> list[Any]:
    return [(row.get("operation") or row.get("kind"), row.get("idempotency_key"), row.get("coalesce_key")) for row in found]


def _queue(am_container: Container, bodies: list[str], group_key: str) -> None:
    with am_container.sessions.begin() as session:
        for body in bodies:
            session.add(InboxRow(source="alertmanager", group_key=group_key, body=body, received_at=T0, attempts=0))


def _body(instance: int, alertname: str = "DiskFull") -> str:
    body = payload([alert({"alertname": alertname, "instance": f"host-{instance}", "severity": "critical"}, starts_at=T0)])
    return json.dumps(body)


@pytest.fixture
def batches(am_container: Container) -> Iterator[list[int]]:
    """Counts the rows each batch-applier call was given (the wired Alertmanager one)."""
    real = am_container.ingester._batch_appliers["alertmanager"]
    calls: list[int] = []

    def counting(session: Session, batch: Any) -> list[str]:
        calls.append(len(batch))
        return real(session, batch)

    am_container.ingester.add_batch_applier("alertmanager", counting)
    yield calls


def test_queued_webhooks_of_a_group_are_applied_in_one_batch(am_container: Container, batches: list[int]) -> None:
    key = AlertGroup.model_validate(json.loads(_body(0))).dedup_key
    _queue(am_container, [_body(n) for n in range(5)], key)
    assert am_container.ingester.apply_all() == 5
    assert batches == [5]
    with am_container.sessions() as session:
        assert len(session.scalars(select(IncidentRow)).all()) == 1
        assert [t.kind for t in session.scalars(select(TimelineRow).order_by(TimelineRow.id))].count("alert_firing") == 5
    assert rows(am_container, InboxRow) == []


def test_a_batch_with_a_failing_row_falls_back_to_one_row_at_a_time(
    am_container: Container, clock: FrozenClock, batches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The per-transaction time budget is about pacing, not this rule: on a slow or busy machine
    # the first incident's set-up alone can spend it, and the rows behind would wait a pass.
    monkeypatch.setattr(am_container.ingester, "_transaction_budget", 60.0)
    key = AlertGroup.model_validate(json.loads(_body(0))).dedup_key
    other = AlertGroup.model_validate(json.loads(_body(0, "Other"))).dedup_key
    poison = json.dumps({"version": "4", "groupKey": GROUP_KEY, "status": "firing", "alerts": []})  # can never apply
    _queue(am_container, [_body(0), _body(1), poison, _body(3), _body(4)], key)
    _queue(am_container, [_body(0, "Other"), _body(1, "Other")], other)

    assert am_container.ingester.apply_pending() == 5  # two applied, the poison set aside; the other group: two
    assert sorted(batches) == [2, 5]  # both groups tried as a batch; the failing one fell back
    waiting = rows(am_container, InboxRow)
    assert [row.group_key for row in waiting] == [key] * 3  # the poison row and the two behind it
    head = waiting[0]
    assert head.body == poison and head.attempts == 1 and head.not_before is not None and head.not_before > clock.now()
    assert head.last_error is not None and head.last_error.startswith("WebhookRejected")
    assert all(row.attempts == 0 and row.not_before is None for row in waiting[1:])
    with am_container.sessions() as session:
        incidents = {row.dedup_key: row.id for row in session.scalars(select(IncidentRow))}
        firing = session.scalars(select(TimelineRow.text).where(TimelineRow.kind == "alert_firing", TimelineRow.incident_id == incidents[key])).all()
    assert len(firing) == 2 and all("host-0" in t or "host-1" in t for t in firing)
    assert am_container.ingester.apply_pending() == 0  # not due: the rows behind the poison wait

    clock.advance(minutes=10)
    assert am_container.ingester.apply_pending() == 1  # retried, fails again; still at the head
    assert len(rows(am_container, InboxRow)) == 3 and rows(am_container, InboxRow)[0].attempts == 2


def test_a_clean_group_is_applied_without_savepoints(am_container: Container, engine: Engine) -> None:
    """Savepoints are for isolating a failing row; a group that applies cleanly does not pay
    their two round trips per row (the fallback under savepoints is the poison test above)."""
    key = AlertGroup.model_validate(json.loads(_body(0))).dedup_key
    _queue(am_container, [_body(0)], key)
    assert am_container.ingester.apply_pending() == 1  # opens the incident
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        _queue(am_container, [_body(1)], key)
        assert am_container.ingester.apply_pending() == 1  # adds an alert to it
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert "SAVEPOINT" not in statements and "RELEASE" not in statements
    assert len(statements) <= 16, statements  # an update: about a dozen statements, not more
    assert rows(am_container, InboxRow) == []
