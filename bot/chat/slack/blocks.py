"""Block Kit for incidents: the pinned summary with its buttons, step buttons, the declare modal.

Pure functions from domain objects to JSON-ready dicts, so they are tested without Slack and
the deliverer stays about calls, not layout. Every message also gets a plain ``text``
fallback (notifications, screen readers) from ``bot.chat.render``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.chat.slack.text import escape, link, safe
from bot.domain.incident import Incident, Role, Status
from bot.domain.severity import PERSON_SETTABLE, Severity

ACTIONS_BLOCK = "incident_actions"
STEP_BLOCK_PREFIX = "incident_step"
DECLARE_CALLBACK = "declare_incident"
ACTION_PREFIX = "firebreak_"

_SEVERITY_ICON = {Severity.P0: "🟥", Severity.P1: "🟧", Severity.P2: "🟨", Severity.P3: "🟦", Severity.INFO: "⬜"}
_STATUS_ICON = {Status.TRIGGERED: "🔴", Status.ACKNOWLEDGED: "🟠", Status.MITIGATED: "🟡", Status.RESOLVED: "🟢"}
SECTION_LIMIT = 2900
HEADER_LIMIT = 150


@dataclass(frozen=True)
class StepView:
    """A playbook step as the summary shows it; ``state`` is pending, done or skipped."""

    number: int
    text: str
    state: str = "pending"
    phase: str = ""


def action_id(name: str) -> str:
    return ACTION_PREFIX + name


def _button(name: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id(name),
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lifecycle_buttons(incident: Incident) -> list[dict[str, Any]]:
    """Only the moves that are legal from the current status, so a click rarely fails."""
    value = str(incident.number)
    buttons: list[dict[str, Any]] = []
    if incident.status is Status.TRIGGERED:
        buttons.append(_button("ack", "Acknowledge", value, "primary"))
    if incident.status in (Status.TRIGGERED, Status.ACKNOWLEDGED):
        buttons.append(_button("mitigate", "Mitigated", value))
    if incident.status.is_open:
        buttons.append(_button("resolve", "Resolve", value, "primary" if incident.status is Status.MITIGATED else None))
        buttons.append(_button("escalate", "Escalate", value, "danger"))
    return buttons


def step_buttons(number: int, step: int, playbook_id: str | None = None) -> list[dict[str, Any]]:
    # The playbook id rides along so a button left over from a replaced playbook is refused.
    value = f"{number}:{step}:{playbook_id}" if playbook_id else f"{number}:{step}"
    return [_button("step_done", "Done", value, "primary"), _button("step_skip", "Skip", value)]


def _step_value(verb: str, number: int, step: int, playbook_id: str | None) -> str:
    return f"{verb}:{number}:{step}:{playbook_id}" if playbook_id else f"{verb}:{number}:{step}"


def step_block(number: int, step: StepView, playbook_id: str | None = None) -> dict[str, Any]:
    mark = {"done": "☑️", "skipped": "⏭️"}.get(step.state, "⬜")
    block: dict[str, Any] = {
        "type": "section",
        "block_id": f"{STEP_BLOCK_PREFIX}_{number}_{step.number}",
        "text": {"type": "mrkdwn", "text": _clip(f"{mark} *{step.number}.* {step.text}", SECTION_LIMIT)},
    }
    if step.state == "pending":
        block["accessory"] = {
            "type": "overflow",
            "action_id": action_id("step_menu"),
            "options": [
                {"text": {"type": "plain_text", "text": "Done"}, "value": _step_value("done", number, step.number, playbook_id)},
                {"text": {"type": "plain_text", "text": "Skip"}, "value": _step_value("skip", number, step.number, playbook_id)},
            ],
        }
    return block


def summary_text(incident: Incident) -> str:
    return f"{incident.ref} [{incident.severity.value}] {escape(incident.title)} — {incident.status.value}"


def summary_blocks(incident: Incident, *, steps: Sequence[StepView] = (), channel_id: str | None = None) -> list[dict[str, Any]]:
    roles = {role: incident.roles.get(role) for role in Role}
    fields = [
        f"*Status*\n{_STATUS_ICON[incident.status]} {incident.status.value}",
        f"*Severity*\n{_SEVERITY_ICON[incident.severity]} {incident.severity.value}",
        f"*Commander*\n{safe(roles[Role.COMMANDER]) if roles[Role.COMMANDER] else '_unassigned_'}",
        f"*Comms / Scribe*\n{safe(roles[Role.COMMS] or '—')} / {safe(roles[Role.SCRIBE] or '—')}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(f"{incident.ref} · {incident.title}", HEADER_LIMIT)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _clip(text, 1900)} for text in fields]},
    ]
    if incident.description:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(safe(incident.description), SECTION_LIMIT)}})
    context = [f"declared via {incident.source.value}"]
    if channel_id:
        context.append(f"channel <#{channel_id}>")
    if incident.playbook_id:
        context.append(f"playbook `{incident.playbook_id}`")
    context.extend(link(url, name) for name, url in list(incident.links.items())[:5])
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(" · ".join(context), SECTION_LIMIT)}]})
    if steps:
        blocks.append({"type": "divider"})
        # Slack allows 50 blocks a message; keep room for the rest.
        blocks.extend(step_block(incident.number, step, incident.playbook_id) for step in steps[:40])
    buttons = lifecycle_buttons(incident)
    if buttons:
        blocks.append({"type": "actions", "block_id": ACTIONS_BLOCK, "elements": buttons})
    return blocks


def post_blocks(number: int, text: str, *, step: int | None = None, playbook_id: str | None = None) -> list[dict[str, Any]] | None:
    """A timeline post; a post about a playbook step (a deadline) carries Done/Skip buttons."""
    if step is None:
        return None
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_LIMIT)}},
        {"type": "actions", "block_id": f"{STEP_BLOCK_PREFIX}_{number}_{step}", "elements": step_buttons(number, step, playbook_id)},
    ]


def topic(incident: Incident) -> str:
    commander = incident.roles.get(Role.COMMANDER) or "no commander yet"
    text = f"{incident.severity.value} · {incident.status.value} · IC {safe(commander)} · {escape(incident.title)}"
    return _clip(text, 250)


def declare_modal(*, channel_id: str = "") -> dict[str, Any]:
    options = [
        {"text": {"type": "plain_text", "text": level.value}, "value": level.value} for level in PERSON_SETTABLE
    ]
    return {
        "type": "modal",
        "callback_id": DECLARE_CALLBACK,
        "private_metadata": channel_id,
        "title": {"type": "plain_text", "text": "Declare incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": {"type": "plain_text", "text": "What is broken?"},
                "element": {"type": "plain_text_input", "action_id": "value", "max_length": 200},
            },
            {
                "type": "input",
                "block_id": "severity",
                "label": {"type": "plain_text", "text": "Severity"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": options,
                    "initial_option": options[2],
                },
            },
            {
                "type": "input",
                "block_id": "description",
                "optional": True,
                "label": {"type": "plain_text", "text": "Description"},
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2900},
            },
        ],
    }


def modal_values(state: dict[str, Any]) -> dict[str, str]:
    """``view.state.values`` → {block_id: value} for text inputs and selects."""
    values: dict[str, str] = {}
    for block_id, actions in (state.get("values") or {}).items():
        for element in actions.values():
            if element.get("type") == "static_select":
                values[block_id] = str((element.get("selected_option") or {}).get("value") or "")
            else:
                values[block_id] = str(element.get("value") or "")
    return values
