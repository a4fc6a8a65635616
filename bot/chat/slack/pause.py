"""Pausing Slack delivery when the bot token stops working.

After ``tokens_revoked`` (for the bot), ``app_uninstalled``, or Slack answering a call with
``token_revoked`` / ``invalid_auth`` / ``account_inactive``, every further call would fail
the same way and each failure would burn one of a message's delivery attempts until it is
given up. Instead delivery stops: messages stay queued without spending attempts, and
``/readyz`` and ``/metrics`` say so. The pause belongs to the token (stored by fingerprint,
in the database so every replica stops): installing the app again gives a new token, and a
process started with it delivers the backlog.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.domain.clock import Clock
from bot.store.db import SessionFactory
from bot.store.models import SlackPauseRow

log = logging.getLogger(__name__)

TOKENS_REVOKED = "tokens_revoked"
APP_UNINSTALLED = "app_uninstalled"
AUTH_ERRORS = frozenset({"token_revoked", "invalid_auth", "account_inactive", "not_authed"})
"""Slack error codes that mean the bot token itself no longer works."""

CACHE_SECONDS = 5.0
"""How long a replica trusts its last look; a pause set elsewhere reaches it this late."""


@dataclass(frozen=True)
class PauseState:
    reason: str
    since: datetime
    team_id: str

    def describe(self) -> str:
        why = {
            TOKENS_REVOKED: "the bot token was revoked",
            APP_UNINSTALLED: "the app was uninstalled from the workspace",
        }.get(self.reason, f"Slack refused the bot token ({self.reason})")
        return f"Slack delivery paused since {self.since.isoformat()}: {why}; install the app again and set SLACK_BOT_TOKEN to the new token"


def fingerprint(token: str) -> str:
    """A stable, non-reversible name for a token (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


class DeliveryPause:
    def __init__(self, sessions: SessionFactory, clock: Clock, token: str) -> None:
        self._sessions = sessions
        self._clock = clock
        self._fingerprint = fingerprint(token)
        self._cached: tuple[float, PauseState | None] | None = None

    def pause(self, reason: str, *, team_id: str = "") -> PauseState:
        """Stop delivery with this token; a second pause keeps the first reason and time."""
        row = SlackPauseRow(token_fingerprint=self._fingerprint, reason=reason[:32], team_id=team_id[:32], paused_at=self._clock.now())
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            pass  # already paused (by us or another replica)
        else:
            log.error("slack delivery paused", extra={"reason": reason, "team_id": team_id})
        self._cached = None
        state = self.current()
        assert state is not None
        return state

    def current(self) -> PauseState | None:
        """The pause for this process's token, or None while delivery runs."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < CACHE_SECONDS:
            return self._cached[1]
        with self._sessions() as session:
            row = session.scalar(select(SlackPauseRow).where(SlackPauseRow.token_fingerprint == self._fingerprint))
            state = PauseState(reason=row.reason, since=row.paused_at, team_id=row.team_id) if row is not None else None
        self._cached = (now, state)
        return state
