"""Helpers for webhook tests: an in-process app per container, and table row counts."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.container import Container
from bot.store.models import Base
from bot.web import create_app

TOKEN = "am-secret-token"


class IngestingClient(TestClient):
    """Applies what each request queued before returning, so the test can read the result.

    The server answers a webhook once it is queued in the inbox; its background ingester
    applies it moments later. Tests run no background loops, so this does that step.
    """

    def __init__(self, container: Container) -> None:
        super().__init__(create_app(container, migrate=False, run_worker=False))
        self._container = container

    def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().request(*args, **kwargs)
        before = _ingested_counts(self._container)
        self._container.ingester.apply_all()
        after = _ingested_counts(self._container)
        response.extensions[INGESTED] = sorted(
            outcome for (_source, outcome), count in after.items() for _ in range(int(count - before.get((_source, outcome), 0)))
        )
        return response


INGESTED = "firebreak_ingested"


def ingested(response: Any) -> list[str]:
    """What the ingester made of the webhooks this request queued: created, updated, ..."""
    return list(response.extensions[INGESTED])


def _ingested_counts(container: Container) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for metric in container.metrics.registry.collect():
        if metric.name == "firebreak_ingested":
            for sample in metric.samples:
                if sample.name == "firebreak_ingested_total":
                    counts[(sample.labels["source"], sample.labels["outcome"])] = sample.value
    return counts


def client(container: Container) -> TestClient:
    return IngestingClient(container)


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(password: str = TOKEN, user: str = "alertmanager") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def row_counts(container: Container) -> dict[str, int]:
    """Rows in every table: the proof that a rejected request wrote nothing."""
    with container.sessions() as session:
        return {table.name: int(session.scalar(select(func.count()).select_from(table)) or 0) for table in Base.metadata.sorted_tables}


def rows(container: Container, model: Any, **where: Any) -> list[Any]:
    with container.sessions() as session:
        statement = select(model).filter_by(**where).order_by(model.id)
        return list(session.scalars(statement))
