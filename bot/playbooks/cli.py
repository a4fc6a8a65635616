"""``firebreak playbooks lint|import``: argparse wiring only; the work is in lint and importer."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.playbooks.importer import import_runbook, write_playbooks
from bot.playbooks.lint import lint_directory
from bot.playbooks.loader import playbook_files, read_file

ENV_DIR = "FIREBREAK_PLAYBOOKS_DIR"
DEFAULT_DIR = "playbooks/"


def default_directory() -> str:
    return os.environ.get(ENV_DIR) or DEFAULT_DIR


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Add ``playbooks lint`` and ``playbooks import`` to a top-level ``firebreak`` parser.

    Each leaf parser sets ``func(args) -> int`` (the exit code), so the caller runs
    ``sys.exit(args.func(args))``.
    """
    parser = subparsers.add_parser("playbooks", help="validate and import playbooks")
    add_commands(parser)
    return parser


def add_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="playbooks_command", metavar="{lint,import}", required=True)
    lint = commands.add_parser("lint", help="validate a playbook directory; file:line: message per problem")
    lint.add_argument("directory", nargs="?", default=None, help=f"default: ${ENV_DIR} or {DEFAULT_DIR}")
    lint.set_defaults(func=run_lint)
    convert = commands.add_parser("import", help="turn a markdown runbook into playbook files")
    convert.add_argument("runbook", help="markdown file")
    convert.add_argument("-o", "--output", default=None, help=f"output directory (default: ${ENV_DIR} or {DEFAULT_DIR})")
    convert.set_defaults(func=run_import)


def run_lint(args: argparse.Namespace) -> int:
    directory = args.directory or default_directory()
    problems = lint_directory(directory)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    count = len(playbook_files(Path(directory)))
    print(f"{count} playbook(s) in {directory}: no problems")
    return 0


def run_import(args: argparse.Namespace) -> int:
    runbook = Path(args.runbook)
    if not runbook.is_file():
        print(f"{runbook}: no such file", file=sys.stderr)
        return 2
    output = Path(args.output or default_directory())
    existing = set()
    if output.is_dir():
        existing = {item.playbook.id for item in map(read_file, playbook_files(output)) if item.playbook}
        existing |= {path.stem for path in playbook_files(output)}
    result = import_runbook(runbook, existing_ids=existing)
    written = write_playbooks(result.playbooks, output)
    print(result.report.format())
    print(f"Wrote {len(written)} file(s) to {output}")
    problems = [p for path in written for p in read_file(path).problems]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.playbooks", description="Firebreak playbook tools")
    add_commands(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))
