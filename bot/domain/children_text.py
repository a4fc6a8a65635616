"""How an incident's children (its alert groups) and the entries about them read to people.

Plain text, the same words in Slack, the console, ``firebreak incidents show`` and the
post-mortem. Titles, labels and correlation values come from alerts and are hostile: every
caller passes what these functions return through ``bot.text_safety`` for its medium.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain.children import Child, JoinedBy, ranked
from bot.domain.incident import format_number
from bot.domain.severity import Severity
from bot.text_safety import clip

#: How a child came in, as a phrase ("joined by correlation").
HOW_JOINED: dict[str, str] = {
    JoinedBy.OPENED.value: "opened the incident",
    JoinedBy.CORRELATED.value: "correlated",
    JoinedBy.STORM.value: "storm guard",
    JoinedBy.MERGED.value: "merged in",
}
#: A child's line is cut to this many characters of plain text (before any escaping).
LINE_LIMIT = 200
#: An alert name (or any one label-derived piece) in an entry's wording, as the timeline
#: entry's own text clips the title; and the whole sentence, as the entry's text is clipped.
PIECE_LIMIT = 200
ENTRY_LIMIT = 2000


def how_joined(joined_by: object) -> str:
    if joined_by in (None, ""):
        return "unknown"
    return HOW_JOINED.get(str(joined_by), str(joined_by))


def pairs(values: Mapping[str, Any]) -> str:
    """``cluster=eu-1 service=api``, in name order."""
    return " ".join(f"{name}={value}" for name, value in sorted((str(k), str(v)) for k, v in values.items()))


def subject(child: Child) -> str:
    """What the group is about: its title and the label values it was correlated on."""
    shared = pairs(child.correlation)
    return f"{child.title} {shared}".strip() if shared else child.title


def alert_counts(child: Child) -> str:
    text = f"{child.alerts_firing}/{child.alerts_total} alerts firing"
    if child.truncated_alerts:
        text += f", {child.truncated_alerts} more not sent by the source"
    return text


def state(child: Child) -> str:
    return "firing" if child.firing else "resolved"


def line_parts(child: Child) -> tuple[str, str, str]:
    """(``#3 P1 firing  ``, the subject, `` (5/7 alerts firing)``): only the middle is hostile,
    and a medium that escapes it may cut it without losing the counts."""
    head = f"{child.ref} {child.severity.value} {state(child)}  "
    tail = f" ({alert_counts(child)})"
    room = max(10, LINE_LIMIT - len(head) - len(tail))
    about = " ".join(subject(child).split())
    if len(about) > room:
        about = about[: room - 1] + "…"
    return head, about, tail


def child_line(child: Child) -> str:
    """``#3 P1 firing  HighLatency cluster=eu-1 (5/7 alerts firing)``, at most ``LINE_LIMIT``."""
    return "".join(line_parts(child))


def counts_line(children: Sequence[Child]) -> str:
    """``Alert groups: 12 (P1 ×3, P2 ×9; 4 firing)``."""
    by_level = Counter(child.severity for child in children)
    levels = ", ".join(f"{level.value} ×{by_level[level]}" for level in sorted(by_level, key=lambda level: level.rank))
    firing = sum(1 for child in children if child.firing)
    return f"Alert groups: {len(children)} ({levels}; {firing} firing)"


def overflow_line(hidden: int) -> str:
    return f"… and {hidden} more (/incident children to list all)"


def listing(children: Sequence[Child], *, shown: int) -> list[str]:
    """The counts line, the worst ``shown`` children one a line, and how many more there are."""
    order = ranked(children)
    lines = [counts_line(children), *(child_line(child) for child in order[:shown])]
    if len(order) > shown:
        lines.append(overflow_line(len(order) - shown))
    return lines


def shows_children(children: Sequence[Child]) -> bool:
    """A single group is the incident itself: only more than one is worth a list."""
    return len(children) > 1


def _ref(value: Any) -> str:
    return f"#{value}" if value not in (None, "") else "#?"


def _number(value: Any) -> str:
    try:
        return format_number(int(value))
    except (TypeError, ValueError):
        return str(value)


def _severity(value: Any) -> str:
    try:
        return Severity(str(value)).value
    except ValueError:
        return str(value or "")


def entry_wording(kind: str, data: Mapping[str, Any]) -> str | None:
    """The sentence for a GROUP_JOINED, SPLIT or MERGED entry (``None`` for any other kind).

    Built from the entry's ``data`` (the contract on ``bot.domain.timeline.EntryKind``), so
    it reads the same whoever recorded the entry.
    """
    if kind == "group_joined":
        labels = data.get("labels") or {}
        # Every piece comes from alert labels (or a stored entry's data): each is clipped.
        name = str(labels.get("alertname") or data.get("dedup_key") or "") if isinstance(labels, Mapping) else ""
        name = clip(" ".join(name.split()), PIECE_LIMIT)
        correlation = data.get("correlation") or {}
        how = clip(how_joined(data.get("joined_by")), PIECE_LIMIT)
        if data.get("joined_by") == JoinedBy.CORRELATED.value and isinstance(correlation, Mapping) and correlation:
            how = f"correlated on {clip(pairs(correlation), LINE_LIMIT)}"
        alerts = data.get("alerts")
        what = " ".join(part for part in (clip(_severity(data.get("severity")), PIECE_LIMIT), name) if part) or "?"
        if isinstance(alerts, int) and not isinstance(alerts, bool):
            what += f", {alerts} alert{'s' if alerts != 1 else ''}"
        return clip(f"alert group {clip(_ref(data.get('child')), PIECE_LIMIT)} joined ({how}): {what}", ENTRY_LIMIT)
    if kind == "split":
        if data.get("into") is not None:
            return f"alert group {_ref(data.get('child'))} split off into its own incident {_number(data.get('into'))}"
        if data.get("from") is not None:
            return f"split off from {_number(data.get('from'))}: this incident is its alert group {_ref(data.get('child'))}"
        return None
    if kind == "merged":
        return _merged_wording(data)
    return None


def _merged_wording(data: Mapping[str, Any]) -> str | None:
    """A MERGED entry on either side. Short ids are per incident, so a moved group has two:
    its id on the merged incident and its id on the surviving one. Both are said (when the
    entry carries both), or "merged into INC-11 (alert groups #1)" reads as INC-11's own #1."""
    children = [_ref(child) for child in data.get("children") or []]
    if data.get("into") is not None:
        head, old, new, where = f"merged into {_number(data.get('into'))}", children, [_ref(n) for n in data.get("now") or []], "there"
    elif data.get("from") is not None:
        head, old, new, where = f"{_number(data.get('from'))} merged into this incident", [_ref(w) for w in data.get("was") or []], children, "here"
    else:
        return None
    if not children:
        return head
    if len(old) != len(new) or not old:
        return f"{head} ({_groups(children)})"
    verb = "is" if len(old) == 1 else "are"
    return f"{head} (its {_groups(old)} {verb} {', '.join(new)} {where})"


def _groups(refs: list[str]) -> str:
    return ("alert group " if len(refs) == 1 else "alert groups ") + ", ".join(refs)
