"""``firebreak playbooks lint|import``: argparse wiring only; the work is in lint and importer."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from bot.domain.severity import DEFAULT_LABEL_MAPPING, Severity
from bot.playbooks.importer.batch import format_batch, import_path
from bot.playbooks.lint import lint_directory
from bot.playbooks.loader import playbook_files, read_file

ENV_DIR = "FIREBREAK_PLAYBOOKS_DIR"
DEFAULT_DIR = "playbooks/"


def default_directory() -> str:
    return os.environ.get(ENV_DIR) or DEFAULT_DIR


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
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
    convert = commands.add_parser("import", help="turn markdown runbooks (a file or a folder) into playbook files")
    convert.add_argument("runbook", help="markdown file, or a folder: every *.md under it")
    convert.add_argument("-o", "--output", default=None, help=f"output directory (default: ${ENV_DIR} or {DEFAULT_DIR})")
    convert.add_argument("--force", action="store_true", help="overwrite imported files even if someone edited them")
    convert.set_defaults(func=run_import)


def run_lint(args: argparse.Namespace) -> int:
    directory = args.directory or default_directory()
    problems = lint_directory(directory)
    for problem in problems:
        print(problem)
    errors = [problem for problem in problems if not problem.warning]
    warnings = len(problems) - len(errors)
    if errors:
        print(f"{len(errors)} problem(s) in {directory}" + (f", {warnings} warning(s)" if warnings else ""), file=sys.stderr)
        return 1
    count = len(playbook_files(Path(directory)))
    print(f"{count} playbook(s) in {directory}: " + (f"{warnings} warning(s)" if warnings else "no problems"))
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Exit 0 when everything was written and lints clean; 1 when a file was refused (edited
    since the last import), a runbook could not be read, or a written file has a problem;
    2 when the runbook path does not exist."""
    runbook = Path(args.runbook)
    if not runbook.exists():
        print(f"{runbook}: no such file or folder", file=sys.stderr)
        return 2
    try:
        words = _severity_words()
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    output = Path(args.output or default_directory())
    batch = import_path(runbook, output, force=args.force, severity_words=words)
    print(format_batch(batch, output))
    written = [item.path for one in batch for item in one.files if item.action in ("written", "rewritten")]
    problems = [p for path in written for p in read_file(path).problems]
    for problem in problems:
        print(problem, file=sys.stderr)
    for warning in (p for p in lint_directory(output) if p.warning):
        print(warning, file=sys.stderr)
    failed = any(one.refused or one.error for one in batch)
    return 1 if problems or failed else 0


def _severity_words() -> dict[str, Severity]:
    """``FIREBREAK_SEVERITY_MAPPING``, read as the server reads it, so "critical" in a runbook
    and on an alert label mean the same level."""
    raw = os.environ.get("FIREBREAK_SEVERITY_MAPPING")
    if not raw:
        return dict(DEFAULT_LABEL_MAPPING)
    try:
        return TypeAdapter(dict[str, Severity]).validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ValueError(f"FIREBREAK_SEVERITY_MAPPING: {first['msg']} (expected JSON like {{\"critical\": \"P1\"}})") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.playbooks", description="Firebreak playbook tools")
    add_commands(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))
