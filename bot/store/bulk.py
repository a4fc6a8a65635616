"""Many rows in one INSERT on PostgreSQL, sent as one JSON document.

SQLAlchemy's "insertmanyvalues" renders ``VALUES (...), (...), …`` with a parameter per
column per row: a 100-entry timeline append is a 1,000-parameter statement whose text
differs with every row count. psycopg caches its parsing of a statement only up to 50
parameters, so each such INSERT was parsed again and each parameter adapted on its own in
Python: about a fifth of what applying a webhook cost the worker. Here the rows go as one
JSON array and ``jsonb_to_recordset`` turns it back into typed rows in the database: one
statement text per table, one parameter. The array is encoded by orjson, which writes
timestamps itself (the json module calls back into Python for each one: a tenth of the
speed). For a 100-row timeline append that is about a sixth of the client CPU, and about
the same in the server (measured in docs/development.md). Arrays per column (``unnest``) were tried too:
psycopg adapts each array item in Python, which saved little.

Row order: ``INSERT … SELECT`` takes ids from the sequence as it produces rows, in the
array's order, so sorting the returned ids gives them in the order of the rows given
(other transactions may take ids in between, never out of order within the statement).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, FromClause
from sqlalchemy.dialects import postgresql

#: Dict keys that are not strings become strings, as the json module (and so SQLAlchemy's
#: JSON type) writes them.
_OPTIONS = orjson.OPT_NON_STR_KEYS


def _utc(value: datetime | None) -> datetime | None:
    """A timestamp as ``UtcDateTime`` sends it: in UTC, a naive one taken as UTC. Never with
    the offset it came with: PostgreSQL refuses displacements past 15:59, which RFC 3339 (and
    Python) allow, e.g. an alert's ``startsAt`` of ``…+20:00``."""
    if value is None or value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _document(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """The rows as one JSON array of objects holding ``columns`` (a missing one is null),
    timestamp columns in UTC.

    A float JSON cannot hold (NaN, infinity) is written as null: stored, where a ``jsonb``
    value holding it would have been refused with the whole transaction."""
    stamps = [name for name, pg_type in columns if pg_type == "timestamptz"]
    picked = [{name: row.get(name) for name, _type in columns} for row in rows]
    for row in picked:
        for name in stamps:
            row[name] = _utc(row[name])
    return orjson.dumps(picked, option=_OPTIONS).decode()


def columns_of(table: FromClause, names: Sequence[str] | None = None) -> tuple[tuple[str, str], ...]:
    """(name, PostgreSQL type) of ``table``'s columns (``names``, else all but ``id``), as
    ``insert_rows`` takes them. Character columns are read as ``text``: the INSERT's own
    conversion to ``varchar(n)`` then refuses a value too long, as a plain INSERT does."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    chosen = [table.c[name] for name in names] if names is not None else [column for column in table.columns if column.name != "id"]
    pairs = []
    for column in chosen:
        compiled = column.type.compile(dialect=dialect).lower()
        pg_type = "text" if compiled.startswith("varchar") else "timestamptz" if compiled == "timestamp with time zone" else compiled
        pairs.append((column.name, pg_type))
    return tuple(pairs)


@lru_cache(maxsize=64)
def _statement(table: str, columns: tuple[tuple[str, str], ...], returning: str | None) -> str:
    names = ", ".join(name for name, _type in columns)
    record = ", ".join(f"{name} {pg_type}" for name, pg_type in columns)
    tail = f" RETURNING {returning}" if returning else ""
    return f"INSERT INTO {table} ({names}) SELECT {names} FROM jsonb_to_recordset(%(rows)s::jsonb) AS given({record}){tail}"


def insert_rows(
    connection: Connection, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Mapping[str, Any]], *, returning: str | None = None
) -> list[Any]:
    """Insert ``rows`` (dicts by column name; a missing key is NULL) into ``table`` on
    PostgreSQL. ``columns`` are (name, PostgreSQL type) pairs, names as in the schema (never
    from input). With ``returning`` (an integer key column), its values in the order of
    ``rows``; else an empty list."""
    if not rows:
        return []
    document = _document(rows, columns)
    result = connection.exec_driver_sql(_statement(table, tuple(columns), returning), {"rows": document})
    return sorted(result.scalars()) if returning else []


@lru_cache(maxsize=64)
def _update_statement(table: str, keys: tuple[tuple[str, str], ...], columns: tuple[tuple[str, str], ...]) -> str:
    record = ", ".join(f"{name} {pg_type}" for name, pg_type in keys + columns)
    assignments = ", ".join(f"{name} = given.{name}" for name, _type in columns)
    match = " AND ".join(f"{table}.{name} = given.{name}" for name, _type in keys)
    return f"UPDATE {table} SET {assignments} FROM jsonb_to_recordset(%(rows)s::jsonb) AS given({record}) WHERE {match}"


def update_rows(
    connection: Connection, table: str, keys: Sequence[tuple[str, str]], columns: Sequence[tuple[str, str]], rows: Sequence[Mapping[str, Any]]
) -> int:
    """Set ``columns`` of the rows of ``table`` that ``keys`` pick, each to its own values,
    in one statement on PostgreSQL (as ``insert_rows``; one entry per key). Returns the
    number of rows updated."""
    if not rows:
        return 0
    document = _document(rows, (*keys, *columns))
    result = connection.exec_driver_sql(_update_statement(table, tuple(keys), tuple(columns)), {"rows": document})
    return int(result.rowcount)
