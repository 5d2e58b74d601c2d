"""The rules of the house, checked on the source tree (see README, "Where things are").

* The import graph of ``src/evservice`` has no cycle, neither between modules
  (imports under ``TYPE_CHECKING`` and inside functions count: a circle is a
  circle, whenever it closes) nor between subpackages.
* No module imports a private module (``_name``) of another subpackage: a
  package is used through its ``__init__`` names.
* Every subpackage imports alone in a fresh interpreter, lists a sorted
  ``__all__`` whose names exist, and lets no public name of ours into its
  namespace by accident: every public name its ``__init__`` defines or imports
  from an ``evservice`` module is in ``__all__``.
* No file in ``src`` is over 700 lines; no function is over 80 lines (its
  docstring not counted) unless its docstring says why ("long because ...",
  "about 90 lines because ...").
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = SRC / "evservice"
MAX_FILE_LINES = 700
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py")) if "migrations" not in p.parts}
PACKAGES = sorted(
    _module_name(p.parent) for p in ROOT.glob("*/__init__.py") if not p.parent.name.startswith("_")
)


def _imports(name: str, path: Path) -> Iterator[str]:
    """The modules of ours that ``name`` imports (parent packages excluded: Python loads them)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in MODULES]
            targets = subs + ([module] if len(subs) < len(node.names) else [])
        else:
            continue
        for target in targets:
            if target in MODULES and target != name and not f"{name}.".startswith(f"{target}."):
                yield target


GRAPH = {name: sorted(set(_imports(name, path))) for name, path in MODULES.items()}


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None (iterative DFS)."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(graph.get(start, ())))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(graph.get(child, ()))))
                path.append(child)
    return None


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (ROOT / parts[1]).is_dir() else None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": ["b"], "b": [], "c": ["b"]}) is None


def test_no_module_import_cycle() -> None:
    cycle = _find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_package_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        source = _package_of(module)
        if source is None:
            continue
        for target in targets:
            other = _package_of(target)
            if other is not None and other != source:
                graph.setdefault(source, set()).add(other)
    cycle = _find_cycle({k: sorted(v) for k, v in graph.items()})
    assert cycle is None, "package cycle: " + " -> ".join(cycle or [])


def test_no_private_module_of_another_package_is_imported() -> None:
    offences = []
    for module, targets in GRAPH.items():
        for target in targets:
            other = _package_of(target)
            private = any(part.startswith("_") for part in target.split(".")[2:])
            if other is not None and other != _package_of(module) and private:
                offences.append(f"{module} -> {target}")
    assert offences == []


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_alone(package: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {package}"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def _sort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions."""
    bare = name.lstrip("_")
    kind = 0 if bare.isupper() and len(bare) > 1 else 1 if bare[:1].isupper() else 2
    return kind, name


def _own_public_names(package: str) -> set[str]:
    """Public names an ``__init__`` defines or takes from our modules (not stdlib or libraries)."""
    path = MODULES[package]
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and (
            node.level or (node.module or "").startswith("evservice")
        ):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_") and name != "annotations"}


@pytest.mark.parametrize("package", ["evservice", *PACKAGES])
def test_all_is_sorted_and_complete(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names, key=_sort_key)
    missing = [name for name in names if not hasattr(module, name)]
    assert missing == []
    leaked = sorted(_own_public_names(package) - set(names))
    assert leaked == [], f"public names of {package} not in __all__: {leaked}"


def test_no_file_over_the_limit() -> None:
    long_files = {
        str(p.relative_to(SRC)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    }
    assert long_files == {}


def test_long_functions_say_why() -> None:
    unexplained = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                length -= (first.end_lineno or first.lineno) - first.lineno + 1  # the docstring
            reason = re.search(r"(long|lines)\)? because", ast.get_docstring(node) or "", re.I)
            if length > MAX_FUNCTION_LINES and reason is None:
                unexplained.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({length})")
    assert unexplained == []
