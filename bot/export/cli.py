"""``firebreak export INCIDENT [--format md|json] [-o FILE]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("export", help="post-mortem document of an incident (markdown or JSON)")
    parser.add_argument("incident", metavar="INCIDENT", help="the incident: INC-42 or 42")
    parser.add_argument("--format", choices=("md", "json"), default="md", help="markdown (default) or JSON")
    parser.add_argument("-o", "--output", type=_file_name, default=None, metavar="FILE", help="write here instead of stdout ('-' is stdout)")
    parser.set_defaults(func=cmd_export)


def _file_name(text: str) -> Path:
    """An empty name would be the current folder: say so before anything is rendered."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a file name, or - for stdout")
    return Path(text)


def cmd_export(args: argparse.Namespace) -> int:
    from jinja2 import TemplateError

    from bot.domain.errors import IncidentNotFound, InvalidCommand
    from bot.domain.incident import parse_number
    from bot.export.render import TemplateFolderMissing
    from bot.export.service import Exporter
    from bot.startup import settings_or_exit
    from bot.store.db import make_session_factory
    from bot.store.migrate import open_current

    settings = settings_or_exit()
    try:
        number = parse_number(args.incident)
    except InvalidCommand as error:
        print(f"firebreak export: {error}", file=sys.stderr)
        return 2
    engine = open_current(settings.database_url)  # read-only: never migrates
    try:
        exporter = Exporter(
            make_session_factory(engine), zone=settings.zone, templates_dir=settings.templates_dir, public_url=settings.public_url
        )
        text = exporter.render(number, args.format)
    except IncidentNotFound as error:
        print(f"firebreak export: {error}", file=sys.stderr)
        return 1
    except TemplateFolderMissing as error:
        print(f"firebreak export: {error}", file=sys.stderr)
        return 2
    except TemplateError as error:
        print(f"firebreak export: the post-mortem template failed: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if args.output is None or str(args.output) == "-":
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({args.format}, {len(text.encode('utf-8'))} bytes)", file=sys.stderr)
    return 0
