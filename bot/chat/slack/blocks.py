"""Block Kit for incidents: the pinned summary with its buttons, step buttons, the declare modal.

Pure functions from domain objects to JSON-ready dicts, so they are tested without Slack and
the deliverer stays about calls, not layout. Every message also gets a plain ``text``
fallback (notifications, screen readers). Text we did not write goes through
``bot.text_safety`` and every ``mrkdwn`` object is ``verbatim``, so an alert can neither
mention nor link; sizes stay inside Slack's limits (``bot.chat.slack.limits``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.chat.slack import limits
from bot.chat.slack.limits import mrkdwn
from bot.domain import children_text
from bot.domain.children import Child, ranked
from bot.domain.incident import Incident, Role, Status
from bot.domain.severity import PERSON_SETTABLE, Severity
from bot.text_safety import clip, person_name, readable, slack_link, slack_person, slack_text

ACTIONS_BLOCK = "incident_actions"
STEP_BLOCK_PREFIX = "incident_step"
DECLARE_CALLBACK = "declare_incident"
ACTION_PREFIX = "firebreak_"

_SEVERITY_ICON = {Severity.P0: "🟥", Severity.P1: "🟧", Severity.P2: "🟨", Severity.P3: "🟦", Severity.INFO: "⬜"}
_STATUS_ICON = {Status.TRIGGERED: "🔴", Status.ACKNOWLEDGED: "🟠", Status.MITIGATED: "🟡", Status.RESOLVED: "🟢"}
SECTION_LIMIT = limits.SECTION_TEXT
HEADER_LIMIT = limits.HEADER_TEXT
#: A step's text in the summary; the guide and ``/incident export`` have it in full.
STEP_TEXT_LIMIT = 400
#: Links shown under the summary (context blocks take at most 10 elements in all).
SUMMARY_LINKS = 5
#: Children listed by name in the summary (worst first); ``/incident children`` lists them all.
SUMMARY_CHILDREN = 10
CHILDREN_BLOCK = "incident_children"
#: A child's title and correlation in the summary, escaped (the counts after it are kept).
CHILD_SUBJECT_LIMIT = 300
CUT_POINTER = " … (cut: `/incident export` has the full text)"


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
    return clip(text, limit)


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
        "text": mrkdwn(f"{mark} *{step.number}.* {limits.clip(slack_text(step.text), STEP_TEXT_LIMIT, ' …')}"),
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
    return f"{incident.ref} [{incident.severity.value}] {slack_text(incident.title)} — {incident.status.value}"


def _person(value: str | None, missing: str) -> str:
    return slack_person(value) if value else missing


def summary_blocks(
    incident: Incident,
    *,
    steps: Sequence[StepView] = (),
    channel_id: str | None = None,
    children: Sequence[Child] = (),
    web_url: str | None = None,
) -> list[dict[str, Any]]:
    """The pinned summary, always inside Slack's limits however long the title, description
    or playbook: long text is cut with a pointer, steps that do not fit are counted.

    With more than one child (alert group), the worst of them are listed with counts."""
    roles = {role: incident.roles.get(role) for role in Role}
    fields = [
        f"*Status*\n{_STATUS_ICON[incident.status]} {incident.status.value}",
        f"*Severity*\n{_SEVERITY_ICON[incident.severity]} {incident.severity.value}",
        f"*Commander*\n{_person(roles[Role.COMMANDER], '_unassigned_')}",
        f"*Comms / Scribe*\n{_person(roles[Role.COMMS], '—')} / {_person(roles[Role.SCRIBE], '—')}",
    ]
    header = {"type": "plain_text", "text": _clip(readable(f"{incident.ref} · {incident.title}"), HEADER_LIMIT), "emoji": True}
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": header},
        {"type": "section", "fields": [mrkdwn(limits.clip(text, limits.FIELD_TEXT, "…")) for text in fields]},
    ]
    # A description of nothing but control or bidi characters is empty once made safe, and
    # Slack refuses an empty section (invalid_blocks): the whole summary would be lost.
    description = slack_text(incident.description).strip()
    if description:
        blocks.append(limits.section(limits.clip(description, SECTION_LIMIT, CUT_POINTER)))
    context = [f"declared via {incident.source.value}"]
    if web_url:
        context.append(slack_link(web_url, "web page"))
    if channel_id:
        context.append(f"channel <#{channel_id}>")
    if incident.playbook_id:
        context.append(f"playbook `{slack_text(readable(incident.playbook_id))}`")
    context.extend(slack_link(url, name) for name, url in list(incident.links.items())[:SUMMARY_LINKS])
    blocks.append({"type": "context", "elements": [mrkdwn(limits.clip(" · ".join(context), SECTION_LIMIT, "…"))]})
    if children_text.shows_children(children):
        # Room for the buttons (at most 4 × ~90 characters) and a step or two after this.
        room = limits.MESSAGE_BLOCK_TEXT - limits.block_text_size(blocks) - 1000
        blocks.append(children_section(children, budget=max(300, min(SECTION_LIMIT, room))))
    buttons = lifecycle_buttons(incident)
    if steps:
        blocks.append({"type": "divider"})
        blocks.extend(_fitting_steps(incident, steps, room=limits.MESSAGE_BLOCKS - len(blocks) - 2, used=limits.block_text_size(blocks)))
    if buttons:
        blocks.append({"type": "actions", "block_id": ACTIONS_BLOCK, "elements": buttons})
    return blocks


def children_section(children: Sequence[Child], *, budget: int = SECTION_LIMIT, shown: int = SUMMARY_CHILDREN) -> dict[str, Any]:
    """``Alert groups: 12 (P1 ×3, P2 ×9; 4 firing)`` and the worst children, one a line, in
    one section of at most ``budget`` characters; the rest are counted, with where to find them.

    The lines carry alert titles and labels, so the section is ``plain_text``: Slack formats
    nothing in it (no *bold*, _italic_, ~strike~ or `code` from an alert), and markup is read
    out as names (:func:`bot.text_safety.readable`), as in the other plain-text places.
    """
    text = readable(children_text.counts_line(children))
    listed = 0
    for child in ranked(children)[: max(0, shown)]:
        head, about, tail = children_text.line_parts(child)
        line = head + limits.clip(readable(about), CHILD_SUBJECT_LIMIT, "…") + tail
        pointer = "\n" + children_text.overflow_line(len(children) - listed - 1)
        if len(text) + 1 + len(line) + len(pointer) > budget:
            break
        text += "\n" + line
        listed += 1
    hidden = len(children) - listed
    if hidden:
        text += "\n" + children_text.overflow_line(hidden)
    return {"type": "section", "block_id": CHILDREN_BLOCK, "text": {"type": "plain_text", "text": limits.clip(text, budget, "…"), "emoji": False}}


def _fitting_steps(incident: Incident, steps: Sequence[StepView], *, room: int, used: int) -> list[dict[str, Any]]:
    """As many step blocks as the message has room for (blocks and text); then a count."""
    budget = limits.MESSAGE_BLOCK_TEXT - used - 200  # room for the buttons and the count
    shown: list[dict[str, Any]] = []
    for step in steps:
        block = step_block(incident.number, step, incident.playbook_id)
        size = limits.block_text_size([block])
        if len(shown) + 1 >= room or size > budget:
            break
        shown.append(block)
        budget -= size
    hidden = len(steps) - len(shown)
    if hidden:
        note = f"… and {hidden} more steps: the playbook guide posted in this conversation and `/incident export` list them all"
        shown.append({"type": "context", "elements": [mrkdwn(note)]})
    return shown


def step_actions(number: int, step: int, playbook_id: str | None = None) -> dict[str, Any]:
    """Done/Skip buttons under a post about a playbook step (a deadline)."""
    return {"type": "actions", "block_id": f"{STEP_BLOCK_PREFIX}_{number}_{step}", "elements": step_buttons(number, step, playbook_id)}


def topic(incident: Incident, *, commander_name: str | None = None) -> str:
    """The channel topic: plain text, because ``conversations.setTopic`` formats nothing
    (a mention would show as ``<@U123|bob>``), so people are written by name;
    ``commander_name`` is the Slack name when the stored role carries only an id."""
    commander = incident.roles.get(Role.COMMANDER)
    if commander_name:
        who = "@" + readable(commander_name).lstrip("@")
    else:
        who = person_name(commander) if commander else "no commander yet"
    text = f"{incident.severity.value} · {incident.status.value} · IC {who} · {readable(incident.title)}"
    return _clip(text, limits.TOPIC)


#: The declare form's limits: the title as the domain allows it, the description within one section.
DECLARE_TITLE_MAX = 200
DECLARE_DESCRIPTION_MAX = 2900


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
                "element": {"type": "plain_text_input", "action_id": "value", "max_length": DECLARE_TITLE_MAX},
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
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": DECLARE_DESCRIPTION_MAX},
            },
        ],
    }


def modal_values(state: Any) -> dict[str, str]:
    """``view.state.values`` → {block_id: value} for text inputs and selects.

    Anything not shaped as Slack documents it (which only a forged request can send) reads as
    empty, so the form answers with its usual field errors instead of failing."""
    values: dict[str, str] = {}
    blocks = state.get("values") if isinstance(state, dict) else None
    for block_id, actions in (blocks if isinstance(blocks, dict) else {}).items():
        for element in (actions if isinstance(actions, dict) else {}).values():
            if not isinstance(element, dict):
                continue
            chosen = element.get("selected_option") if element.get("type") == "static_select" else element
            value = chosen.get("value") if isinstance(chosen, dict) else None
            values[str(block_id)] = value if isinstance(value, str) else ""
    return values
