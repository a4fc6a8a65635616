"""The import graph of ``bot``'s modules, read with ``ast``, and the cycles in it.

Why: an import cycle makes the order modules load in matter, forces imports into function
bodies, and hides which package depends on which. ``tests/core/test_import_cycles.py``
keeps the graph acyclic; ``python -m tests.support.import_graph`` prints the cycles.

An edge ``a → b`` is any ``import`` or ``from … import`` in ``a`` naming ``b`` (or a
name in ``b``), at module level or inside a function. Imports under
``if TYPE_CHECKING:`` are left out by default: they never run, so they cannot make a
cycle at import time (``--with-type-checking`` adds them).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "bot"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, *, type_checking: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, skipping ``if TYPE_CHECKING:`` bodies unless asked for."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test) and not type_checking:
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    """The absolute module a ``from … import`` names (relative imports included)."""
    if not node.level:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def import_graph(root: Path = ROOT, *, package: str = PACKAGE, type_checking: bool = False) -> dict[str, set[str]]:
    """``module → the modules of package it imports``."""
    files = {module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in _imports(tree, type_checking=type_checking):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                module = _resolve(node, name, is_package)
                # ``from package import submodule`` depends on the submodule itself.
                targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in files else module for alias in node.names]
            for target in targets:
                while target and target not in files:  # ``import bot.x.y`` of a name, not a file
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module (every cycle lies inside one)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def simple_cycles(graph: dict[str, set[str]], limit: int = 100_000) -> list[list[str]]:
    """Every elementary cycle (each once, starting at its smallest module), up to ``limit``."""
    cycles: list[list[str]] = []
    for component in strongly_connected(graph):
        members = set(component)
        for start in component:
            # Cycles through ``start`` whose other modules sort after it: each cycle once.
            path = [start]
            work = [iter(sorted(child for child in graph[start] if child in members and child >= start))]
            while work and len(cycles) < limit:
                for child in work[-1]:
                    if child == start:
                        cycles.append([*path])
                    elif child not in path:
                        path.append(child)
                        work.append(iter(sorted(c for c in graph[child] if c in members and c >= start)))
                        break
                else:
                    work.pop()
                    path.pop()
    return cycles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the import cycles among bot's modules.")
    parser.add_argument("--with-type-checking", action="store_true", help="count imports under `if TYPE_CHECKING:` too")
    parser.add_argument("--list", action="store_true", help="print every elementary cycle, not only the components")
    args = parser.parse_args(argv)
    graph = import_graph(type_checking=args.with_type_checking)
    components = strongly_connected(graph)
    cycles = simple_cycles(graph)
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} edges")
    print(f"{len(components)} strongly connected components with a cycle, {len(cycles)} elementary cycles")
    for component in components:
        print(f"  component of {len(component)}: {', '.join(component)}")
    if args.list:
        for cycle in cycles:
            print("  " + " → ".join([*cycle, cycle[0]]))
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
