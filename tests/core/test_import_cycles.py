"""No import cycles among bot's modules (the graph is read with ``ast``, nothing is imported).

A cycle makes the order modules load in matter and hides which package depends on which;
the composition root (bot/container.py) is where features meet, not each other's modules.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.import_graph import import_graph, simple_cycles, strongly_connected


def _shown(cycles: list[list[str]]) -> str:
    return "\n".join(" → ".join([*cycle, cycle[0]]) for cycle in cycles)


def test_bot_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "bot.container" in graph and "bot.entry" in graph["bot.__main__"] and "bot.cli" in graph["bot.entry"]
    cycles = simple_cycles(graph)
    assert not cycles, f"import cycles:\n{_shown(cycles)}"


def test_no_cycle_even_through_type_checking_imports() -> None:
    """Annotations only (``if TYPE_CHECKING:``) still say who depends on whom."""
    cycles = simple_cycles(import_graph(type_checking=True))
    assert not cycles, f"import cycles through TYPE_CHECKING imports:\n{_shown(cycles)}"


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_check_finds_cycles_of_every_import_form(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg.b import thing\n",
            "b.py": "def f():\n    import pkg.c\n",  # a function-local import still counts
            "c.py": "from . import a\n",  # relative, naming a submodule
            "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.e import E\n",
            "e.py": "import pkg.d\n",
            "sub/__init__.py": "",
            "sub/x.py": "from ..sub import y\n",
            "sub/y.py": "from pkg.sub.x import name\n",
        },
    )
    graph = import_graph(root, package="pkg")
    assert graph["pkg.c"] == {"pkg.a"}
    assert strongly_connected(graph) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.sub.x", "pkg.sub.y"]]
    assert sorted(simple_cycles(graph)) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.sub.x", "pkg.sub.y"]]
    with_annotations = import_graph(root, package="pkg", type_checking=True)
    assert ["pkg.d", "pkg.e"] in simple_cycles(with_annotations)


def test_an_acyclic_package_passes(tmp_path: Path) -> None:
    root = _package(tmp_path, {"__init__.py": "", "a.py": "import pkg.b\n", "b.py": "import os\n", "c.py": "from pkg import a, b\n"})
    graph = import_graph(root, package="pkg")
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": set(), "pkg.c": {"pkg.a", "pkg.b"}}
    assert simple_cycles(graph) == []
