"""SQLite's single writer is handed over inside the process, and only once it is free."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from bot.store.db import make_engine


def test_writers_never_meet_sqlite_locked_even_without_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")

    @event.listens_for(engine, "connect")
    def no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        # Runs after Firebreak's own connect hook: any overlap now fails at once with
        # "database is locked" instead of hiding in SQLite's sleeping busy handler.
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE hits (n INTEGER)"))
    errors: list[BaseException] = []

    def write(count: int) -> None:
        for n in range(count):
            try:
                with engine.begin() as connection:
                    connection.execute(text("INSERT INTO hits (n) VALUES (:n)"), {"n": n})
            except BaseException as error:
                errors.append(error)

    threads = [threading.Thread(target=write, args=(300,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM hits")).scalar_one()
    engine.dispose()
    assert errors == [], f"{len(errors)} writers met a locked database, e.g. {errors[0]!r}"
    assert stored == 900


def test_a_connection_returned_mid_transaction_gives_the_writer_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'abandoned.db'}")
    connection = engine.connect()
    connection.begin()
    connection.close()  # no commit, no rollback: the pool resets it
    finished = threading.Event()

    def next_writer() -> None:
        with engine.begin() as other:
            other.execute(text("SELECT 1"))
        finished.set()

    thread = threading.Thread(target=next_writer)
    thread.start()
    thread.join(timeout=10)
    engine.dispose()
    assert finished.is_set(), "the next writer waited for a lock nobody holds"
