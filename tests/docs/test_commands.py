"""Every ``firebreak …`` command the docs show is one the command line accepts.

Each command is run through the real argument parser (``bot.cli.build_parser``), which
stops with status 2 on an unknown subcommand or option, a missing argument or a bad value,
exactly as a reader pasting the line would see.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from bot.cli import build_parser
from tests.docs.markdown import ROOT, pages, split

_REDIRECT = re.compile(r"\s\d*(?:>>?|<)\s*\S+")
_VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SEPARATORS = {";", "|", "||", "&", "&&", "(", ")"}
_INLINE = re.compile(r"`(firebreak [^`]+)`")
_PLACEHOLDER = set("[]|…<>")
#: Blocks in these languages are configuration or documents, where "firebreak" is a name, not a command.
_NOT_SHELL = {"yaml", "yml", "json", "nginx", "markdown", "md"}


def _logical_lines(lines: tuple[str, ...]) -> list[str]:
    """Lines with backslash continuations joined and a shell prompt (``$ ``) removed."""
    joined: list[str] = []
    carry = ""
    for raw in lines:
        line = raw.rstrip()
        if line.endswith("\\"):
            carry += line[:-1] + " "
            continue
        joined.append((carry + line).strip().removeprefix("$ "))
        carry = ""
    return joined


def commands_in(line: str) -> list[list[str]]:
    """The argument lists of the ``firebreak`` commands in one shell line (Procfile and systemd too)."""
    line = _VARIABLE.sub("8080", _REDIRECT.sub(" ", " " + line))
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
    except ValueError:  # not shell (a YAML or nginx line with a stray quote)
        return []
    found: list[list[str]] = []
    simple: list[str] = []
    for token in [*tokens, ";"]:
        if token in _SEPARATORS:
            found.extend(_firebreak_args(simple))
            simple = []
        else:
            simple.append(token)
    return found


def _firebreak_args(simple: list[str]) -> list[list[str]]:
    words = list(simple)
    if words and words[0].endswith(":"):  # a Procfile's "web:"
        words.pop(0)
    while words and _ASSIGNMENT.match(words[0]):
        name, _, value = words[0].partition("=")
        if name.startswith("Exec") and Path(value).name == "firebreak":  # systemd's ExecStart=/opt/…/firebreak web
            return [words[1:]]
        words.pop(0)
    if words and Path(words[0]).name == "firebreak":
        return [words[1:]]
    return []


def documented_commands() -> list[tuple[str, list[str], bool]]:
    """(where, arguments, complete) of every firebreak command in a code block or in inline code.

    A command in a code block is complete: it is meant to be run as shown. Inline code often
    names a command without its arguments (`firebreak export`), so only its words are checked.
    """
    found = []
    for page in pages():
        prose, blocks = split(page.read_text(encoding="utf-8"))
        where_page = str(page.relative_to(ROOT))
        for block in blocks:
            if block.lang.lower() in _NOT_SHELL:
                continue
            for offset, line in enumerate(_logical_lines(block.lines), start=1):
                for args in commands_in(line):
                    found.append((f"{where_page}:{block.line + offset}", args, True))
        for number, line in prose:
            for match in _INLINE.finditer(line):
                text = match.group(1)
                if not _PLACEHOLDER & set(text):
                    for args in commands_in(text):
                        found.append((f"{where_page}:{number}", args, False))
    return found


COMMANDS = documented_commands()


def parse(args: list[str]) -> tuple[int, str]:
    """Exit status of argparse for ``args`` (0 when it would run) and what it printed."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(args)
        except SystemExit as stopped:
            return int(stopped.code or 0), err.getvalue()
    return 0, err.getvalue()


@pytest.mark.parametrize(("where", "args", "complete"), COMMANDS, ids=[f"{w} {' '.join(a)}" for w, a, _ in COMMANDS])
def test_documented_command_parses(where: str, args: list[str], complete: bool) -> None:
    status, err = parse(args)
    if not complete and "the following arguments are required" in err:
        return  # inline mention of a real command without its arguments
    assert status == 0, f"{where}: firebreak {shlex.join(args)}\n{err}"


def test_the_docs_show_the_main_commands() -> None:
    """The extraction finds commands at all: every top-level subcommand appears at least once."""
    shown = {args[0] for _, args, _ in COMMANDS if args}
    assert {"serve", "web", "worker", "console", "export", "incidents", "playbooks", "inbox", "db"} <= shown


def test_extraction_reads_shell_procfile_and_systemd_lines() -> None:
    assert commands_in("ALERTMANAGER_TOKEN=x .venv/bin/firebreak serve 2>>firebreak.log") == [["serve"]]
    assert commands_in("web: firebreak web --host 0.0.0.0 --port $PORT") == [["web", "--host", "0.0.0.0", "--port", "8080"]]
    assert commands_in("ExecStart=/opt/firebreak/.venv/bin/firebreak worker") == [["worker"]]
    assert commands_in("printf 'x' | .venv/bin/firebreak console --user alice  # a comment") == [["console", "--user", "alice"]]
    assert commands_in("upstream firebreak {") == []


def test_a_wrong_command_is_caught() -> None:
    assert parse(["serve", "--no-such-option"])[0] == 2
    assert parse(["export"])[0] == 2
    assert "invalid choice" in parse(["incidents", "delete", "INC-1"])[1]
