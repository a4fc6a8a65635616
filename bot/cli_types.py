"""argparse types the subcommands share: a bad value is a one-line usage error, never a
database fault later (a name longer than the column that keeps it, say)."""

from __future__ import annotations

import argparse

from bot.text_safety import clean, storable

#: Longest name a person may give with ``--user``: far beyond any login or display name, and
#: within what the timeline keeps for an actor on every database.
MAX_PERSON_CHARACTERS = 100


def person(text: str) -> str:
    """``--user NAME``: a name that shows as itself (no control characters) and fits."""
    name = storable(clean(text)).strip()  # a name in another encoding than UTF-8: U+FFFD, not a failed write
    if not name:
        raise argparse.ArgumentTypeError("a name is needed (letters, digits, anything printable)")
    if len(name) > MAX_PERSON_CHARACTERS:
        raise argparse.ArgumentTypeError(f"a name of at most {MAX_PERSON_CHARACTERS} characters (this one has {len(name)})")
    return name
