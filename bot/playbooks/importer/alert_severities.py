"""Per-alert severity tables: ``| Alert | Severity |`` with rows like ``| KubeNodeNotReady | warning |``.

Many runbook collections state each alert's severity once, in a table, rather than in the
alert's own section. The words go through the same mapping as Alertmanager ``severity``
labels (``FIREBREAK_SEVERITY_MAPPING``; ``SEVn`` -> ``Pn``), and every playbook for a named
alert gets them as stated levels, so an alert listed twice (once warning, once critical)
takes the worst and the report notes the other.
"""

from __future__ import annotations

import re

from markdown_it.tree import SyntaxTreeNode

from bot.playbooks.importer.context import ImportContext
from bot.playbooks.importer.drafts import Draft, StatedLevel
from bot.playbooks.importer.markdown import Section, line_of
from bot.playbooks.importer.severity import NO_SEVERITY, level_of
from bot.playbooks.importer.steps import table_cells

_ALERT_HEADERS = frozenset({"alert", "alert name", "alertname", "alert rule", "alerts"})
_SEVERITY_HEADERS = frozenset({"severity", "sev", "priority", "level", "severity level"})
#: The alert name at the start of a cell: `KubeNodeNotReady`, [KubeNodeNotReady](url), **X**
_NAME = re.compile(r"^[\s`*_\"'\[]*([A-Za-z_][A-Za-z0-9_:]*)[\s`*_\"'\]]*(?:\(.*\))?\s*$")


def _column(header: list[str], names: frozenset[str]) -> int | None:
    cleaned = [re.sub(r"[*_`]", "", cell).strip().lower() for cell in header]
    return next((i for i, cell in enumerate(cleaned) if cell in names), None)


def collect(ctx: ImportContext, root: Section) -> None:
    """Read every alert/severity table in the file into ``ctx.table_severities``."""
    for section in root.walk():
        for block in section.blocks:
            if not (isinstance(block, SyntaxTreeNode) and block.type == "table"):
                continue
            header, rows = table_cells(block)
            alert_col, severity_col = _column(header, _ALERT_HEADERS), _column(header, _SEVERITY_HEADERS)
            if alert_col is None or severity_col is None:
                continue
            ctx.severity_table_lines.add(line_of(block))
            for row, cells in rows:
                if max(alert_col, severity_col) >= len(cells):
                    continue
                name = _NAME.match(cells[alert_col])
                word = re.sub(r"[*_`]", "", cells[severity_col]).strip()
                if name is None or not word or word.lower() in NO_SEVERITY:
                    continue
                try:
                    level = level_of(word, ctx.severity_words)
                except ValueError:
                    continue
                ctx.table_severities.setdefault(name.group(1), []).append(StatedLevel(word, level, line_of(row) or line_of(block)))


def apply(ctx: ImportContext, drafts: list[Draft]) -> None:
    """Give each playbook for a tabled alert the severities the tables state for it."""
    for draft in drafts:
        for name in draft.alertnames:
            draft.stated.extend(ctx.table_severities.get(name, []))
