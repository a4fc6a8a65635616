"""The pure parts of the export import no database, web or Slack code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "bot" / "export"
PURE = ["timings.py", "document.py", "escape.py", "chat_pages.py", "wording.py", "model.py"]
FORBIDDEN = ("sqlalchemy", "starlette", "slack_sdk", "slack_bolt", "httpx", "pagerduty", "bot.store", "bot.service", "bot.delivery")


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_do_no_io(module: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    imported = [
        name
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        )
    ]
    assert not [name for name in imported if name.startswith(FORBIDDEN)], imported
