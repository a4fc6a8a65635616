"""Secrets never reach the logs, whatever path they take."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import RepeatThrottle, configure_logging


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]):
    """Configure inside the test's call phase, where capsys owns stderr."""

    def configure():
        configure_logging(fmt="json", secrets=["s3cr3t-signing", "pd-token-value"])
        return lambda: [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]

    yield configure
    logging.getLogger().handlers.clear()


def test_configured_secrets_and_token_shapes_are_masked(logged) -> None:
    read = logged()
    log = logging.getLogger("bot.test")
    log.warning("calling slack with xoxb-1234-5678-abcdef and secret s3cr3t-signing")
    log.warning("pd call", extra={"authorization": "Token token=pd-token-value", "url": "https://x/?k=pd-token-value"})
    log.error("header Bearer abc.def.ghi failed")
    lines = read()
    text = json.dumps(lines)
    for secret in ("xoxb-1234-5678-abcdef", "s3cr3t-signing", "pd-token-value", "abc.def.ghi"):
        assert secret not in text
    assert lines[0]["event"] == "calling slack with *** and secret ***"
    assert lines[1]["authorization"] == "***" and lines[1]["url"] == "https://x/?k=***"
    assert lines[0]["level"] == "warning" and lines[0]["logger"] == "bot.test"


def test_exceptions_are_masked_too(logged) -> None:
    read = logged()
    try:
        raise RuntimeError("auth failed for xapp-1-AAAA-bbbb")
    except RuntimeError:
        logging.getLogger("bot.test").exception("boom")
    line = read()[0]
    assert "xapp-1-AAAA-bbbb" not in json.dumps(line)
    assert "RuntimeError" in line["exception"]


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_identical_lines_are_throttled_with_a_count(logged) -> None:
    read = logged()
    ticks = Ticks()
    handler = logging.getLogger().handlers[0]
    handler.filters[:] = [RepeatThrottle(window=60, clock=ticks)]
    noisy = logging.getLogger("asyncio")
    for second in range(600):  # ten minutes of the event loop failing accept() once a second
        ticks.now = float(second)
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            noisy.error("socket.accept() out of system resource", exc_info=True)
        if second % 100 == 0:
            logging.getLogger("bot.test").warning("different line %d", second)
    lines = read()
    accept_lines = [line for line in lines if line["event"] == "socket.accept() out of system resource"]
    assert len(accept_lines) == 10  # one a minute, not 600
    assert "repeated" not in accept_lines[0]
    assert [line["repeated"] for line in accept_lines[1:]] == [59] * 9
    assert [line["event"] for line in lines if line["logger"] == "bot.test"] == [f"different line {n}" for n in range(0, 600, 100)]


def test_the_throttle_forgets_the_oldest_lines_beyond_its_memory() -> None:
    throttle = RepeatThrottle(window=60, max_keys=3, clock=Ticks())
    records = [logging.makeLogRecord({"name": "x", "levelno": 30, "msg": f"line {n}"}) for n in range(5)]
    assert all(throttle.filter(record) for record in records)
    assert throttle.filter(records[0])  # forgotten, so let through again
    assert not throttle.filter(records[4])  # remembered: held back


def test_a_stuck_scheduler_job_is_throttled_although_each_warning_names_its_next_run(logged) -> None:
    """While the database hangs, APScheduler warns every second that the escalation tick is
    still running; the job's text changes each time (its next run time), the line does not."""
    read = logged()
    ticks = Ticks()
    logging.getLogger().handlers[0].filters[:] = [RepeatThrottle(window=60, clock=ticks)]
    scheduler = logging.getLogger("apscheduler.scheduler")
    for second in range(120):
        ticks.now = float(second)
        job = f"EscalationRunner._tick_job (trigger: interval[0:00:01], next run at: 2026-12-02 11:{second // 60:02d}:{second % 60:02d} UTC)"
        scheduler.warning('Execution of job "%s" skipped: maximum number of running instances reached (%d)', job, 1)
    lines = [line for line in read() if line["logger"] == "apscheduler.scheduler"]
    assert len(lines) == 2, len(lines)  # one a minute, not 120
    assert lines[1]["repeated"] == 59
    assert "next run at: 2026-12-02 11:00:00" in lines[0]["event"]


def test_our_own_lines_with_different_arguments_are_not_merged(logged) -> None:
    read = logged()
    registry = logging.getLogger("bot.playbooks.registry")
    for name in ("a.yaml", "b.yaml"):
        registry.warning("playbook skipped: %s", name)
    assert [line["event"] for line in read()] == ["playbook skipped: a.yaml", "playbook skipped: b.yaml"]
