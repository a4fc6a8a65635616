"""Judging a sender's time against when Firebreak received it (pure; no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.source_time import FAR_PAST, FUTURE_SKEW, SourceTime, claimed_time, judge
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.store.receipt import Receipt, receiving, stamp

RECEIVED = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("claimed", "expected"),
    [
        ("2026-03-14T09:18:00Z", (datetime(2026, 3, 14, 9, 18, tzinfo=UTC), SourceTime.SOURCE)),
        ("2026-03-14T10:18:00+00:45", (datetime(2026, 3, 14, 9, 33, tzinfo=UTC), SourceTime.SOURCE)),  # within the skew
        ("2026-03-14T09:18:00", (datetime(2026, 3, 14, 9, 18, tzinfo=UTC), SourceTime.SOURCE)),  # no zone: UTC
        ("1710408000.000200", (RECEIVED, SourceTime.PAST)),  # a Slack ts from 2024: far past
        (str((RECEIVED - timedelta(minutes=2)).timestamp()), (RECEIVED - timedelta(minutes=2), SourceTime.SOURCE)),
        ("0001-01-01T00:00:00Z", (RECEIVED, SourceTime.ZERO)),
        (datetime(1, 1, 1, tzinfo=UTC), (RECEIVED, SourceTime.ZERO)),
        ("1970-01-01T00:00:00Z", (RECEIVED, SourceTime.ZERO)),
        ((RECEIVED + FUTURE_SKEW + timedelta(seconds=1)).isoformat(), (RECEIVED, SourceTime.FUTURE)),
        ((RECEIVED - FAR_PAST - timedelta(seconds=1)).isoformat(), (RECEIVED, SourceTime.PAST)),
        ("yesterday", (RECEIVED, SourceTime.INVALID)),
        ({"not": "a time"}, (RECEIVED, SourceTime.INVALID)),
        ("9" * 40, (RECEIVED, SourceTime.INVALID)),
        ("9999-12-31T23:59:59-14:00", (RECEIVED, SourceTime.INVALID)),  # parses, but past the year 9999 in UTC
        ("9999-12-31T12:00:00Z", (RECEIVED, SourceTime.INVALID)),  # past the year 9999 east of Greenwich
        (None, (RECEIVED, SourceTime.RECEIVED)),
        ("", (RECEIVED, SourceTime.RECEIVED)),
    ],
)
def test_a_claimed_time_is_kept_only_when_sane(claimed: object, expected: tuple[datetime, SourceTime]) -> None:
    assert judge(claimed, RECEIVED) == expected


def test_the_edges_of_the_skew_and_the_past_are_still_sane() -> None:
    assert judge(RECEIVED + FUTURE_SKEW, RECEIVED) == (RECEIVED + FUTURE_SKEW, SourceTime.SOURCE)
    assert judge(RECEIVED - FAR_PAST, RECEIVED) == (RECEIVED - FAR_PAST, SourceTime.SOURCE)


def test_each_kind_reads_its_own_sender_time() -> None:
    assert claimed_time("alert_firing", {"starts_at": "a", "ends_at": "b"}) == "a"
    assert claimed_time("alert_resolved", {"starts_at": "a", "ends_at": "b"}) == "b"
    # Alertmanager's zero endsAt reaches the timeline as None: it is the zero time, not "no time".
    assert judge(claimed_time("alert_resolved", {"ends_at": None}), RECEIVED) == (RECEIVED, SourceTime.ZERO)
    assert claimed_time("pagerduty_event", {"occurred_at": "c"}) == "c"
    assert claimed_time("message_flagged", {"ts": "1.2"}) == "1.2"
    assert claimed_time("note", {"ts": "1.2"}) is None


def _entry(kind: EntryKind, at: datetime, **data: object) -> TimelineEntry:
    return TimelineEntry(kind=kind, at=at, actor="x", source=Source.ALERTMANAGER, text="t", data=dict(data))


def test_stamping_takes_the_receipt_not_the_apply_time() -> None:
    applied = RECEIVED + timedelta(minutes=3)
    with receiving(RECEIVED, claimed="2026-03-14T09:29:00Z"):
        firing = stamp(_entry(EntryKind.ALERT_FIRING, applied, starts_at="2026-03-14T09:18:00Z"))
        status = stamp(_entry(EntryKind.STATUS_CHANGED, applied, to="acknowledged"))
    assert (firing.at, firing.received_at, firing.source_at, firing.source_time) == (
        applied,
        RECEIVED,
        datetime(2026, 3, 14, 9, 18, tzinfo=UTC),
        SourceTime.SOURCE,
    )
    # An entry with no time of its own happened when the webhook says the event did.
    assert (status.received_at, status.source_at) == (RECEIVED, datetime(2026, 3, 14, 9, 29, tzinfo=UTC))


def test_outside_a_receipt_an_entry_is_received_when_recorded() -> None:
    note = stamp(_entry(EntryKind.NOTE, RECEIVED))
    assert (note.received_at, note.source_at, note.source_time) == (RECEIVED, RECEIVED, SourceTime.RECEIVED)
    # A receipt is never later than the entry it caused.
    late = stamp(_entry(EntryKind.NOTE, RECEIVED), Receipt(RECEIVED + timedelta(hours=1)))
    assert late.received_at == RECEIVED
