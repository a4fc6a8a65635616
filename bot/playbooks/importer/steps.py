"""Turn markdown blocks into ordered steps.

Steps come from list items (numbered or bulleted, nested), from code blocks (each comment
line starts a step and the commands under it belong to that step), from tables (a row per
step) and from plain paragraphs. A bold label or a paragraph ending in ":" is context for
what follows ("Kubernetes: ..."). Blocks that are not steps (JSON samples, diagrams, quotes)
come back as leftovers so the caller can put them in notes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from markdown_it.tree import SyntaxTreeNode

from bot.playbooks.importer.markdown import Block, Heading, TextBlock, inline_code, inline_text, line_of, split_label
from bot.playbooks.importer.vocabulary import SHELL_LANGUAGES, looks_like_command


@dataclass
class StepDraft:
    text: str
    line: int
    commands: list[str] = field(default_factory=list)


@dataclass
class Leftover:
    block: Block
    reason: str


def join_prefix(prefix: str | None, text: str) -> str:
    if not prefix:
        return text
    if not text:
        return prefix
    return f"{prefix}: {text}"


def _strip_task_box(text: str) -> str:
    return re.sub(r"^\[[ xX]\]\s+", "", text)


#: A shell prompt before a command: ``$ ``, ``/prometheus $ ``, ``user@host:~$ ``, ``PS C:\\> ``.
_PROMPT = re.compile(r"^(?:[\w.@~:/\[\]-]*\s?)?\$\s+(?=\S)|^PS(?:\s[^>]*)?>\s+(?=\S)")


def is_shell_fence(node: SyntaxTreeNode) -> bool:
    """Shell-like language tag, or no tag and not data: untagged blocks in runbooks are commands."""
    language = (node.info or "").strip().split(" ")[0].lower()
    if language in SHELL_LANGUAGES:
        return True
    if language:
        return False
    lines = [line.strip() for line in node.content.splitlines() if line.strip()]
    return bool(lines) and not _looks_like_data(lines)


def _looks_like_data(lines: list[str]) -> bool:
    """JSON, YAML, XML or a log excerpt: shown to responders as notes, never run."""
    first = lines[0]
    if first.startswith(("{", "[", "<", '"')) or first in ("---", "..."):
        return True
    if all(re.match(r"^https?://\S+$", line) for line in lines):
        return True
    if all(re.match(r"^(?:- )?[\w.\-]+:(?:\s|$)", line) for line in lines if not line.startswith("#")):
        return not any(looks_like_command(line) for line in lines)
    return bool(re.match(r"^\d{4}-\d\d-\d\d[T ]\d", first))


def strip_prompt(line: str) -> str | None:
    """The command after a shell prompt, or ``None`` when the line has no prompt."""
    match = _PROMPT.match(line.strip())
    return line.strip()[match.end():] if match else None


def output_lines(content: str) -> list[str]:
    """In a block with shell prompts, the lines that are neither commands nor comments."""
    lines = content.splitlines()
    if not any(strip_prompt(raw) is not None for raw in lines):
        return []
    shown, continued = [], False
    for raw in lines:
        if continued:
            continued = raw.rstrip().endswith("\\")
            continue
        if strip_prompt(raw) is not None:
            continued = raw.rstrip().endswith("\\")
            continue
        if raw.strip() and _comment_text(raw.strip()) is None:
            shown.append(raw.rstrip())
    return shown


def code_to_steps(content: str, line: int, lead: str | None) -> tuple[list[StepDraft], list[str]]:
    """Steps from comment lines; returns also commands that precede the first comment."""
    steps: list[StepDraft] = []
    loose: list[str] = []
    current: StepDraft | None = None
    prompted = any(strip_prompt(raw) is not None for raw in content.splitlines())
    blank_before = False
    last_was_command = False
    pending = ""
    for offset, raw in enumerate(content.splitlines()):
        stripped = raw.strip()
        if pending:
            pending += "\n" + raw.rstrip()
            if not stripped.endswith("\\"):
                (current.commands if current else loose).append(pending)
                pending = ""
            continue
        if not stripped:
            blank_before = True
            continue
        comment = _comment_text(stripped)
        if comment is not None:
            numbered = re.match(r"^\d+[.)]\s+", comment) is not None
            comment = re.sub(r"^\d+[.)]\s+", "", comment)
            if not comment:
                continue
            if comment.lower().rstrip(":") in ("or", "alternatively", "and"):
                # "# or" separates alternative commands of the same step
                last_was_command = False
                blank_before = False
                continue
            if current is None or numbered or last_was_command or blank_before:
                current = StepDraft(join_prefix(lead, comment), line + offset + 1)
                steps.append(current)
            else:
                current.text = f"{current.text} — {comment}"
            last_was_command = False
        else:
            after_prompt = strip_prompt(raw)
            if prompted and after_prompt is None:
                # output printed by the command above, not something to run
                blank_before = False
                continue
            command = after_prompt if after_prompt is not None else raw.rstrip()
            command = command if raw.startswith((" ", "\t")) and current is not None and not last_was_command else command.strip()
            if stripped.endswith("\\"):
                pending = command
            else:
                (current.commands if current else loose).append(command)
            last_was_command = True
        blank_before = False
    if pending:
        (current.commands if current else loose).append(pending)
    return steps, loose


def _comment_text(line: str) -> str | None:
    if line.startswith("#!"):
        return None
    for marker in ("#", "--", "//"):
        if line.startswith(marker):
            return line[len(marker):].lstrip("#-/ ").strip()
    return None


def _command_from_code(code: str) -> list[str]:
    return [code] if looks_like_command(code) else []


class StepBuilder:
    """Walks a block stream; ``paragraphs_as_steps`` is off where prose is likely commentary."""

    def __init__(self, paragraphs_as_steps: bool = True) -> None:
        self.paragraphs_as_steps = paragraphs_as_steps
        self.steps: list[StepDraft] = []
        self.leftovers: list[Leftover] = []

    def add(self, blocks: Sequence[Block], prefix: str | None = None) -> None:
        pending: str | None = None
        for block in blocks:
            if isinstance(block, Heading):
                pending = block.title
                continue
            if isinstance(block, TextBlock):
                self._paragraph_text(block.text, block.line, block, prefix, [])
                continue
            kind = block.type
            if kind == "paragraph":
                labelled = split_label(block)
                if labelled.label and not labelled.rest:
                    pending = labelled.label
                    continue
                text = join_prefix(labelled.label, labelled.rest) if labelled.label else labelled.rest
                carries_command = any(looks_like_command(code) for code in inline_code(block))
                if text.endswith(":") and not labelled.label and not carries_command:
                    pending = text.rstrip(":").strip()
                    continue
                self._paragraph_text(text, line_of(block), block, join_prefix(prefix, pending) if pending else prefix, inline_code(block))
            elif kind in ("bullet_list", "ordered_list"):
                for item in block.children:
                    self._item(item, join_prefix(prefix, pending) if pending else prefix)
                pending = None
            elif kind in ("fence", "code_block"):
                if kind == "code_block" or is_shell_fence(block):
                    self._code(block, join_prefix(prefix, pending) if pending else prefix)
                else:
                    self.leftovers.append(Leftover(block, f"{(block.info or 'code').split(' ')[0]} sample, not commands"))
                pending = None
            elif kind == "table":
                self._table(block, join_prefix(prefix, pending) if pending else prefix)
                pending = None
            elif kind == "hr":
                continue
            else:
                self.leftovers.append(Leftover(block, f"{kind} cannot be a step"))

    def _paragraph_text(self, text: str, line: int, block: Block, prefix: str | None, codes: list[str]) -> None:
        if not text:
            return
        if not self.paragraphs_as_steps:
            self.leftovers.append(Leftover(block, "prose"))
            return
        commands = [c for code in codes for c in _command_from_code(code)]
        self.steps.append(StepDraft(join_prefix(prefix, text), line, commands))

    def _output(self, block: SyntaxTreeNode) -> None:
        """Lines a prompted block shows as output go to notes: kept, never run."""
        shown = output_lines(block.content)
        if shown:
            self.leftovers.append(Leftover(TextBlock("\n".join(shown), line_of(block)), "command output shown in the runbook"))

    def _code(self, block: SyntaxTreeNode, lead: str | None) -> None:
        self._output(block)
        steps, loose = code_to_steps(block.content, line_of(block) + (1 if block.type == "fence" else 0), lead)
        if loose:
            previous = self.steps[-1] if self.steps else None
            if lead is None and previous is not None and not previous.commands:
                previous.commands.extend(loose)
            else:
                text = lead or f"Run `{loose[0].splitlines()[0]}`"
                self.steps.append(StepDraft(text, line_of(block), loose))
        self.steps.extend(steps)

    def _table(self, block: SyntaxTreeNode, prefix: str | None) -> None:
        header, rows = table_cells(block)
        for row_node, cells in rows:
            text = cells[0] if cells else ""
            details = [f"{header[i]}: {cell}" for i, cell in enumerate(cells) if i > 0 and cell and i < len(header)]
            if details:
                text = f"{text} ({'; '.join(details)})"
            commands = [c for cell in row_node.children for code in inline_code(cell) for c in _command_from_code(code)]
            if text:
                self.steps.append(StepDraft(join_prefix(prefix, text), line_of(row_node) or line_of(block), commands))

    def _item(self, item: SyntaxTreeNode, prefix: str | None) -> None:
        children = list(item.children)
        lead_label: str | None = None
        lead_rest = ""
        codes: list[str] = []
        if children and children[0].type == "paragraph":
            first = children.pop(0)
            labelled = split_label(first)
            lead_label, lead_rest = labelled.label, _strip_task_box(labelled.rest)
            codes = inline_code(first)
        if not lead_rest:
            inner = StepBuilder(self.paragraphs_as_steps)
            inner.add(children, join_prefix(prefix, lead_label) if lead_label else prefix)
            if not inner.steps and lead_label:
                self.steps.append(StepDraft(join_prefix(prefix, lead_label), line_of(item)))
            self.steps.extend(inner.steps)
            self.leftovers.extend(inner.leftovers)
            return
        step = StepDraft(join_prefix(prefix, join_prefix(lead_label, lead_rest)), line_of(item))
        step.commands.extend(c for code in codes for c in _command_from_code(code))
        self.steps.append(step)
        followers: list[StepDraft] = []
        for child in children:
            if child.type == "paragraph":
                step.text += "\n" + inline_text(child)
                step.commands.extend(c for code in inline_code(child) for c in _command_from_code(code))
            elif child.type in ("fence", "code_block") and (child.type == "code_block" or is_shell_fence(child)):
                self._output(child)
                comment_steps, loose = code_to_steps(child.content, line_of(child) + 1, None)
                step.commands.extend(loose)
                followers.extend(comment_steps)
            elif child.type in ("bullet_list", "ordered_list"):
                for sub in child.children:
                    if _has_code(sub):
                        inner = StepBuilder(self.paragraphs_as_steps)
                        inner._item(sub, lead_label or prefix)
                        followers.extend(inner.steps)
                        self.leftovers.extend(inner.leftovers)
                    else:
                        step.text += "\n" + _item_text(sub, "- ")
                        step.commands.extend(c for code in _item_codes(sub) for c in _command_from_code(code))
            else:
                self.leftovers.append(Leftover(child, f"{child.type} inside a list item"))
        self.steps.extend(followers)


def _has_code(item: SyntaxTreeNode) -> bool:
    return any(child.type in ("fence", "code_block") for child in item.children)


def _item_text(item: SyntaxTreeNode, bullet: str, indent: str = "") -> str:
    lines: list[str] = []
    for child in item.children:
        if child.type == "paragraph":
            text = _strip_task_box(inline_text(child))
            lines.append(f"{indent}{bullet}{text}" if not lines else f"{indent}  {text}")
        elif child.type in ("bullet_list", "ordered_list"):
            lines.extend(_item_text(sub, "- ", indent + "  ") for sub in child.children)
    return "\n".join(lines)


def _item_codes(item: SyntaxTreeNode) -> list[str]:
    codes: list[str] = []
    for child in item.children:
        if child.type == "paragraph":
            codes.extend(inline_code(child))
        elif child.type in ("bullet_list", "ordered_list"):
            for sub in child.children:
                codes.extend(_item_codes(sub))
    return codes


def table_cells(block: SyntaxTreeNode) -> tuple[list[str], list[tuple[SyntaxTreeNode, list[str]]]]:
    """Header texts and (row node, cell texts) for each body row."""
    header: list[str] = []
    rows: list[tuple[SyntaxTreeNode, list[str]]] = []
    for part in block.children:
        for row in part.children:
            cells = [inline_text(cell) for cell in row.children]
            if part.type == "thead":
                header = cells
            else:
                rows.append((row, cells))
    return header, rows
