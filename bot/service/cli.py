"""``firebreak incidents list|show`` and ``firebreak declare``: incidents from a shell or a script.

``declare`` goes through the same service as ``/incident declare`` (playbook, escalation
plan, chat messages queued in the outbox), so a running ``serve`` (or the next console)
posts it as if someone had typed it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from bot.cli_types import person

#: How many timeline entries ``incidents show`` prints unless told otherwise.
SHOW_ENTRIES = 10
TITLE_LIMIT = 200


def register(sub: Any) -> None:
    incidents = sub.add_parser("incidents", help="incidents: list, show")
    actions = incidents.add_subparsers(dest="incidents_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="number, severity, status, age")
    listing.add_argument("--open", action="store_true", help="only incidents not yet resolved")
    listing.add_argument("--limit", type=_positive, default=100)
    listing.set_defaults(func=cmd_list)
    show = actions.add_parser("show", help="status, severity, roles, playbook steps and the latest timeline entries")
    show.add_argument("incident", metavar="INCIDENT", help="INC-42 or 42")
    show.add_argument("--entries", type=_positive, default=SHOW_ENTRIES, metavar="N", help=f"timeline entries to show (default {SHOW_ENTRIES})")
    show.set_defaults(func=cmd_show)

    declare = sub.add_parser("declare", help="open an incident (for scripts); prints INC-n")
    declare.add_argument("title", nargs="+", metavar="TITLE", help="what is broken (quote it or not)")
    declare.add_argument("--sev", default="P2", metavar="P0-P3", help="severity (default P2)")
    declare.add_argument("--user", default=None, type=person, help="who declares it (default: $USER)")
    declare.set_defaults(func=cmd_declare)


#: More rows than any table here can hold. A count past it asks for all of them, and is read
#: as this: SQLite cannot take a larger LIMIT at all, PostgreSQL none past a bigint.
MAX_COUNT = 2**31 - 1


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return min(value, MAX_COUNT)


class _Container:
    """A container that prints nothing itself, closed on exit.

    ``log_level`` WARNING where start-up warnings matter (declaring: which playbook, who is
    paged), ERROR for read-only commands. ``migrate``: bring the schema up to date first (a
    command that writes); without it the schema must already be the latest (a read-only
    command changes nothing, and says to run ``firebreak db upgrade``).
    """

    def __init__(self, log_level: str = "ERROR", *, migrate: bool = False) -> None:
        self.log_level = log_level
        self.migrate = migrate

    def __enter__(self) -> Any:
        from bot.container import build_container
        from bot.startup import configure_logging_for, settings_or_exit
        from bot.store.migrate import open_current, upgrade

        settings = settings_or_exit()
        configure_logging_for(settings.model_copy(update={"log_level": self.log_level}))
        engine = None if self.migrate else open_current(settings.database_url)
        self.container = build_container(settings, transcript_stream=None, engine=engine)
        if self.migrate:
            upgrade(self.container.engine)
        return self.container

    def __exit__(self, *_exc: object) -> None:
        self.container.close()


def cmd_list(args: argparse.Namespace) -> int:
    from bot.chat.render import incident_table

    with _Container() as container:
        incidents = container.service.recent(open_only=args.open, limit=args.limit)
        merged = container.service.merged_into([incident.number for incident in incidents])
        print(incident_table(incidents, now=container.clock.now(), merged=merged))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from bot.chat.render import incident_details
    from bot.domain.errors import IncidentNotFound, InvalidCommand
    from bot.domain.incident import parse_number

    try:
        number = parse_number(args.incident)
    except InvalidCommand as error:
        print(f"firebreak incidents show: {error}", file=sys.stderr)
        return 2
    with _Container() as container:
        try:
            incident = container.service.get(number)
        except IncidentNotFound as error:
            print(f"firebreak incidents show: {error}", file=sys.stderr)
            return 1
        steps = container.guided.steps(number)
        entries = container.service.timeline(number)
        print(
            incident_details(
                incident, steps=steps, entries=entries[-args.entries :], hidden=max(0, len(entries) - args.entries),
                now=container.clock.now(), zone=container.settings.zone, children=container.service.children(number),
                merged_into=container.service.merged_into([number]).get(number),
            )
        )
    return 0


def cmd_declare(args: argparse.Namespace) -> int:
    from bot.domain.severity import PERSON_SETTABLE, Severity
    from bot.domain.timeline import Source

    title = " ".join(" ".join(args.title).split())
    if not title:
        print("firebreak declare: the title is empty", file=sys.stderr)
        return 2
    if len(title) > TITLE_LIMIT:
        print(f"firebreak declare: the title is longer than {TITLE_LIMIT} characters", file=sys.stderr)
        return 2
    try:
        severity = Severity.parse(args.sev)
    except ValueError as error:
        print(f"firebreak declare: {error}", file=sys.stderr)
        return 2
    if severity not in PERSON_SETTABLE:
        print("firebreak declare: severity must be P0, P1, P2 or P3", file=sys.stderr)
        return 2
    with _Container("ERROR", migrate=True) as container:
        # Who cannot be paged matters when declaring: said as lines, as serve and console say it.
        for warning in container.startup_warnings:
            print(f"warning: {warning}", file=sys.stderr)
        incident = container.service.declare(title=title, severity=severity, actor=args.user or _whoami(), source=Source.CONSOLE)
        print(f"{incident.ref} declared: {incident.title} ({incident.severity.value})")
    return 0


def _whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "cli"
