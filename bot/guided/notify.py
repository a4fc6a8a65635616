"""Show the guide in chat when a playbook is attached and when a phase is completed.

A subscriber like :func:`bot.service.chat_notifications.notify_chat` (and registered after it,
so the guide follows the "playbook attached" / "step done" line in the conversation). The
``post`` payload carries the rendered text for plain backends and the view model as JSON
(``data.guide``, see :meth:`GuideView.to_dict`) for Slack to build buttons from.
"""

from __future__ import annotations

from bot.delivery.outbox import enqueue
from bot.domain.timeline import EntryKind, Source
from bot.guided.service import SYSTEM_ACTOR, GuidedSteps
from bot.playbooks.guide import render_guide
from bot.service.changes import Change, Subscriber
from bot.service.chat_notifications import CHAT, POST, ordering_key

GUIDE_KIND = "playbook_guide"
_STEP_KINDS = (EntryKind.STEP_DONE, EntryKind.STEP_SKIPPED)


def guide_poster(guided: GuidedSteps) -> Subscriber:
    def post_guide(change: Change) -> None:
        trigger = next(
            (
                recorded
                for recorded in reversed(change.entries)
                if recorded.entry.kind is EntryKind.PLAYBOOK_ATTACHED
                or (recorded.entry.kind in _STEP_KINDS and recorded.entry.data.get("phase_completed"))
            ),
            None,
        )
        if trigger is None:
            return
        view = guided.view_in(change.session, change.incident)
        if view is None:
            return
        number = change.incident.number
        enqueue(
            change.session,
            target=CHAT,
            operation=POST,
            payload={
                "number": number,
                "entry_id": trigger.id,
                "kind": GUIDE_KIND,
                "text": render_guide(view, zone=guided.zone),
                "actor": SYSTEM_ACTOR,
                "source": Source.SYSTEM.value,
                "data": {"guide": view.to_dict()},
            },
            idempotency_key=f"chat:guide:{trigger.id}",
            now=change.now,
            incident_id=number,
            ordering_key=ordering_key(number),
            severity=change.incident.severity,
        )

    return post_guide
