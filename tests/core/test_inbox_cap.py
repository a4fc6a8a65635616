"""The inbox cap: past FIREBREAK_INBOX_MAX_ROWS webhooks get 503 with Retry-After, nothing is
written, /metrics shows depth and capacity, and room freed by the ingester is used again."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.ingest.inbox_writer import FULL_RETRY_AFTER_SECONDS, RowBudget
from bot.store.models import InboxRow
from bot.web import create_app
from tests.conftest import make_settings
from tests.fakes.alertmanager_payloads import firing_group
from tests.fakes.pagerduty_webhook import webhook_body, webhook_event, webhook_headers
from tests.support.waiting import wait_until

TOKEN = "am-cap-token"
PD_SECRET = "pd-cap-secret"
CAP = 3


@pytest.fixture
def capped(db_url: str, engine: Engine, clock: FrozenClock) -> Iterator[tuple[Container, TestClient]]:
    settings = make_settings(db_url, ALERTMANAGER_TOKEN=TOKEN, PAGERDUTY_WEBHOOK_SECRET=PD_SECRET, FIREBREAK_INBOX_MAX_ROWS=CAP)
    container = build_container(settings, clock=clock, transcript_stream=io.StringIO(), engine=engine)
    # No background ingester: rows stay queued until the test applies them.
    with TestClient(create_app(container, migrate=False, run_worker=False)) as client:
        yield container, client


def post_group(client: TestClient, n: int) -> object:
    body = firing_group(f"Alert{n}")
    body["groupKey"] = f'{{}}:{{alertname="Alert{n}"}}'
    return client.post("/webhooks/alertmanager", content=json.dumps(body), headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})


def inbox_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(InboxRow)).scalar_one())


def metric(client: TestClient, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in /metrics")


def test_full_inbox_answers_503_with_retry_after(capped: tuple[Container, TestClient], engine: Engine) -> None:
    container, client = capped
    for n in range(CAP):
        assert post_group(client, n).status_code == 202  # type: ignore[attr-defined]
    refused = post_group(client, 99)
    assert refused.status_code == 503  # type: ignore[attr-defined]
    assert refused.headers["Retry-After"] == str(FULL_RETRY_AFTER_SECONDS)  # type: ignore[attr-defined]
    assert "inbox" in refused.json()["error"]  # type: ignore[attr-defined]

    pd_body = webhook_body(webhook_event("incident.triggered", incident_id="QCAP01"))
    pd = client.post("/webhooks/pagerduty", content=pd_body, headers=webhook_headers(PD_SECRET, pd_body))
    assert pd.status_code == 503 and pd.headers["Retry-After"] == str(FULL_RETRY_AFTER_SECONDS)
    assert inbox_rows(engine) == CAP  # nothing past the cap was written

    assert metric(client, "firebreak_inbox_capacity") == CAP
    assert metric(client, 'firebreak_inbox_depth{state="pending"}') == CAP
    assert metric(client, 'firebreak_webhooks_total{outcome="inbox_full",source="alertmanager"}') == 1

    # The ingester applies the backlog; the room it frees is used again.
    container.ingester.apply_all()
    assert inbox_rows(engine) == 0
    wait_until(lambda: post_group(client, 100).status_code == 202, timeout=10, what="a webhook accepted once the inbox drained")  # type: ignore[attr-defined]
    assert inbox_rows(engine) == 1


def test_the_default_cap_is_far_above_a_storm_backlog() -> None:
    """A 1,000-group storm queues about 1,000 rows (one per notification in flight)."""
    assert make_settings("sqlite://").inbox_max_rows == 100_000


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_row_budget_counts_only_near_the_cap_and_at_most_once_a_second() -> None:
    ticks = Ticks()
    budget = RowBudget(10, clock=ticks)
    span, stored = [0], [0]
    counts: list[float] = []

    def count() -> int:
        counts.append(ticks.now)
        return stored[0]

    def take(wanted: int) -> int:
        return budget.take(wanted, id_span=lambda: span[0], count=count)

    assert take(4) == 4  # ids span 0: room, nothing counted
    span[0] = stored[0] = 4
    assert take(4) == 4
    span[0] = stored[0] = 8
    assert counts == []
    assert take(4) == 2  # the span leaves no room: counted, and 2 fit
    span[0] = stored[0] = 10
    assert counts == [0.0]
    ticks.now = 0.5
    stored[0] = 3  # the ingester applied seven rows, but the newest and the oldest remain
    assert take(4) == 0  # counted half a second ago: full, without counting again
    ticks.now = 1.0
    assert take(4) == 4  # a second on: counted again, and there is room
    assert counts == [0.0, 1.0]
    span[0] = 2  # the backlog is gone: the span alone shows room again
    assert take(8) == 8 and counts == [0.0, 1.0]


def test_a_drills_queued_rows_never_count_against_the_real_cap(capped: tuple[Container, TestClient], engine: Engine, clock: FrozenClock) -> None:
    """A drill rehearsing on the production database queues its own rows (applied only by a
    drill's ingester): real webhooks must still be taken up to the cap."""
    _container, client = capped
    with engine.begin() as connection:
        for n in range(CAP * 2):
            connection.execute(
                InboxRow.__table__.insert().values(
                    source="alertmanager", group_key=f"drill-{n}", body="{}", received_at=clock.now(), drill=True
                )
            )
    for n in range(CAP):
        assert post_group(client, n).status_code == 202  # type: ignore[attr-defined]
    assert post_group(client, 99).status_code == 503  # type: ignore[attr-defined]
    with engine.connect() as connection:
        real = connection.execute(select(func.count()).select_from(InboxRow).where(InboxRow.drill.is_(False))).scalar_one()
    assert real == CAP
