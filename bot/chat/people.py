"""How a chat backend names people: what a typed name means, and who a stored name is.

The permission policy compares people by key. Each backend says how to get a key from
what it stores (an actor on the timeline, a role holder) and how a person may be named in
a command. The console takes any name (its operator may do anything anyway); Slack takes
only mentions (``bot/chat/slack/people.py``), since a display name can belong to anyone.
"""

from __future__ import annotations

from typing import Protocol

#: Words that name the person typing, so ``/incident role commander me`` takes command.
SELF = frozenset({"me", "@me", "myself"})


class Naming(Protocol):
    def key_of(self, text: str) -> str | None:
        """The identity a stored name verifiably stands for, or None (an unverified name)."""
        ...

    def person(self, text: str, *, me: str) -> str:
        """What to store for a person named in a command; raises InvalidCommand with a hint."""
        ...

    def shown(self, text: str) -> str:
        """A stored name as shown to people (marks names that prove nobody's identity)."""
        ...


class PlainNaming:
    """The console's naming: a name is whoever typed it; case and a leading ``@`` don't count."""

    def key_of(self, text: str) -> str | None:
        key = text.strip().lstrip("@").lower()
        return key or None

    def person(self, text: str, *, me: str) -> str:
        cleaned = text.strip()
        return me if cleaned.lower() in SELF else cleaned

    def shown(self, text: str) -> str:
        return text


PLAIN = PlainNaming()
