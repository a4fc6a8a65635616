"""``/incident split`` and ``/incident merge`` through the command router (console and in-process callers).

Children are created with ``bot.store.alert_groups.add`` directly, as ingest would.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine, select, text

from bot.chat.commands import CommandContext
from bot.chat.grammar import parse
from bot.container import Container, build_container
from bot.domain.children import JoinedBy
from bot.domain.clock import FrozenClock
from bot.domain.errors import InvalidCommand
from bot.domain.incident import Role, Status
from bot.domain.permissions import Principal
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.pagerduty.deliverer import TARGET as PAGERDUTY
from bot.pagerduty.sync import make_pagerduty_sync
from bot.store import alert_groups
from bot.store.incidents import IncidentRepository
from bot.store.models import AlertGroupRow, AlertRow, EscalationRow, IncidentRow, OutboxRow, TranscriptRow
from tests.conftest import make_settings
from tests.support.waiting import wait_until

CONSOLE = Source.CONSOLE
ALICE = Principal(key="alice", name="alice")
BOB = Principal(key="bob", name="bob")


def declare(container: Container, title: str = "Checkout down", severity: Severity = Severity.P2) -> int:
    return container.service.declare(title=title, severity=severity, actor="alice", source=CONSOLE).number


def add_child(
    container: Container,
    number: int,
    key: str,
    *,
    alertnames: Sequence[str] = ("HighCPU",),
    severity: Severity = Severity.P2,
    title: str | None = None,
    labels: dict[str, str] | None = None,
) -> int:
    """A child with one firing alert per alert name; its short id."""
    now = container.clock.now()
    with container.sessions.begin() as session:
        row = alert_groups.add(
            session,
            incident_id=number,
            dedup_key=f"am:{key}",
            source="alertmanager",
            title=title or f"{key} is failing",
            severity=severity,
            joined_by=JoinedBy.CORRELATED,
            at=now,
            labels=labels if labels is not None else {"cluster": "eu-1", "service": key},
        )
        for index, name in enumerate(alertnames):
            session.add(
                AlertRow(
                    incident_id=number,
                    fingerprint=f"{key}-{index}",
                    status="firing",
                    labels={"alertname": name, "service": key},
                    annotations={},
                    first_seen_at=now,
                    updated_at=now,
                    group_id=row.id,
                )
            )
        return row.child_number


def console() -> CommandContext:
    return CommandContext(actor="ops", source=CONSOLE)


def in_channel(number: int, principal: Principal | None = None, source: Source = Source.SLACK) -> CommandContext:
    who = principal or BOB
    return CommandContext(actor=who.name, source=source, channel_incident=number, principal=principal)


def children_of(container: Container, number: int) -> list[tuple[int, str, str]]:
    """(short id, dedup key, joined_by) of an incident's children."""
    with container.sessions() as session:
        return [(child.child, child.dedup_key, child.joined_by.value) for child in alert_groups.children(session, number)]


def alert_incidents(container: Container, key: str) -> set[int]:
    with container.sessions() as session:
        return set(session.scalars(select(AlertRow.incident_id).where(AlertRow.fingerprint.startswith(f"{key}-"))))


def of_kind(container: Container, number: int, kind: EntryKind) -> list[TimelineEntry]:
    return [entry for entry in container.service.timeline(number) if entry.kind is kind]


def outbox(container: Container, target: str, number: int | None = None) -> list[OutboxRow]:
    with container.sessions() as session:
        statement = select(OutboxRow).where(OutboxRow.target == target).order_by(OutboxRow.id)
        return [row for row in session.scalars(statement) if number is None or row.incident_id == number]


def row_of(container: Container, number: int) -> IncidentRow:
    with container.sessions() as session:
        row = session.get(IncidentRow, number)
        assert row is not None
        session.expunge(row)
        return row


# -- grammar -----------------------------------------------------------------------------


def test_split_and_merge_parse_their_arguments_apart_from_the_incident() -> None:
    assert parse("/incident split #3").args == ["#3"] and parse("split #3").ref is None
    assert parse("/incident split 3 INC-5").ref == 5
    assert parse("/incident split HighCPU").args == ["HighCPU"]
    merge = parse("/incident merge INC-7")
    assert merge.args == ["7"] and merge.ref is None  # INC-7 is the one merged away, not the one worked on
    assert parse("/incident merge 7 into INC-3").args == ["7"] and parse("/incident merge 7 into INC-3").ref == 3
    for bad in ("/incident merge", "/incident merge INC-7 INC-8", "/incident merge everything", "/incident merge 7 onto 3"):
        with pytest.raises(InvalidCommand, match="merge"):
            parse(bad)


# -- split -------------------------------------------------------------------------------


def test_split_by_short_id_makes_the_child_an_incident_of_its_own(container: Container) -> None:
    parent = declare(container, severity=Severity.P1)
    add_child(container, parent, "api")
    second = add_child(container, parent, "db", severity=Severity.P2, title="Postgres replica lag", labels={"service": "db", "team": "data"})
    reply = container.commands.handle(f"/incident split #{second}", in_channel(parent, ALICE))
    assert not reply.refused and reply.public, reply.text
    new = int(reply.data["split_into"])  # type: ignore[call-overload]
    incident = container.service.get(new)
    assert (incident.title, incident.severity, incident.labels) == ("Postgres replica lag", Severity.P2, {"service": "db", "team": "data"})
    assert reply.text == f"✂️ #2 of INC-{parent} is now INC-{new}: Postgres replica lag (P2)"
    # The child and its alerts moved; it is child #1 of the new incident.
    assert children_of(container, new) == [(1, "am:db", "opened")]
    assert children_of(container, parent) == [(1, "am:api", "correlated")]
    assert alert_incidents(container, "db") == {new} and alert_incidents(container, "api") == {parent}
    # Both timelines link to each other.
    (on_parent,) = of_kind(container, parent, EntryKind.SPLIT)
    (on_new,) = of_kind(container, new, EntryKind.SPLIT)
    assert on_parent.data == {"child": 2, "dedup_key": "am:db", "into": new}
    assert on_new.data["from"] == parent and on_new.data["child"] == 1 and on_new.data["dedup_key"] == "am:db"
    # Declared like any incident: its own channel and escalation plan; the parent keeps P1.
    assert [e.kind for e in container.service.timeline(new)][:1] == [EntryKind.DECLARED]
    assert any(row.operation == "open_incident" for row in outbox(container, "chat", new))
    assert container.service.get(parent).severity is Severity.P1


def test_split_by_alertname_and_by_bare_number(container: Container) -> None:
    parent = declare(container)
    add_child(container, parent, "api", alertnames=("HighCPU", "HighMemory"))
    add_child(container, parent, "db", alertnames=("ReplicaLag",))
    add_child(container, parent, "web", alertnames=("Http5xx",))
    by_name = container.commands.handle("/incident split ReplicaLag", in_channel(parent, ALICE))
    assert not by_name.refused and "#2 of" in by_name.text, by_name.text
    assert children_of(container, int(by_name.data["split_into"])) == [(1, "am:db", "opened")]  # type: ignore[call-overload]
    by_number = container.commands.handle(f"/incident split 3 INC-{parent}", console())
    assert "#3 of" in by_number.text, by_number.text
    assert children_of(container, parent) == [(1, "am:api", "correlated")]


def test_a_split_child_takes_the_incident_key_it_opened_with_it(container: Container) -> None:
    parent = declare(container)
    add_child(container, parent, "api")
    add_child(container, parent, "db")
    with container.sessions.begin() as session:
        row = session.get(IncidentRow, parent)
        assert row is not None
        row.dedup_key = "am:api"  # child #1 opened the incident (as ingest keys it)
    reply = container.commands.handle(f"/incident split #1 INC-{parent}", console())
    new = int(reply.data["split_into"])  # type: ignore[call-overload]
    assert row_of(container, new).dedup_key == "am:api" and row_of(container, parent).dedup_key is None
    assert children_of(container, parent) == [(2, "am:db", "correlated")]


def test_split_refusals_name_the_choices_and_change_nothing(container: Container) -> None:
    parent = declare(container)
    add_child(container, parent, "api", alertnames=("HighCPU",))
    add_child(container, parent, "db", alertnames=("HighCPU", "ReplicaLag"))
    lonely = declare(container, title="Disk full")
    add_child(container, lonely, "disk", alertnames=("DiskFull",))
    before = (container.service.timeline(parent), children_of(container, parent), container.service.timeline(lonely))
    context = in_channel(parent, ALICE)
    ambiguous = container.commands.handle("/incident split HighCPU", context).text
    assert ambiguous.startswith("⚠️") and "#1" in ambiguous and "#2" in ambiguous and "short id" in ambiguous
    unknown = container.commands.handle("/incident split NoSuchAlert", context).text
    assert "no child alert name 'NoSuchAlert'" in unknown and "#1 api is failing (HighCPU)" in unknown and "ReplicaLag" in unknown
    assert "no child #9" in container.commands.handle("/incident split #9", context).text
    only = container.commands.handle(f"/incident split #1 INC-{lonely}", context).text
    assert "only child" in only
    assert "which child" in container.commands.handle("/incident split", context).text
    assert (container.service.timeline(parent), children_of(container, parent), container.service.timeline(lonely)) == before
    with container.sessions() as session:
        assert session.scalar(select(IncidentRow.id).order_by(IncidentRow.id.desc()).limit(1)) == lonely  # nothing declared


def test_hostile_alert_names_are_quoted_flat_clean_and_clipped(container: Container) -> None:
    parent = declare(container)
    hostile = "Evil\n<!channel> \x1b[31m" + "x" * 300 + "\u202e"
    add_child(container, parent, "api", alertnames=(hostile,))
    typed = "<!here>*bold*`code`&amp;"
    add_child(container, parent, "db", alertnames=(typed,))
    refusal = container.commands.handle("/incident split Nope\u202e\x1b[2J", in_channel(parent, ALICE)).text
    assert "\n<!channel>" not in refusal and "x" * 100 not in refusal and "…" in refusal
    assert "\x1b" not in refusal and "\u202e" not in refusal and "Evil <!channel> [31mxxx" in refusal
    # A name full of markup still picks its child exactly (adapters escape the reply).
    done = container.commands.handle(f"/incident split {typed}", in_channel(parent, ALICE))
    assert not done.refused and "#2 of" in done.text, done.text


def clear(container: Container, key: str, *, truncated: int = 0) -> None:
    """The child ``key``'s alerts all resolved, as ingest leaves them (``truncated`` hidden)."""
    with container.sessions.begin() as session:
        row = session.scalars(select(AlertGroupRow).where(AlertGroupRow.dedup_key == f"am:{key}")).one()
        alert_groups.set_state(row, firing=False, at=container.clock.now(), truncated_alerts=truncated)
        for alert in session.scalars(select(AlertRow).where(AlertRow.group_id == row.id)):
            alert.status = "resolved"


@pytest.fixture
def p2_resolves(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO) -> Iterator[Container]:
    settings = make_settings(db_url, FIREBREAK_AUTO_RESOLVE="P2,P3", FIREBREAK_DEFAULT_ESCALATION="unacknowledged:5m:@primary")
    yield build_container(settings, clock=clock, transcript_stream=transcript, engine=engine)


def test_what_a_split_leaves_is_settled_by_the_auto_resolve_rule(p2_resolves: Container, clock: FrozenClock) -> None:
    container = p2_resolves
    # A truncated child held auto-resolve back; split out, the parent's one child has resolved.
    parent = declare(container)
    add_child(container, parent, "api")
    add_child(container, parent, "db")
    clear(container, "api")
    clear(container, "db", truncated=3)
    with container.sessions.begin() as session:
        row = session.get(IncidentRow, parent)
        assert row is not None
        row.dedup_key = "am:db"  # the group split out opened the incident: its key goes with it
    reply = container.commands.handle(f"/incident split #2 INC-{parent}", console())
    assert not reply.refused, reply.text
    assert container.service.get(parent).status is Status.RESOLVED
    assert row_of(container, parent).dedup_key is None and row_of(container, int(reply.data["split_into"])).dedup_key == "am:db"  # type: ignore[call-overload]
    (entry,) = of_kind(container, parent, EntryKind.ALERTS_ALL_RESOLVED)
    assert entry.data == {"count": 1, "auto_resolved": True} and "all alerts resolved" in entry.text
    # The last firing child split out: the same.
    storm = declare(container, title="Alert storm")
    add_child(container, storm, "web")
    add_child(container, storm, "cache")
    clear(container, "web")
    container.commands.handle(f"/incident split #2 INC-{storm}", console())
    assert container.service.get(storm).status is Status.RESOLVED
    # Resolved: its escalation is over (the split-out incident keeps its own).
    assert container.escalation is not None
    clock.advance(seconds=600)
    container.escalation.tick()
    assert of_kind(container, parent, EntryKind.ESCALATED) == [] and of_kind(container, storm, EntryKind.ESCALATED) == []


def test_a_split_settles_only_as_the_policy_and_the_remaining_children_allow(p2_resolves: Container) -> None:
    container = p2_resolves
    firing = declare(container)
    add_child(container, firing, "api")
    add_child(container, firing, "db")
    add_child(container, firing, "web")
    clear(container, "api")
    container.commands.handle(f"/incident split #2 INC-{firing}", console())  # #3 still fires
    assert container.service.get(firing).status is Status.TRIGGERED and of_kind(container, firing, EntryKind.ALERTS_ALL_RESOLVED) == []
    # A P1 does not resolve itself: said, not done.
    serious = declare(container, title="Payments down", severity=Severity.P1)
    add_child(container, serious, "pay")
    add_child(container, serious, "ledger")
    clear(container, "pay")
    container.commands.handle(f"/incident split #2 INC-{serious}", console())
    assert container.service.get(serious).status is Status.TRIGGERED
    (said,) = of_kind(container, serious, EntryKind.ALERTS_ALL_RESOLVED)
    assert said.data["auto_resolved"] is False
    # Another child still truncated: paused, said once.
    paused = declare(container, title="Search slow")
    for key in ("s1", "s2", "s3"):
        add_child(container, paused, key)
    clear(container, "s1", truncated=2)
    clear(container, "s2")
    container.commands.handle(f"/incident split #3 INC-{paused}", console())
    assert container.service.get(paused).status is Status.TRIGGERED
    notes = [entry for entry in of_kind(container, paused, EntryKind.NOTE) if "auto_resolve_paused" in entry.data]
    assert len(notes) == 1
    # A person's reopen stands: a split of an incident whose alerts had all cleared changes nothing.
    reopened = declare(container, title="Disk full")
    add_child(container, reopened, "d1")
    add_child(container, reopened, "d2")
    clear(container, "d1")
    clear(container, "d2")
    container.commands.handle(f"/incident split #2 INC-{reopened}", console())
    assert container.service.get(reopened).status is Status.TRIGGERED


# -- merge -------------------------------------------------------------------------------


def merged_pair(container: Container) -> tuple[int, int]:
    into = declare(container, title="Checkout down", severity=Severity.P2)
    add_child(container, into, "checkout")
    away = declare(container, title="Payments down", severity=Severity.P1)
    add_child(container, away, "payments", alertnames=("PaymentsDown",))
    add_child(container, away, "ledger", alertnames=("LedgerLag",))
    return into, away


def test_merge_moves_children_and_alerts_and_links_both_timelines(container: Container) -> None:
    into, away = merged_pair(container)
    reply = container.commands.handle(f"/incident merge INC-{away}", in_channel(into, ALICE))
    assert reply.public and reply.text == f"🔗 INC-{away} merged into INC-{into}: its children are now #2, #3. INC-{away} is closed.", reply.text
    assert children_of(container, into) == [(1, "am:checkout", "correlated"), (2, "am:payments", "merged"), (3, "am:ledger", "merged")]
    assert children_of(container, away) == []
    assert alert_incidents(container, "payments") == {into} and alert_incidents(container, "ledger") == {into}
    (on_away,) = of_kind(container, away, EntryKind.MERGED)
    (on_into,) = of_kind(container, into, EntryKind.MERGED)
    assert on_away.data["into"] == into and on_away.data["children"] == [1, 2]
    assert on_into.data["from"] == away and on_into.data["children"] == [2, 3]
    joined = of_kind(container, into, EntryKind.GROUP_JOINED)
    assert [(e.data["child"], e.data["joined_by"], e.data["alerts"]) for e in joined] == [(2, "merged", 1), (3, "merged", 1)]
    # INC-7 is closed and says where it went; its timeline stays (declared first).
    closed = container.service.get(away)
    assert closed.status is Status.RESOLVED and row_of(container, away).merged_into == into
    assert container.service.timeline(away)[0].kind is EntryKind.DECLARED
    # The survivor takes the worse severity (P1 over P2), never lower.
    survivor = container.service.get(into)
    assert survivor.severity is Severity.P1 and survivor.status is Status.TRIGGERED


def test_merge_carries_roles_over_only_where_the_survivor_has_none(container: Container) -> None:
    into, away = merged_pair(container)
    container.service.assign_role(into, Role.COMMANDER, "alice", actor="alice", source=CONSOLE)
    container.service.assign_role(away, Role.COMMANDER, "bob", actor="bob", source=CONSOLE)
    container.service.assign_role(away, Role.COMMS, "carol", actor="bob", source=CONSOLE)
    reply = container.commands.handle(f"/incident merge INC-{away} into INC-{into}", console())
    assert "roles carried over: comms" in reply.text
    assert container.service.get(into).roles == {Role.COMMANDER: "alice", Role.COMMS: "carol"}
    carried = of_kind(container, into, EntryKind.ROLE_ASSIGNED)[-1]
    assert carried.data == {"role": "comms", "user": "carol", "previous": None} and carried.actor == "ops"


def test_merge_keeps_both_pagerduty_links_and_resolves_only_what_the_merged_incident_opened(container: Container) -> None:
    container.service.subscribers.append(make_pagerduty_sync(rest_enabled=True, events_enabled=False))
    into, away = merged_pair(container)
    with container.sessions.begin() as session:
        for number, pd in ((into, "PDINTO"), (away, "PDAWAY")):
            row = session.get(IncidentRow, number)
            assert row is not None
            row.pagerduty_incident_id = pd
            row.links = {"pagerduty": f"https://example.pagerduty.com/incidents/{pd}"}
    container.commands.handle(f"/incident merge INC-{away}", in_channel(into, ALICE))
    links = container.service.get(into).links
    assert links == {
        "pagerduty": "https://example.pagerduty.com/incidents/PDINTO",
        f"pagerduty INC-{away}": "https://example.pagerduty.com/incidents/PDAWAY",
    }
    assert row_of(container, away).pagerduty_incident_id == "PDAWAY" and row_of(container, into).pagerduty_incident_id == "PDINTO"
    resolves = [row.payload["pagerduty_incident_id"] for row in outbox(container, PAGERDUTY) if row.operation == "resolve"]
    assert resolves == ["PDAWAY"]  # the PagerDuty incident behind the survivor is never resolved
    (on_into,) = of_kind(container, into, EntryKind.MERGED)
    assert on_into.data["pagerduty_incident_id"] == "PDAWAY"


def test_merge_posts_a_pointer_then_archives_the_merged_channel(container: Container, transcript: io.StringIO) -> None:
    into, away = merged_pair(container)
    container.commands.handle(f"/incident merge INC-{away}", in_channel(into, ALICE))
    rows = [(row.operation, row.payload.get("kind"), row.ordering_key) for row in outbox(container, "chat", away)]
    post = rows.index(("post", "merged", f"incident:{away}"))
    archive = next(index for index, row in enumerate(rows) if row[0] == "archive")
    assert archive > post and rows[archive][2] == f"incident:{away}"  # ordered after the pointer
    (archive_row,) = [row for row in outbox(container, "chat", away) if row.operation == "archive"]
    assert archive_row.payload["merged_into"] == into and archive_row.next_attempt_at <= container.clock.now()
    while asyncio.run(container.worker.run_once()):
        pass
    with container.sessions() as session:
        lines = [(row.channel, row.text) for row in session.scalars(select(TranscriptRow).order_by(TranscriptRow.id))]
    away_channel = next(channel for channel, text in lines if f"merged into INC-{into}" in text)
    pointer = next(text for channel, text in lines if f"merged into INC-{into}" in text)
    assert pointer.endswith(f"→ #inc-{into}-checkout-down"), pointer
    archived = [index for index, (channel, text) in enumerate(lines) if channel == away_channel and "channel archived" in text]
    assert archived and archived[0] > lines.index((away_channel, pointer))


@pytest.fixture
def esc(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO) -> Iterator[Container]:
    settings = make_settings(db_url, FIREBREAK_DEFAULT_ESCALATION="unacknowledged:5m:@primary,unresolved:1h:@secondary")
    yield build_container(settings, clock=clock, transcript_stream=transcript, engine=engine)


def test_merge_cancels_the_merged_incidents_escalation_so_none_of_its_deadlines_fires(esc: Container, clock: FrozenClock) -> None:
    assert esc.escalation is not None
    into, away = merged_pair(esc)
    with esc.sessions() as session:
        assert {row.status for row in session.scalars(select(EscalationRow).where(EscalationRow.incident_id == away))} == {"pending"}
    esc.commands.handle(f"/incident merge INC-{away}", in_channel(into, ALICE))
    with esc.sessions() as session:
        assert {row.status for row in session.scalars(select(EscalationRow).where(EscalationRow.incident_id == away))} == {"cancelled"}
    clock.advance(hours=2)
    fired = esc.escalation.tick()
    assert fired >= 1  # the survivor's deadlines still fire: the scheduler ran
    assert of_kind(esc, away, EntryKind.ESCALATED) == []
    assert of_kind(esc, into, EntryKind.ESCALATED) != []


def test_merge_refusals_say_why_and_change_nothing(container: Container) -> None:
    into, away = merged_pair(container)
    other = declare(container, title="Search slow")
    resolved = declare(container, title="Old")
    container.service.resolve(resolved, actor="alice", source=CONSOLE)
    context = in_channel(into, ALICE)
    assert "cannot be merged into itself" in container.commands.handle(f"/incident merge INC-{into}", context).text
    assert "there is no incident INC-99" in container.commands.handle("/incident merge INC-99", context).text
    assert f"INC-{resolved} is resolved; reopen it first" in container.commands.handle(f"/incident merge INC-{other} into INC-{resolved}", console()).text
    before = {number: container.service.timeline(number) for number in (into, away, other)}
    assert "⚠️" in container.commands.handle(f"/incident merge INC-{into}", in_channel(into, ALICE)).text
    assert all(container.service.timeline(number) == entries for number, entries in before.items())

    container.commands.handle(f"/incident merge INC-{away}", context)
    again = container.commands.handle(f"/incident merge INC-{away} into INC-{other}", console()).text
    assert f"INC-{away} was already merged into INC-{into}" in again
    # The parent into its own merged child: refused, pointing at where work goes on.
    back = container.commands.handle(f"/incident merge INC-{into}", in_channel(away, ALICE)).text
    assert f"INC-{away} was merged into INC-{into}: it cannot take INC-{into} in" in back
    into_merged = container.commands.handle(f"/incident merge INC-{other} into INC-{away}", console()).text
    assert f"INC-{away} was merged into INC-{into}" in into_merged
    assert children_of(container, other) == [] and container.service.get(other).status is Status.TRIGGERED
    assert row_of(container, into).merged_into is None
    # A merged incident stays closed: the work goes on where it went.
    reopen = container.commands.handle(f"/incident reopen INC-{away}", console()).text
    assert f"INC-{away} was merged into INC-{into}; reopen that one" in reopen
    assert container.service.get(away).status is Status.RESOLVED


# -- permissions ---------------------------------------------------------------------------


def test_split_and_merge_belong_to_the_commander_once_there_is_one(container: Container) -> None:
    into, away = merged_pair(container)
    container.service.assign_role(into, Role.COMMANDER, "alice", actor="alice", source=CONSOLE)
    before = {number: (container.service.timeline(number), children_of(container, number)) for number in (into, away)}
    for line in (f"/incident merge INC-{away}", "/incident split #1"):
        reply = container.commands.handle(line, in_channel(into, BOB))
        assert reply.refused and reply.text.startswith("🚫 only the commander (alice)") and not reply.public, reply.text
    assert "split children out" in container.commands.handle("/incident split #1", in_channel(into, BOB)).text
    # The other side of a merge is judged too: bob commands INC-into, but alice commands INC-away.
    container.service.assign_role(into, Role.COMMANDER, "bob", actor="alice", source=CONSOLE)
    container.service.assign_role(away, Role.COMMANDER, "alice", actor="alice", source=CONSOLE)
    refused = container.commands.handle(f"/incident merge INC-{away}", in_channel(into, BOB))
    assert refused.refused and f"merge incidents on INC-{away}" in refused.text, refused.text
    assert children_of(container, away) == before[away][1] and children_of(container, into) == before[into][1]
    # The console is the operator; anyone may while there is no commander.
    assert not container.commands.handle(f"/incident split #2 INC-{away}", console()).refused
    assert not container.commands.handle(f"/incident merge INC-{away} into INC-{into}", console()).refused
    with container.sessions() as session:
        assert session.scalar(select(AlertGroupRow.incident_id).where(AlertGroupRow.dedup_key == "am:payments")) == into


# -- what people type ----------------------------------------------------------------------


def test_a_hash_or_a_number_is_always_a_child_id(container: Container) -> None:
    parent = declare(container)
    add_child(container, parent, "api", alertnames=("HighCPU",))
    add_child(container, parent, "db", alertnames=("ReplicaLag",))
    before = (container.service.timeline(parent), children_of(container, parent))
    context = in_channel(parent, ALICE)
    for typed, shown in (("#99999999999", "#99999999999"), ("#-1", "#-1"), ("-1", "#-1"), ("#0", "#0"), ("#abc", "#abc"),
                         ("#" + "9" * 5000, "#999")):
        reply = container.commands.handle(f"/incident split {typed}", context)
        assert f"INC-{parent} has no child {shown}" in reply.text and "alert name" not in reply.text, reply.text
        assert "children are #1 api is failing (HighCPU); #2 db is failing (ReplicaLag)" in reply.text, reply.text
        assert len(reply.text) < 1000
    assert (container.service.timeline(parent), children_of(container, parent)) == before


def test_merge_naming_two_incidents_says_how_to_write_it(container: Container) -> None:
    reply = container.commands.handle("/incident merge INC-7 INC-3", console())
    assert "use: /incident merge INC-7 into INC-3" in reply.text, reply.text
    assert "use: /incident merge INC-7 into INC-3" in container.commands.handle("/incident merge 7 3", console()).text


def test_a_merged_incident_refuses_changes_and_names_the_survivor(container: Container) -> None:
    into, away = merged_pair(container)
    container.commands.handle(f"/incident merge INC-{away}", in_channel(into, ALICE))
    before = container.service.get(away)
    for line in ("/incident sev P0", "/incident ack", "/incident mitigate", "/incident resolve", "/incident role commander @bob",
                 "/incident escalate", "/incident step 1 done", "/incident run disk-full"):
        reply = container.commands.handle(line, in_channel(away, ALICE))
        assert reply.refused and f"INC-{away} was merged into INC-{into}" in reply.text, (line, reply.text)
    for line in (f"/incident sev P0 INC-{away}", f"/incident resolve INC-{away}", f"/incident ack INC-{away}"):
        reply = container.commands.handle(line, console())
        assert reply.refused and f"INC-{away} was merged into INC-{into}" in reply.text, (line, reply.text)
    after = container.service.get(away)
    assert (after.severity, after.status, after.roles) == (before.severity, before.status, before.roles)
    # A note still goes on its own record; the survivor takes changes as ever.
    assert not container.commands.handle("/incident note checked the old dashboards", in_channel(away, ALICE)).refused
    assert any(entry.text == "checked the old dashboards" for entry in container.service.timeline(away))
    assert not container.commands.handle("/incident sev P0", in_channel(into, ALICE)).refused
    assert container.service.get(into).severity is Severity.P0



def lock_waiters(container: Container) -> int:
    """Sessions of this database waiting for a lock. A fresh transaction each time: within one,
    PostgreSQL answers pg_stat_activity from the snapshot it took at the first look."""
    with container.sessions() as watcher:
        return int(
            watcher.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))
            or 0
        )


def test_a_merge_takes_its_locks_in_the_ingesters_order(container: Container, db_backend: str) -> None:
    """The ingester locks a group's row, then its incident. A merge arriving in between waits
    for the group row without holding either incident, so the ingester finishes and the merge
    goes on after it: no deadlock for PostgreSQL to break by failing one of them."""
    if db_backend != "postgres":
        pytest.skip("row locks: PostgreSQL (SQLite has one writer at a time)")
    into, away = merged_pair(container)
    outcome: list[object] = []

    def merge() -> None:
        try:
            outcome.append(container.commands.handle(f"/incident merge INC-{away}", in_channel(into, ALICE)).text)
        except Exception as error:  # reported below, with the ingester's side
            outcome.append(error)

    merging = threading.Thread(target=merge)
    with container.sessions.begin() as ingester:
        ingester.execute(text("SET LOCAL lock_timeout = '20s'"))
        assert alert_groups.lock_by_dedup_key(ingester, "am:payments") is not None
        merging.start()
        wait_until(lambda: outcome or lock_waiters(container), timeout=20, what="the merge waiting for a lock", explain=lambda: outcome)
        assert not outcome, f"the merge went past a group row the ingester holds: {outcome}"
        ingester.execute(select(IncidentRow.id).where(IncidentRow.id == away).with_for_update()).one()
    merging.join(timeout=30)
    assert not merging.is_alive()
    assert outcome and isinstance(outcome[0], str) and outcome[0].startswith(f"🔗 INC-{away} merged into INC-{into}"), outcome
    assert children_of(container, into) == [(1, "am:checkout", "correlated"), (2, "am:payments", "merged"), (3, "am:ledger", "merged")]


def test_a_group_that_joins_while_a_split_waits_is_locked_in_order(
    container: Container, db_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group joins the incident while the split waits for the incident's lock; the next
    notification of that group then locks its row and waits for the incident. Locking the new
    row after the incident would close the circle; the split starts its locking again instead
    (the pause before it reads the children holds open a window that is there anyway)."""
    if db_backend != "postgres":
        pytest.skip("row locks: PostgreSQL (SQLite has one writer at a time)")
    number = declare(container)
    add_child(container, number, "one")
    add_child(container, number, "two")
    go_on, reading = threading.Event(), threading.Event()
    real_rows_of = alert_groups.rows_of

    def paused_rows_of(session, incident_id, *, for_update=False):  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "split":
            reading.set()
            go_on.wait(20)
        return real_rows_of(session, incident_id, for_update=for_update)

    monkeypatch.setattr(alert_groups, "rows_of", paused_rows_of)
    outcome: dict[str, object] = {}

    def split() -> None:
        try:
            outcome["split"] = container.commands.handle(f"/incident split #1 INC-{number}", console()).text
        except Exception as error:  # reported below
            outcome["split"] = error

    def next_notification() -> None:
        try:
            with container.sessions.begin() as ingester:
                ingester.execute(text("SET LOCAL lock_timeout = '20s'"))
                row = alert_groups.lock_by_dedup_key(ingester, "am:new")
                assert row is not None
                ingester.execute(select(IncidentRow.id).where(IncidentRow.id == row.incident_id).with_for_update()).one()
            outcome["ingest"] = "applied"
        except Exception as error:  # reported below
            outcome["ingest"] = error

    splitting = threading.Thread(target=split, name="split")
    with container.sessions.begin() as joining:  # the ingester joining a new group to the incident
        joining.execute(select(IncidentRow.id).where(IncidentRow.id == number).with_for_update()).one()
        splitting.start()
        wait_until(lambda: lock_waiters(container), timeout=20, what="the split waiting for the incident")
        alert_groups.add(
            joining, incident_id=number, dedup_key="am:new", source="alertmanager", title="new", severity=Severity.P2,
            joined_by=JoinedBy.CORRELATED, at=container.clock.now(), labels={"service": "new"},
        )
    assert reading.wait(20), "the split went on"
    applying = threading.Thread(target=next_notification)
    applying.start()
    wait_until(lambda: lock_waiters(container) or outcome.get("ingest"), timeout=20, what="the next notification waiting")
    go_on.set()
    splitting.join(30)
    applying.join(30)
    assert isinstance(outcome.get("split"), str) and str(outcome["split"]).startswith("✂️"), outcome
    assert outcome.get("ingest") == "applied", outcome


def test_the_console_archives_only_a_channel_there_was(container: Container) -> None:
    """As in Slack: a merged-away P1 has a channel, archived with a plain line; a P3 never had
    one, so nothing is archived nor said about it."""
    into = declare(container, title="Checkout down", severity=Severity.P1)
    had_channel = declare(container, title="Payments down", severity=Severity.P1)
    no_channel = declare(container, title="Slow reports", severity=Severity.P3)
    container.commands.handle(f"/incident merge INC-{had_channel}", in_channel(into, ALICE))
    container.commands.handle(f"/incident merge INC-{no_channel}", in_channel(into, ALICE))
    while asyncio.run(container.worker.run_once()):
        pass
    with container.sessions() as session:
        lines = [(row.channel, row.text) for row in session.scalars(select(TranscriptRow).order_by(TranscriptRow.id))]
    archived = [(channel, text) for channel, text in lines if "archived" in text]
    assert archived == [(f"#inc-{had_channel}-payments-down", "⚙️ channel archived")], archived


def test_a_note_in_the_merged_channel_before_it_is_archived_is_still_delivered(container: Container) -> None:
    into, away = merged_pair(container)
    while asyncio.run(container.worker.run_once()):
        pass
    container.commands.handle(f"/incident merge INC-{away}", in_channel(into, ALICE))
    container.commands.handle("/incident note checking the ledger too", in_channel(away, ALICE))
    for _ in range(10):
        container.clock.advance(seconds=120)
        asyncio.run(container.worker.run_once())
    left = [(row.operation, row.status) for row in outbox(container, "chat", away) if row.status != "delivered"]
    assert left == [], left


def test_a_merge_that_locks_again_decides_on_the_incident_as_committed(
    container: Container, db_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group joins while the merge takes its locks, so it takes them again; a severity raise
    committed in between must survive the merge (the second lock reads the row afresh)."""
    if db_backend != "postgres":
        pytest.skip("the locking retry runs on PostgreSQL")
    into, away = merged_pair(container)
    real_get_row = IncidentRepository.get_row
    calls = {"locks": 0}

    def get_row(session, number, *, for_update=False):  # type: ignore[no-untyped-def]
        if for_update and threading.current_thread().name == "merge":
            calls["locks"] += 1
            if calls["locks"] == 1:  # the first pass: a group joins the survivor meanwhile
                add_child(container, into, "late", alertnames=("Late",))
            elif calls["locks"] == 3:  # after the savepoint's rollback, before the second pass
                container.service.change_severity(into, Severity.P0, actor="carol", source=CONSOLE)
        return real_get_row(session, number, for_update=for_update)

    monkeypatch.setattr(IncidentRepository, "get_row", staticmethod(get_row))
    replies: list[str] = []
    merging = threading.Thread(
        target=lambda: replies.append(container.commands.handle(f"/incident merge INC-{away}", in_channel(into, ALICE)).text), name="merge"
    )
    merging.start()
    merging.join(30)
    assert replies and replies[0].startswith(f"🔗 INC-{away} merged into INC-{into}"), replies
    assert calls["locks"] >= 4, "the merge took its locks a second time"
    assert container.service.get(into).severity is Severity.P0

