"""``firebreak inbox [status|apply|retry]``: what accepted webhooks are still waiting.

A webhook the ingester could not apply after its retries stays in the inbox as dead, so
nothing a sender was told we accepted is ever thrown away. This is how an operator sees
those rows, applies what is queued without a running server, and tries dead rows again
once the cause (usually a bug, fixed by an upgrade) is gone.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("inbox", help="accepted webhooks not yet applied: status, apply, retry dead ones")
    actions = parser.add_subparsers(dest="inbox_command", required=True, metavar="ACTION")
    actions.add_parser("status", help="pending and dead webhooks, with the error of each dead one").set_defaults(func=cmd_status)
    actions.add_parser("apply", help="apply everything due now (a running server does this by itself)").set_defaults(func=cmd_apply)
    retry = actions.add_parser("retry", help="give dead webhooks a fresh set of attempts")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, action="append", dest="ids", metavar="ID", help="an inbox id (repeatable)")
    which.add_argument("--all", action="store_true", help="every dead webhook")
    retry.set_defaults(func=cmd_retry)


def cmd_status(_args: argparse.Namespace) -> int:
    from bot.ingest import inbox
    from bot.text_safety import clean, one_line

    with CommandSessions(migrate=False) as sessions, sessions() as session:
        counts = inbox.depth(session)
        oldest = inbox.oldest_pending(session)
        dead = inbox.dead_rows(session)
    age = f", oldest received {(datetime.now(UTC) - oldest).total_seconds():.0f} s ago" if oldest else ""
    print(f"pending: {counts['pending']}{age}; dead: {counts['dead']}")
    for row in dead:
        # The group key is the sender's (Alertmanager's groupKey) and the error may quote the
        # body: escape sequences in either would reach the operator's terminal.
        error = clean(row.last_error).strip().splitlines()
        print(f"  #{row.id} {row.source} {one_line(row.group_key)[:80]} attempts={row.attempts} received={row.received_at:%Y-%m-%d %H:%M:%S}Z")
        print(f"      {one_line(error[0])[:200] if error else '(no error recorded)'}")
    return 0


def cmd_apply(_args: argparse.Namespace) -> int:
    from bot.container import build_container
    from bot.startup import settings_or_exit
    from bot.store.migrate import upgrade

    container = build_container(settings_or_exit(), transcript_stream=None)
    try:
        upgrade(container.engine)
        applied = container.ingester.apply_all()
    finally:
        container.close()
    print(f"applied {applied} queued webhook(s)")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from bot.ingest import inbox

    with CommandSessions() as sessions, sessions.begin() as session:
        revived = inbox.revive(session, None if args.all else args.ids)
    if revived:
        print(f"{revived} dead webhook(s) queued again")
        return 0
    if args.all:  # nothing dead is the good case: a script retrying "whatever died" succeeds
        print("no dead webhooks: nothing to retry")
        return 0
    print("nothing to retry: none of these ids is a dead webhook (`firebreak inbox status` lists them)", file=sys.stderr)
    return 1


class CommandSessions:
    """A session factory for one command, disposed of afterwards.

    ``migrate``: bring the schema up to date first (a command that writes); without it the
    schema must already be the latest (a read-only command changes nothing).
    """

    def __init__(self, *, migrate: bool = True) -> None:
        self.migrate = migrate

    def __enter__(self) -> Any:
        from bot.startup import settings_or_exit
        from bot.store.db import make_engine, make_session_factory
        from bot.store.migrate import open_current, upgrade

        url = settings_or_exit().database_url
        if self.migrate:
            self._engine = make_engine(url)
            upgrade(self._engine)
        else:
            self._engine = open_current(url)
        return make_session_factory(self._engine)

    def __exit__(self, *_exc: object) -> None:
        self._engine.dispose()
