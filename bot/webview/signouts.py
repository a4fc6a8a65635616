"""Sessions signed out: a sign-out records the session's id until its cookie would expire,
so a copy of the cookie (another tab, a stolen one) is refused on every replica after it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from bot.store.models import WebSignoutRow


def is_signed_out(db: DbSession, session_id: str) -> bool:
    return db.execute(select(WebSignoutRow.session_id).where(WebSignoutRow.session_id == session_id)).first() is not None


def sign_out(db: DbSession, session_id: str, expires: int) -> None:
    """Record ``session_id`` and forget the sign-outs whose cookies have expired anyway."""
    now = datetime.now(UTC)
    db.execute(delete(WebSignoutRow).where(WebSignoutRow.expires_at < now))
    if db.get(WebSignoutRow, session_id) is None:
        db.add(WebSignoutRow(session_id=session_id, expires_at=datetime.fromtimestamp(expires, UTC)))
