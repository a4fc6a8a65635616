"""Recognise the Prometheus alert a runbook is for, however the runbook writes it.

Alert names are identifiers in camel case with any first letter (``etcdMembersDown``,
``MCCDrainError``, ``KubePodCrashLooping``). Product names look the same (``PostgreSQL``,
``OpenShift``), so a bare word counts only when it reads like an alert: three or more camel
parts, or two where the last says what is wrong (``KubeletDown``). Where the text says
outright that something is an alert (``Alert Name: "X"``, ``**Fires as:** `X```, ``Alert: X``,
a heading under a section called Alerts) any identifier is accepted.
"""

from __future__ import annotations

import re

from bot.playbooks.importer.vocabulary import LABEL_KINDS, REFERENCE_WORDS, TOC_WORDS

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?::[A-Za-z0-9_]+)*$")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z]+")

#: Last camel parts that say what is wrong: two-part names ending in one are alerts.
STATE_WORDS = frozenset(
    "down up failed failing failure failures error errors high low full missing stuck degraded "
    "unavailable unhealthy slow lag latency expiring expired throttled throttling mismatch "
    "saturated saturation overcommit exceeded crashing crashlooping flapping unreachable "
    "notready pending halted red offline dead timeout timeouts spike spikes drop drops".split()
)

#: Words that look like names and never are (products, file names of index pages).
NOT_ALERTS = frozenset(
    "readme _index index postgresql mysql mongodb openshift kubernetes github gitlab javascript "
    "typescript nodejs pagerduty opsgenie grafana prometheus alertmanager elasticsearch "
    "opensearch rabbitmq nooba noobaa cockroachdb clickhouse".split()
)

#: ``Alert Name: "X"``, ``Alert: X``, ``Alerts: `X`, `Y```, ``Fires as: `X```, ``alertname="X"``.
_STATEMENT = re.compile(
    r"^\s*(?:alert(?:\s*name)?s?|fires\s+as|alerting\s+rule|prometheus\s+alert)\s*[:=]\s*(?P<rest>.+)$",
    re.IGNORECASE,
)
_ALERTNAME_LABEL = re.compile(r"alertname\s*(?:=~?|:)\s*[\"'`]?([A-Za-z_][A-Za-z0-9_:]*)")
_QUOTED = re.compile(r"[\"'`“‘]([^\"'`”’]+)[\"'`”’]")


def camel_parts(word: str) -> list[str]:
    return _CAMEL_PART.findall(word)


def is_identifier(word: str) -> bool:
    return bool(_IDENTIFIER.match(word)) and word.lower() not in NOT_ALERTS


def looks_like_alert(word: str) -> bool:
    """A bare word that reads as an alert name (file stems, H1s, front-matter titles)."""
    word = word.strip()
    if not is_identifier(word) or "_" in word or not re.search(r"[a-z]", word) or not re.search(r"[A-Z]", word[1:]):
        return False
    parts = camel_parts(word)
    if len(parts) >= 3:
        return True
    return len(parts) == 2 and parts[-1].lower() in STATE_WORDS


def is_listed_alert(title: str) -> bool:
    """A heading under an Alerts section: one identifier, not a section word like Overview."""
    word = title.strip().strip("`")
    if " " in word or not is_identifier(word) or len(word) < 3:
        return False
    lowered = word.lower()
    if lowered in LABEL_KINDS or lowered in REFERENCE_WORDS or lowered in TOC_WORDS:
        return False
    return bool(re.search(r"[A-Z]", word))


def names_in_statement(text: str) -> list[str]:
    """Alert names a line states: ``Alert Name: "X"``, ``Fires as: `X```, ``Alert: X, Y``."""
    found: list[str] = [m.group(1) for m in _ALERTNAME_LABEL.finditer(text) if is_identifier(m.group(1))]
    match = _STATEMENT.match(text.strip())
    if match is None:
        return _unique(found)
    rest = match.group("rest").strip()
    quoted = _QUOTED.findall(rest)
    candidates = quoted or [word for word in re.split(r"[\s,;/]+|\bor\b|\band\b", rest) if word][:1]
    if not quoted and candidates and _reads_as_prose(rest, candidates[0]):
        candidates = []  # "Alert: Node not ready" names a condition, not the alert Node
    for candidate in candidates:
        candidate = candidate.strip().strip(".,;:")
        if is_identifier(candidate) and re.search(r"[A-Z]", candidate):
            found.append(candidate)
    return _unique(found)


def _reads_as_prose(rest: str, first: str) -> bool:
    """A plain word followed by more words is a phrase; a CamelCase name may be followed by
    a note (``HighLatency (critical)``)."""
    first_chunk = re.split(r"\s*(?:[,;/]|\bor\b|\band\b)\s*", rest.strip(), maxsplit=1)[0]
    return " " in first_chunk.strip() and len(camel_parts(first)) < 2


def heading_alert(title: str) -> str | None:
    """``Alert Name: "X"`` / ``Alert: X`` written as a heading."""
    names = names_in_statement(title) if _STATEMENT.match(title.strip()) else []
    return names[0] if names else None


def _unique(items: list[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen
