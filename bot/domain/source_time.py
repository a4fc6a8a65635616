"""When did it happen? Judging the time a sender claims against when Firebreak received it.

Outside clocks drift and senders have quirks: Alertmanager sends ``endsAt`` as the zero time
(``0001-01-01T00:00:00Z``) for every firing alert, a misconfigured host can stamp events
hours in the future, and a replayed payload can carry a time from long ago. A post-mortem
built on such times shows negative or absurd figures, so a claimed time is kept only when it
is sane; otherwise the entry falls back to the received time and says why.

The received time (when the webhook reached Firebreak) is the causal clock: state changes
and the figures keep that order. Source times are shown beside it.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Any

#: A source time this far after receipt is a clock that runs ahead (more than normal drift).
FUTURE_SKEW = timedelta(minutes=5)
#: A source time this far before receipt is a replay or a broken clock, not an incident's start.
FAR_PAST = timedelta(days=7)
#: Go's zero time, what Alertmanager sends for a time it has not got.
ZERO_TIME = "0001-01-01T00:00:00Z"
#: Anything before this year is a zero/unset value (Go's zero time is year 1).
_EARLIEST_YEAR = 1971


class SourceTime(enum.StrEnum):
    """Where an entry's source time comes from."""

    SOURCE = "source"  # the sender's own time, judged sane
    RECEIVED = "received"  # no outside time: Firebreak's own act, or the sender gave none
    ZERO = "zero"  # the sender's unset/zero time (e.g. Alertmanager endsAt of a firing alert)
    FUTURE = "future"  # later than receipt by more than FUTURE_SKEW
    PAST = "past"  # earlier than receipt by more than FAR_PAST
    INVALID = "invalid"  # not a time at all

    @property
    def fell_back(self) -> bool:
        """True when the sender claimed a time that was not used."""
        return self in (SourceTime.ZERO, SourceTime.FUTURE, SourceTime.PAST, SourceTime.INVALID)


#: The times a sender may state: a day inside what Python and the databases can hold, so
#: every time zone can show them (9999-12-31T23:59:59Z is past the year 9999 in Berlin).
EARLIEST_SHOWABLE = datetime(1, 1, 2, tzinfo=UTC)
LATEST_SHOWABLE = datetime(9999, 12, 30, tzinfo=UTC)


def showable(value: datetime) -> datetime:
    """``value`` when every time zone can show it; else ``ValueError`` (a 422 at the door:
    accepted, such a time would fail whatever shows it later, a resolve or an export)."""
    try:
        utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_SHOWABLE <= utc <= LATEST_SHOWABLE:
        raise ValueError("a time outside the years 1 to 9999 in some time zone")
    return value


def parse_claim(value: Any) -> datetime | SourceTime | None:
    """A claimed time as a UTC datetime; ``SourceTime.ZERO``/``INVALID`` when unusable; None when absent.

    Accepts datetimes, RFC 3339 strings and Slack's ``"1712345678.000200"`` epoch strings.
    A time without a zone is taken as UTC.
    """
    if value is None or value == "":
        return None
    moment: datetime
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return SourceTime.INVALID
    elif isinstance(value, str):
        text = value.strip()
        try:
            if text.replace(".", "", 1).isdigit():
                moment = datetime.fromtimestamp(float(text), UTC)
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except (OverflowError, OSError, ValueError):
            return SourceTime.ZERO if text.startswith("0001-01-01") else SourceTime.INVALID
    else:
        return SourceTime.INVALID
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment.year < _EARLIEST_YEAR:
        return SourceTime.ZERO
    try:
        return showable(moment).astimezone(UTC)
    except ValueError:  # past the year 9999 in some zone
        return SourceTime.INVALID


def judge(claimed: Any, received: datetime) -> tuple[datetime, SourceTime]:
    """(source time to show, where it came from). Never returns a time the sender got wrong."""
    parsed = parse_claim(claimed)
    if parsed is None:
        return received, SourceTime.RECEIVED
    if isinstance(parsed, SourceTime):
        return received, parsed
    if parsed - received > FUTURE_SKEW:
        return received, SourceTime.FUTURE
    if received - parsed > FAR_PAST:
        return received, SourceTime.PAST
    return parsed, SourceTime.SOURCE


def claimed_time(kind: str, data: dict[str, Any]) -> Any:
    """The sender's time for an entry of ``kind`` (an ``EntryKind`` value), from its data contract.

    Alert firing: ``starts_at``; alert resolved: ``ends_at``; a PagerDuty event: ``occurred_at``;
    a flagged chat message: its ``ts``.
    """
    if kind in ("alert_firing", "alert_resolved"):
        key = "starts_at" if kind == "alert_firing" else "ends_at"
        # Alertmanager always sends both; the parser turns its zero time into None.
        return data.get(key) if data.get(key) is not None else (ZERO_TIME if key in data else None)
    if kind == "pagerduty_event":
        return data.get("occurred_at")
    if kind == "message_flagged":
        return data.get("ts")
    return None
