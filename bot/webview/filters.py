"""The list page's filters, read from the query string. A value that is not one the form
offers (``?severity=P9``, ``?since=2026-13-45``, ``?page=x``) is a problem the page states
with a 400, never a silently different list, a 500 or a trap for a hand-edited URL.
``from`` and ``to`` are taken as ``since`` and ``until``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlencode

from bot.domain.incident import Status
from bot.domain.severity import Severity
from bot.text_safety import storable

#: Status choices: "open" is every status but resolved.
STATUSES = ("open", *(status.value for status in Status))
SEVERITIES = tuple(level.value for level in Severity)
PAGE_SIZE = 50
#: The dates a filter may name (one day in from each end of the calendar).
EARLIEST_DATE = date(1, 1, 2)
LATEST_DATE = date(9999, 12, 30)
#: Longest search text and filter value kept (longer is cut).
MAX_TEXT = 200


@dataclass(frozen=True)
class ListFilters:
    status: str = ""
    severity: str = ""
    service: str = ""
    label: str = ""
    since: date | None = None
    until: date | None = None
    q: str = ""
    drills: bool = False
    page: int = 1
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def label_pair(self) -> tuple[str, str] | None:
        key, sep, value = self.label.partition("=")
        return (key.strip(), value.strip()) if sep and key.strip() else None

    def query(self, **changes: object) -> str:
        """This filter set as a query string, with ``changes`` (page=2, …) applied."""
        changed = replace(self, **changes)  # type: ignore[arg-type]
        params: dict[str, str] = {}
        for name in ("status", "severity", "service", "label", "q"):
            if getattr(changed, name):
                params[name] = getattr(changed, name)
        if changed.since:
            params["since"] = changed.since.isoformat()
        if changed.until:
            params["until"] = changed.until.isoformat()
        if changed.drills:
            params["drills"] = "1"
        if changed.page > 1:
            params["page"] = str(changed.page)
        return urlencode(params)


def _text(params: Mapping[str, str], name: str) -> str:
    """Search and filter text as PostgreSQL can compare it (a NUL is U+FFFD, as in stored text)."""
    return storable(" ".join(params.get(name, "").split())[:MAX_TEXT])


def _shown(value: str) -> str:
    return repr(value[:40] + ("…" if len(value) > 40 else ""))


def parse(params: Mapping[str, str]) -> ListFilters:
    """The filters; ``problems`` says, one sentence each, what could not be understood."""
    problems: list[str] = []
    status = params.get("status", "")
    if status and status not in STATUSES:
        problems.append(f"Unknown status {_shown(status)}: choose one of {', '.join(STATUSES)}.")
        status = ""
    severity = params.get("severity", "").upper()
    if severity and severity not in SEVERITIES:
        problems.append(f"Unknown severity {_shown(params.get('severity', ''))}: choose one of {', '.join(SEVERITIES)}.")
        severity = ""
    label = _text(params, "label")
    if label and "=" not in label:
        problems.append("Write the label filter as name=value, like team=payments.")
        label = ""
    dates: dict[str, date | None] = {}
    for name, alias in (("since", "from"), ("until", "to")):
        text = (params.get(name) or params.get(alias) or "").strip()
        try:
            dates[name] = date.fromisoformat(text) if text else None
        except ValueError:
            problems.append(f"{'From' if name == 'since' else 'Until'} {_shown(text)} is not a date: write it like 2026-03-14.")
            dates[name] = None
        chosen = dates[name]
        if chosen is not None and not EARLIEST_DATE <= chosen <= LATEST_DATE:
            # A day's bounds in the display time zone, and "until" runs to the next midnight:
            # the first and last days of the calendar have no such bounds.
            which = "From" if name == "since" else "Until"
            problems.append(f"{which} {_shown(text)} is outside the calendar shown: pick a date from {EARLIEST_DATE} to {LATEST_DATE}.")
            dates[name] = None
    page_text = params.get("page", "1")
    page = int(page_text) if page_text.isascii() and page_text.isdigit() and 0 < len(page_text) < 7 else 0
    if page < 1:
        problems.append(f"Page {_shown(page_text)} is not a page number: use 1, 2, 3, …")
        page = 1
    return ListFilters(
        status=status,
        severity=severity,
        service=_text(params, "service"),
        label=label,
        since=dates["since"],
        until=dates["until"],
        q=_text(params, "q"),
        drills=params.get("drills") in ("1", "on", "true"),
        page=page,
        problems=tuple(problems),
    )
