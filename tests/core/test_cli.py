"""The ``firebreak`` command as users run it: real processes, real stdin, real signals."""

from __future__ import annotations

import signal

import httpx

from tests.support.processes import Server, firebreak_env, run_firebreak

SCRIPT = """
# a scripted incident
/incident declare Checkout is failing P2
/incident ack
/incident sev P1
/incident role commander @alice
/incident note rolled back release 2026.11.3
/incident frobnicate
/incident mitigate
/incident resolve
"""


def test_console_script_then_incidents_list(db_url: str) -> None:
    env = firebreak_env(db_url)
    result = run_firebreak(["console", "--user", "alice"], env, stdin=SCRIPT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Traceback" not in out + result.stderr
    assert "INC-1 declared: Checkout is failing (P2)" in out
    assert "INC-1 is now acknowledged" in out
    assert "INC-1 is now P1" in out
    assert "unknown command 'frobnicate'" in out and "Usage:" in out
    assert "INC-1 is now resolved" in out
    assert "[#inc-1-checkout-is-failing] 🔄 alice: INC-1 resolved" in out

    listing = run_firebreak(["incidents", "list"], env)
    assert listing.returncode == 0, listing.stderr
    row = [line for line in listing.stdout.splitlines() if line.startswith("INC-1 ")]
    assert row and "P1" in row[0] and "resolved" in row[0] and "Checkout is failing" in row[0]


def test_a_scripts_echoed_lines_reach_the_terminal_without_control_sequences(db_url: str) -> None:
    """The echo of each script line is as clean as the replies: a script from a ticket or a
    chat paste must not clear the screen, retitle the terminal or hide text."""
    hostile = "/incident declare Disk \x1b[2J\x1b]0;PWNED\x07 full \u202e evil \x9b31m P2\r\n/incident note \x1b]8;;https://evil\x1b\\click\x1b]8;;\x1b\\\n"
    result = run_firebreak(["console", "--user", "alice"], firebreak_env(db_url), stdin=hostile)
    assert result.returncode == 0, result.stderr
    echoed = [line for line in result.stdout.splitlines() if line.startswith("firebreak> ")]
    assert len(echoed) == 2, result.stdout
    for text in (result.stdout, *echoed):
        assert not any(ch in text for ch in "\x1b\x07\x9b\u202e\r"), repr(text)
    assert "Disk" in echoed[0] and "full" in echoed[0]


def test_invalid_settings_fail_with_a_clear_message(db_url: str) -> None:
    env = firebreak_env(db_url, FIREBREAK_TIMEZONE="Mars/Olympus", PORT="99999")
    result = run_firebreak(["db", "upgrade"], env)
    assert result.returncode == 2
    assert "FIREBREAK_TIMEZONE: Value error, unknown time zone 'Mars/Olympus'" in result.stderr
    assert "PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_is_idempotent(db_url: str) -> None:
    env = firebreak_env(db_url)
    for _ in range(2):
        result = run_firebreak(["db", "upgrade"], env)
        assert result.returncode == 0, result.stderr


def test_serve_local_mode_ready_then_sigterm(db_url: str) -> None:
    env = firebreak_env(db_url)
    server = Server(env).start()
    try:
        assert httpx.get(server.url + "/readyz").json() == {"status": "ready"}
        assert httpx.get(server.url + "/healthz").status_code == 200
    finally:
        code, out, err = server.terminate()
    # uvicorn re-raises SIGTERM after a clean shutdown, so the exit status is -SIGTERM.
    assert code in (0, -signal.SIGTERM), err
    assert "local mode" in out
    assert "firebreak stopped" in err
    assert "Application shutdown complete" in err
