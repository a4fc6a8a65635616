"""How a background loop reports a failed tick it will retry.

Through a database outage every loop fails once a minute or so (the repeated-lines filter
holds back the rest); a full traceback each time buried the line that said what was wrong.
An outage is one line naming the error; a fault in the code keeps its traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.guided.deadlines import DeadlineTicker
from bot.ingest.ingester import Ingester
from bot.store.trouble import database_unavailable, log_retrying

OUTAGE = OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


class FailingTicker(DeadlineTicker):
    def __init__(self, error: Exception, stop: asyncio.Event) -> None:
        super().__init__(service=None, poll_seconds=0.01)  # type: ignore[arg-type]
        self.error, self.stop = error, stop

    def tick(self) -> int:
        self.stop.set()
        raise self.error


def run_once(error: Exception) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        await asyncio.wait_for(FailingTicker(error, stop).run(stop), timeout=10)

    asyncio.run(main())


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "bot.guided.deadlines"]


def test_an_outage_is_one_line_with_the_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    run_once(OUTAGE)
    (record,) = records(caplog)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == "step deadline tick failed; retrying: the database is unavailable"
    extra: Any = record
    assert extra.error == "OperationalError" and "connection refused" in extra.detail


def test_a_fault_in_the_code_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    run_once(KeyError("number"))
    (record,) = records(caplog)
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.getMessage() == "step deadline tick failed; retrying"


def test_what_counts_as_the_database_being_unavailable() -> None:
    assert database_unavailable(OUTAGE)
    assert database_unavailable(TimeoutError()) and database_unavailable(ConnectionResetError())
    assert not database_unavailable(KeyError("x")) and not database_unavailable(ValueError("bad row"))


def test_extra_fields_reach_the_record(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.loops")
    caplog.set_level(logging.WARNING, logger="tests.loops")
    log_retrying(log, "escalation failed", OUTAGE, incident=7)
    (record,) = [record for record in caplog.records if record.name == "tests.loops"]
    extra: Any = record
    assert extra.incident == 7 and extra.error == "OperationalError"


class FailingIngester(Ingester):
    def __init__(self, error: Exception, stop: asyncio.Event) -> None:
        super().__init__(sessions=None)  # type: ignore[arg-type]
        self.error, self.stop = error, stop

    def apply_pending(self, stopping: Callable[[], bool] = lambda: False) -> int:
        self.stop.set()
        raise self.error


@pytest.mark.parametrize(("error", "level", "traceback"), [(OUTAGE, logging.WARNING, False), (KeyError("number"), logging.ERROR, True)])
def test_the_ingester_reports_a_failed_pass_as_every_loop_does(caplog: pytest.LogCaptureFixture, error: Exception, level: int, traceback: bool) -> None:
    """It logged a warning without the traceback for anything, a fault in the code included."""
    caplog.set_level(logging.WARNING)

    async def main() -> None:
        stop = asyncio.Event()
        await asyncio.wait_for(FailingIngester(error, stop).run(stop), timeout=10)

    asyncio.run(main())
    (record,) = [record for record in caplog.records if record.name == "bot.ingest.ingester"]
    assert record.levelno == level and (record.exc_info is not None) is traceback
    assert record.getMessage().startswith("ingest pass failed; webhooks stay queued; retrying")
