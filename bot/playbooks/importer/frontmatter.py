"""YAML front matter (``---`` lines at the top of a page) read as metadata, never as markdown.

Handbook and static-site runbooks keep their title, owner and tags there; parsed as markdown
the block would become a heading ("title: X" underlined by ``---``) or a keyword. The lines are
blanked rather than removed so every line number the report gives still points into the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.playbooks.yamlmarks import load_marked

_FENCE = re.compile(r"^(?:---|\+\+\+)\s*$")


@dataclass
class FrontMatter:
    """What the front matter said, as plain strings (``tags`` as a list)."""

    title: str | None = None
    owner: str | None = None
    tags: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)


def split_front_matter(text: str) -> tuple[FrontMatter, str]:
    """The metadata and the text with the front matter lines blanked (line numbers kept)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return FrontMatter(), text
    end = next((i for i in range(1, len(lines)) if _FENCE.match(lines[i])), None)
    if end is None:
        return FrontMatter(), text
    try:
        data = load_marked("\n".join(lines[1:end])).data
    except yaml.YAMLError:
        return FrontMatter(), text
    if not isinstance(data, dict):
        return FrontMatter(), text
    blanked = [""] * (end + 1) + lines[end + 1 :]
    return _metadata(data), "\n".join(blanked) + ("\n" if text.endswith("\n") else "")


def _metadata(data: dict[Any, Any]) -> FrontMatter:
    meta = FrontMatter()
    for key, value in data.items():
        name = str(key).strip().lower()
        if value is None:
            continue
        if name == "title":
            meta.title = str(value).strip() or None
        elif name in ("owner", "owners", "team", "maintainer", "maintainers"):
            meta.owner = ", ".join(map(str, value)) if isinstance(value, list) else str(value).strip()
        elif name in ("tags", "keywords", "labels"):
            items = value if isinstance(value, list) else re.split(r"\s*,\s*", str(value))
            meta.tags = [str(item).strip() for item in items if str(item).strip()]
        elif isinstance(value, (str, int, float, bool)):
            meta.extra[name] = str(value)
    return meta
