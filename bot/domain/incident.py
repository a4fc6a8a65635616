"""The incident aggregate: its lifecycle, severity and roles, with no I/O.

Every method that changes an incident returns the timeline entries describing the change;
callers persist both together, which is what makes the timeline complete by construction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.errors import IllegalTransition, InvalidCommand
from bot.domain.severity import PERSON_SETTABLE, Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry


class Status(enum.StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"

    @property
    def is_open(self) -> bool:
        return self is not Status.RESOLVED


class Role(enum.StrEnum):
    COMMANDER = "commander"
    COMMS = "comms"
    SCRIBE = "scribe"

    @classmethod
    def parse(cls, text: str) -> Role:
        aliases = {"ic": "commander", "communications": "comms", "communication": "comms"}
        cleaned = aliases.get(text.strip().lower(), text.strip().lower())
        try:
            return cls(cleaned)
        except ValueError:
            raise InvalidCommand(f"unknown role {text!r}: use commander, comms or scribe") from None


#: Which statuses each verb may leave from. Mitigating or resolving an unacknowledged
#: incident is allowed (people fix things before clicking "ack"); going backwards is not.
_ALLOWED_FROM: dict[Status, frozenset[Status]] = {
    Status.ACKNOWLEDGED: frozenset({Status.TRIGGERED}),
    Status.MITIGATED: frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED}),
    Status.RESOLVED: frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED, Status.MITIGATED}),
}

_VERB = {
    Status.ACKNOWLEDGED: "acknowledge",
    Status.MITIGATED: "mark mitigated",
    Status.RESOLVED: "resolve",
}


#: The largest number a 32-bit INTEGER column holds; anything above cannot be an incident.
MAX_NUMBER = 2**31 - 1


def format_number(number: int) -> str:
    return f"INC-{number}"


def parse_number(text: str) -> int:
    """``INC-42``, ``inc-42``, ``#42`` and ``42`` all name incident 42."""
    cleaned = text.strip().upper().removeprefix("INC-").removeprefix("INC").lstrip("#")
    if not (cleaned.isascii() and cleaned.isdigit()) or not 0 < int(cleaned) <= MAX_NUMBER:
        raise InvalidCommand(f"{text!r} is not an incident number (expected INC-42 or 42)")
    return int(cleaned)


@dataclass
class Incident:
    number: int
    title: str
    severity: Severity
    status: Status
    created_at: datetime
    source: Source
    description: str = ""
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    roles: dict[Role, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    dedup_key: str | None = None
    playbook_id: str | None = None
    reopen_count: int = 0

    @property
    def ref(self) -> str:
        return format_number(self.number)

    @classmethod
    def declare(
        cls,
        *,
        number: int,
        title: str,
        severity: Severity,
        actor: str,
        source: Source,
        at: datetime,
        description: str = "",
        labels: dict[str, str] | None = None,
        links: dict[str, str] | None = None,
        dedup_key: str | None = None,
    ) -> tuple[Incident, list[TimelineEntry]]:
        title = " ".join(title.split())
        if not title:
            raise InvalidCommand("an incident needs a title")
        if len(title) > 200:
            raise InvalidCommand("the title is longer than 200 characters")
        incident = cls(
            number=number,
            title=title,
            severity=severity,
            status=Status.TRIGGERED,
            created_at=at,
            source=source,
            description=description,
            labels=dict(labels or {}),
            links=dict(links or {}),
            dedup_key=dedup_key,
        )
        entry = TimelineEntry(
            kind=EntryKind.DECLARED,
            at=at,
            actor=actor,
            source=source,
            text=f"declared: {title} ({severity.value})",
            data={"title": title, "severity": severity.value, "description": description},
        )
        return incident, [entry]

    # -- lifecycle -------------------------------------------------------------------

    def acknowledge(self, *, actor: str, source: Source, at: datetime) -> list[TimelineEntry]:
        return self._move_to(Status.ACKNOWLEDGED, actor=actor, source=source, at=at)

    def mitigate(self, *, actor: str, source: Source, at: datetime) -> list[TimelineEntry]:
        return self._move_to(Status.MITIGATED, actor=actor, source=source, at=at)

    def resolve(self, *, actor: str, source: Source, at: datetime) -> list[TimelineEntry]:
        return self._move_to(Status.RESOLVED, actor=actor, source=source, at=at)

    def reopen(self, *, actor: str, source: Source, at: datetime) -> list[TimelineEntry]:
        """A resolved incident starts over as triggered, so escalation re-arms."""
        if self.status is not Status.RESOLVED:
            raise IllegalTransition(f"{self.ref} is {self.status.value}; only a resolved incident can be reopened")
        previous = self.status
        self.status = Status.TRIGGERED
        self.reopen_count += 1
        self.acknowledged_at = None
        self.mitigated_at = None
        self.resolved_at = None
        return self._status_changed(previous, "reopened", actor=actor, source=source, at=at, reopened=True)

    def unacknowledge(self, *, actor: str, source: Source, at: datetime) -> list[TimelineEntry]:
        """An acknowledgement that lapsed (PagerDuty's acknowledgement timeout, or a person
        undoing it) puts the incident back to triggered, so ``unacknowledged`` escalation
        levels apply again. The first acknowledgement still counts for MTTA."""
        if self.status is not Status.ACKNOWLEDGED:
            raise IllegalTransition(f"{self.ref} is {self.status.value}; only an acknowledged incident can be unacknowledged")
        self.status = Status.TRIGGERED
        return self._status_changed(Status.ACKNOWLEDGED, "unacknowledged", actor=actor, source=source, at=at, unacknowledged=True)

    def _move_to(self, target: Status, *, actor: str, source: Source, at: datetime) -> list[TimelineEntry]:
        if self.status is target:
            raise IllegalTransition(f"{self.ref} is already {target.value}")
        if self.status not in _ALLOWED_FROM[target]:
            raise IllegalTransition(
                f"cannot {_VERB[target]} {self.ref}: it is {self.status.value}"
                + (" (reopen it first)" if self.status is Status.RESOLVED else "")
            )
        previous = self.status
        self.status = target
        # Fixing before clicking "ack" still counts as the first response (MTTA), and a
        # resolve without an explicit mitigate is also the moment of mitigation.
        if self.acknowledged_at is None:
            self.acknowledged_at = at
        if target in (Status.MITIGATED, Status.RESOLVED) and self.mitigated_at is None:
            self.mitigated_at = at
        if target is Status.RESOLVED:
            self.resolved_at = at
        return self._status_changed(previous, target.value, actor=actor, source=source, at=at)

    def _status_changed(self, previous: Status, verb: str, *, actor: str, source: Source, at: datetime, **flags: bool) -> list[TimelineEntry]:
        """The one timeline entry of every status change: ``from``/``to`` in its data (the
        export and the chat read them), plus a flag naming a reopen or an unacknowledge."""
        return [
            TimelineEntry(
                kind=EntryKind.STATUS_CHANGED,
                at=at,
                actor=actor,
                source=source,
                text=f"{self.ref} {verb}",
                data={"from": previous.value, "to": self.status.value, **flags},
            )
        ]

    # -- other changes ---------------------------------------------------------------

    def change_severity(
        self, severity: Severity, *, actor: str, source: Source, at: datetime, reason: str = ""
    ) -> list[TimelineEntry]:
        if severity not in PERSON_SETTABLE and source not in (Source.ALERTMANAGER, Source.PAGERDUTY):
            raise InvalidCommand("severity must be P0, P1, P2 or P3")
        if severity is self.severity:
            raise IllegalTransition(f"{self.ref} is already {severity.value}")
        previous = self.severity
        self.severity = severity
        text = f"severity {previous.value} → {severity.value}" + (f" ({reason})" if reason else "")
        return [
            TimelineEntry(
                kind=EntryKind.SEVERITY_CHANGED,
                at=at,
                actor=actor,
                source=source,
                text=text,
                data={"from": previous.value, "to": severity.value, "reason": reason},
            )
        ]

    def assign_role(self, role: Role, user: str, *, actor: str, source: Source, at: datetime) -> list[TimelineEntry]:
        user = user.strip()
        if not user:
            raise InvalidCommand(f"who should be {role.value}? e.g. /incident role {role.value} @alice")
        previous = self.roles.get(role)
        if previous == user:
            raise IllegalTransition(f"{user} is already {role.value} of {self.ref}")
        self.roles[role] = user
        return [
            TimelineEntry(
                kind=EntryKind.ROLE_ASSIGNED,
                at=at,
                actor=actor,
                source=source,
                text=f"{user} is now {role.value}" + (f" (was {previous})" if previous else ""),
                data={"role": role.value, "user": user, "previous": previous},
            )
        ]

    def note(self, text: str, *, actor: str, source: Source, at: datetime) -> list[TimelineEntry]:
        text = text.strip()
        if not text:
            raise InvalidCommand("a note needs text: /incident note <text>")
        return [TimelineEntry(kind=EntryKind.NOTE, at=at, actor=actor, source=source, text=text)]

    def add_action(self, text: str, *, actor: str, source: Source, at: datetime) -> list[TimelineEntry]:
        text = text.strip()
        if not text:
            raise InvalidCommand("a follow-up action needs text: /incident action <text>")
        return [TimelineEntry(kind=EntryKind.ACTION_ADDED, at=at, actor=actor, source=source, text=text)]
