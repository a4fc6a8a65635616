"""The incident list: open first, then newest; filtered and paged in the database.

Only the columns the list shows are read, one page at a time with a count beside it, so the
first page of 10,000 incidents costs two small queries (see bench/webview_bench.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from bot.domain.incident import Status
from bot.store.models import IncidentRow
from bot.webview.filters import PAGE_SIZE, ListFilters


@dataclass(frozen=True)
class ListedIncident:
    number: int
    title: str
    severity: str
    status: str
    created_at: datetime
    service: str
    commander: str | None
    merged_into: int | None
    drill: bool

    @property
    def ref(self) -> str:
        return f"INC-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status != Status.RESOLVED.value and self.merged_into is None


@dataclass(frozen=True)
class ListPage:
    incidents: list[ListedIncident]
    total: int
    page: int
    pages: int


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def conditions(filters: ListFilters, zone: Any = UTC) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if not filters.drills:
        where.append(IncidentRow.drill.is_(False))
    if filters.status == "open":
        where.append(and_(IncidentRow.status != Status.RESOLVED.value, IncidentRow.merged_into.is_(None)))
    elif filters.status:
        where.append(IncidentRow.status == filters.status)
    if filters.severity:
        where.append(IncidentRow.severity == filters.severity)
    if filters.service:
        where.append(IncidentRow.labels["service"].as_string() == filters.service)
    pair = filters.label_pair
    if pair is not None:
        where.append(IncidentRow.labels[pair[0]].as_string() == pair[1])
    if filters.since:
        where.append(IncidentRow.created_at >= datetime.combine(filters.since, time(), tzinfo=zone))
    if filters.until:
        where.append(IncidentRow.created_at < datetime.combine(filters.until + timedelta(days=1), time(), tzinfo=zone))
    if filters.q:
        pattern = _like(filters.q)
        terms: list[ColumnElement[bool]] = [func.lower(IncidentRow.title).like(pattern, escape="\\")]
        number = filters.q.upper().removeprefix("INC-").lstrip("#")
        if number.isascii() and number.isdigit() and len(number) < 10:
            terms.append(IncidentRow.id == int(number))
        where.append(or_(*terms))
    return where


def _open_first() -> ColumnElement[int]:
    return case((and_(IncidentRow.status != Status.RESOLVED.value, IncidentRow.merged_into.is_(None)), 0), else_=1)


def _page_statement(filters: ListFilters, zone: Any) -> Select[Any]:
    return (
        select(
            IncidentRow.id,
            IncidentRow.title,
            IncidentRow.severity,
            IncidentRow.status,
            IncidentRow.created_at,
            IncidentRow.labels["service"].as_string(),
            IncidentRow.roles["commander"].as_string(),
            IncidentRow.merged_into,
            IncidentRow.drill,
        )
        .where(*conditions(filters, zone))
        .order_by(_open_first(), IncidentRow.id.desc())
        .limit(PAGE_SIZE)
        .offset((filters.page - 1) * PAGE_SIZE)
    )


def list_page(session: Session, filters: ListFilters, *, zone: Any = UTC) -> ListPage:
    total = int(session.scalar(select(func.count()).select_from(IncidentRow).where(*conditions(filters, zone))) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    rows = session.execute(_page_statement(filters, zone)).all()
    incidents = [
        ListedIncident(
            number=number,
            title=title,
            severity=severity,
            status=status,
            created_at=created_at,
            service=service or "",
            commander=commander,
            merged_into=merged_into,
            drill=bool(drill),
        )
        for number, title, severity, status, created_at, service, commander, merged_into, drill in rows
    ]
    return ListPage(incidents=incidents, total=total, page=filters.page, pages=pages)


def services(session: Session) -> list[str]:
    """Service labels seen on incidents, for the filter's suggestions (at most 200)."""
    column = IncidentRow.labels["service"].as_string()
    rows = session.scalars(select(column).where(column.is_not(None)).distinct().order_by(column).limit(200))
    return [value for value in rows if value]
