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


def client(container: Container) -> TestClient:
    return TestClient(create_app(container, migrate=False, run_worker=False))


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
