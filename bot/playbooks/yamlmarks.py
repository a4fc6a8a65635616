"""Load YAML while remembering the line of every key and list item.

PyYAML's composed node tree carries marks; plain ``safe_load`` throws them away. We keep both:
the data for validation, and a ``path -> line`` map so a pydantic error at
``("phases", 1, "steps", 0, "deadline")`` can be reported at the line where that key is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass
class MarkedDocument:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    duplicate_keys: list[tuple[str, int]] = field(default_factory=list)

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its nearest ancestor that exists (a missing key is
        reported where its parent is)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


def load_marked(text: str) -> MarkedDocument:
    """Parse one YAML document; raises ``yaml.YAMLError`` (with ``problem_mark``) on bad syntax."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    data = yaml.safe_load(text)
    document = MarkedDocument(data=data)
    if node is not None:
        document.lines[()] = node.start_mark.line + 1
        _walk(node, (), document)
    return document


def _walk(node: yaml.Node, path: Path, document: MarkedDocument) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                document.duplicate_keys.append((".".join(map(str, (*path, key))), line))
            seen.add(key)
            document.lines[(*path, key)] = line
            _walk(value_node, (*path, key), document)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            document.lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), document)
