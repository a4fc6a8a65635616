"""The domain core stays free of Slack, HTTP, PagerDuty and database code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"
FORBIDDEN = ("slack_bolt", "slack_sdk", "httpx", "aiohttp", "starlette", "uvicorn", "pagerduty", "sqlalchemy", "alembic", "apscheduler", "bot.store", "bot.chat", "bot.delivery", "bot.http", "bot.ingest")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(DOMAIN.rglob("*.py")), ids=lambda p: p.name)
def test_domain_imports_no_adapters(path: Path) -> None:
    bad = {name for name in imported_modules(path) if name.startswith(FORBIDDEN)}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_check_would_catch_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from sqlalchemy.orm import Session\nimport slack_sdk\n")
    assert {name for name in imported_modules(sample) if name.startswith(FORBIDDEN)} == {"sqlalchemy.orm", "slack_sdk"}
