"""Severity in runbooks: definitions (``**P0 (Critical)**: System down``, tables) and the
severity a runbook states for its alert (``**Severity:** Critical``, ``— SEV2``).

Stated words go through the same mapping as Alertmanager ``severity`` labels
(``FIREBREAK_SEVERITY_MAPPING``), so "critical" in a runbook and on an alert mean one level."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.severity import Severity
from bot.playbooks.schema import SeverityDefinition

_LEVEL = re.compile(
    r"^\s*(P[0-5]|SEV[-\s]?[0-5]|S[0-5]|Critical|High|Medium|Low|Major|Minor|Info)\b\s*(?:[(\[]([^)\]]*)[)\]])?\s*[:\-–]?\s*(.*)$",
    re.IGNORECASE,
)


def parse_item(label: str | None, rest: str) -> SeverityDefinition | None:
    text = f"{label}: {rest}" if label else rest
    match = _LEVEL.match(text)
    if match is None:
        return None
    level, name, description = match.group(1), match.group(2), match.group(3).lstrip(":-– ").strip()
    level = level.upper() if re.match(r"^(?:P|S|SEV)", level, re.IGNORECASE) else level.capitalize()
    return SeverityDefinition(level=level.replace(" ", ""), name=name or None, description=description)


def parse_table(header: list[str], rows: list[list[str]]) -> list[SeverityDefinition] | None:
    """Needs a severity/priority/level column; the other cells form the description."""
    lowered = [cell.lower() for cell in header]
    level_col = next((i for i, cell in enumerate(lowered) if any(w in cell for w in ("severity", "priority", "sev", "level"))), None)
    if level_col is None:
        return None
    name_col = next((i for i, cell in enumerate(lowered) if cell in ("name", "label", "title")), None)
    definitions = []
    for row in rows:
        cells = row + [""] * (len(header) - len(row))
        parsed = parse_item(None, cells[level_col])
        if parsed is None:
            return None
        others = [i for i, cell in enumerate(cells) if i not in (level_col, name_col) and cell]
        details = [cells[i] for i in others] if len(others) == 1 else [f"{header[i]}: {cells[i]}" for i in others]
        definitions.append(
            SeverityDefinition(
                level=parsed.level,
                name=(cells[name_col] if name_col is not None else None) or parsed.name,
                description="; ".join(details) or parsed.description,
            )
        )
    return definitions or None


# -- severity a runbook states for its alert --------------------------------------------------

_STATED = re.compile(r"\bseverity\b\s*[*_]*\s*[:=]\s*[*_`]*\s*(?P<word>[A-Za-z]+(?:[-\s]?\d)?)", re.IGNORECASE)
_SEV_TAG = re.compile(r"(?:^|[\s(\[—–-])(?P<word>SEV[-\s]?\d|P[0-3])\b(?!\s*\w*:)")
NO_SEVERITY = ("none", "n/a", "na", "-", "unset")


@dataclass(frozen=True)
class StatedSeverity:
    """A severity written in the runbook: ``level`` is ``None`` for "Severity: none"."""

    word: str
    level: Severity | None


def level_of(word: str, words: Mapping[str, Severity]) -> Severity | None:
    """``critical`` through the label mapping; ``SEV2``/``P2`` as P2 (SEV4 and below: INFO)."""
    cleaned = word.strip().lower()
    if cleaned in words:
        return words[cleaned]
    number = re.fullmatch(r"(?:sev[-\s]?|p)(\d)", cleaned)
    if number:
        value = int(number.group(1))
        return Severity(f"P{value}") if value <= 3 else Severity.INFO
    raise ValueError(word)


def stated_severity(text: str, words: Mapping[str, Severity], *, tags: bool = False) -> StatedSeverity | None:
    """The severity ``text`` states (``Severity: Error``, ``**Severity:** Critical``), or ``None``.

    ``tags`` also accepts a bare ``SEV2`` / ``— SEV2`` (titles and headings).
    """
    match = _STATED.search(text)
    if match is not None:
        word = match.group("word").strip()
        if word.lower() in NO_SEVERITY:
            return StatedSeverity(word, None)
        try:
            return StatedSeverity(word, level_of(word, words))
        except ValueError:
            pass
    if tags:
        tag = _SEV_TAG.search(text)
        if tag is not None and tag.group("word").upper().startswith("SEV"):
            return StatedSeverity(tag.group("word"), level_of(tag.group("word"), words))
    return None


def all_stated(text: str, words: Mapping[str, Severity]) -> list[StatedSeverity]:
    """Every level a severity section names (``SEV1``…``SEV4`` tables, "critical", "warning"),
    in order; the caller keeps the worst and notes the others."""
    known = sorted((re.escape(word) for word in words if word.strip()), key=len, reverse=True)
    pattern = r"\b(SEV[-\s]?\d|P[0-3]" + "".join(f"|{word}" for word in known) + r")\b"
    found = []
    for match in re.finditer(pattern, text, re.IGNORECASE):
        try:
            found.append(StatedSeverity(match.group(1), level_of(match.group(1), words)))
        except ValueError:
            continue
    return found


def worst(levels: list[Severity]) -> Severity | None:
    return min(levels, key=lambda level: level.rank, default=None)
