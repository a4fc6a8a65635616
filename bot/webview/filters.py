"""The list page's filters, read from the query string leniently: a bad value is dropped
and said, never a 500 and never a trap for a hand-edited URL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlencode

from bot.domain.incident import Status
from bot.domain.severity import Severity

#: Status choices: "open" is every status but resolved.
STATUSES = ("open", *(status.value for status in Status))
SEVERITIES = tuple(level.value for level in Severity)
PAGE_SIZE = 50
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
    return " ".join(params.get(name, "").split())[:MAX_TEXT]


def parse(params: Mapping[str, str]) -> ListFilters:
    problems: list[str] = []
    status = params.get("status", "")
    if status and status not in STATUSES:
        problems.append("unknown status ignored")
        status = ""
    severity = params.get("severity", "").upper()
    if severity and severity not in SEVERITIES:
        problems.append("unknown severity ignored")
        severity = ""
    label = _text(params, "label")
    if label and "=" not in label:
        problems.append("label filter ignored: write it as name=value")
        label = ""
    dates: dict[str, date | None] = {}
    for name in ("since", "until"):
        text = params.get(name, "").strip()
        try:
            dates[name] = date.fromisoformat(text) if text else None
        except ValueError:
            problems.append(f"{name} ignored: use a date like 2026-03-14")
            dates[name] = None
    page_text = params.get("page", "1")
    page = int(page_text) if page_text.isascii() and page_text.isdigit() and 0 < len(page_text) < 7 else 1
    return ListFilters(
        status=status,
        severity=severity,
        service=_text(params, "service"),
        label=label,
        since=dates["since"],
        until=dates["until"],
        q=_text(params, "q"),
        drills=params.get("drills") in ("1", "on", "true"),
        page=max(1, page),
        problems=tuple(problems),
    )
