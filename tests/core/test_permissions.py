"""The permission policy on its own, and the command router that enforces it for every verb."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.chat.commands import CommandContext, CommandRouter
from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.incident import Role, Status
from bot.domain.permissions import Action, Holder, IncidentView, Policy, Principal, Request, Standing, view_of
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.settings import SettingsError, load_settings

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
ALICE = Principal(key="alice", name="alice")
BOB = Principal(key="bob", name="bob")
CAROL = Principal(key="carol", name="carol")
GUEST = Principal(key="gina", name="gina", standing=Standing.GUEST, note="a single-channel guest")
EXTERNAL = Principal(key="ext", name="ext", standing=Standing.EXTERNAL)
ADMIN = Principal(key="root", name="root", is_admin=True)

STAFFED = IncidentView(
    ref="INC-4",
    holders=(Holder(Role.COMMANDER, "alice", "alice"), Holder(Role.SCRIBE, "carol", "carol")),
    commander_last_active=NOW - timedelta(minutes=10),
)
UNSTAFFED = IncidentView(ref="INC-4")


def decide(who: Principal, action: Action, incident: IncidentView | None = STAFFED, **kw: object) -> bool:
    return Policy(takeover_after=kw.pop("takeover", None)).decide(who, Request(action, incident, **kw), now=NOW).allowed  # type: ignore[arg-type]


def test_anyone_may_declare_acknowledge_note_escalate_and_read() -> None:
    for action in (Action.DECLARE, Action.LIST):
        assert decide(BOB, action, None)
    for action in (Action.ACKNOWLEDGE, Action.NOTE, Action.ESCALATE, Action.READ):
        assert decide(BOB, action)


@pytest.mark.parametrize("action", [Action.CHANGE_STATUS, Action.CHANGE_SEVERITY, Action.ASSIGN_ROLE, Action.MARK_STEP, Action.RUN_PLAYBOOK])
def test_state_changes_belong_to_role_holders_and_admins_once_a_commander_is_set(action: Action) -> None:
    assert decide(BOB, action, UNSTAFFED)
    assert decide(ALICE, action) and decide(CAROL, action) and decide(ADMIN, action)
    assert not decide(BOB, action)
    refusal = Policy().decide(BOB, Request(action, STAFFED), now=NOW)
    assert "only the commander (alice)" in refusal.reason and "INC-4" in refusal.reason and "admin" in refusal.reason


def test_a_commander_stored_as_a_bare_name_locks_nothing_and_grants_nothing() -> None:
    unverified = IncidentView(ref="INC-4", holders=(Holder(Role.COMMANDER, "bob", None),))
    assert decide(ALICE, Action.CHANGE_STATUS, unverified)  # no verified commander: anyone
    guest_named = IncidentView(ref="INC-4", holders=(Holder(Role.COMMANDER, "gina", None),))
    assert not decide(GUEST, Action.CHANGE_STATUS, guest_named)  # a bare name proves nothing


def test_takeover_after_the_commander_has_been_silent_long_enough() -> None:
    assert not decide(BOB, Action.ASSIGN_ROLE, role=Role.COMMANDER, assignee="bob")  # setting off
    quiet = IncidentView(ref="INC-4", holders=STAFFED.holders, commander_last_active=NOW - timedelta(minutes=31))
    recent = IncidentView(ref="INC-4", holders=STAFFED.holders, commander_last_active=NOW - timedelta(minutes=29))
    takeover = timedelta(minutes=30)
    assert decide(BOB, Action.ASSIGN_ROLE, quiet, role=Role.COMMANDER, assignee="bob", takeover=takeover)
    assert not decide(BOB, Action.ASSIGN_ROLE, recent, role=Role.COMMANDER, assignee="bob", takeover=takeover)
    # Taking over is making yourself commander, nothing else.
    assert not decide(BOB, Action.ASSIGN_ROLE, quiet, role=Role.COMMANDER, assignee="dave", takeover=takeover)
    assert not decide(BOB, Action.ASSIGN_ROLE, quiet, role=Role.SCRIBE, assignee="bob", takeover=takeover)
    assert not decide(BOB, Action.CHANGE_STATUS, quiet, takeover=takeover)
    assert not decide(GUEST, Action.ASSIGN_ROLE, quiet, role=Role.COMMANDER, assignee="gina", takeover=takeover)
    waiting = Policy(takeover_after=takeover).decide(BOB, Request(Action.CHANGE_STATUS, recent), now=NOW)
    assert "1 min more" in waiting.reason and "/incident role commander me" in waiting.reason


@pytest.mark.parametrize("who", [GUEST, EXTERNAL, Principal(key="x", name="x", standing=Standing.UNKNOWN)])
def test_guests_and_external_people_read_and_note_in_the_channel_and_need_a_role_for_more(who: Principal) -> None:
    for action in (Action.READ, Action.NOTE):
        assert decide(who, action, UNSTAFFED, in_incident_channel=True)
        assert not decide(who, action, UNSTAFFED)  # from elsewhere: not even reading
    for action in (Action.DECLARE, Action.LIST):
        assert not decide(who, action, None)
    for action in (Action.ACKNOWLEDGE, Action.ESCALATE, Action.CHANGE_STATUS, Action.ASSIGN_ROLE):
        assert not decide(who, action, UNSTAFFED, in_incident_channel=True)
    holding = IncidentView(ref="INC-4", holders=(*STAFFED.holders, Holder(Role.COMMS, who.name, who.key)))
    assert decide(who, Action.CHANGE_STATUS, holding) and decide(who, Action.ACKNOWLEDGE, holding)
    assert decide(Principal(key=who.key, name=who.name, standing=who.standing, is_admin=True), Action.DECLARE, None)


def test_the_operator_may_do_anything() -> None:
    operator = Principal.operator("ops")
    for action in Action:
        assert decide(operator, action)


def test_silence_is_measured_from_the_commanders_own_timeline_entries() -> None:
    def entry(minutes: int, actor: str, kind: EntryKind = EntryKind.NOTE, **data: object) -> TimelineEntry:
        return TimelineEntry(kind=kind, at=NOW - timedelta(minutes=minutes), actor=actor, source=Source.SLACK, text="", data=dict(data))

    timeline = [
        entry(90, "bob", EntryKind.DECLARED),
        entry(60, "bob", EntryKind.ROLE_ASSIGNED, role="commander", user="<alice>"),
        entry(45, "<alice>"),
        entry(5, "bob"),
    ]
    view = view_of("INC-4", {Role.COMMANDER: "<alice>"}, timeline, lambda text: text[1:-1] if text.startswith("<") else None)
    assert view.commander_last_active == NOW - timedelta(minutes=45)
    assert view.holders == (Holder(Role.COMMANDER, "<alice>", "alice"),)
    appointed_only = view_of("INC-4", {Role.COMMANDER: "<alice>"}, timeline[:2], lambda text: text[1:-1] if text.startswith("<") else None)
    assert appointed_only.commander_last_active == NOW - timedelta(minutes=60)


# -- the router: one check for every verb ------------------------------------------------


def bob_in_slack(number: int | None = None) -> CommandContext:
    return CommandContext(actor="bob", source=Source.SLACK, channel_incident=number, principal=BOB)


def test_typed_commands_are_held_to_the_policy_and_a_refusal_changes_nothing(container: Container, clock: FrozenClock) -> None:
    router: CommandRouter = container.commands
    number = container.service.declare(title="Checkout down", severity=Severity.P1, actor="alice", source=Source.CONSOLE).number
    container.service.assign_role(number, Role.COMMANDER, "alice", actor="alice", source=Source.CONSOLE)
    before = container.service.timeline(number)
    for line in (f"resolve INC-{number}", f"sev P3 INC-{number}", f"role commander me INC-{number}", f"mitigate INC-{number}"):
        reply = router.handle(f"/incident {line}", bob_in_slack())
        assert reply.refused and reply.text.startswith("🚫 only the commander (alice)") and not reply.public, line
    incident = container.service.get(number)
    assert incident.status is Status.TRIGGERED and incident.severity is Severity.P1 and incident.roles == {Role.COMMANDER: "alice"}
    assert container.service.timeline(number) == before
    # Without an incident there is nothing to judge: the usual question, not a refusal.
    assert router.handle("/incident resolve", bob_in_slack()).text.startswith("⚠️ which incident?")
    # What anyone may do still works, and the commander may do the rest.
    assert not router.handle(f"/incident ack INC-{number}", bob_in_slack()).refused
    assert not router.handle(f"/incident note rolled back INC-{number}", bob_in_slack(number)).refused
    alice = CommandContext(actor="alice", source=Source.SLACK, principal=ALICE)
    assert router.handle(f"/incident resolve INC-{number}", alice).text == f"INC-{number} is now resolved"


def test_the_console_is_the_operator(container: Container) -> None:
    number = container.service.declare(title="Disk full", severity=Severity.P2, actor="alice", source=Source.CONSOLE).number
    container.service.assign_role(number, Role.COMMANDER, "<@U0ALICE|alice>", actor="alice", source=Source.CONSOLE)
    console = CommandContext(actor="ops", source=Source.CONSOLE)
    assert container.commands.handle(f"/incident resolve INC-{number}", console).text == f"INC-{number} is now resolved"


def test_role_me_names_the_speaker(container: Container) -> None:
    number = container.service.declare(title="Disk full", severity=Severity.P2, actor="alice", source=Source.CONSOLE).number
    reply = container.commands.handle(f"/incident role commander me INC-{number}", bob_in_slack())
    assert reply.text == "bob is now commander"
    assert container.service.get(number).roles == {Role.COMMANDER: "bob"}


def test_takeover_through_the_router_uses_the_timeline(container: Container, clock: FrozenClock) -> None:
    router = CommandRouter(container.service, policy=Policy(takeover_after=timedelta(minutes=30)))
    number = container.service.declare(title="Disk full", severity=Severity.P2, actor="alice", source=Source.CONSOLE).number
    container.service.assign_role(number, Role.COMMANDER, "alice", actor="alice", source=Source.CONSOLE)
    clock.advance(minutes=20)
    container.service.add_note(number, "looking at the disks", actor="alice", source=Source.SLACK)  # the commander speaks
    clock.advance(minutes=20)
    refused = router.handle(f"/incident role commander me INC-{number}", bob_in_slack())
    assert refused.refused and "10 min more" in refused.text
    container.service.add_note(number, "still here?", actor="bob", source=Source.SLACK)  # others talking doesn't count
    clock.advance(minutes=11)
    taken = router.handle(f"/incident role commander me INC-{number}", bob_in_slack())
    assert taken.text == "bob is now commander", taken.text
    entry = container.service.timeline(number)[-1]
    assert entry.kind is EntryKind.ROLE_ASSIGNED and entry.actor == "bob" and entry.data["previous"] == "alice"


def test_every_verb_of_the_grammar_passes_the_policy() -> None:
    """A verb missing from ACTIONS would skip the check: the grammar and the map must agree."""
    from bot.chat.commands import ACTIONS
    from bot.chat.grammar import USAGE

    assert set(USAGE) == set(ACTIONS) | {"help"}


def test_permission_settings_are_validated_with_the_variable_named(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, FIREBREAK_ADMINS="U012AB3CD, S0614TZR7,W0GRID", FIREBREAK_TAKEOVER_AFTER="30m")
    assert settings.admins == ("U012AB3CD", "S0614TZR7", "W0GRID")
    assert settings.takeover_after == timedelta(minutes=30)
    defaults = load_settings(_env_file=None)
    assert defaults.admins == () and defaults.takeover_after is None
    for name, value in (("FIREBREAK_ADMINS", "alice"), ("FIREBREAK_ADMINS", "@oncall"), ("FIREBREAK_TAKEOVER_AFTER", "30"),
                        ("FIREBREAK_TAKEOVER_AFTER", "10s"), ("FIREBREAK_TAKEOVER_AFTER", "8d")):
        with pytest.raises(SettingsError, match=name):
            load_settings(_env_file=None, **{name: value})


def test_the_env_example_lines_are_accepted_as_written(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    lines = [line.removeprefix("# ") for line in example.read_text().splitlines() if line.startswith(("# FIREBREAK_ADMINS=", "# FIREBREAK_TAKEOVER_AFTER="))]
    assert len(lines) == 2
    env = tmp_path / ".env"
    env.write_text("\n".join(lines) + "\n")
    settings = load_settings(_env_file=str(env))
    assert settings.admins == () and settings.takeover_after is None
