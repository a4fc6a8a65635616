"""Escalation and severity-definition text (sections, lists, tables) into policy drafts."""

from __future__ import annotations

from collections.abc import Callable

from markdown_it.tree import SyntaxTreeNode

from bot.playbooks.importer import escalation as esc
from bot.playbooks.importer import severity as sev
from bot.playbooks.importer.context import ImportContext
from bot.playbooks.importer.markdown import Block, Heading, Section, TextBlock, flatten, inline_text, line_of, split_label
from bot.playbooks.importer.steps import Leftover, table_cells
from bot.playbooks.importer.text import split_sentences

LeftoverSink = Callable[[Leftover], None]


def escalation_blocks(blocks: list[Block], into: list[esc.LevelDraft], leftover_sink: LeftoverSink) -> None:
    """Levels from sentences, path lists and matrices; whatever is not one goes to the sink."""
    for block in blocks:
        if isinstance(block, Heading):
            continue
        if isinstance(block, TextBlock) or block.type == "paragraph":
            text = block.text if isinstance(block, TextBlock) else inline_text(block)
            found = [r for r in (esc.parse_sentence(s) for s in split_sentences(text)) if r is not None]
            timed = [r for r in found if not r.on_condition]
            if timed:
                into.extend(timed)
            if len(timed) < len(found):
                leftover_sink(Leftover(block, "escalation on a condition the bot cannot see: the responder acts on it"))
            elif not found:
                leftover_sink(Leftover(block, "escalation text without a who"))
        elif block.type in ("bullet_list", "ordered_list"):
            _path_list(block, into, leftover_sink)
        elif block.type == "table":
            header, rows = table_cells(block)
            levels = esc.parse_table(header, [cells for _, cells in rows])
            if levels:
                into.extend(levels)
            else:
                leftover_sink(Leftover(block, "table is not an escalation matrix"))
        elif block.type != "hr":
            leftover_sink(Leftover(block, f"{block.type} in escalation text"))


def _path_list(block: SyntaxTreeNode, into: list[esc.LevelDraft], leftover_sink: LeftoverSink) -> None:
    unparsed = []
    for position, item in enumerate(block.children, start=1):
        first = item.children[0] if item.children and item.children[0].type == "paragraph" else None
        labelled = split_label(first) if first is not None else None
        rest = labelled.rest if labelled else ""
        level = esc.parse_path_item(labelled.label if labelled else None, rest, position)
        if level is None:
            level = esc.parse_sentence(inline_text(first)) if first is not None else None
        if level is None:
            unparsed.append(item)
        else:
            level.line = line_of(item)
            into.append(level)
    for item in unparsed:
        leftover_sink(Leftover(item, "escalation list item without level/who"))


def escalation_section(ctx: ImportContext, section: Section) -> None:
    ctx.outcome(section, "file-wide escalation policy")
    ctx.outcome_below(section, "part of the file-wide escalation policy")
    escalation_blocks(flatten(section), ctx.file_levels, lambda lo: ctx.reference_leftover(section, lo))


def severity_section(ctx: ImportContext, section: Section) -> None:
    ctx.outcome(section, "severity definitions")
    ctx.outcome_below(section, "part of the severity definitions")
    for block in flatten(section):
        if isinstance(block, (Heading, TextBlock)) or block.type == "hr":
            continue
        placed = False
        if block.type in ("bullet_list", "ordered_list"):
            parsed = []
            for item in block.children:
                first = item.children[0] if item.children and item.children[0].type == "paragraph" else None
                labelled = split_label(first) if first is not None else None
                parsed.append(sev.parse_item(labelled.label, labelled.rest) if labelled else None)
            if parsed and all(parsed):
                ctx.severity_definitions.extend(p for p in parsed if p is not None)
                placed = True
        elif block.type == "table":
            header, rows = table_cells(block)
            definitions = sev.parse_table(header, [cells for _, cells in rows])
            if definitions:
                ctx.severity_definitions.extend(definitions)
                placed = True
        if not placed:
            ctx.reference_leftover(section, Leftover(block, "not a severity definition"))
