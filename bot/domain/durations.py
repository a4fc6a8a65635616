"""Duration strings (``30s``, ``5m``, ``1h30m``) as used in playbook files.

Playbooks are written by people under pressure; a single compact notation keeps delays and
deadlines readable in YAML, and parsing it in one place means the escalation scheduler and the
linter agree on what ``5m`` means.
"""

from __future__ import annotations

import re

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PATTERN = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")

DURATION_HINT = "use a number with a unit (s, m, h, d), largest first, e.g. 30s, 5m, 1h, 1h30m"


def parse_duration(text: str) -> int:
    """Return the number of seconds in ``text``; raise ``ValueError`` saying what is accepted.

    Units must be given (a bare ``5`` is ambiguous: seconds or minutes?) and appear at most once,
    largest first, so ``1h30m`` is valid and ``30m1h`` is not.
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}: {DURATION_HINT}")
    cleaned = text.strip().lower()
    match = _PATTERN.match(cleaned)
    if not cleaned or match is None:
        raise ValueError(f"invalid duration {text!r}: {DURATION_HINT}")
    days, hours, minutes, seconds = (int(group) if group else 0 for group in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


#: Longest escalation delay or step deadline. Each is added to a moment to plan a deadline
#: (after ``FIREBREAK_ESCALATION_SPEED`` multiplies it) and stored as whole seconds in an
#: INTEGER column: ``99999999999d`` overflowed the one and ``30000d`` the other, and either
#: failed the declaration of the incident the playbook was attached to, so the alert opened
#: no incident. Nobody waits a month to escalate.
MAX_DELAY_SECONDS = 30 * 86400


def parse_delay(text: str) -> int:
    """:func:`parse_duration` for an escalation delay or a step deadline: at most 30 days."""
    seconds = parse_duration(text)
    if seconds > MAX_DELAY_SECONDS:
        raise ValueError(f"duration {text!r} is longer than {format_duration(MAX_DELAY_SECONDS)}: escalation delays and deadlines are at most 30 days")
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest duration string for ``seconds``, the inverse of :func:`parse_duration`."""
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds == 0:
        return "0s"
    parts: list[str] = []
    remaining = seconds
    for unit, size in _UNITS.items():
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
