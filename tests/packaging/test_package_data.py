"""`pip install .` (not editable) must ship every file the code reads at run time.

Production installs follow docs/operations.md (`pip install .` into a virtualenv), which
copies only the package data that pyproject.toml names; a file left out works in a checkout
and fails on a server.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def package_data_patterns() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["setuptools"]["package-data"]["*"])


def test_every_data_file_under_bot_is_installed() -> None:
    patterns = package_data_patterns()
    missing = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot").rglob("*")
        if path.is_file()
        and path.suffix not in {".py", ".pyc"}
        and "__pycache__" not in path.parts
        and not any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)
    )
    assert missing == [], f"not in [tool.setuptools.package-data] of pyproject.toml: {missing}"
