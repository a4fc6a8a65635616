"""Markdown structure for the importer: a heading tree over markdown-it block nodes.

Runbooks mark their structure with headings *and* with bold labels (``**Symptoms:**``), so
besides the tree this module answers "is this paragraph a label, and what follows it?".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode


@dataclass
class Section:
    """A heading and everything up to the next heading of the same or higher level."""

    title: str
    level: int
    line: int
    blocks: list[SyntaxTreeNode] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    parent: Section | None = None

    def ancestors(self) -> list[Section]:
        chain, node = [], self.parent
        while node is not None and node.level > 0:
            chain.append(node)
            node = node.parent
        return chain

    def walk(self) -> list[Section]:
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


@dataclass
class Heading:
    """A sub-heading flattened into the block stream of an enclosing section."""

    title: str
    line: int


@dataclass
class TextBlock:
    """Text that followed a bold label in the same paragraph (``**Escalation:** If ...``)."""

    text: str
    line: int


Block = SyntaxTreeNode | Heading | TextBlock


def parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def parse_sections(text: str) -> Section:
    """The document as a tree; the root (level 0) holds what precedes the first heading."""
    root = Section(title="", level=0, line=1)
    stack = [root]
    for node in SyntaxTreeNode(parser().parse(text)).children:
        if node.type == "heading":
            level = int(node.tag[1])
            while stack[-1].level >= level:
                stack.pop()
            section = Section(inline_text(node), level, line_of(node), parent=stack[-1])
            stack[-1].children.append(section)
            stack.append(section)
        else:
            stack[-1].blocks.append(node)
    return root


def line_of(node: Block) -> int:
    if isinstance(node, (Heading, TextBlock)):
        return node.line
    return node.map[0] + 1 if node.map else 0


def source_of(node: Block, lines: list[str]) -> str:
    """The original markdown of a block, so notes keep exactly what the author wrote."""
    if isinstance(node, Heading):
        return f"**{node.title}**"
    if isinstance(node, TextBlock):
        return node.text
    if not node.map:
        return ""
    start, end = node.map
    return "\n".join(lines[start:end]).strip("\n")


def flatten(section: Section) -> list[Block]:
    """The section's blocks with its sub-sections inlined after a :class:`Heading` marker."""
    blocks: list[Block] = list(section.blocks)
    for child in section.children:
        blocks.append(Heading(child.title, child.line))
        blocks.extend(flatten(child))
    return blocks


def inline_text(node: SyntaxTreeNode) -> str:
    """Plain text of a paragraph/heading/cell; inline code keeps its backticks."""
    inline = _inline(node)
    return _render(inline.children).strip() if inline is not None else ""


def _inline(node: SyntaxTreeNode) -> SyntaxTreeNode | None:
    if node.type == "inline":
        return node
    return next((child for child in node.children if child.type == "inline"), None)


def _render(nodes: list[SyntaxTreeNode]) -> str:
    parts: list[str] = []
    for node in nodes:
        if node.type == "text":
            parts.append(node.content)
        elif node.type == "code_inline":
            parts.append(f"`{node.content}`")
        elif node.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif node.type == "link":
            label = _render(node.children)
            href = str(node.attrs.get("href", ""))
            parts.append(label if not href or href.startswith("#") or href == label else f"{label} ({href})")
        elif node.type == "image":
            parts.append(str(node.attrs.get("alt", "")) or node.content)
        elif node.type in ("html_inline",):
            parts.append(node.content)
        else:
            parts.append(_render(node.children))
    return "".join(parts)


def inline_code(node: SyntaxTreeNode) -> list[str]:
    """Contents of the inline code spans in a paragraph or cell."""
    inline = _inline(node)
    found: list[str] = []

    def visit(items: list[SyntaxTreeNode]) -> None:
        for item in items:
            if item.type == "code_inline":
                found.append(item.content)
            visit(item.children)

    if inline is not None:
        visit(inline.children)
    return found


@dataclass
class Labelled:
    """A paragraph split into its bold label (if any) and the text after it."""

    label: str | None
    rest: str


def split_label(node: SyntaxTreeNode) -> Labelled:
    """``**Symptoms:** text`` -> ("Symptoms", "text"); ``**Vercel:**`` -> ("Vercel", "").

    Bold words inside a sentence are not labels; a leading bold run is one when a colon ends
    it or follows it, or when it is the whole paragraph.
    """
    inline = _inline(node)
    if inline is None:
        return Labelled(None, "")
    children = [c for c in inline.children if not (c.type == "text" and not c.content.strip())]
    if not children or children[0].type != "strong":
        return Labelled(None, inline_text(node))
    label = _render(children[0].children).strip()
    rest = _render(children[1:]).strip()
    if label.endswith(":"):
        return Labelled(label.rstrip(":").strip(), rest)
    if rest.startswith(":"):
        return Labelled(label, rest[1:].strip())
    if not rest:
        return Labelled(label, "")
    return Labelled(None, inline_text(node))
