"""The package's shape: imports point one way, and no module imports itself back through others.

Layers, bottom to top (docs/architecture.md): ``_util``; ``config``; ``physics``; ``nn`` and
``sensor`` (side by side); ``lifecycle``; then ``train``, ``compile`` and ``analysis`` (side by
side, none importing another); then ``cost`` and ``data``; ``apps`` and ``integrations`` (side by
side); ``cli``. A module may import its own package and the layers below it, never above or
sideways.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "analogue"

RANK = {"_util": 0, "config": 1, "physics": 2, "nn": 3, "sensor": 3, "lifecycle": 4, "train": 5,
        "compile": 5, "analysis": 5, "cost": 6, "data": 6, "apps": 7, "integrations": 7, "cli": 8}

ALLOWED = {("analogue.train", "analogue.apps"), ("analogue.analysis", "analogue.cost")}
"""Lazy aliases: ``an.train.run_training`` and friends (deprecated, loaded from their new home)
and ``an.analysis.array_size_study`` (the issue's name for a study that needs the cost model)."""


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> list[tuple[str, int, bool]]:
    """``(imported module, line, at module level)`` for every import of the package in ``path``."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(n) for n in tree.body}  # run on import (not in functions, nor under TYPE_CHECKING)
    top_level |= {id(n) for stmt in tree.body if isinstance(stmt, (ast.If, ast.Try)) and not _type_checking(stmt)
                  for n in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            names = [name + "." + a.name for a in node.names]  # a module of that name, else the package
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += [(n, node.lineno, id(node) in top_level) for n in names if n.split(".")[0] == "analogue"]
    return found


def _type_checking(stmt: ast.stmt) -> bool:
    test = getattr(stmt, "test", None)
    return isinstance(test, (ast.Name, ast.Attribute)) and ast.unparse(test).endswith("TYPE_CHECKING")


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _walk() -> dict[str, list[tuple[str, int, bool]]]:
    return {_module(p): _imports(p, _module(p)) for p in sorted(ROOT.rglob("*.py"))}


def test_every_package_has_a_layer():
    tops = {p.name if p.is_dir() else p.stem for p in ROOT.iterdir() if p.name != "__pycache__"}
    assert tops - {"__init__", "py"} - set(RANK) <= {"py"}, sorted(tops - set(RANK))


def test_imports_point_down():
    wrong = []
    for module, imports in _walk().items():
        src = _layer(module)
        for target, line, _ in imports:
            dst = _layer(target)
            if not src or not dst or dst == src or (f"analogue.{src}", f"analogue.{dst}") in ALLOWED:
                continue
            if RANK[dst] >= RANK[src]:
                wrong.append(f"{module}:{line} imports {target} ({src} may not import {dst})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_at_module_level():
    graph: dict[str, set[str]] = {}
    modules = set(_walk())
    for module, imports in _walk().items():
        edges = set()
        for target, _, top in imports:
            while target not in modules and "." in target:  # `from pkg import name`: the package
                target = target.rpartition(".")[0]
            if top and target != module and target in modules:
                edges.add(target)
        graph[module] = edges
    cycles: list[str] = []
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in stack:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, stack + [nxt])
        done.add(node)

    for m in sorted(graph):
        if m not in done:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def test_architecture_doc_lists_every_module():
    """docs/architecture.md's package table names every module (and sub-package) of each package."""
    doc = (ROOT.parents[1] / "docs" / "architecture.md").read_text()
    rows = {line.split("`")[1].rstrip("/"): line for line in doc.splitlines() if line.startswith("| `")}
    missing = []
    for pkg in sorted(p for p in ROOT.iterdir() if (p / "__init__.py").exists()):
        for child in sorted(pkg.iterdir()):
            name = child.stem if child.suffix == ".py" else child.name
            if name.startswith("__") or not (child.suffix == ".py" or (child / "__init__.py").exists()):
                continue
            if f"`{name}`" not in rows.get(pkg.name, "") and f"`{name}/`" not in rows.get(pkg.name, ""):
                missing.append(f"{pkg.name}/{name}")
    assert not missing, f"docs/architecture.md's package table does not name: {missing}"
