"""The layers contract (../shared/DESIGN.md): each module imports only from its own layer or the
ones below, and no modules import each other in a circle. Imports inside functions count too:
hiding an import in a function does not remove the dependency.

    4  kg.cli, api, kg.demo                           parse input, call the library, print/serve
    3  kg.pipeline, kg.retrieval, extractors.training, extractors.evaluation
    2  extractors (inference, registry, datasets), kg.{chunking,embed,resolve,normalize,language,documents}, kg.stores
    1  kg.types, kg.errors, kg.validate, kg.config, graph_schema
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kg.config import REPO_ROOT

PACKAGES = ("kg", "extractors", "graph_schema", "api")

# module-name prefixes -> layer; the longest matching prefix wins
LAYERS = {
    "kg": 1, "kg.types": 1, "kg.timing": 1, "kg.errors": 1, "kg.validate": 1, "kg.config": 1, "graph_schema": 1,
    "extractors": 2, "kg.chunking": 2, "kg.embed": 2, "kg.resolve": 2, "kg.normalize": 2, "kg.language": 2,
    "kg.documents": 2, "kg.stores": 2,
    "kg.pipeline": 3, "kg.parallel": 3, "kg.retrieval": 3, "kg.explore": 3, "kg.jobs": 3, "kg.views": 3, "kg.export": 3,
    "extractors.training": 3, "extractors.evaluation": 3,
    "kg.cli": 4, "api": 4, "kg.demo": 4,
}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def layer_of(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise AssertionError(f"{module} has no layer: add it to LAYERS in tests/test_layers.py")
    return LAYERS[best]


def imports_of(module: str) -> set[str]:
    """The project modules `module` imports anywhere in its code (function bodies included)."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            # `from kg.stores import cypher` imports the submodule kg.stores.cypher
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # `import kg.stores.cypher_store.x` -> the module part
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    # importing kg.stores.cypher runs kg/stores/__init__ first: an edge to each package above it,
    # except this module's own packages (loaded before it whatever it imports)
    own = {module.rsplit(".", k)[0] for k in range(1, module.count(".") + 1)}
    for name in list(found):
        while "." in name:
            name = name.rpartition(".")[0]
            if name in MODULES and name not in own and name != module:
                found.add(name)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_go_down(module):
    mine = layer_of(module)
    upward = sorted(f"{dep} (layer {layer_of(dep)})" for dep in GRAPH[module] if layer_of(dep) > mine)
    assert not upward, f"{module} (layer {mine}) imports from a higher layer: {', '.join(upward)}"


def test_no_import_circles():
    # Tarjan's strongly connected components over the project's import graph
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_the_contract_sees_imports_inside_functions():
    # the store factory imports its backend inside a function: that edge must be in the graph
    assert "kg.stores.falkordb.store" in GRAPH["kg.stores.factory"]


def test_importing_a_submodule_counts_its_packages():
    # api.deps imports kg.stores.base and kg.stores.factory: kg/stores/__init__ (and kg/__init__) run first
    assert {"kg.stores", "kg"} <= imports_of("api.deps")
    # a module's own packages are loaded before it, whatever it imports: no edge (else every
    # package __init__ that imports its submodules would be a circle)
    assert "kg.stores" not in imports_of("kg.stores.falkordb.store")
