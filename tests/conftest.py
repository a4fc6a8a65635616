"""Shared fixtures: a clean, migrated database per test, on SQLite or PostgreSQL.

``--db=postgres`` (or FIREBREAK_TEST_DB=postgres) runs the same tests on the PostgreSQL at
127.0.0.1:5432: the session creates its own database and drops it at the end, so nothing
depends on what the server already holds.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.settings import Settings
from bot.store.db import SessionFactory, make_engine, make_session_factory
from bot.store.migrate import upgrade
from bot.store.models import Base
from tests.support.databases import POSTGRES_ADMIN_URL

pytest_plugins = ["tests.fakes.fixtures"]

#: Tests get no playbooks unless they ask (FIREBREAK_PLAYBOOKS_DIR=...), so a change to the
#: starter set in playbooks/ cannot change what unrelated tests see on the timeline.
NO_PLAYBOOKS = Path(__file__).parent / "support" / "no_playbooks"
REPO_PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"



def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default=os.environ.get("FIREBREAK_TEST_DB", "sqlite"),
        help="database the suite runs against",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"firebreak database backend: {config.getoption('--db')}"


@pytest.fixture(scope="session")
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--db"))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One throw-away database for the whole session, created and dropped here."""
    name = f"firebreak_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    from sqlalchemy import create_engine

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.connect() as connection:  # closed here: a leaked one dies noisily at DROP DATABASE … FORCE
        extra = [
            row[0]
            for row in connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
            )
        ]
    names = sorted(set(tables) | set(extra))
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file, migrated once per session: each test gets a copy, as
    running every migration (some rebuild tables) for each test would cost seconds per minute."""
    path = tmp_path_factory.mktemp("template") / "firebreak.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection closing folds the WAL back into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A migrated, empty database for one test."""
    if db_backend == "postgres":
        url = request.getfixturevalue("postgres_database")
        _truncate_all(url)
        return url
    path = tmp_path / "firebreak.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> SessionFactory:
    return make_session_factory(engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC))


def make_settings(db_url: str, **overrides: object) -> Settings:
    """Settings for an in-process container. Summary refreshes are not batched (the tests'
    clock is frozen, so a batched refresh would never fall due); tests/core/test_summary_batching.py
    covers batching."""
    values: dict[str, object] = {
        "DATABASE_URL": db_url,
        "FIREBREAK_LOG_FORMAT": "console",
        "FIREBREAK_PLAYBOOKS_DIR": str(NO_PLAYBOOKS),
        "FIREBREAK_SUMMARY_BATCH_SECONDS": "0",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def transcript() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def container(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO) -> Iterator[Container]:
    built = build_container(make_settings(db_url), clock=clock, transcript_stream=transcript, engine=engine)
    yield built
