"""``/incident`` command handlers, shared by every chat backend.

A backend only supplies who is speaking and which incident the conversation is about;
everything else (parsing, rules, replies) is decided here, so Slack and the console
behave the same. Every command, however it arrived (typed, a button, a form, a reaction),
passes the permission policy (``bot/domain/permissions.py``) here before it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from bot.chat import render
from bot.chat.grammar import USAGE, ParsedCommand, help_text, parse, split_declare
from bot.chat.people import PLAIN, Naming
from bot.domain.errors import DomainError, IncidentNotFound, InvalidCommand
from bot.domain.incident import Incident, Role, format_number
from bot.domain.permissions import (
    NEVER_BY_A_PERSON,
    Action,
    Decision,
    IncidentView,
    Policy,
    Principal,
    Request,
    Standing,
    view_of,
)
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.service.incidents import IncidentService
from bot.service.regroup import RegroupService
from bot.text_safety import storable


@dataclass
class CommandContext:
    """Who is speaking, and where.

    ``principal`` is who the permission policy sees. The Slack adapter always resolves it
    (guest, external, admin); left out, the console's user is the operator and any other
    in-process caller is a plain member named by ``actor``, never an admin.
    """

    actor: str
    source: Source
    channel_incident: int | None = None
    last_incident: int | None = None
    principal: Principal | None = None
    naming: Naming = PLAIN

    def who(self) -> Principal:
        if self.principal is not None:
            return self.principal
        if self.source is Source.CONSOLE:
            return Principal.operator(self.actor)
        return Principal(key=self.naming.key_of(self.actor) or self.actor, name=self.actor, standing=Standing.MEMBER)


@dataclass
class Reply:
    """``public`` replies are for everyone in the conversation, the others just for the asker."""

    text: str
    incident: int | None = None
    public: bool = False
    open_declare_form: bool = False
    data: dict[str, object] = field(default_factory=dict)
    refused: bool = False


#: The policy's name for each verb; ``help`` needs no permission.
ACTIONS: dict[str, Action] = {
    "declare": Action.DECLARE,
    "ack": Action.ACKNOWLEDGE,
    "mitigate": Action.CHANGE_STATUS,
    "resolve": Action.CHANGE_STATUS,
    "reopen": Action.CHANGE_STATUS,
    "sev": Action.CHANGE_SEVERITY,
    "role": Action.ASSIGN_ROLE,
    "note": Action.NOTE,
    "action": Action.NOTE,
    "step": Action.MARK_STEP,
    "run": Action.RUN_PLAYBOOK,
    "escalate": Action.ESCALATE,
    "split": Action.SPLIT,
    "merge": Action.MERGE,
    "status": Action.READ,
    "timeline": Action.READ,
    "export": Action.READ,
    "children": Action.READ,
    "list": Action.LIST,
}
#: Verbs that change an incident's state, refused on one merged into another (the work goes on
#: in the survivor). Notes and action items stay allowed: they add to the merged incident's own
#: record and change nothing; ``reopen`` and ``split`` are refused by their use cases.
CHANGES_STATE = frozenset({"ack", "mitigate", "resolve", "sev", "role", "step", "run", "escalate"})
#: Actions that concern no single incident.
_GLOBAL = frozenset({Action.DECLARE, Action.LIST})


Handler = Callable[[ParsedCommand, CommandContext], Reply]


class CommandRouter:
    """Maps verbs to handlers; features (playbooks, escalation, export) register their own."""

    def __init__(
        self,
        service: IncidentService,
        *,
        zone: ZoneInfo | None = None,
        policy: Policy | None = None,
        auto_resolve: frozenset[Severity] = frozenset(),
    ) -> None:
        """``auto_resolve``: the severities that resolve themselves once their alerts clear
        (``FIREBREAK_AUTO_RESOLVE``), which a split or merge settles again."""
        self.service = service
        self.zone = zone or ZoneInfo("UTC")
        self.policy = policy or Policy()
        self.regroup = RegroupService(service, auto_resolve=auto_resolve)
        self._handlers: dict[str, Handler] = {
            "declare": self._declare,
            "ack": self._lifecycle("acknowledge"),
            "mitigate": self._lifecycle("mitigate"),
            "resolve": self._lifecycle("resolve"),
            "reopen": self._lifecycle("reopen"),
            "sev": self._severity,
            "role": self._role,
            "note": self._note,
            "action": self._action,
            "status": self._status,
            "timeline": self._timeline,
            "children": self._children,
            "list": self._list,
            "split": self._split,
            "merge": self._merge,
            "help": lambda _command, _context: Reply(help_text()),
        }

    def register(self, verb: str, handler: Handler) -> None:
        if verb not in USAGE:
            raise ValueError(f"{verb!r} is not part of the /incident grammar")
        self._handlers[verb] = handler

    def handler(self, verb: str) -> Handler | None:
        """The current handler for ``verb``, so a feature can wrap it (e.g. add to ``status``)."""
        return self._handlers.get(verb)

    def handle(self, line: str, context: CommandContext) -> Reply:
        """Never raises for bad input: every problem becomes a reply with usage."""
        try:
            command = parse(line)
        except (DomainError, ValueError) as error:
            return Reply(f"⚠️ {error}")
        return self.execute(command, context)

    def execute(self, command: ParsedCommand, context: CommandContext) -> Reply:
        """Run a parsed command (typed, or built by a button or form) if the policy allows it.

        A refusal changes nothing and says why, to the asker only.
        """
        # A stray NUL in a typed note or a form's title would fail the write on PostgreSQL
        # and leave the asker without an answer: it is stored as U+FFFD, like a webhook's.
        command = replace(
            command, args=[storable(arg) for arg in command.args], text=storable(command.text), detail=storable(command.detail)
        )
        try:
            handler = self._handlers.get(command.verb)
            if handler is None:
                return Reply(f"`{command.verb}` is not available in this deployment.\nUsage: {USAGE[command.verb]}")
            decision = self.decide(command, context)
            if not decision.allowed:
                return Reply(f"🚫 {decision.reason}", refused=True)
            for named in self.incidents_named(command, context):
                self.service.check_own(named)
            if command.verb in CHANGES_STATE:
                number = self.incident_for(command, context)
                survivor = self.service.merged_into([number]).get(number)
                if survivor is not None:
                    there = format_number(survivor)
                    return Reply(
                        f"🚫 {format_number(number)} was merged into {there}: it is closed, the work goes on there "
                        f"(/incident {command.verb} … {there})",
                        refused=True,
                    )
            return handler(command, context)
        except (DomainError, ValueError) as error:
            return Reply(f"⚠️ {error}")

    def decide(self, command: ParsedCommand, context: CommandContext) -> Decision:
        """The policy's answer for this command from this person, in the incident's current state."""
        action = ACTIONS.get(command.verb)
        if action is None:
            return Decision.allow()
        # Without an incident the command cannot run: say so ("which incident?") before judging.
        number = None if action in _GLOBAL else self.incident_for(command, context)
        role: Role | None = None
        assignee: str | None = None
        if action is Action.ASSIGN_ROLE and len(command.args) == 2:
            role = Role.parse(command.args[0])
            assignee = context.naming.key_of(context.naming.person(command.args[1], me=context.actor))
        decision = self.permits(action, context, number, role=role, assignee=assignee)
        if decision.allowed and action is Action.MERGE and command.args:
            # A merge closes the incident merged away: the asker must be allowed on it too.
            merged = int(command.args[0])
            if merged != number:
                return self.permits(action, context, merged)
        return decision

    def permits(
        self, action: Action, context: CommandContext, number: int | None, *, role: Role | None = None, assignee: str | None = None
    ) -> Decision:
        """The policy's answer for ``action`` on incident ``number`` (None: no incident)."""
        who = context.who()
        view = None
        if number is not None and who.standing is not Standing.OPERATOR:
            try:
                incident = self.service.get(number)
            except IncidentNotFound:
                if not who.limited:
                    raise
                # The same refusal as for an incident that exists: no probing which numbers do.
                view = IncidentView(ref=format_number(number))
            else:
                entries = self.service.timeline(number, leaving_out=NEVER_BY_A_PERSON) if incident.roles.get(Role.COMMANDER) else []
                view = view_of(incident.ref, incident.roles, entries, context.naming.key_of)
        request = Request(
            action=action,
            incident=view,
            role=role,
            assignee=assignee,
            in_incident_channel=number is not None and number == context.channel_incident,
        )
        return self.policy.decide(who, request, now=self.service.clock.now())

    def incidents_named(self, command: ParsedCommand, context: CommandContext) -> list[int]:
        """Every incident the command acts on or reads (both of a merge; none for a declare)."""
        action = ACTIONS.get(command.verb)
        if action is None or action in _GLOBAL:
            return []
        numbers = [self.incident_for(command, context)]
        if action is Action.MERGE and command.args:
            numbers.append(int(command.args[0]))
        return numbers

    def incident_for(self, command: ParsedCommand, context: CommandContext) -> int:
        number = command.ref or context.channel_incident or context.last_incident
        if number is None:
            raise InvalidCommand(f"which incident? add INC-<n>.\nUsage: {USAGE[command.verb]}")
        return number

    # -- handlers --------------------------------------------------------------------

    def _declare(self, command: ParsedCommand, context: CommandContext) -> Reply:
        if not command.text:
            return Reply("Tell me what is broken: " + USAGE["declare"], open_declare_form=True)
        title, severity_text = split_declare(command.text)
        severity = Severity.parse(severity_text) if severity_text else Severity.P2
        incident = self.service.declare(
            title=title, severity=severity, actor=context.actor, source=context.source, description=command.detail
        )
        return Reply(f"🚨 {incident.ref} declared: {incident.title} ({severity.value})", incident=incident.number, public=True)

    def _lifecycle(self, method: str) -> Handler:
        def handler(command: ParsedCommand, context: CommandContext) -> Reply:
            number = self.incident_for(command, context)
            incident: Incident = getattr(self.service, method)(number, actor=context.actor, source=context.source)
            return Reply(f"{incident.ref} is now {incident.status.value}", incident=number, public=True)

        return handler

    def _severity(self, command: ParsedCommand, context: CommandContext) -> Reply:
        if len(command.args) != 1:
            raise InvalidCommand(f"Usage: {USAGE['sev']}")
        severity = Severity.parse(command.args[0])
        if severity is Severity.INFO:
            raise InvalidCommand("severity must be P0, P1, P2 or P3")
        number = self.incident_for(command, context)
        incident = self.service.change_severity(number, severity, actor=context.actor, source=context.source)
        return Reply(f"{incident.ref} is now {incident.severity.value}", incident=number, public=True)

    def _role(self, command: ParsedCommand, context: CommandContext) -> Reply:
        if len(command.args) != 2:
            raise InvalidCommand(f"Usage: {USAGE['role']}")
        role = Role.parse(command.args[0])
        user = context.naming.person(command.args[1], me=context.actor)
        number = self.incident_for(command, context)
        self.service.assign_role(number, role, user, actor=context.actor, source=context.source)
        return Reply(f"{user} is now {role.value}", incident=number, public=True)

    def _note(self, command: ParsedCommand, context: CommandContext) -> Reply:
        number = self.incident_for(command, context)
        self.service.add_note(number, command.text, actor=context.actor, source=context.source)
        return Reply("📝 noted on the timeline", incident=number)

    def _action(self, command: ParsedCommand, context: CommandContext) -> Reply:
        number = self.incident_for(command, context)
        self.service.add_action(number, command.text, actor=context.actor, source=context.source)
        return Reply("✅ follow-up action recorded for the post-mortem", incident=number)

    def _status(self, command: ParsedCommand, context: CommandContext) -> Reply:
        number = self.incident_for(command, context)
        incident = self.service.get(number)
        shown = replace(incident, roles={role: context.naming.shown(user) for role, user in incident.roles.items()})
        children = self.service.children(number)
        return Reply(render.summary(shown, now=self.service.clock.now(), zone=self.zone, children=children), incident=number)

    def _children(self, command: ParsedCommand, context: CommandContext) -> Reply:
        """Every alert group of the incident, worst first, a page at a time (read-only)."""
        page = _page(command)
        number = self.incident_for(command, context)
        incident = self.service.get(number)
        return Reply(render.children_list(incident, self.service.children(number), page=page), incident=number)

    def _timeline(self, command: ParsedCommand, context: CommandContext) -> Reply:
        number = self.incident_for(command, context)
        incident = self.service.get(number)
        entries = self.service.timeline(number)
        return Reply(render.timeline(incident, entries, self.zone), incident=number)

    def _split(self, command: ParsedCommand, context: CommandContext) -> Reply:
        selector = command.args[0] if len(command.args) == 1 else command.text
        if not selector.strip():
            raise InvalidCommand(f"which child? name its short id or an alert name.\nUsage: {USAGE['split']}")
        number = self.incident_for(command, context)
        result = self.regroup.split(number, selector, actor=context.actor, source=context.source)
        new = result.incident
        return Reply(
            f"✂️ #{result.child} of {result.parent.ref} is now {new.ref}: {new.title} ({new.severity.value})",
            incident=number,
            public=True,
            data={"split_into": new.number},
        )

    def _merge(self, command: ParsedCommand, context: CommandContext) -> Reply:
        number = self.incident_for(command, context)
        merged = int(command.args[0])
        result = self.regroup.merge(number, merged, actor=context.actor, source=context.source)
        moved = ", ".join(f"#{new}" for _, new in result.children)
        text = f"🔗 {result.merged.ref} merged into {result.incident.ref}" + (f": its children are now {moved}" if moved else "")
        if result.roles:
            text += f"; roles carried over: {', '.join(result.roles)}"
        return Reply(text + f". {result.merged.ref} is closed.", incident=number, public=True, data={"merged": merged})

    def _list(self, command: ParsedCommand, context: CommandContext) -> Reply:
        incidents = self.service.recent(open_only=True)
        merged = self.service.merged_into([incident.number for incident in incidents])
        text = render.incident_table(incidents, now=self.service.clock.now(), merged=merged)
        return Reply("Open incidents:\n" + text if incidents else "No open incidents.")


def _page(command: ParsedCommand) -> int:
    """``children [INC-n] [page <n>]``: the page asked for (1 without one)."""
    if len(command.args) == 2 and command.args[0].lower() == "page":
        if not command.args[1].isdigit() or int(command.args[1]) < 1:
            raise InvalidCommand(f"{command.args[1]!r} is not a page number.\nUsage: {USAGE['children']}")
        return int(command.args[1])
    return 1
