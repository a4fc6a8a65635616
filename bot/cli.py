"""The ``firebreak`` command (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot import __version__
from bot.chat.console.cli import register as register_console
from bot.drill.cli import register as register_drill
from bot.export.cli import register as register_export
from bot.ingest.cli import register as register_inbox
from bot.service.cli import register as register_incidents
from bot.startup import configure_logging_for, settings_or_exit
from bot.store.db import SchemaNotCurrent

if TYPE_CHECKING:
    from bot.http.server import Limits
    from bot.roles import Role
    from bot.settings import Settings

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def cmd_serve(args: argparse.Namespace) -> int:
    """Everything in one process: local mode, SQLite, small installs."""
    from bot.roles import ALL_ROLES

    return _serve_http(args, ALL_ROLES)


def cmd_web(args: argparse.Namespace) -> int:
    """HTTP only: webhooks are queued, slash commands applied, the worker does the rest."""
    from bot.roles import Role

    return _serve_http(args, frozenset({Role.WEB}))


HEALTH_PORT = "FIREBREAK_HEALTH_PORT"


def _refuse_sqlite(settings: Settings, command: str) -> bool:
    from sqlalchemy.engine import make_url

    if make_url(settings.database_url).get_backend_name() != "sqlite":
        return False
    print(
        f"firebreak {command}: DATABASE_URL is SQLite, which one process must own; set DATABASE_URL to a"
        " postgresql+psycopg:// URL to run web and worker apart, or run `firebreak serve`",
        file=sys.stderr,
    )
    return True


def _serve_http(args: argparse.Namespace, roles: frozenset[Role]) -> int:
    from bot.container import build_container, database_location
    from bot.http.server import PortUnavailable, listen, serve
    from bot.ingest.inbound import curl_line, local_token, local_token_path, unconfigured_inbound
    from bot.roles import ALL_ROLES
    from bot.store.migrate import refuse_newer_schema
    from bot.supervision import Supervisor
    from bot.tuning import tune_process
    from bot.web import create_app, create_health_app

    settings = settings_or_exit()
    all_in_one = roles == ALL_ROLES
    if not all_in_one and _refuse_sqlite(settings, args.command):
        return 2
    port = args.port or settings.port
    host = args.host or settings.host
    if settings.health_port == port:
        print(f"firebreak: FIREBREAK_HEALTH_PORT must differ from the port served ({port})", file=sys.stderr)
        return 2
    try:
        bound = listen(host, port, chosen_by="--port or PORT")
        health = (settings.health_port, listen(host, settings.health_port, chosen_by=HEALTH_PORT)) if settings.health_port else None
    except PortUnavailable as error:
        print(f"firebreak {args.command}: {error}", file=sys.stderr)
        return 1
    try_it = None
    if all_in_one and not settings.slack_enabled and not settings.alertmanager_token and not settings.alertmanager_tokens:
        path = local_token_path(settings.database_url)
        token, created = local_token(path)
        update = {"alertmanager_token": token}
        web_too = not settings.web_token and not settings.web_user_header and len(token) >= 16
        if web_too:  # the web view opens with the same token on a machine of one's own
            update["web_token"] = token
        settings = settings.model_copy(update=update)
        where = "made and saved in" if created else "read from"
        try_it = f"Alertmanager token {where} {path} (set ALERTMANAGER_TOKEN to choose your own). Try:\n  {curl_line(host, port, token)}"
        if web_too:
            try_it += f"\nWeb view: http://{host}:{port}/ (sign in with the same token; set FIREBREAK_WEB_TOKEN to choose your own)"
    configure_logging_for(settings)
    for warning in unconfigured_inbound(settings):
        logging.getLogger("bot.inbound").warning(warning)
    container = build_container(settings, files_dir=Path.cwd(), roles=roles)
    # Reach the database before serving: a missing database or a refused connection is one
    # line with what to do, not a start-up traceback inside uvicorn (exit 3).
    with container.engine.connect():
        pass
    refuse_newer_schema(container.engine)  # likewise a schema a later version migrated
    supervisor = Supervisor()
    app = create_app(container, roles=roles, supervisor=supervisor)
    print(f"Firebreak {__version__}: database {database_location(settings.database_url)}", flush=True)
    for warning in container.startup_warnings:
        print(f"warning: {warning}", flush=True)
    if container.local_mode and all_in_one:
        print(
            f"Firebreak in local mode (no Slack credentials): http://{host}:{port}. What the bot would post is"
            " printed below; run `firebreak console` in another terminal to take part.",
            flush=True,
        )
        if try_it:
            print(try_it, flush=True)
        if not settings.web_token and not settings.web_user_header:
            print(f"Web view: http://{host}:{port}/ is closed until FIREBREAK_WEB_TOKEN is set (then sign in with it)", flush=True)
    tune_process(roles)
    limits = _limits(settings)
    health_app = create_health_app(container) if health else None
    serve(app, health_app, host=host, port=port, bound=bound, health=health, limits=limits, supervisor=supervisor)
    container.close()
    return _loop_failure(args, supervisor.failed_loop, supervisor.failure)


def _database_hint(error: Exception) -> str:
    """What to do about a database error, as far as its text tells."""
    text = str(error)
    missing = re.search(r'database "([^"]*)" does not exist', text)
    if missing:
        return f"create the database first (createdb {missing.group(1)}, or CREATE DATABASE in psql), then run `firebreak db upgrade`"
    if re.search(r"no such table|relation \"[^\"]*\" does not exist", text):
        return "the schema is missing: run `firebreak db upgrade`"
    if re.search(r'role "[^"]*" does not exist|password authentication failed|no pg_hba\.conf entry', text):
        return "the server refused these credentials: check the user and password in DATABASE_URL"
    if re.search(r"Connection refused|No such file or directory|timeout expired|could not translate host name|Name or service not known", text):
        return "is the database server running at the address in DATABASE_URL?"
    # A full disk and a read-only database are not a wrong URL: saying "check DATABASE_URL"
    # sent the operator to the one setting that was right (SQLite reports a full disk met
    # while opening the file as a "disk I/O error").
    if re.search(r"database or disk is full|No space left on device|disk I/O error|could not extend file", text):
        return "is the disk holding the database full? free space there and start again"
    if re.search(r"readonly database|read-only transaction", text):
        return (
            "the database is read-only: check that Firebreak's user owns the SQLite file and its folder, "
            "or that DATABASE_URL names the PostgreSQL primary, not a standby"
        )
    return "check DATABASE_URL"


def _loop_failure(args: argparse.Namespace, name: str | None, error: BaseException | None) -> int:
    if error is None:
        return 0
    _fail(args, f"background loop {name} crashed: {type(error).__name__}: {_first_line(error)} (see the log); exiting so it is restarted")
    return 1


def cmd_worker(_args: argparse.Namespace) -> int:
    """The ingester, delivery worker, escalation scheduler and guided ticker; no HTTP but health."""
    import asyncio

    from bot.container import build_container, database_location
    from bot.http.server import PortUnavailable, health_server, listen
    from bot.roles import Role
    from bot.store.migrate import upgrade
    from bot.tuning import tune_process
    from bot.web import create_health_app, loops_for
    from bot.worker import run_worker

    settings = settings_or_exit()
    if _refuse_sqlite(settings, "worker"):
        return 2
    try:
        bound = listen(settings.host, settings.health_port, chosen_by=HEALTH_PORT) if settings.health_port else None
    except PortUnavailable as error:
        print(f"firebreak worker: {error}", file=sys.stderr)
        return 1
    configure_logging_for(settings)
    roles = frozenset({Role.WORKER})
    container = build_container(settings, files_dir=Path.cwd(), roles=roles)
    print(f"Firebreak {__version__} worker: database {database_location(settings.database_url)}", flush=True)
    for warning in container.startup_warnings:
        print(f"warning: {warning}", flush=True)
    upgrade(container.engine)
    health = None
    if bound is not None and settings.health_port:
        limits = _limits(settings)
        health = health_server(create_health_app(container), bound, host=settings.host, port=settings.health_port, limits=limits)
    tune_process(roles)
    try:
        return asyncio.run(run_worker(loops_for(container, roles), health=health))
    finally:
        container.close()


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    from bot.store.db import make_engine
    from bot.store.migrate import upgrade

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    print("database is at the latest schema")
    return 0


REGISTRARS: list[Registrar] = [register_console, register_incidents, register_export, register_inbox, register_drill]


def _limits(settings: Settings) -> Limits:
    """The listener's limits as configured (main and health ports alike)."""
    from bot.http.server import Limits

    return Limits(
        settings.max_connections, settings.header_timeout_seconds, settings.keep_alive_seconds, body_timeout=settings.body_timeout_seconds
    )


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firebreak", description="ChatOps incident bot")
    parser.add_argument("--version", action="version", version=f"firebreak {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="everything in one process: HTTP, delivery worker and scheduler")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=_port, default=None)
    serve.set_defaults(func=cmd_serve)

    web = sub.add_parser("web", help="HTTP only: queue webhooks, answer Slack (PostgreSQL; run `worker` too)")
    web.add_argument("--host", default=None)
    web.add_argument("--port", type=_port, default=None)
    web.set_defaults(func=cmd_web)

    worker = sub.add_parser("worker", help="ingester, delivery, escalation and guided steps (PostgreSQL; no HTTP)")
    worker.set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="run migrations to the latest schema").set_defaults(func=cmd_db_upgrade)

    from bot.playbooks.cli import register as register_playbooks

    register_playbooks(sub)
    for register in REGISTRARS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Whatever goes wrong, the user gets one line saying what, never a traceback.

    Bad arguments exit 2 (argparse prints the usage), bad settings 2, a reader that went
    away (``| head``) quietly with 141 like other Unix tools, anything else 1 with a message.
    """
    if sys.stdout is None:  # started with stdout closed (>&-): nothing can be shown, but run
        sys.stdout = open(os.devnull, "w", encoding="utf-8")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        _fail(args, _os_error_text(error))
        return 1
    except SchemaNotCurrent as error:
        _fail(args, str(error))
        return 1
    except SQLAlchemyError as error:
        _fail(args, f"database error: {_first_line(error)} ({_database_hint(error)})")
        return 1
    except Exception as error:  # a bug: say so in one line, keep the details in the log
        logging.getLogger("bot.cli").debug("command failed", exc_info=True)
        _fail(args, f"unexpected error: {type(error).__name__}: {_first_line(error)}")
        return 1


def _fail(args: argparse.Namespace, message: str) -> None:
    command = " ".join(str(part) for part in (args.command, *_subcommand(args)) if part)
    try:
        print(f"firebreak {command}: {message}", file=sys.stderr)
    except (OSError, ValueError):
        pass


def _subcommand(args: argparse.Namespace) -> list[str]:
    return [value for key, value in vars(args).items() if key.endswith("_command") and isinstance(value, str)]


def _os_error_text(error: OSError) -> str:
    reason = error.strerror or str(error)
    return f"{error.filename}: {reason}" if error.filename else reason


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _quiet_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so Python's exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
