"""Crash-restart of delivery: kill -9 the worker mid-delivery, restart, nothing lost or doubled."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select

from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.service.chat_notifications import notify_chat
from bot.service.incidents import IncidentService
from bot.store.db import SessionFactory
from bot.store.models import OutboxRow, TranscriptRow
from tests.support.processes import ROOT, firebreak_env
from tests.support.waiting import wait_until


def start_worker(db_url: str, delay: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.delivery_worker", db_url, str(delay), "1"],
        cwd=ROOT,
        env=firebreak_env(db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process


def count(sessions: SessionFactory, status: str) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).where(OutboxRow.status == status)) or 0)


def test_kill_minus_nine_mid_delivery_then_restart(db_url: str, sessions: SessionFactory) -> None:
    service = IncidentService(sessions, subscribers=[notify_chat])
    for n in range(4):
        incident = service.declare(title=f"incident {n}", severity=Severity.P1, actor="a", source=Source.CONSOLE)
        for m in range(6):
            service.add_note(incident.number, f"note {m} on {n}", actor="a", source=Source.CONSOLE)
    with sessions() as session:
        total = int(session.scalar(select(func.count()).select_from(OutboxRow)) or 0)
    assert total == 4 * 7

    first = start_worker(db_url, delay=0.2)
    try:
        # Kill at a moment when some rows are claimed but not yet answered (mid-delivery).
        wait_until(
            lambda: count(sessions, "delivered") >= 6 and count(sessions, "in_flight") > 0,
            timeout=30,
            what="a kill-able moment mid-delivery",
            explain=lambda: first.stderr.read() if first.poll() is not None else "the worker is running",
        )
    finally:
        first.kill()  # SIGKILL: no cleanup, leases stay held
        first.communicate(timeout=10)
    delivered_before = count(sessions, "delivered")
    assert delivered_before < total

    second = start_worker(db_url, delay=0.0)
    try:
        wait_until(lambda: count(sessions, "delivered") == total, timeout=60, what="every message delivered after the restart")
    finally:
        second.kill()
        second.communicate(timeout=10)

    with sessions() as session:
        outbox_ids = set(session.scalars(select(OutboxRow.id)))
        transcript_ids = list(session.scalars(select(TranscriptRow.outbox_id).where(TranscriptRow.outbox_id.is_not(None))))
        notes = list(session.scalars(select(TranscriptRow.text).where(TranscriptRow.text.like("%note % on %"))))
    assert sorted(transcript_ids) == sorted(outbox_ids)  # every message exactly once
    assert len(notes) == len(set(notes)) == 24
