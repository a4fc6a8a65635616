"""The ``firebreak`` command (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Callable, Sequence

from bot.settings import Settings, SettingsError, load_settings

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        print(f"firebreak: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _configure_logging(settings: Settings) -> None:
    from bot.logs import configure_logging

    secrets = [
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.pagerduty_api_token,
        settings.pagerduty_webhook_secret,
        settings.pagerduty_routing_key,
        settings.alertmanager_token,
        *settings.alertmanager_tokens.values(),
        settings.api_token,
    ]
    configure_logging(level=settings.log_level, fmt=settings.log_format, secrets=[s for s in secrets if s])


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.container import build_container
    from bot.http.server import Limits, serve
    from bot.ingest.inbound import curl_line, local_token, local_token_path, unconfigured_inbound
    from bot.web import create_app, create_health_app

    settings = _settings_or_exit()
    port = args.port or settings.port
    host = args.host or settings.host
    if settings.health_port == port:
        print(f"firebreak: FIREBREAK_HEALTH_PORT must differ from the port served ({port})", file=sys.stderr)
        return 2
    try_it = None
    if not settings.slack_enabled and not settings.alertmanager_token and not settings.alertmanager_tokens:
        path = local_token_path(settings.database_url)
        token, created = local_token(path)
        settings = settings.model_copy(update={"alertmanager_token": token})
        where = "made and saved in" if created else "read from"
        try_it = f"Alertmanager token {where} {path} (set ALERTMANAGER_TOKEN to choose your own). Try:\n  {curl_line(host, port, token)}"
    _configure_logging(settings)
    for warning in unconfigured_inbound(settings):
        logging.getLogger("bot.inbound").warning(warning)
    container = build_container(settings)
    app = create_app(container)
    if container.local_mode:
        print(f"Firebreak in local mode (no Slack credentials): transcript below. http://{host}:{port}", flush=True)
        if try_it:
            print(try_it, flush=True)
    # Hand the interpreter over every 1 ms instead of 5: the ingester thread applies
    # webhooks while the event loop answers them, and the answer should not wait 5 ms
    # for each turn.
    sys.setswitchinterval(0.001)
    # Everything loaded so far (mappers, models, playbooks, the container) lives as long as
    # the process: freezing it keeps full garbage collections from scanning it, which
    # otherwise stall every request for tens of milliseconds under load.
    gc.collect()
    gc.freeze()
    limits = Limits(settings.max_connections, settings.header_timeout_seconds, settings.keep_alive_seconds)
    health_app = create_health_app(container) if settings.health_port else None
    serve(app, health_app, host=host, port=port, health_port=settings.health_port, limits=limits)
    container.close()
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from bot.chat.console.repl import ConsoleSession
    from bot.container import build_container
    from bot.store.migrate import upgrade

    settings = _settings_or_exit()
    _configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    container = build_container(settings, transcript_stream=None)
    upgrade(container.engine)
    session = ConsoleSession(container, out=sys.stdout, actor=args.user)
    try:
        if sys.stdin.isatty():
            session.run_interactive(sys.stdin)
        else:
            session.run_script(sys.stdin)
    finally:
        container.close()
    return 0


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    from bot.store.db import make_engine
    from bot.store.migrate import upgrade

    settings = _settings_or_exit()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    print("database is at the latest schema")
    return 0


def cmd_incidents_list(args: argparse.Namespace) -> int:
    from bot.chat.render import incident_table
    from bot.domain.clock import SystemClock
    from bot.store.db import make_engine, make_session_factory
    from bot.store.incidents import IncidentRepository
    from bot.store.migrate import upgrade

    settings = _settings_or_exit()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        incidents = IncidentRepository.list(session, open_only=args.open, limit=args.limit)
    print(incident_table(incidents, now=SystemClock().now()))
    engine.dispose()
    return 0


from bot.export.cli import register as register_export  # noqa: E402
from bot.ingest.cli import register as register_inbox  # noqa: E402

REGISTRARS: list[Registrar] = [register_export, register_inbox]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firebreak", description="ChatOps incident bot")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="HTTP server, delivery worker and scheduler")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(func=cmd_serve)

    console = sub.add_parser("console", help="local chat: type /incident commands")
    console.add_argument("--user", default=None, help="who you are in the transcript (default: $USER)")
    console.set_defaults(func=cmd_console)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="run migrations to the latest schema").set_defaults(func=cmd_db_upgrade)

    incidents = sub.add_parser("incidents", help="incidents")
    incidents_sub = incidents.add_subparsers(dest="incidents_command", required=True, metavar="ACTION")
    listing = incidents_sub.add_parser("list", help="number, severity, status, age")
    listing.add_argument("--open", action="store_true", help="only incidents not yet resolved")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(func=cmd_incidents_list)

    from bot.playbooks.cli import register as register_playbooks

    register_playbooks(sub)
    for register in REGISTRARS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)
