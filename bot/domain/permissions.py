"""Who may do what to an incident: the one permission policy every way in is held to.

Typed commands, buttons, forms and reactions all ask this module, so the same person gets
the same answer whichever way they come in. It knows people only as opaque keys (a chat
adapter decides what a key is and whether a stored name is verified) and decides from the
incident's roles and timeline, with no I/O.

The rule:

- Anyone may read, add notes and follow-up actions, declare, acknowledge and escalate:
  taking a page or asking for help must never be blocked.
- Changing status (mitigate, resolve, reopen), severity, roles, playbook steps or the
  playbook, splitting a child out and merging incidents is open to everyone while the incident has no (verified) commander. Once it has
  one, only the commander, the other role holders and admins may. A merge closes the
  incident merged away, so it is judged on both incidents.
- Handover: admins always may. With a takeover delay set, anyone may make themselves
  commander once the commander has been silent that long: no timeline entry of theirs
  (command, button, note, flagged message) since then, counted from when they became
  commander at the latest.
- Guests and people from other organisations (shared channels) may read the incident of
  the channel they are in and add notes there; they change state only while they hold a
  role on the incident, and never declare, list or take over.
- The operator (local console, database access) may do anything.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.incident import Role
from bot.domain.timeline import EntryKind, TimelineEntry


class Standing(enum.StrEnum):
    """How far a person is trusted before any incident role is considered."""

    OPERATOR = "operator"  # the local console: database access already
    MEMBER = "member"  # a full member of the workspace
    GUEST = "guest"  # a single- or multi-channel guest
    EXTERNAL = "external"  # from another organisation (a shared channel)
    UNKNOWN = "unknown"  # could not be looked up: trusted like a guest, never more


_LIMITED = frozenset({Standing.GUEST, Standing.EXTERNAL, Standing.UNKNOWN})


@dataclass(frozen=True)
class Principal:
    """The person asking. ``key`` is the adapter's stable identity (a chat user id)."""

    key: str
    name: str
    standing: Standing = Standing.MEMBER
    is_admin: bool = False
    note: str = ""  # why the standing is what it is, shown in refusals ("a guest account")

    @classmethod
    def operator(cls, name: str) -> Principal:
        return cls(key=name, name=name, standing=Standing.OPERATOR, is_admin=True)

    @property
    def limited(self) -> bool:
        """A guest, external or unknown person (not an admin): trusted only inside the incident's channel.

        Such a person must not learn which incident numbers exist from how they are refused, so a
        number that names no incident is judged as if it named one with no roles.
        """
        return self.standing in _LIMITED and not self.is_admin


class Action(enum.StrEnum):
    READ = "read"  # status, timeline, export
    LIST = "list incidents"  # every open incident, across channels
    DECLARE = "declare incidents"
    ACKNOWLEDGE = "acknowledge"
    NOTE = "note"  # notes, follow-up actions, flagged messages
    ESCALATE = "escalate"
    CHANGE_STATUS = "change status"  # mitigate, resolve, reopen
    CHANGE_SEVERITY = "change severity"
    ASSIGN_ROLE = "assign roles"
    MARK_STEP = "mark steps"
    RUN_PLAYBOOK = "attach a playbook"
    SPLIT = "split children out"  # split a child into an incident of its own
    MERGE = "merge incidents"  # fold another incident into this one (judged on both)


#: Open to every full member at any time.
OPEN_TO_MEMBERS = frozenset({Action.READ, Action.LIST, Action.DECLARE, Action.ACKNOWLEDGE, Action.NOTE, Action.ESCALATE})
#: Open to everyone while there is no commander; then to role holders and admins.
STAFFED = frozenset(
    {
        Action.CHANGE_STATUS,
        Action.CHANGE_SEVERITY,
        Action.ASSIGN_ROLE,
        Action.MARK_STEP,
        Action.RUN_PLAYBOOK,
        Action.SPLIT,
        Action.MERGE,
    }
)
#: What a guest or external person may do without a role, in the incident's own channel.
OPEN_TO_LIMITED = frozenset({Action.READ, Action.NOTE})


@dataclass(frozen=True)
class Holder:
    """A role holder as stored, with the key it verifiably names (None: a bare name)."""

    role: Role
    shown: str
    key: str | None

    @property
    def verified(self) -> bool:
        return self.key is not None


@dataclass(frozen=True)
class IncidentView:
    """What the policy needs to know about an incident."""

    ref: str
    holders: tuple[Holder, ...] = ()
    commander_last_active: datetime | None = None

    @property
    def commander(self) -> Holder | None:
        """The verified commander; a commander stored as a bare name counts as none."""
        for holder in self.holders:
            if holder.role is Role.COMMANDER and holder.verified:
                return holder
        return None

    def holds_role(self, key: str) -> bool:
        return any(holder.key == key for holder in self.holders)


@dataclass(frozen=True)
class Request:
    """One attempt: ``assignee`` is the key a role assignment names (for takeovers)."""

    action: Action
    incident: IncidentView | None = None
    role: Role | None = None
    assignee: str | None = None
    in_incident_channel: bool = False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    @classmethod
    def allow(cls) -> Decision:
        return cls(True)

    @classmethod
    def refuse(cls, reason: str) -> Decision:
        return cls(False, reason)


class Policy:
    """The rule above, with the one setting it has: ``takeover_after`` (None: no takeover)."""

    def __init__(self, *, takeover_after: timedelta | None = None) -> None:
        self.takeover_after = takeover_after

    def decide(self, who: Principal, request: Request, *, now: datetime) -> Decision:
        if who.standing is Standing.OPERATOR or who.is_admin:
            return Decision.allow()
        incident = request.incident
        holds_role = incident is not None and incident.holds_role(who.key)
        if who.standing in _LIMITED and not holds_role:
            return self._limited(who, request)
        if request.action in OPEN_TO_MEMBERS:
            return Decision.allow()
        if incident is None:  # every other action is about one incident
            return Decision.refuse(f"{request.action.value} needs an incident")
        commander = incident.commander
        if commander is None or commander.key == who.key or holds_role:
            return Decision.allow()
        if self._takes_over(who, request, incident, now):
            return Decision.allow()
        return Decision.refuse(self._staffed_reason(request, incident, commander, now))

    # -- the parts -----------------------------------------------------------------

    def _limited(self, who: Principal, request: Request) -> Decision:
        label = who.note or _STANDING_LABEL[who.standing]
        if request.action in OPEN_TO_LIMITED and request.in_incident_channel:
            return Decision.allow()
        if request.action in OPEN_TO_LIMITED:
            return Decision.refuse(f"as {label}, you can read and add notes in the incident's own channel only")
        if request.incident is None:
            return Decision.refuse(f"as {label}, you cannot {request.action.value}; ask a member of the workspace")
        return Decision.refuse(
            f"as {label}, you can read and add notes in the incident's channel, but not {request.action.value}"
            " unless you hold a role on the incident (ask its commander or an admin)"
        )

    def _takes_over(self, who: Principal, request: Request, incident: IncidentView, now: datetime) -> bool:
        if self.takeover_after is None or request.action is not Action.ASSIGN_ROLE:
            return False
        if request.role is not Role.COMMANDER or request.assignee != who.key:
            return False
        last = incident.commander_last_active
        return last is None or now - last >= self.takeover_after

    def _staffed_reason(self, request: Request, incident: IncidentView, commander: Holder, now: datetime) -> str:
        reason = (
            f"only the commander ({commander.shown}), the other role holders and admins can"
            f" {request.action.value} on {incident.ref}"
        )
        if self.takeover_after is None:
            return reason + "; an admin can hand the incident over"
        last = incident.commander_last_active
        quiet = now - last if last is not None else self.takeover_after
        if quiet >= self.takeover_after:
            return reason + "; the commander has been silent long enough: take over with `/incident role commander me`"
        left = self.takeover_after - quiet
        return (
            reason + f"; if the commander stays silent for {_minutes(left)} more, anyone may take over"
            " with `/incident role commander me` (an admin can hand over now)"
        )


_STANDING_LABEL = {
    Standing.GUEST: "a guest",
    Standing.EXTERNAL: "someone from another organisation",
    Standing.UNKNOWN: "someone Firebreak could not look up",
}


def _minutes(delta: timedelta) -> str:
    minutes = max(1, -(-int(delta.total_seconds()) // 60))
    return f"{minutes} min"


KeyOf = Callable[[str], "str | None"]

#: Entries recorded for each alert, always by the alert's source: never a sign that the
#: commander is active, and thousands of them on a storm's incident. A permission question
#: leaves them out rather than reading them on every command.
NEVER_BY_A_PERSON = frozenset({EntryKind.ALERT_FIRING, EntryKind.ALERT_RESOLVED})


def view_of(
    ref: str, roles: Mapping[Role, str], timeline: Iterable[TimelineEntry], key_of: KeyOf
) -> IncidentView:
    """The policy's view of an incident: holders with their keys, and when the commander
    last did anything on the timeline (or became commander, whichever is later)."""
    holders = tuple(Holder(role=role, shown=text, key=key_of(text)) for role, text in roles.items())
    commander = next((holder for holder in holders if holder.role is Role.COMMANDER and holder.verified), None)
    last: datetime | None = None
    if commander is not None:
        for entry in timeline:
            named = key_of(entry.actor) == commander.key
            appointed = (
                entry.kind is EntryKind.ROLE_ASSIGNED
                and entry.data.get("role") == Role.COMMANDER.value
                and key_of(str(entry.data.get("user") or "")) == commander.key
            )
            if (named or appointed) and (last is None or entry.at > last):
                last = entry.at
    return IncidentView(ref=ref, holders=holders, commander_last_active=last)
