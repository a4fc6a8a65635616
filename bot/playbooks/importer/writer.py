"""Write playbooks as YAML that reads well and loads back to the same model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.playbooks.schema import Playbook


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


def write_playbooks(playbooks: list[Playbook], directory: str | Path) -> list[Path]:
    """One ``<id>.yaml`` per playbook; refuses to overwrite an existing file."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for playbook in playbooks:
        path = target / f"{playbook.id}.yaml"
        if path.exists():
            raise FileExistsError(f"{path} already exists")
        path.write_text(dump_playbook(playbook), encoding="utf-8")
        written.append(path)
    return written
