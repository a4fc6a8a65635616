"""Severity definitions from lists (``**P0 (Critical)**: System down``) and tables."""

from __future__ import annotations

import re

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
