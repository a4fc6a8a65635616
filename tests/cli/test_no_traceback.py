"""Every ``firebreak`` subcommand, given bad arguments, a missing file or a closed stdout,
answers with a message and an exit status, never a traceback.

The subcommands are discovered from the parser, so a new one is covered by the bad-argument
and closed-stdout tests without a change here (``RUNS`` gives it arguments that work).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.container import build_container
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from tests.conftest import make_settings
from tests.support.ports import free_port
from tests.support.processes import ROOT, firebreak_env

TRACEBACK_MARKERS = ("Traceback (most recent call last)", "Exception ignored")


def leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for action in parser._actions:  # argparse has no public walk of subcommands
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += leaf_commands(child, (*prefix, name))
    return found or [prefix]


LEAVES = leaf_commands(build_parser())
#: Arguments that make each command do its ordinary work (and print something).
RUNS: dict[tuple[str, ...], list[str]] = {
    ("export",): ["INC-1"],
    ("incidents", "show"): ["INC-1"],
    ("declare",): ["Checkout is failing", "--sev", "P1"],
    ("playbooks", "import"): [str(ROOT / "tests" / "cli" / "fixtures" / "runbook.md"), "-o", "{tmp}/imported"],
    ("inbox", "retry"): ["--all"],
    ("console",): ["--follow"],
    ("drill", "run"): ["--check", str(ROOT / "tests" / "drill" / "fixtures" / "checkout-latency.yaml")],
    ("drill", "lint"): [str(ROOT / "tests" / "drill" / "fixtures")],
    ("drill", "new"): ["--from-playbook", "high-latency", "--playbooks", str(ROOT / "playbooks")],
}
#: Run forever by design (serve's start-up output is tested in test_cli.py; web and worker
#: refuse SQLite with exit 2, tested in tests/processes/test_web_and_worker.py).
LONG_RUNNING = {("serve",), ("web",), ("worker",)}


def run(args: list[str], env: dict[str, str], *, stdout: int | None = subprocess.PIPE, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, env=env, cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=90
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    text = (result.stdout or "") + result.stderr
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, text


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment for a subprocess, also applied to this one for in-process runs; INC-1 exists."""
    environment = firebreak_env(db_url, FIREBREAK_PLAYBOOKS_DIR=str(ROOT / "playbooks"))
    for name in list(os.environ):
        if name.startswith(("SLACK_", "PAGERDUTY_", "FIREBREAK_", "ALERTMANAGER_")):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    container = build_container(make_settings(db_url), transcript_stream=None)
    container.service.declare(title="A first incident", severity=Severity.P2, actor="test", source=Source.CONSOLE)
    container.close()
    return environment


def in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``firebreak ARGS`` in this process: its exit status, stdout and stderr."""
    try:
        code = main(args)
    except SystemExit as stopped:
        code = int(stopped.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("leaf", LEAVES, ids=" ".join)
def test_bad_arguments_print_usage(leaf: tuple[str, ...], env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = in_process([*leaf, "--no-such-option"], capsys)
    assert code == 2
    assert "usage: firebreak" in err


@pytest.mark.parametrize("leaf", [leaf for leaf in LEAVES if leaf not in LONG_RUNNING], ids=" ".join)
def test_closed_stdout_is_not_a_traceback(leaf: tuple[str, ...], env: dict[str, str], tmp_path: Path) -> None:
    """Like ``firebreak … | head`` after head has gone: every write fails with EPIPE."""
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in RUNS.get(leaf, [])]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = run([*leaf, *args], env, stdout=write_end, stdin="/incident declare From a script P3\n")
    finally:
        os.close(write_end)
    assert result.returncode in (0, 1, 141), result.stderr
    no_traceback(result)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["export", "INC-1", "-o", "/nonexistent/dir/x.md"], "/nonexistent/dir/x.md: No such file or directory"),
        (["export", "INC-99"], "no incident INC-99"),
        (["export", "yesterday"], "not an incident number"),
        (["incidents", "show", "INC-99"], "no incident INC-99"),
        (["incidents", "show", "banana"], "not an incident number"),
        (["playbooks", "import", "/nonexistent/runbook.md"], "/nonexistent/runbook.md"),
        (["playbooks", "lint", "/nonexistent/playbooks"], "/nonexistent/playbooks"),
        (["declare", "   "], "the title is empty"),
        (["declare", "Checkout", "--sev", "P7"], "unknown severity 'P7'"),
        (["serve", "--port", "99999"], "'99999' is not a port"),
        (["incidents", "list", "--limit", "0"], "must be 1 or more"),
    ],
)
def test_missing_files_and_unknown_incidents_are_messages(
    args: list[str], says: str, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = in_process(args, capsys)
    assert code in (1, 2)
    assert says in err


@pytest.mark.parametrize("count", ["3000000000", "9223372036854775808", "9" * 30])
def test_a_count_past_what_a_database_holds_lists_everything(count: str, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """``--limit`` with more than any table holds means all of them: SQLite refused it as an
    'unexpected error', PostgreSQL as a 'database error' that said to check DATABASE_URL."""
    code, out, err = in_process(["incidents", "list", "--limit", count], capsys)
    assert (code, err) == (0, "") and "A first incident" in out
    code, out, err = in_process(["incidents", "show", "INC-1", "--entries", count], capsys)
    assert (code, err) == (0, "") and "declared: A first incident" in out


@pytest.mark.parametrize("row_id", ["3000000000", "9" * 30])
def test_an_inbox_id_past_the_column_is_no_dead_webhook(row_id: str, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = in_process(["inbox", "retry", "--id", row_id], capsys)
    assert code == 1 and "none of these ids is a dead webhook" in err and "database error" not in err, err


def test_a_database_in_a_missing_folder_is_a_message(env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////nonexistent/dir/x.db")
    code, _out, err = in_process(["incidents", "list"], capsys)
    assert code == 2 and "DATABASE_URL" in err


def test_an_unreachable_database_is_a_message(env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    code, _out, err = in_process(["incidents", "list"], capsys)
    assert code == 1 and "database error" in err and "is the database server running" in err


@pytest.mark.parametrize("command", [["incidents", "list"], ["db", "upgrade"], ["serve", "--port", "{port}"]], ids=lambda words: words[0])
def test_a_database_not_created_yet_says_to_create_it(
    command: list[str], env: dict[str, str], db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It said to run `firebreak db upgrade`, which fails the same way."""
    if not db_url.startswith("postgresql"):
        pytest.skip("a server's database (SQLite makes its file)")
    monkeypatch.setenv("DATABASE_URL", db_url.rsplit("/", 1)[0] + "/firebreak_never_created")
    # serve reached it only inside uvicorn's start-up: a traceback and exit 3
    code, _out, err = in_process([word.format(port=free_port()) for word in command], capsys)
    assert code == 1 and "create the database first (createdb firebreak_never_created" in err, err


def test_credentials_the_server_refuses_are_not_called_a_server_that_is_down(
    env: dict[str, str], db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a server's users")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://firebreak_no_such_role@" + db_url.split("@", 1)[1])
    code, _out, err = in_process(["incidents", "list"], capsys)
    assert code == 1 and "the server refused these credentials" in err and "running" not in err, err


def test_a_full_disk_is_not_called_a_wrong_url(env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """With no room left on its disk SQLite cannot open the file for writing ("disk I/O
    error"); the hint was "check DATABASE_URL". A 1 MiB tmpfs needs root to mount."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True, check=False).returncode:
        pytest.skip("mounting a tmpfs needs root")
    try:
        monkeypatch.setenv("ALERTMANAGER_TOKEN", "configured")  # as in production: no token file to write
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{disk / 'firebreak.db'}")
        assert in_process(["db", "upgrade"], capsys)[0] == 0
        with (disk / "filler").open("wb") as filler:
            with contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
        code, _out, err = in_process(["serve", "--port", str(free_port())], capsys)
        assert code == 1 and "is the disk holding the database full?" in err and "check DATABASE_URL" not in err, err
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


@pytest.mark.parametrize("leaf", [("console",), ("declare", "Checkout is failing")], ids=" ".join)
@pytest.mark.parametrize(("user", "says"), [("u" * 256, "at most 100 characters"), ("\x1b\x07 ", "a name is needed")])
def test_a_user_name_that_cannot_be_kept_is_a_usage_error(
    leaf: tuple[str, ...], user: str, says: str, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before anything is written: on PostgreSQL a name past the column's 255 characters
    was a database error that ended the console's script halfway."""
    code, _out, err = in_process([*leaf, "--user", user], capsys)
    assert code == 2 and says in err, err


def test_a_user_name_in_another_encoding_is_kept_as_replacement_characters() -> None:
    """``José`` in Latin-1 reaches Python as a lone surrogate, which no database stores."""
    from bot.cli_types import person

    assert person(b"Jos\xe9".decode("utf-8", "surrogateescape")) == "Jos\ufffd"


@pytest.mark.parametrize(("leaf", "taken", "names"), [(("serve",), "main", "--port or PORT"), (("serve",), "health", "FIREBREAK_HEALTH_PORT"), (("web",), "main", "--port or PORT")])
def test_a_port_already_taken_is_one_line_before_anything_starts(
    leaf: tuple[str, ...], taken: str, names: str, env: dict[str, str], db_url: str
) -> None:
    """uvicorn binds after start-up: the banner said where to send requests, then the process
    ended with status 3 and the reason only in the log."""
    if leaf == ("web",) and db_url.startswith("sqlite"):
        pytest.skip("web refuses SQLite before it binds")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        held = holder.getsockname()[1]
        port, health = (held, free_port()) if taken == "main" else (free_port(), held)
        result = subprocess.run(
            [sys.executable, "-m", "bot", *leaf, "--host", "127.0.0.1", "--port", str(port)],
            env={**env, "FIREBREAK_HEALTH_PORT": str(health)}, cwd=ROOT, capture_output=True, text=True, timeout=90,
        )
    no_traceback(result)
    assert result.returncode == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{held}: Address already in use" in result.stderr and names in result.stderr, result.stderr
    assert "local mode" not in result.stdout and "Firebreak" not in result.stdout, result.stdout
