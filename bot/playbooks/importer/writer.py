"""Write playbooks as YAML that reads well and loads back to the same model.

An imported playbook's file carries ``imported.content_hash``: the SHA-256 of the file as
written, computed with that line left out. :func:`is_edited` recomputes it, so a second
import can tell a file nobody touched (rewrite it) from one a person edited (keep it).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from bot.playbooks.schema import Playbook

_HASH_LINE = re.compile(r"^  content_hash: ([0-9a-f]{64})\n", re.MULTILINE)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    if style:
        value = "\n".join(line.rstrip() for line in value.splitlines())
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _prune(value: Any) -> Any:
    """Drop empty values so files hold only what was said; defaults come back on load."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", [], {}, False)}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def dump_playbook(playbook: Playbook) -> str:
    data = _prune(playbook.model_dump(mode="json"))
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render(playbook: Playbook) -> str:
    """The file text; for an imported playbook with its content hash filled in."""
    if playbook.imported is None:
        return dump_playbook(playbook)
    bare = playbook.model_copy(update={"imported": playbook.imported.model_copy(update={"content_hash": ""})})
    digest = _digest(dump_playbook(bare))
    text = dump_playbook(playbook.model_copy(update={"imported": playbook.imported.model_copy(update={"content_hash": digest})}))
    if _HASH_LINE.sub("", text, count=1) != dump_playbook(bare):  # pragma: no cover - layout guard
        raise AssertionError("content hash line is not where the writer expects it")
    return text


def is_edited(text: str) -> bool:
    """True unless ``text`` is exactly what the importer wrote (its recorded hash matches)."""
    match = _HASH_LINE.search(text)
    if match is None:
        return True
    return _digest(text[: match.start()] + text[match.end() :]) != match.group(1)


def write_playbooks(playbooks: list[Playbook], directory: str | Path) -> list[Path]:
    """One ``<id>.yaml`` per playbook; refuses to overwrite an existing file."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for playbook in playbooks:
        path = target / f"{playbook.id}.yaml"
        if path.exists():
            raise FileExistsError(f"{path} already exists")
        path.write_text(render(playbook), encoding="utf-8")
        written.append(path)
    return written
