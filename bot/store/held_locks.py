"""Rows locked (``SELECT … FOR UPDATE``) earlier in the session's current transaction.

An ingester applying many alert groups in one transaction locks what they will need in one
statement per table, in id order; the code applying each group then takes its rows from
here instead of locking them again, one round trip each. The record belongs to the
transaction it was made in: once that ends, the same session locks afresh.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

from sqlalchemy.orm import Session

Row = TypeVar("Row")

_KEY = "firebreak_held_locks"


def hold(session: Session, table: str, rows: Mapping[Any, Any]) -> None:
    """Record ``rows`` (by key) as locked by the session's transaction (and keep them alive:
    the identity map holds rows weakly). Not inside a savepoint: rolling it back would
    release the locks while the record stayed."""
    if session.in_nested_transaction():
        return
    transaction = session.get_transaction()
    record = session.info.get(_KEY)
    if record is None or record[0] is not transaction:
        record = (transaction, {})
        session.info[_KEY] = record
    tables: dict[str, dict[Hashable, Any]] = record[1]
    tables.setdefault(table, {}).update(rows)


def held(session: Session, table: str, key: Hashable, kind: type[Row]) -> Row | None:
    """The row of ``table`` under ``key`` if this transaction locked it already, else None."""
    record = session.info.get(_KEY)
    if record is None or record[0] is not session.get_transaction():
        return None
    row = record[1].get(table, {}).get(key)
    return row if isinstance(row, kind) else None
