"""Splitting a child out of an incident and merging one incident into another, with no I/O.

``/incident split <#child or alertname>`` makes one child (alert group) of an incident an
incident of its own; ``/incident merge INC-7`` folds INC-7 into the incident it is typed in.
This module decides what those mean (which child, what is refused, which roles carry over,
which links and timeline entries each side gets); ``bot.service.regroup`` loads, locks and
stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.children import Child
from bot.domain.errors import IllegalTransition, InvalidCommand
from bot.domain.incident import Role, Status, format_number
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry

#: How many choices a refusal lists before it says "and N more".
MAX_CHOICES = 10
#: How much of an alert name or title a refusal quotes.
QUOTE_LIMIT = 80


def _quote(text: str) -> str:
    """A name as a refusal quotes it: one line, no control or bidi characters, clipped
    (adapters still escape it for their medium)."""
    flat = "".join(char for char in " ".join(str(text).split()) if char.isprintable())
    return flat if len(flat) <= QUOTE_LIMIT else flat[: QUOTE_LIMIT - 1] + "…"


# -- split -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildChoice:
    """A child as the split command sees it: its short id, title and the alert names in it."""

    child: Child
    alertnames: frozenset[str]

    def describe(self) -> str:
        names = ", ".join(sorted(_quote(name) for name in self.alertnames)) or "no alert name"
        return f"{self.child.ref} {_quote(self.child.title)} ({names})"


@dataclass(frozen=True)
class NoChildId:
    """A ``#``-prefixed or numeric selector that can be no child's short id (``#-1``,
    ``#99999999999``, ``#abc``): a child id all the same, that no child has."""

    text: str


ChildSelector = int | str | NoChildId
#: Short ids have at most this many digits (more is no child, and no huge integer is made).
MAX_CHILD_DIGITS = 9


def parse_child_selector(text: str) -> ChildSelector:
    """``#3`` or ``3`` → 3 (a short id); any other ``#…`` or number (``#-1``, ``#99999999999``,
    ``-1``) is a short id no child has; anything else is an alert name."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidCommand("which child? /incident split <#child or alertname>")
    digits = cleaned.removeprefix("#")
    if digits.isascii() and digits.isdigit() and len(digits) <= MAX_CHILD_DIGITS and int(digits) > 0:
        return int(digits)
    signed = digits[1:] if digits[:1] in ("+", "-") else digits
    if cleaned.startswith("#") or (signed.isascii() and signed.isdigit()):
        return NoChildId(digits)
    return cleaned


def pick_child(ref: str, choices: Sequence[ChildChoice], selector: ChildSelector) -> Child:
    """The one child ``selector`` names, or a refusal naming the choices (nothing changes)."""
    found: list[ChildChoice]
    if isinstance(selector, NoChildId):
        found = []
        wanted = f"#{_quote(selector.text)}"
    elif isinstance(selector, int):
        found = [choice for choice in choices if choice.child.child == selector]
        wanted = f"#{selector}"
    else:
        found = [choice for choice in choices if selector in choice.alertnames]
        wanted = f"alert name '{_quote(selector)}'"
    if len(found) == 1:
        picked = found[0].child
    elif not found:
        raise InvalidCommand(f"{ref} has no child {wanted}; " + (f"its children are {_list(choices)}" if choices else "it has no alert groups to split"))
    else:
        raise InvalidCommand(f"{wanted} is in more than one child of {ref}: {_list(found)}; split one by its short id, e.g. /incident split {found[0].child.ref}")
    if len(choices) < 2:
        raise IllegalTransition(f"{picked.ref} is the only child of {ref}: there is nothing to split it from")
    return picked


def _list(choices: Sequence[ChildChoice]) -> str:
    shown = [choice.describe() for choice in choices[:MAX_CHOICES]]
    more = len(choices) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "") if shown else "none"


def split_entries(
    *, parent: int, new: int, child: Child, new_child: int, actor: str, source: Source, at: datetime
) -> tuple[TimelineEntry, TimelineEntry]:
    """(the parent's SPLIT entry, the new incident's), linking the two both ways."""
    on_parent = TimelineEntry(
        kind=EntryKind.SPLIT,
        at=at,
        actor=actor,
        source=source,
        text=f"child {child.ref} split out into {format_number(new)}",
        data={"child": child.child, "dedup_key": child.dedup_key, "into": new},
    )
    on_new = TimelineEntry(
        kind=EntryKind.SPLIT,
        at=at,
        actor=actor,
        source=source,
        text=f"split out of {format_number(parent)} (was its child {child.ref})",
        data={"child": new_child, "dedup_key": child.dedup_key, "from": parent, "was_child": child.child},
    )
    return on_parent, on_new


# -- merge -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeSide:
    """What a merge needs to know of one incident."""

    number: int
    status: Status
    severity: Severity
    merged_into: int | None = None

    @property
    def ref(self) -> str:
        return format_number(self.number)


def check_merge(into: MergeSide, merged: MergeSide) -> None:
    """Refuse a merge that makes no sense; says why (nothing changes)."""
    if into.number == merged.number:
        raise IllegalTransition(f"{into.ref} cannot be merged into itself")
    if merged.merged_into is not None:
        raise IllegalTransition(f"{merged.ref} was already merged into {format_number(merged.merged_into)}")
    if into.merged_into == merged.number:
        raise IllegalTransition(
            f"{into.ref} was merged into {merged.ref}: it cannot take {merged.ref} in (work in {merged.ref})"
        )
    if into.merged_into is not None:
        raise IllegalTransition(
            f"{into.ref} was merged into {format_number(into.merged_into)}; merge into that incident instead"
        )
    if into.status is Status.RESOLVED:
        raise IllegalTransition(f"{into.ref} is resolved; reopen it first (/incident reopen {into.ref}) or merge the other way")


def roles_to_carry(into: Mapping[Role, str], merged: Mapping[Role, str]) -> dict[Role, str]:
    """The merged incident's roles that the surviving one has nobody for (its own stand)."""
    return {role: user for role, user in merged.items() if user and not into.get(role)}


def severity_after_merge(into: MergeSide, merged: MergeSide) -> Severity | None:
    """The surviving incident takes the merged one's severity when that is worse (an open
    incident only; a severity is never lowered by a merge). None: it stays as it is."""
    if merged.status is Status.RESOLVED or merged.severity is Severity.INFO:
        return None
    return merged.severity if merged.severity.rank < into.severity.rank else None


def pagerduty_links(links: Mapping[str, str], ref: str) -> dict[str, str]:
    """The merged incident's PagerDuty links as the surviving incident keeps them.

    Its own (``pagerduty``) is named after it (``pagerduty INC-7``); ones it had carried
    from earlier merges keep their names.
    """
    carried: dict[str, str] = {}
    for name, url in links.items():
        if name == "pagerduty":
            carried[f"pagerduty {ref}"] = url
        elif name.startswith("pagerduty "):
            carried[name] = url
    return carried


def merge_entries(
    *,
    into: int,
    merged: int,
    moved: Iterable[tuple[int, int]],
    actor: str,
    source: Source,
    at: datetime,
    pagerduty_incident_id: str | None = None,
) -> tuple[TimelineEntry, TimelineEntry]:
    """(the merged incident's MERGED entry, the surviving incident's).

    ``moved`` is (short id on the merged incident, short id on the surviving one) per child.
    """
    pairs = list(moved)
    into_ref, merged_ref = format_number(into), format_number(merged)
    away = TimelineEntry(
        kind=EntryKind.MERGED,
        at=at,
        actor=actor,
        source=source,
        text=f"merged into {into_ref}: follow it there",
        data={"into": into, "children": [old for old, _ in pairs], "now": [new for _, new in pairs]},
    )
    taken = ", ".join(f"#{new}" for _, new in pairs)
    data: dict[str, object] = {"from": merged, "children": [new for _, new in pairs], "was": [old for old, _ in pairs]}
    if pagerduty_incident_id:
        data["pagerduty_incident_id"] = pagerduty_incident_id
    kept = TimelineEntry(
        kind=EntryKind.MERGED,
        at=at,
        actor=actor,
        source=source,
        text=f"{merged_ref} merged in" + (f" (its children are now {taken})" if pairs else ""),
        data=data,
    )
    return away, kept


def joined_entry(child: Child, *, new_child: int, actor: str, source: Source, at: datetime) -> TimelineEntry:
    """The GROUP_JOINED entry of a child moved in by a merge (``joined_by`` ``merged``)."""
    return TimelineEntry(
        kind=EntryKind.GROUP_JOINED,
        at=at,
        actor=actor,
        source=source,
        text=f"#{new_child} joined (merged from {format_number(child.incident)}, where it was {child.ref})",
        data={
            "child": new_child,
            "dedup_key": child.dedup_key,
            "labels": dict(child.labels),
            "correlation": dict(child.correlation),
            "joined_by": "merged",
            "severity": child.severity.value,
            "alerts": child.alerts_total,
        },
    )
