"""ncclkit's modules form layers: no module imports, at any depth, one that imports it back.
Read from the sources' imports (top level and in functions; type-only ones do not run), so a
cycle that function-local imports hide is still one."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ncclkit

PACKAGE = Path(ncclkit.__file__).parent
NATIVE = {"ncclkit._comm", "ncclkit._cuda", "ncclkit._kernels"}  # compiled: they import no ncclkit module


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imported(path: Path, modules: set[str]) -> set[str]:
    """The ncclkit modules `path` imports (native ones aside: they import nothing of ncclkit)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    skipped: set[int] = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and is_type_checking(node):
            skipped.update(id(child) for inner in node.body for child in ast.walk(inner))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if candidate not in NATIVE:
                    found.add(candidate if candidate in modules else target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found.update(n for n in names if n in modules)
    return (found & modules) - {name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for child in sorted(graph[node]):
            cycle = visit(child)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_no_module_imports_one_that_imports_it() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_layers_the_package_is_built_from() -> None:
    """The order docs/architecture.md describes: each module imports only those before it."""
    graph = import_graph()
    assert graph["ncclkit.errors"] == set()
    assert graph["ncclkit._comm_loader"] <= {"ncclkit.build_info"}
    assert graph["ncclkit.rendezvous"] == set()
    assert "ncclkit.comm" not in graph["ncclkit.custom_all_reduce"]
    assert "ncclkit.distributed" not in graph["ncclkit.comm"] | graph["ncclkit.custom_all_reduce"]
    # load() sits apart: nothing imports it, and its project's text needs nothing of ncclkit
    assert graph["ncclkit.jit_project"] == set()
    assert not [name for name, imports in graph.items() if "ncclkit.jit" in imports]


def test_a_cycle_is_found() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_importing_ncclkit_loads_nothing() -> None:
    """No native module, no torch, no build record read: the first use of NCCL does that."""
    code = (
        "import sys, ncclkit\n"
        "loaded = [m for m in ('ncclkit._comm', 'ncclkit._cuda', 'ncclkit._kernels', 'torch') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "assert ncclkit.build_info.cache_info().currsize == 0, 'the build record was read'\n"
        "assert ncclkit.__version__ == ncclkit.build_info()['version']\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
