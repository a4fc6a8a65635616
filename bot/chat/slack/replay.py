"""Apply each Slack request once: a claim per signature, ``event_id`` and ``envelope_id``.

A signed request stays valid for Slack's five-minute window, so a captured slash command
could be replayed until then; the Events API retries an event it thinks we missed (with
``X-Slack-Retry-Num``, a fresh signature and the same ``event_id``); Socket Mode redelivers
an envelope whose acknowledgement it did not see. Each of these is claimed in the database
(a primary key, so every replica sees the same claim and only one wins) and kept until the
sender can no longer send it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.store.db import SessionFactory
from bot.store.models import SlackSeenRequestRow

SIGNATURE_WINDOW_SECONDS = 300
"""Slack's tolerance for ``X-Slack-Request-Timestamp`` on either side of now."""

RETRY_WINDOW_SECONDS = 3600
"""Events API retries come at once, after a minute and after five; an hour is ample."""


@dataclass(frozen=True)
class Claim:
    """One thing that must be applied only once, and until when a repeat can arrive."""

    key: str
    until: float


def signature_claim(signature: str, timestamp: int) -> Claim:
    """A signature is accepted while its timestamp is within the window of now."""
    return Claim(f"sig:{signature[:150]}", float(timestamp + SIGNATURE_WINDOW_SECONDS))


def event_claim(body: Mapping[str, Any], now: float) -> Claim | None:
    """An Events API delivery is one ``event_id``, however often Slack retries it."""
    if not isinstance(body, Mapping):
        return None
    event_id = body.get("event_id")
    if body.get("type") != "event_callback" or not isinstance(event_id, str) or not event_id:
        return None
    return Claim(f"event:{event_id[:150]}", now + RETRY_WINDOW_SECONDS)


def envelope_claim(envelope_id: str, now: float) -> Claim:
    return Claim(f"envelope:{envelope_id[:150]}", now + RETRY_WINDOW_SECONDS)


class SeenRequests:
    """Claims on request keys, shared by every replica through the database."""

    def __init__(self, sessions: SessionFactory, *, now: Callable[[], float] = time.time) -> None:
        self._sessions = sessions
        self._now = now

    def now(self) -> float:
        return self._now()

    def claim(self, claims: Sequence[Claim]) -> bool:
        """True when none of ``claims`` was made before (apply the request): all are then
        recorded together. False for a repeat, and nothing is recorded.

        An expired claim is forgotten first, so the table only holds the live window.
        """
        now = _utc(self._now())
        try:
            with self._sessions.begin() as session:
                session.execute(delete(SlackSeenRequestRow).where(SlackSeenRequestRow.expires_at < now))
                for claim in claims:
                    session.add(SlackSeenRequestRow(key=claim.key, expires_at=_utc(claim.until)))
                session.flush()
        except IntegrityError:
            return False
        return True

    def release(self, claims: Sequence[Claim]) -> None:
        """Forget claims whose request was not applied, so a retry of it is."""
        keys = [claim.key for claim in claims]
        if not keys:
            return
        with self._sessions.begin() as session:
            session.execute(delete(SlackSeenRequestRow).where(SlackSeenRequestRow.key.in_(keys)))


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
