from __future__ import annotations

import pytest

from bot.chat.grammar import parse, split_declare
from bot.domain.errors import InvalidCommand


@pytest.mark.parametrize(
    ("line", "verb", "ref", "text"),
    [
        ("/incident ack", "ack", None, ""),
        ("/incident ack INC-7", "ack", 7, ""),
        ("/incident acknowledge 7", "ack", 7, ""),
        ("/incident sev P1 INC-3", "sev", 3, "P1"),
        ("/incident sev INC-3 P1", "sev", 3, "P1"),
        ("/incident note INC-4 db failover done, INC-5 unaffected", "note", 4, "db failover done, INC-5 unaffected"),
        ("/incident note it's INC-9", "note", None, "it's INC-9"),
        ("/incident declare INC-3 is a bad title P1", "declare", None, "INC-3 is a bad title P1"),
        ("incident-less: declare Checkout down", None, None, None),
        ("", "help", None, ""),
        ("/incident", "help", None, ""),
        ("/incident   list  ", "list", None, ""),
    ],
)
def test_parse(line: str, verb: str | None, ref: int | None, text: str | None) -> None:
    if verb is None:
        with pytest.raises(InvalidCommand):
            parse(line)
        return
    command = parse(line)
    assert (command.verb, command.ref, command.text) == (verb, ref, text)


def test_unknown_verb_lists_usage() -> None:
    with pytest.raises(InvalidCommand, match="/incident declare"):
        parse("/incident frobnicate")


def test_lifecycle_verbs_reject_trailing_garbage() -> None:
    with pytest.raises(InvalidCommand, match="Usage"):
        parse("/incident ack now please")


def test_unbalanced_quotes_do_not_crash() -> None:
    assert parse('/incident note he said "hello').args == ["he", "said", '"hello']


@pytest.mark.parametrize(
    ("text", "title", "severity"),
    [
        ("Checkout down P1", "Checkout down", "P1"),
        ("P0 Payments lost", "Payments lost", "P0"),
        ("Slow search", "Slow search", None),
        ("Checkout down sev-2", "Checkout down", "sev-2"),
    ],
)
def test_split_declare(text: str, title: str, severity: str | None) -> None:
    assert split_declare(text) == (title, severity)
