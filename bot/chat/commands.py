"""``/incident`` command handlers, shared by every chat backend.

A backend only supplies who is speaking and which incident the conversation is about;
everything else (parsing, rules, replies) is decided here, so Slack and the console
behave the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.chat import render
from bot.chat.grammar import USAGE, ParsedCommand, help_text, parse, split_declare
from bot.domain.errors import DomainError, InvalidCommand
from bot.domain.incident import Incident, Role
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.service.incidents import IncidentService


@dataclass
class CommandContext:
    actor: str
    source: Source
    channel_incident: int | None = None
    last_incident: int | None = None


@dataclass
class Reply:
    """``public`` replies are for everyone in the conversation, the others just for the asker."""

    text: str
    incident: int | None = None
    public: bool = False
    open_declare_form: bool = False
    data: dict[str, object] = field(default_factory=dict)


Handler = Callable[[ParsedCommand, CommandContext], Reply]


class CommandRouter:
    """Maps verbs to handlers; features (playbooks, escalation, export) register their own."""

    def __init__(self, service: IncidentService, *, zone: ZoneInfo | None = None) -> None:
        self.service = service
        self.zone = zone or ZoneInfo("UTC")
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
            "list": self._list,
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
            handler = self._handlers.get(command.verb)
            if handler is None:
                return Reply(f"`{command.verb}` is not available in this deployment.\nUsage: {USAGE[command.verb]}")
            return handler(command, context)
        except (DomainError, ValueError) as error:
            return Reply(f"⚠️ {error}")

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
        incident = self.service.declare(title=title, severity=severity, actor=context.actor, source=context.source)
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
        number = self.incident_for(command, context)
        self.service.assign_role(number, role, command.args[1], actor=context.actor, source=context.source)
        return Reply(f"{command.args[1]} is now {role.value}", incident=number, public=True)

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
        return Reply(render.summary(incident, now=self.service.clock.now(), zone=self.zone), incident=number)

    def _timeline(self, command: ParsedCommand, context: CommandContext) -> Reply:
        number = self.incident_for(command, context)
        incident = self.service.get(number)
        entries = self.service.timeline(number)
        return Reply(render.timeline(incident, entries, self.zone), incident=number)

    def _list(self, command: ParsedCommand, context: CommandContext) -> Reply:
        incidents = self.service.list(open_only=True)
        text = render.incident_table(incidents, now=self.service.clock.now())
        return Reply("Open incidents:\n" + text if incidents else "No open incidents.")
