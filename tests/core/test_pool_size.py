"""``FIREBREAK_DB_POOL_MAX`` caps the connections one process opens on PostgreSQL.

Two web and two worker processes at the default (30 pooled connections each) could take
every connection of a server with a small ``max_connections``; then readiness probes and
deliveries failed while the webhook writer's own connection still stored webhooks.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.pool import QueuePool

from bot.container import build_container
from tests.conftest import make_settings


def sizes(url: str, **settings: object) -> tuple[int, int]:
    """(connections kept open, more opened at most) of a container's pool."""
    pool = pool_of(url, **settings)
    return pool.size(), pool._max_overflow


def pool_of(url: str, **settings: object) -> QueuePool:
    container = build_container(make_settings(url, **settings), transcript_stream=None)
    try:
        pool = container.engine.pool
        assert isinstance(pool, QueuePool)
        return pool
    finally:
        container.close()


def test_the_default_is_ten_kept_and_thirty_at_most(db_url: str, db_backend: str) -> None:
    if db_backend != "postgres":
        pytest.skip("SQLite's file connections are not pooled this way")
    assert sizes(db_url) == (10, 20)


def test_a_lower_cap_keeps_fewer_and_opens_no_more(db_url: str, db_backend: str) -> None:
    if db_backend != "postgres":
        pytest.skip("SQLite's file connections are not pooled this way")
    assert sizes(db_url, FIREBREAK_DB_POOL_MAX="4") == (4, 0)
    assert sizes(db_url, FIREBREAK_DB_POOL_MAX="15") == (10, 5)


@pytest.mark.parametrize("value", ["1", "0", "-3", "1001", "many"])
def test_a_cap_out_of_range_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="FIREBREAK_DB_POOL_MAX"):
        make_settings("sqlite://", FIREBREAK_DB_POOL_MAX=value)
