"""Who may press which button. Buttons are one click away from a mistake, so they are guarded.

The rule, in words (also in the README):

- **Acknowledge** and **Escalate**: anyone who can see the message. Taking a page or asking
  for more help must never be blocked.
- **Mitigated** and **Resolve**: the incident commander. While no commander is set, anyone
  may, so an unstaffed incident can still be closed.
- **Step Done / Skip**: the commander or anyone holding a role (comms, scribe); while no
  commander is set, anyone.

Typed ``/incident`` commands are deliberate and follow the shared command handlers, which
do not restrict by person (the console has no identities to check).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.chat.slack.identity import same_person
from bot.domain.incident import Incident, Role


class ButtonAction(enum.StrEnum):
    ACK = "ack"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    STEP_DONE = "step_done"
    STEP_SKIP = "step_skip"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


_OPEN_TO_ALL = frozenset({ButtonAction.ACK, ButtonAction.ESCALATE})
_COMMANDER_ONLY = frozenset({ButtonAction.MITIGATE, ButtonAction.RESOLVE})


def may_press(action: ButtonAction, incident: Incident, actor: str) -> Decision:
    if action in _OPEN_TO_ALL:
        return Decision(True)
    commander = incident.roles.get(Role.COMMANDER)
    if commander is None:
        return Decision(True)
    if same_person(actor, commander):
        return Decision(True)
    if action in _COMMANDER_ONLY:
        return Decision(False, f"only the commander ({commander}) can do that on {incident.ref}")
    if any(same_person(actor, holder) for holder in incident.roles.values()):
        return Decision(True)
    return Decision(False, f"only the commander ({commander}) or a role holder can mark steps on {incident.ref}")
