"""Grafana's contact-point test: answered, logged and confirmed in chat, never an incident.

Pressing "Test" on a Grafana webhook contact point sends one made-up alert. Opening an
incident for it would page people for nothing; dropping it silently would leave whoever
pressed the button wondering whether Firebreak got it. So it gets one line in the
announcements channel, queued through the outbox like every other chat message.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from sqlalchemy.orm import Session

from bot.chat import operations as ops
from bot.ingest.alertmanager.models import AlertGroup

log = logging.getLogger(__name__)

OUTCOME = "test_notification"
_RECEIVER_LIMIT = 80


def _printable(text: str) -> str:
    """The receiver name as one short line of printable characters."""
    return "".join(char for char in text if char.isprintable())[:_RECEIVER_LIMIT]


def announce_grafana_test(session: Session, group: AlertGroup, *, now: datetime) -> str:
    receiver = _printable(group.receiver) or "(unnamed)"
    log.info(
        "Grafana contact-point test received; no incident opened",
        extra={"org_id": group.org_id, "receiver": receiver, "source": group.source},
    )
    text = (
        f"Grafana contact-point test received from org {group.org_id}, contact point {receiver!r} "
        f"(source {group.source}): alerts from it will reach Firebreak. No incident was opened."
    )
    key = "chat:notice:grafana-test:" + hashlib.sha256(group.dedup_key.encode()).hexdigest()[:32]
    ops.enqueue_chat(session, ops.NOTICE, {"text": text}, key=key, now=now)
    return OUTCOME
