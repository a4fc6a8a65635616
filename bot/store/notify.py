"""Waking workers from PostgreSQL notifications (LISTEN/NOTIFY), with the poll as fallback.

Migration ``0010_notify`` makes every insert into ``inbox`` and ``outbox`` notify
``firebreak_inbox`` / ``firebreak_outbox`` when its transaction commits. A worker process
keeps one dedicated autocommit connection (psycopg, outside the SQLAlchemy pool) that
LISTENs on both and wakes the ingester or the delivery worker at once, instead of at their
next poll. If the connection drops it reconnects with backoff, and after every (re)connect
it wakes everything once, since notifications sent while it was away are lost; the loops'
own polls (``FIREBREAK_INBOX_POLL_SECONDS``, ``FIREBREAK_OUTBOX_POLL_SECONDS``) keep
everything moving meanwhile. The escalation scheduler needs no notification: its rows come
due minutes after they are written, and it checks every second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import psycopg
from sqlalchemy.engine import URL

from bot.delivery.retry import backoff_seconds
from bot.logs import STATE_CHANGE

log = logging.getLogger(__name__)

INBOX_CHANNEL = "firebreak_inbox"
OUTBOX_CHANNEL = "firebreak_outbox"
#: How often the listener looks up from waiting to check whether it should stop.
CHECK_SECONDS = 1.0
#: ``application_name`` of the listening connection (find it in ``pg_stat_activity``).
APPLICATION_NAME = "firebreak-listen"


def conninfo(url: URL) -> str:
    """The libpq URL psycopg connects with, from SQLAlchemy's (``postgresql+psycopg://…``)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class NotificationListener:
    """``async def run(stop)``: LISTEN on each channel of ``wakeups`` and call its function."""

    def __init__(self, url: URL, wakeups: Mapping[str, Callable[[], None]]) -> None:
        self._conninfo = conninfo(url)
        self._wakeups = dict(wakeups)
        #: Times a connection was made and LISTENing (the first included).
        self.connections = 0

    def _wake_all(self) -> None:
        for wake in self._wakeups.values():
            wake()

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self._listen(stop)
                return
            except (psycopg.Error, OSError) as error:
                failures += 1
                delay = backoff_seconds(failures, base=0.5, cap=10.0)
                log.warning(
                    "database notifications lost; polling until reconnected",
                    extra={"error": type(error).__name__, "detail": str(error)[:300], "retry_in": round(delay, 2)},
                )
                self._wake_all()
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass

    async def _listen(self, stop: asyncio.Event) -> None:
        connection = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name=APPLICATION_NAME, connect_timeout=5, keepalives=1, keepalives_idle=30
        )
        async with connection:
            for channel in self._wakeups:
                await connection.execute(f'LISTEN "{channel}"')
            self.connections += 1
            log.info("listening for database notifications", extra={"channels": sorted(self._wakeups), "connections": self.connections, **STATE_CHANGE})
            # Whatever was queued while not listening (start, or a drop) is picked up now.
            self._wake_all()
            while not stop.is_set():
                async for notification in connection.notifies(timeout=CHECK_SECONDS):
                    wake = self._wakeups.get(notification.channel)
                    if wake is not None:
                        wake()
                    if stop.is_set():
                        break
