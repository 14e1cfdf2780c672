"""The packages' layering, read from their source with ``ast`` (nothing is imported: no model, no Ray; fast).

- Import direction: ``pipeline/`` (the document logic, in-process or in replicas) imports nothing from ``serve``,
  ``docgraph``, Ray, FastAPI or Starlette; ``models/`` nothing from ``serve`` or ``docgraph``; ``serve/`` nothing
  from ``docgraph`` (the CLI, the embedded service and the load tests sit on top of it). Every import counts:
  module-level, inside functions (lazy imports), under ``TYPE_CHECKING``, and ``import_module("literal")``.
  Imports by a computed name (``pipeline/__init__.py``'s lazy names, ``models/factory.py``'s OCR plugins) are not
  seen.
- Size: no module over ``MAX_LINES`` lines (the project's module guide), except the allow-listed ones.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "models", "serve", "docgraph")
# package -> the top-level modules it must not import
FORBIDDEN: dict[str, frozenset[str]] = {
    "pipeline": frozenset({"serve", "docgraph", "ray", "fastapi", "starlette"}),
    "models": frozenset({"serve", "docgraph"}),
    "serve": frozenset({"docgraph"}),
}
MAX_LINES = 400
# Modules allowed over MAX_LINES, each with its reason (none today). Remove an entry once its module is split.
ALLOWED_LONG: dict[str, str] = {}


def _modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(package: str, module: str | None, level: int) -> str:
    """An import's module as an absolute name (a relative one: from the file's package, up ``level - 1``)."""
    if not level:
        return module or ""
    parts = package.split(".")
    return ".".join([*parts[: len(parts) - (level - 1)], *([module] if module else [])])


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, _absolute(package, node.module, node.level)
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def test_the_packages_are_found() -> None:
    counts = {package: sum(1 for p in _modules() if p.relative_to(ROOT).parts[0] == package) for package in PACKAGES}
    assert all(n > 1 for n in counts.values()), counts


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for path in _modules():
        forbidden = FORBIDDEN.get(path.relative_to(ROOT).parts[0], frozenset())
        for line, module in _imports(path):
            if module.split(".")[0] in forbidden:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_relative_imports_resolve() -> None:
    """The resolution the layering check relies on (no module of these packages imports relatively today)."""
    assert _absolute("serve.doclingapi", None, 1) == "serve.doclingapi"  # from . import models
    assert _absolute("serve.doclingapi", None, 2) == "serve"  # from .. import auth
    assert _absolute("serve.doclingapi", "jobs.store", 2) == "serve.jobs.store"  # from ..jobs.store import ...
    assert _absolute("serve", "ray.serve", 0) == "ray.serve"


def test_no_module_is_over_the_size_guide() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in _modules()}
    long = {name: n for name, n in sizes.items() if n > MAX_LINES and name not in ALLOWED_LONG}
    assert not long, f"modules over {MAX_LINES} lines (split them along their seams): {long}"


def _top_level_imports(path: Path, known: set[str]) -> set[str]:
    """Project modules a module imports when it is loaded: its body's imports (also inside ``try``), not those in
    functions (loaded on first use) or under ``if TYPE_CHECKING`` (never at run time)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = [n for top in tree.body for n in ([top] if not isinstance(top, ast.Try) else top.body)]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.module, node.level)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    found.add(sub)
                elif base in known:
                    found.add(base)
    return found - {name}


def test_no_import_cycle() -> None:
    modules = {_module_name(p): p for p in _modules()}
    known = set(modules)
    graph = {name: _top_level_imports(path, known) for name, path in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
