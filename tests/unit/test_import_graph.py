"""The package's import graph, read from the source: no circle among product modules, and
every import inside a function says why it is there.

import-linter (`make test` runs `lint-imports`) enforces the layers; this test adds what a
layers contract cannot see: imports made inside functions, which hide circles.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sync_workers"
OUTSIDE_THE_PRODUCT = ("sync_workers.sandbox", "sync_workers.demo")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Our modules that `node` imports (a `from package import name` names a module when
    there is one by that name)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = module.split(".")
        if node.level:
            keep = len(base) - node.level + (MODULES[module].name == "__init__.py")
            base = base[:keep]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        targets = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in MODULES else prefix
                   for alias in node.names]
    found = []
    for target in targets:
        while target and target not in MODULES and "." in target:
            target = target.rsplit(".", 1)[0]
        if target in MODULES:
            found.append(target)
    return found


def _imports(module: str) -> tuple[set[str], list[tuple[int, str]]]:
    """(every module imported anywhere, [(line, module) of imports inside functions])."""
    tree = ast.parse(MODULES[module].read_text())
    inside = {id(inner) for fn in ast.walk(tree)
              if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
              for inner in ast.walk(fn) if isinstance(inner, (ast.Import, ast.ImportFrom))}
    every, local = set(), []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            targets = _imported(module, node)
            every.update(targets)
            if id(node) in inside:
                local.extend((node.lineno, t) for t in targets)
    return every, local


def _product(module: str) -> bool:
    return not module.startswith(OUTSIDE_THE_PRODUCT)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
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
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_among_product_modules():
    graph = {m: {t for t in _imports(m)[0] if _product(t)} for m in MODULES if _product(m)}
    assert _cycles(graph) == []


def test_every_import_inside_a_function_says_why():
    silent = []
    for module, path in MODULES.items():
        if not _product(module):
            continue
        lines = path.read_text().splitlines()
        for lineno, target in _imports(module)[1]:
            here, above = lines[lineno - 1], lines[lineno - 2] if lineno > 1 else ""
            if "#" not in here and not above.strip().startswith("#"):
                silent.append(f"{module}:{lineno} imports {target}")
    assert silent == []


def test_the_graph_reader_sees_circles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
