"""Read-only commands never migrate; the commands that own the schema still do.

``incidents list|show``, ``export`` and ``inbox status`` only look: on a database whose schema
is not the latest (a missing or empty SQLite file, an older revision, a newer one) they stop
with one line telling to run ``firebreak db upgrade`` and change nothing; on a current one
they work. ``db upgrade``, ``declare``, ``console`` and ``serve`` migrate (``web`` and
``worker`` too: tests/processes). Runs on SQLite and, with ``--db=postgres``, PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from bot.cli import main
from bot.settings import Settings
from bot.store.migrate import current_heads, heads, upgrade
from tests.support.databases import empty_database
from tests.support.ports import free_port
from tests.support.processes import ROOT, Server, firebreak_env, run_firebreak

ALIASES = [info.alias for info in Settings.model_fields.values() if info.alias]
READ_ONLY = [["incidents", "list"], ["incidents", "show", "INC-1"], ["export", "INC-1"], ["inbox", "status"]]
IDS = [" ".join(args[:2]) for args in READ_ONLY]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting from the outside; the current folder is the test's own."""
    for alias in ALIASES:
        monkeypatch.delenv(alias, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def database(db_backend: str, env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An empty database of the test's own, which DATABASE_URL points at."""
    with empty_database(db_backend, env, "cli") as engine:
        if engine.dialect.name == "sqlite":
            with engine.connect():  # the file now exists, with no table in it
                pass
        monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
        yield engine


def firebreak(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def tables(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()


@pytest.mark.parametrize("args", READ_ONLY, ids=IDS)
def test_read_only_commands_refuse_an_empty_database_and_leave_it_empty(
    database: Engine, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, _out, err = firebreak(args, capsys)
    assert code == 1
    command = " ".join(part for part in args if not part.startswith("INC-"))
    assert err.startswith(f"firebreak {command}: the database has no Firebreak schema yet")
    assert "run `firebreak db upgrade`" in err
    assert err.count("\n") == 1  # one line, no traceback
    assert tables(database) == []


@pytest.mark.parametrize("args", READ_ONLY, ids=IDS)
def test_read_only_commands_refuse_an_older_schema_and_leave_it_as_it_was(
    database: Engine, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    upgrade(database, "0012_drill_flag")
    code, _out, err = firebreak(args, capsys)
    assert code == 1
    assert "the database schema is behind this Firebreak (at 0012_drill_flag" in err
    assert "run `firebreak db upgrade`" in err
    assert current_heads(database) == {"0012_drill_flag"}


def test_read_only_commands_refuse_a_schema_newer_than_they_know(database: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    upgrade(database)
    with database.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    code, _out, err = firebreak(["incidents", "list"], capsys)
    assert code == 1
    assert "(9999_from_the_future) is newer than this Firebreak knows: upgrade Firebreak" in err


def test_read_only_commands_do_not_create_a_missing_sqlite_file(env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    missing = env / "nothing-here.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    for args in READ_ONLY:
        code, _out, err = firebreak(args, capsys)
        assert code == 1, args
        assert f"there is no database at {missing} yet: run `firebreak db upgrade`" in err
    assert not missing.exists()


def test_playbooks_lint_needs_no_database(env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    missing = env / "nothing-here.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    code, out, err = firebreak(["playbooks", "lint", str(ROOT / "playbooks")], capsys)
    assert code == 0, err
    assert out
    assert not missing.exists()


def test_after_db_upgrade_and_a_declare_the_read_only_commands_work(database: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = firebreak(["db", "upgrade"], capsys)
    assert (code, out) == (0, "database is at the latest schema\n")
    assert current_heads(database) == set(heads())
    assert firebreak(["declare", "Checkout is failing", "--sev", "P1"], capsys)[1].startswith("INC-1 declared")

    code, out, err = firebreak(["incidents", "list"], capsys)
    assert code == 0, err
    assert "Checkout is failing" in out
    code, out, err = firebreak(["incidents", "show", "INC-1"], capsys)
    assert code == 0, err
    assert "Checkout is failing" in out
    code, out, err = firebreak(["export", "INC-1", "--format", "json"], capsys)
    assert code == 0, err
    assert '"Checkout is failing"' in out
    code, out, err = firebreak(["inbox", "status"], capsys)
    assert (code, out) == (0, "pending: 0; dead: 0\n"), err


@pytest.mark.parametrize(
    "args", [["db", "upgrade"], ["declare", "Checkout is failing"], ["inbox", "retry", "--all"], ["console"]], ids=lambda a: " ".join(a[:2])
)
def test_commands_that_own_or_write_the_schema_migrate_an_older_one(
    database: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    upgrade(database, "0012_drill_flag")
    monkeypatch.setattr("sys.stdin", None)  # console: an empty script
    main(args)
    capsys.readouterr()
    assert current_heads(database) == set(heads())


def test_serve_migrates_an_older_schema(database: Engine) -> None:
    """``serve`` on SQLite here; ``web`` and ``worker`` on PostgreSQL migrate under the advisory lock (tests/processes)."""
    upgrade(database, "0012_drill_flag")
    with Server(firebreak_env(database.url.render_as_string(hide_password=False))):
        assert current_heads(database) == set(heads())


def _from_the_future(database: Engine) -> None:
    upgrade(database)
    with database.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))


@pytest.mark.parametrize("args", [["db", "upgrade"], ["declare", "Checkout is failing"], ["inbox", "apply"]], ids=lambda a: " ".join(a[:2]))
def test_commands_that_migrate_refuse_a_schema_newer_than_they_know_in_one_line(
    database: Engine, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """A Firebreak rolled back after an upgrade: what to do, not an alembic error."""
    _from_the_future(database)
    code, _out, err = firebreak(args, capsys)
    assert code == 1
    assert "(9999_from_the_future) is newer than this Firebreak knows: upgrade Firebreak" in err
    assert "unexpected error" not in err and "CommandError" not in err
    assert current_heads(database) == {"9999_from_the_future"}


def test_serve_refuses_a_schema_newer_than_it_knows_in_one_line(database: Engine) -> None:
    _from_the_future(database)
    env = firebreak_env(database.url.render_as_string(hide_password=False), ALERTMANAGER_TOKEN="schema-check-token-0123456789")
    result = run_firebreak(["serve", "--port", str(free_port())], env, timeout=60)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "firebreak serve: the database schema (9999_from_the_future) is newer than this Firebreak knows" in result.stderr
    assert "Traceback" not in result.stderr
