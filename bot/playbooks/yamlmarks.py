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


#: Limits on what a document may stand for once its aliases are expanded. Anchors and aliases
#: let a file reuse a block; nested, a few lines expand to gigabytes (the "billion laughs"),
#: one long string aliased thousands of times does the same, and an alias inside its own
#: anchor never ends. Far above any real playbook, runbook front matter or drill scenario.
MAX_EXPANDED_VALUES = 50_000
MAX_EXPANDED_CHARACTERS = 2_000_000
#: Longer text is refused before parsing (parsing itself takes time and memory in proportion).
MAX_DOCUMENT_CHARACTERS = 1_000_000
#: No playbook, front matter or scenario needs a longer number.
MAX_INTEGER_CHARACTERS = 100
_INT_TAG = "tag:yaml.org,2002:int"
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_marked(text: str) -> MarkedDocument:
    """Parse one YAML document; raises ``yaml.YAMLError`` (with ``problem_mark`` where there is
    a place to point at) on bad syntax, a value that cannot be read (a 30th of February), an
    alias inside its own anchor, deep nesting, or a document past the limits above."""
    if len(text) > MAX_DOCUMENT_CHARACTERS:
        raise yaml.YAMLError(f"the document is longer than {MAX_DOCUMENT_CHARACTERS:,} characters")
    # libyaml's parser where PyYAML was built with it: the same documents, nodes and marks,
    # parsed about ten times faster (a large file near the limits takes a second, not ten).
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return MarkedDocument(data=None)
        _check_expansion(node)
        document = MarkedDocument(data=loader.construct_document(node))
        document.lines[()] = node.start_mark.line + 1
        _walk(node, (), document)
    except RecursionError:
        # PyYAML composes and builds recursively: thousands of nested brackets exhaust the stack.
        raise yaml.YAMLError("the document nests too deeply") from None
    except yaml.MarkedYAMLError as error:
        if error.problem == "exceeded maximum nesting depth":  # libyaml's own limit, said as above
            raise yaml.YAMLError("the document nests too deeply") from None
        raise
    except (ValueError, OverflowError) as error:
        # PyYAML's constructors raise these for a date that does not exist or an integer too long.
        raise yaml.YAMLError(f"a value cannot be read: {error}") from None
    finally:
        loader.dispose()
    return document


def _check_expansion(root: yaml.Node) -> None:
    """Count what the node graph stands for without building it: each node once (its size is
    remembered), so a bomb is refused in time proportional to the file, not to its expansion."""
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> tuple[int, int]:
        """(values, characters of scalars) the node stands for."""
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise yaml.MarkedYAMLError(problem="an alias refers to the block that contains it (it would never end)", problem_mark=node.start_mark)
        open_nodes.add(key)
        if isinstance(node, yaml.MappingNode):
            parts = [size(part) for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            parts = [size(item) for item in node.value]
        else:
            if node.tag == _INT_TAG and len(str(node.value)) > MAX_INTEGER_CHARACTERS:
                # Hex, octal and base-60 integers are built with no digit limit, and Python
                # refuses to print one past 4,300 digits: refused before either happens.
                raise yaml.MarkedYAMLError(problem=f"an integer longer than {MAX_INTEGER_CHARACTERS} characters", problem_mark=node.start_mark)
            parts = [(0, len(str(node.value)))]
        total = (1 + sum(values for values, _ in parts), sum(characters for _, characters in parts))
        if total[0] > MAX_EXPANDED_VALUES:
            raise yaml.MarkedYAMLError(
                problem=f"the document stands for more than {MAX_EXPANDED_VALUES:,} values (a block an alias repeats counts each time)",
                problem_mark=node.start_mark,
            )
        if total[1] > MAX_EXPANDED_CHARACTERS:
            raise yaml.MarkedYAMLError(
                problem=f"the document stands for more than {MAX_EXPANDED_CHARACTERS:,} characters of text (a block an alias repeats counts each time)",
                problem_mark=node.start_mark,
            )
        open_nodes.discard(key)
        sizes[key] = total
        return total

    size(root)


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
