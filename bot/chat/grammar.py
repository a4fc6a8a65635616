"""The ``/incident`` grammar, parsed the same way for Slack and the console."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from bot.domain.errors import InvalidCommand
from bot.domain.incident import format_number, parse_number

USAGE: dict[str, str] = {
    "declare": "/incident declare <title…> [P0|P1|P2|P3]",
    "ack": "/incident ack [INC-n]",
    "mitigate": "/incident mitigate [INC-n]",
    "resolve": "/incident resolve [INC-n]",
    "reopen": "/incident reopen [INC-n]",
    "sev": "/incident sev P0|P1|P2|P3 [INC-n]",
    "role": "/incident role commander|comms|scribe @user|me [INC-n]",
    "note": "/incident note <text>",
    "action": "/incident action <text>  (a follow-up item for the post-mortem)",
    "step": "/incident step done|skip <n>",
    "run": "/incident run <playbook-id>",
    "escalate": "/incident escalate [reason]",
    "split": "/incident split <#child or alertname> [INC-n]  (the child becomes an incident of its own)",
    "merge": "/incident merge INC-n [into INC-m]  (folds INC-n into this incident and closes it)",
    "status": "/incident status [INC-n]",
    "timeline": "/incident timeline [INC-n] [source]",
    "export": "/incident export [INC-n]",
    "children": "/incident children [INC-n] [page <n>]  (the incident's alert groups, worst first)",
    "list": "/incident list",
    "help": "/incident help",
}

ALIASES = {
    "acknowledge": "ack",
    "mitigated": "mitigate",
    "resolved": "resolve",
    "severity": "sev",
    "open": "declare",
    "new": "declare",
    "ls": "list",
    "?": "help",
}

#: Verbs that take nothing but an optional incident reference.
_NO_ARGUMENTS = frozenset({"ack", "mitigate", "resolve", "reopen", "status", "timeline", "export"})
_NO_ARGUMENTS_BUT_PAGE = _NO_ARGUMENTS | {"children"}

_REF = re.compile(r"^(?:INC-?)?#?\d+$", re.IGNORECASE)
_INC_REF = re.compile(r"^INC-?\d+$", re.IGNORECASE)
#: Words after ``timeline`` that choose its order (received is the default).
TIMELINE_ORDERS = ("source", "received")
_SEVERITY = re.compile(r"^(?:P[0-3]|SEV-?[0-3])$", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedCommand:
    verb: str
    args: list[str]
    ref: int | None
    text: str
    #: Longer free text a form supplies (the declare modal's description); typed commands have none.
    detail: str = ""

    @property
    def rest(self) -> str:
        """The arguments as the person typed them (notes keep their spacing and quotes)."""
        return self.text


def help_text() -> str:
    return "Usage:\n" + "\n".join(f"  {line}" for line in USAGE.values())


def parse(line: str) -> ParsedCommand:
    """Parse ``/incident <verb> …``; the leading ``/incident`` is optional."""
    stripped = line.strip()
    if stripped.lower().startswith("/incident"):
        stripped = stripped[len("/incident") :].strip()
    if not stripped:
        return ParsedCommand(verb="help", args=[], ref=None, text="")
    verb_text, _, rest = stripped.partition(" ")
    verb = ALIASES.get(verb_text.lower(), verb_text.lower())
    if verb not in USAGE:
        raise InvalidCommand(f"unknown command {verb_text!r}.\n{help_text()}")
    rest = rest.strip()
    if verb == "merge":
        return _parse_merge(rest)
    ref: int | None = None
    # A reference may follow the verb (``ack INC-7``) or, except in free text, end the
    # line (``sev P1 INC-7``).
    first, _, after = rest.partition(" ")
    head, _, last = rest.rpartition(" ")
    if verb != "declare" and first and _INC_REF.match(first):
        ref = parse_number(first)
        rest = after.strip()
    elif verb not in ("note", "action", "declare") and last and _INC_REF.match(last):
        ref = parse_number(last)
        rest = head.strip()
    order: list[str] = []
    if verb == "timeline":
        # ``timeline [INC-n] [source|received]``: the order to read it in.
        words = rest.split()
        order = [word.lower() for word in words if word.lower() in TIMELINE_ORDERS][-1:]
        rest = " ".join(word for word in words if word.lower() not in TIMELINE_ORDERS)
    if verb == "children":
        # ``children [INC-n] [page <n>]``: the page travels in args, the rest is an incident at most.
        words = rest.split()
        if len(words) >= 2 and words[-2].lower() == "page":
            order = ["page", words[-1]]
            rest = " ".join(words[:-2])
    if verb in _NO_ARGUMENTS_BUT_PAGE and rest:
        if ref is None and _REF.match(rest):
            ref = parse_number(rest)
            rest = ""
        else:  # ``ack INC-2 INC-3`` must not acknowledge INC-2 and quietly drop INC-3
            raise InvalidCommand(f"unexpected {rest!r}: {verb} takes one incident at most.\nUsage: {USAGE[verb]}")
    try:
        args = shlex.split(rest)
    except ValueError:
        args = rest.split()
    return ParsedCommand(verb=verb, args=order or args, ref=ref, text=rest)


def _parse_merge(rest: str) -> ParsedCommand:
    """``merge INC-7 [into INC-3]``: the incident named first is folded into the one after
    ``into`` (by default the conversation's incident); ``args`` holds the first."""
    words = rest.split()
    ref: int | None = None
    if len(words) == 3 and words[1].lower() == "into" and _REF.match(words[2]):
        ref = parse_number(words[2])
        words = words[:1]
    if len(words) == 2 and all(_REF.match(word) for word in words):
        first, second = (format_number(parse_number(word)) for word in words)
        raise InvalidCommand(f"use: /incident merge {first} into {second}\nUsage: {USAGE['merge']}")
    if len(words) != 1 or not _REF.match(words[0]):
        raise InvalidCommand(f"which incident should be merged in? name one.\nUsage: {USAGE['merge']}")
    merged = parse_number(words[0])
    return ParsedCommand(verb="merge", args=[str(merged)], ref=ref, text=words[0])


def split_declare(args_text: str) -> tuple[str, str | None]:
    """``Checkout down P1`` → (``Checkout down``, ``P1``); the severity is the last word."""
    words = args_text.split()
    if words and _SEVERITY.match(words[-1]):
        return " ".join(words[:-1]), words[-1]
    if words and _SEVERITY.match(words[0]):
        return " ".join(words[1:]), words[0]
    return " ".join(words), None
