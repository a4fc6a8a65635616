"""The minimal reference endpoint the ingest benchmark compares Firebreak with.

Starlette + uvicorn that parses the Alertmanager JSON and inserts one row per alert with
SQLAlchemy: the least any webhook receiver that stores what it gets must do.
Run: REFERENCE_DATABASE_URL=sqlite:///ref.db uvicorn bench.reference_app:app
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Integer, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class Base(DeclarativeBase):
    pass


class ReferenceAlert(Base):
    __tablename__ = "reference_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_key: Mapped[str] = mapped_column(String(512))
    fingerprint: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    labels: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


URL = os.environ.get("REFERENCE_DATABASE_URL", "sqlite:///reference.db")
engine = create_engine(URL, connect_args={"check_same_thread": False} if URL.startswith("sqlite") else {}, pool_size=10)
if URL.startswith("sqlite"):
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
Base.metadata.create_all(engine)
Sessions = sessionmaker(engine)


def store(payload: dict) -> int:
    now = datetime.now(UTC)
    with Sessions.begin() as session:
        session.add_all(
            ReferenceAlert(
                group_key=payload["groupKey"],
                fingerprint=alert.get("fingerprint", ""),
                status=alert["status"],
                labels=alert.get("labels", {}),
                received_at=now,
            )
            for alert in payload["alerts"]
        )
    return len(payload["alerts"])


async def receive(request: Request) -> JSONResponse:
    payload = json.loads(await request.body())
    count = await run_in_threadpool(store, payload)
    return JSONResponse({"stored": count})


app = Starlette(routes=[Route("/webhooks/alertmanager", receive, methods=["POST"])])
