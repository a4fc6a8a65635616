"""Several ingesters on PostgreSQL share a backlog: each group is claimed by one at a time.

Every ingester picks the oldest groups first. Without claims, a second worker picked the
same groups as the first, waited on their row locks and then found their rows gone, so two
workers drained a backlog slower than one. With claims it passes those groups by and
applies others, and a claimed group is still applied by one ingester, in order.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.ingest import inbox
from bot.roles import Role
from bot.store.models import InboxRow, IncidentRow, TimelineRow
from tests.conftest import make_settings
from tests.fakes.alertmanager_payloads import firing_group
from tests.ingest.support import TOKEN
from tests.ingest.test_shared_transactions import queue

NAMES = ["DiskFull", "HighLatency", "QueueBacklog"]


@pytest.fixture
def worker(db_url: str, engine: Engine, clock: FrozenClock, db_backend: str) -> Iterator[Container]:
    if db_backend != "postgres":
        pytest.skip("claims are PostgreSQL's: SQLite has one writer")
    settings = make_settings(db_url, ALERTMANAGER_TOKEN=TOKEN)
    yield build_container(settings, clock=clock, transcript_stream=io.StringIO(), engine=engine, roles=frozenset({Role.WORKER}))


def queued_keys(container: Container) -> list[str]:
    with container.sessions() as session:
        return list(dict.fromkeys(session.scalars(select(InboxRow.group_key).order_by(InboxRow.id))))


def firing_texts(container: Container, alertname: str) -> list[str]:
    with container.sessions() as session:
        number = session.scalars(select(IncidentRow.id).where(IncidentRow.title.contains(alertname))).one()
        statement = select(TimelineRow.text).where(TimelineRow.incident_id == number, TimelineRow.kind == "alert_firing").order_by(TimelineRow.id)
        return list(session.scalars(statement))


def test_a_claimed_group_is_passed_by_until_its_transaction_ends(worker: Container, engine: Engine) -> None:
    keys = ["group-a", "group-b", "group-c"]
    with Session(engine) as first, Session(engine) as second:
        assert inbox.claim_groups(first, keys[:2]) == keys[:2]
        assert inbox.claim_groups(second, keys) == ["group-c"]
        assert inbox.claim_groups(first, keys[:2]) == keys[:2]  # a holder may claim again
        first.rollback()
        second.rollback()
        assert inbox.claim_groups(second, list(reversed(keys))) == list(reversed(keys))


def test_a_second_ingester_applies_the_groups_the_first_does_not_hold(worker: Container, engine: Engine) -> None:
    queue(worker, *(firing_group(name, count=1) for name in NAMES))
    assert worker.ingester.apply_all() == 3
    queue(worker, *(firing_group(name, count=2) for name in NAMES))
    queue(worker, *(firing_group(name, count=3) for name in NAMES))
    held = queued_keys(worker)[0]
    with Session(engine) as other:
        assert inbox.claim_groups(other, [held]) == [held]  # another ingester is applying it
        finished: list[int] = []
        # Without claims this pass waits on the held group's row locks; a bounded join tells.
        thread = threading.Thread(target=lambda: finished.append(worker.ingester.apply_pending()), daemon=True)
        with Session(engine) as locker:
            locker.execute(select(InboxRow).where(InboxRow.group_key == held).with_for_update())
            thread.start()
            thread.join(timeout=20)
            assert not thread.is_alive(), "the pass waited for a group another ingester holds"
        assert finished == [4]  # two webhooks of each of the two other groups
        assert queued_keys(worker) == [held]
    assert worker.ingester.apply_pending() == 2  # released: now it is this ingester's
    assert queued_keys(worker) == []
    for name in NAMES:
        texts = firing_texts(worker, name)
        assert len(texts) == 3, texts  # alerts 1, 2, 3 of the group: each once, in order
