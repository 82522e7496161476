"""The package's layout holds: dependencies run one way, ``api/`` is free of Airflow, nobody borrows privates.

Read from the source with :mod:`ast` (every import counts: top-level, inside functions, under
``TYPE_CHECKING``), so a cycle that only a lazy import hides is still a cycle here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.support.paths import PACKAGE


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, [names])`` for every import in the file; relative imports resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, [alias.name for alias in node.names]))
    return found


def _target(module: str, name: str) -> str:
    """The provider module an import refers to (``from stoq_provider.api import contract`` is ``...contract``)."""
    candidate = f"{module}.{name}"
    return candidate if candidate in MODULES else module


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, names in _imports(path):
            if not module.startswith("stoq_provider"):
                continue
            for imported in {_target(module, n) for n in names} or {module}:
                target = imported
                while target not in MODULES and "." in target:
                    target = target.rpartition(".")[0]
                if target not in (name, "stoq_provider"):  # the package root only holds metadata
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return components


def test_no_import_cycle_in_the_package():
    assert _cycles(_graph()) == []


def test_the_cycle_check_catches_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


AIRFLOW_LAYERS = tuple(
    f"stoq_provider.{layer}" for layer in ("hooks", "operators", "sensors", "triggers", "notifications", "restock")
)


def test_nothing_under_api_imports_airflow_or_the_airflow_layers():
    offenders = [
        (name, module)
        for name, path in MODULES.items()
        if name.startswith("stoq_provider.api")
        for module, _ in _imports(path)
        if module.split(".")[0] == "airflow" or module.startswith(AIRFLOW_LAYERS)
    ]
    assert offenders == []


def test_the_api_imports_and_works_without_airflow():
    """In a fresh interpreter where ``import airflow`` fails, every ``api`` module imports and builds a request."""
    modules = sorted(name for name in MODULES if name.startswith("stoq_provider.api"))
    code = (
        "import importlib, sys\n"
        "class NoAirflow:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'airflow' or name.startswith('airflow.'):\n"
        "            raise ImportError('no airflow here')\n"
        "sys.meta_path.insert(0, NoAirflow())\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from stoq_provider.api import contract\n"
        "print(contract.bulk_notify(['a'], allow_resend=False).cost)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "2", done.stderr[-3000:]


def test_the_sandbox_imports_nothing_from_the_provider():
    offenders = [
        (name, module)
        for name, path in MODULES.items()
        if name.startswith("stoq_provider.sandbox")
        for module, _ in _imports(path)
        if module.startswith("stoq_provider") and not module.startswith("stoq_provider.sandbox")
    ]
    assert offenders == []


def test_no_module_imports_another_modules_private_names():
    offenders = [
        (name, module, imported)
        for name, path in MODULES.items()
        for module, names in _imports(path)
        if module.startswith("stoq_provider")
        for imported in names
        if imported.startswith("_") and not imported.startswith("__") and _target(module, imported) == module
    ]
    assert offenders == []
