"""Migration ``0009_alerts_per_group``: from 0008 with data, on SQLite and (``--db=postgres``) PostgreSQL.

An alert is unique per alert group (child), no longer per incident: one alert may arrive in
two groups of one incident.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from bot.store.migrate import upgrade
from tests.support.databases import empty_database

NOW = "2026-01-01 00:00:00"
#: An incident row as 0008 holds it (every NOT NULL column).
INCIDENT = {
    "id": 1, "title": "Disk full", "description": "", "severity": "P2", "status": "triggered", "source": "alertmanager",
    "dedup_key": "am:g1", "created_at": NOW, "updated_at": NOW, "last_activity_at": NOW, "labels": "{}", "links": "{}",
    "roles": "{}", "reopen_count": 0, "escalation_level": 0, "storm": False,
}  # fmt: skip


@pytest.fixture
def fresh(db_backend: str, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own (no migration applied)."""
    with empty_database(db_backend, tmp_path, "mig") as engine:
        yield engine


def add_alert(engine: Engine, group_id: int, fingerprint: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO alerts (incident_id, fingerprint, status, labels, annotations, first_seen_at, updated_at, group_id) "
                "VALUES (1, :fp, 'firing', '{}', '{}', :now, :now, :group)"
            ),
            {"fp": fingerprint, "now": NOW, "group": group_id},
        )


def test_upgrade_from_0008_keeps_the_alerts_and_makes_them_unique_per_child(fresh: Engine) -> None:
    upgrade(fresh, "0008_groups")
    with fresh.begin() as connection:
        connection.execute(text(f"INSERT INTO incidents ({', '.join(INCIDENT)}) VALUES ({', '.join(':' + name for name in INCIDENT)})"), INCIDENT)
        for number, key in ((1, "am:g1"), (2, "am:g2")):
            connection.execute(
                text(
                    "INSERT INTO alert_groups (incident_id, child_number, dedup_key, source, title, labels, correlation, severity, "
                    "status, joined_by, truncated_alerts, joined_at) "
                    "VALUES (1, :n, :key, 'alertmanager', 'Disk full', '{}', '{}', 'P2', 'firing', 'opened', 0, :now)"
                ),
                {"n": number, "key": key, "now": NOW},
            )
    add_alert(fresh, 1, "fp-1")
    with pytest.raises(IntegrityError):  # 0008: one fingerprint per incident
        add_alert(fresh, 2, "fp-1")

    upgrade(fresh, "head")

    add_alert(fresh, 2, "fp-1")  # the same alert in the second child
    with fresh.connect() as connection:
        kept = connection.execute(text("SELECT group_id, fingerprint FROM alerts ORDER BY group_id")).all()
    assert [tuple(row) for row in kept] == [(1, "fp-1"), (2, "fp-1")]
    with pytest.raises(IntegrityError):  # still one row per alert of one child
        add_alert(fresh, 2, "fp-1")
    indexes = {index["name"]: index["column_names"] for index in inspect(fresh).get_indexes("alerts")}
    assert indexes["ix_alerts_incident_fingerprint"] == ["incident_id", "fingerprint"]
