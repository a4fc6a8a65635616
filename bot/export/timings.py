"""Post-mortem numbers computed from the timeline alone: pure functions, no I/O.

The timeline is the record; deriving MTTA, MTTR and friends from it (rather than from
columns on the incident, which a reopen resets) means the numbers in an export can always
be checked against the entries printed below them.

Definitions (also in docs/postmortem-times.md). Every figure is counted on received times
(when Firebreak received what caused an entry): outside clocks drift, so source times are
shown beside them but never subtracted from them, except for impact start, which only the
alert source knows.

- impact start: the earliest sane ``startsAt`` of the incident's alerts (else detection).
- detection: the first time Firebreak received anything of the incident.
- time to detect: impact start → detection.
- MTTA: detection → first status change to acknowledged, mitigated or resolved.
- time to mitigate: detection → first status change to mitigated or resolved.
- MTTR: detection → the resolve that ended the incident (the last one, not followed by a reopen).
- impact duration: impact start → mitigation (or now while not mitigated).
- No figure is negative: a milestone received before detection counts as zero.
- an escalation level is held from the ESCALATED entry that reached it until the next
  escalation or the resolve; level 0 is the time before any escalation, and a reopen
  starts over at level 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.source_time import SourceTime
from bot.domain.timeline import EntryKind, Source, TimelineEntry

ACKNOWLEDGED_STATES = frozenset({"acknowledged", "mitigated", "resolved"})
MITIGATED_STATES = frozenset({"mitigated", "resolved"})

#: Actors that are Firebreak or an integration, not a person who responded.
MACHINE_SOURCES = frozenset({Source.ALERTMANAGER, Source.SCHEDULER, Source.SYSTEM})
MACHINE_ACTORS = frozenset({"firebreak", "alertmanager", "pagerduty", "scheduler", "system", ""})


@dataclass(frozen=True)
class Milestone:
    """A moment that ends a metric: when, who, and how long after the start."""

    at: datetime
    actor: str
    seconds: float


@dataclass(frozen=True)
class Period:
    """A stretch of time at one value (a severity or an escalation level)."""

    since: datetime
    until: datetime
    ongoing: bool

    @property
    def seconds(self) -> float:
        return max(0.0, (self.until - self.since).total_seconds())


@dataclass(frozen=True)
class SeverityPeriod(Period):
    severity: str
    previous: str | None
    actor: str
    reason: str


@dataclass(frozen=True)
class LevelPeriod(Period):
    level: int
    actor: str
    targets: tuple[str, ...] = ()
    reason: str = ""
    condition: str = ""
    manual: bool = False


@dataclass
class Responder:
    name: str
    actions: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    roles: list[str] = field(default_factory=list)


def incident_start(entries: Sequence[TimelineEntry], fallback: datetime) -> datetime:
    for entry in entries:
        if entry.kind is EntryKind.DECLARED:
            return entry.at
    return fallback


def _status_to(entry: TimelineEntry) -> str | None:
    return str(entry.data.get("to")) if entry.kind is EntryKind.STATUS_CHANGED else None


def detection(entries: Sequence[TimelineEntry], fallback: datetime) -> datetime:
    """When Firebreak first received anything of the incident."""
    return min((entry.received for entry in entries), default=fallback)


def impact_start(entries: Sequence[TimelineEntry], detected: datetime) -> tuple[datetime, bool]:
    """(impact start, from an alert): the earliest sane ``startsAt`` of the incident's alerts.

    Only a source time judged sane counts (``SourceTime.SOURCE``); with none, impact starts at
    detection. Never after detection.
    """
    starts = [
        entry.source_at
        for entry in entries
        if entry.kind is EntryKind.ALERT_FIRING and entry.source_time is SourceTime.SOURCE and entry.source_at is not None
    ]
    earliest = min(starts, default=None)
    if earliest is None or earliest >= detected:
        return detected, False
    return earliest, True


def seconds_between(since: datetime, until: datetime) -> float:
    """Seconds from ``since`` to ``until``; zero when ``until`` is earlier (never negative)."""
    return max(0.0, (until - since).total_seconds())


def _milestone(entry: TimelineEntry, start: datetime) -> Milestone:
    at = max(entry.received, start)
    return Milestone(at, entry.actor, seconds_between(start, at))


def _first_status(entries: Iterable[TimelineEntry], states: frozenset[str], start: datetime) -> Milestone | None:
    for entry in entries:
        if _status_to(entry) in states and not entry.data.get("reopened"):
            return _milestone(entry, start)
    return None


def time_to_acknowledge(entries: Sequence[TimelineEntry], start: datetime) -> Milestone | None:
    return _first_status(entries, ACKNOWLEDGED_STATES, start)


def time_to_mitigate(entries: Sequence[TimelineEntry], start: datetime) -> Milestone | None:
    return _first_status(entries, MITIGATED_STATES, start)


def final_resolution(entries: Sequence[TimelineEntry]) -> TimelineEntry | None:
    """The resolve entry that ended the incident, or None while it is open (or reopened)."""
    last: TimelineEntry | None = None
    for entry in entries:
        to = _status_to(entry)
        if to == "resolved":
            last = entry
        elif to is not None:
            last = None
    return last


def time_to_resolve(entries: Sequence[TimelineEntry], start: datetime) -> Milestone | None:
    entry = final_resolution(entries)
    if entry is None:
        return None
    return _milestone(entry, start)


def incident_end(entries: Sequence[TimelineEntry], now: datetime) -> tuple[datetime, bool]:
    """(end, ongoing): the final resolve, or ``now`` for an incident still open."""
    entry = final_resolution(entries)
    return (entry.received, False) if entry is not None else (now, True)


def severity_history(entries: Sequence[TimelineEntry], *, now: datetime) -> list[SeverityPeriod]:
    """The declared severity, then each change, each with how long it was held."""
    end, ongoing = incident_end(entries, now)
    changes: list[tuple[TimelineEntry, str, str | None, str]] = []
    for entry in entries:
        if entry.kind is EntryKind.DECLARED and "severity" in entry.data:
            changes.append((entry, str(entry.data["severity"]), None, ""))
        elif entry.kind is EntryKind.SEVERITY_CHANGED:
            changes.append((entry, str(entry.data.get("to")), _opt(entry.data.get("from")), str(entry.data.get("reason") or "")))
    periods = []
    for index, (entry, severity, previous, reason) in enumerate(changes):
        is_last = index == len(changes) - 1
        until = end if is_last else changes[index + 1][0].at
        periods.append(
            SeverityPeriod(
                since=entry.at,
                until=max(until, entry.at),
                ongoing=ongoing and is_last,
                severity=severity,
                previous=previous,
                actor=entry.actor,
                reason=reason,
            )
        )
    return periods


_SEVERITY_ORDER = ("P0", "P1", "P2", "P3", "INFO")


def highest_severity(severities: Iterable[str]) -> str | None:
    """The most severe of the values seen (P0 beats P1); unknown values rank last."""
    ranked = sorted(severities, key=lambda s: _SEVERITY_ORDER.index(s) if s in _SEVERITY_ORDER else len(_SEVERITY_ORDER))
    return ranked[0] if ranked else None


def escalation_periods(entries: Sequence[TimelineEntry], *, now: datetime) -> list[LevelPeriod]:
    """Consecutive stretches at each escalation level (see the module docstring)."""
    start = incident_start(entries, entries[0].at if entries else now)
    periods: list[LevelPeriod] = []
    current: LevelPeriod | None = LevelPeriod(since=start, until=start, ongoing=False, level=0, actor="")

    def close(at: datetime) -> None:
        nonlocal current
        if current is not None:
            periods.append(_until(current, at, ongoing=False))
            current = None

    for entry in entries:
        to = _status_to(entry)
        if entry.kind is EntryKind.ESCALATED and current is not None:
            level = as_int(entry.data.get("level"), default=current.level + 1)
            if level == current.level and level > 0:
                continue  # a repeated notification at the same level, not a new level
            close(entry.at)
            current = LevelPeriod(
                since=entry.at,
                until=entry.at,
                ongoing=False,
                level=level,
                actor=entry.actor,
                targets=tuple(str(t) for t in entry.data.get("targets") or ()),
                reason=str(entry.data.get("reason") or ""),
                condition=str(entry.data.get("condition") or ""),
                manual=bool(entry.data.get("manual")),
            )
        elif to == "resolved":
            close(entry.at)
        elif entry.data.get("reopened") and current is None:
            current = LevelPeriod(since=entry.at, until=entry.at, ongoing=False, level=0, actor=entry.actor)
    if current is not None:
        periods.append(_until(current, max(now, current.since), ongoing=True))
    return periods


def _until(period: LevelPeriod, at: datetime, *, ongoing: bool) -> LevelPeriod:
    return LevelPeriod(
        since=period.since,
        until=at,
        ongoing=ongoing,
        level=period.level,
        actor=period.actor,
        targets=period.targets,
        reason=period.reason,
        condition=period.condition,
        manual=period.manual,
    )


def time_at_levels(periods: Iterable[LevelPeriod]) -> dict[int, float]:
    """Total seconds at each level, in level order."""
    totals: dict[int, float] = {}
    for period in periods:
        totals[period.level] = totals.get(period.level, 0.0) + period.seconds
    return dict(sorted(totals.items()))


def is_person(entry: TimelineEntry) -> bool:
    return entry.source not in MACHINE_SOURCES and entry.actor.strip().lower() not in MACHINE_ACTORS


_SLACK_USER = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$", re.IGNORECASE)


def person_key(name: str) -> str:
    """One key for the spellings of one person: ``alice``, ``@alice``, ``<@U123|alice>``/``U123``."""
    cleaned = name.strip()
    match = _SLACK_USER.match(cleaned)
    if match:
        return match.group(1).casefold()
    return cleaned.lstrip("@").casefold()


def responders(entries: Sequence[TimelineEntry]) -> list[Responder]:
    """Everyone who acted on the incident, plus anyone given a role, in order of first action.

    A person is named the way they first appear as an actor (role assignments may spell
    them ``@alice`` while their own actions say ``alice``).
    """
    people: dict[str, Responder] = {}
    for entry in entries:
        if is_person(entry):
            person = people.setdefault(person_key(entry.actor), Responder(entry.actor))
            if person.actions == 0:
                person.name = entry.actor
            person.actions += 1
            person.first_at = person.first_at or entry.at
            person.last_at = entry.at
        if entry.kind is EntryKind.ROLE_ASSIGNED and entry.data.get("user"):
            user = str(entry.data["user"])
            holder = people.setdefault(person_key(user), Responder(user))
            role = str(entry.data.get("role"))
            if role not in holder.roles:
                holder.roles.append(role)
    return sorted(people.values(), key=lambda p: (p.first_at is None, p.first_at.timestamp() if p.first_at else 0.0, p.name))


def format_duration(seconds: float | None) -> str:
    """``4m 07s``, ``1h 02m``, ``2d 03h``: precise enough for a post-mortem, short for tables."""
    if seconds is None:
        return "—"
    total = round(max(0.0, seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _opt(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def as_int(value: object, *, default: int) -> int:
    if not isinstance(value, int | float | str | bytes):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
