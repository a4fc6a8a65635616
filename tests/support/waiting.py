"""Waiting for a condition, never for a fixed time: the one place tests poll.

A test that sleeps "long enough" is slow when the machine is idle and flaky when it is busy;
these poll a condition instead and fail with what was awaited (and, with ``explain``, the
state that was seen) once a bounded timeout has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

T = TypeVar("T")


def _timed_out(what: str, timeout: float, explain: Callable[[], object] | None) -> AssertionError:
    return AssertionError(f"{what} not met within {timeout} s" + (f": {explain()}" if explain else ""))


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str = "condition",
    explain: Callable[[], object] | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy, and return that; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, explain)
        time.sleep(interval)


async def eventually(
    check: Callable[[], T],
    *,
    timeout: float = 5.0,
    interval: float = 0.02,
    what: str = "condition",
    explain: Callable[[], object] | None = None,
) -> T:
    """:func:`wait_until` inside an event loop: the loop's other tasks (an app's listeners) run
    between the checks, and ``check`` itself runs in a thread, as it may block on the database."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if loop.time() > deadline:
            raise _timed_out(what, timeout, explain)
        await asyncio.sleep(interval)


@asynccontextmanager
async def new_tasks_finish(*, timeout: float = 5.0) -> AsyncIterator[None]:
    """On leaving the block, wait until every task started inside it has finished (and the
    tasks those started): e.g. the listeners an app runs after it already answered a request.

    For checks that something did *not* happen: the work that could have done it is over,
    instead of a sleep that hopes it would have been by then.
    """
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending := [task for task in asyncio.all_tasks() - before if task is not current and not task.done()]:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"tasks still running after {timeout} s: {[task.get_name() for task in pending]}")
        await asyncio.wait(pending, timeout=left)
