"""``firebreak console [--user NAME] [--follow]``: the local chat, interactive or scripted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from bot.cli_types import person

#: Where the console's own log lines go, so they never land in the middle of the chat.
LOG_FILE = "firebreak-console.log"


def register(sub: Any) -> None:
    console = sub.add_parser("console", help="local chat: type /incident commands; --follow to only watch")
    console.add_argument("--user", default=None, type=person, help="who you are in the transcript (default: $USER)")
    console.add_argument(
        "--follow", action="store_true", help="print incidents and posts as they happen (from a running serve) until interrupted"
    )
    console.set_defaults(func=cmd_console)


def log_path(database_location: str) -> Path:
    """Beside the SQLite file, else in the current folder."""
    folder = Path(database_location).parent if database_location.startswith("/") else Path.cwd()
    return folder / LOG_FILE


def cmd_console(args: argparse.Namespace) -> int:
    from bot import __version__
    from bot.chat.console.repl import ConsoleSession
    from bot.container import build_container, database_location
    from bot.startup import configure_logging_for, settings_or_exit
    from bot.store.migrate import upgrade

    settings = settings_or_exit()
    location = database_location(settings.database_url)
    log_file = log_path(location)
    with open(log_file, "a", encoding="utf-8") as log_stream:
        configure_logging_for(settings.model_copy(update={"log_level": "WARNING", "log_format": "json"}), stream=log_stream)
        container = build_container(settings, transcript_stream=None, files_dir=Path.cwd())
        try:
            upgrade(container.engine)
            stdin = sys.stdin
            interactive = stdin is not None and stdin.isatty()
            # A script's or a piped --follow's output is the transcript alone: the header goes
            # to stderr there.
            header = sys.stdout if (sys.stdout.isatty() if args.follow else interactive) else sys.stderr
            print(f"Firebreak {__version__} console: database {location}; log {log_file}", file=header, flush=True)
            for warning in container.startup_warnings:
                print(f"warning: {warning}", file=header, flush=True)
            if args.follow:
                return _follow(container, header)
            session = ConsoleSession(container, out=sys.stdout, actor=args.user, terminal=interactive and sys.stdout.isatty())
            if interactive:
                session.run_interactive()
            else:
                session.run_script(stdin if stdin is not None else [])
        finally:
            container.close()
    return 0


def _follow(container: Any, header: TextIO) -> int:
    from bot.chat.console.repl import follow

    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("Following; Ctrl-C to stop.", file=header, flush=True)
    follow(container.sessions, sys.stdout, stop)
    return 0
