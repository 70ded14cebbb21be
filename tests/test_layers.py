"""Imports go one way: from the CLI down to the kernel model.

Read off the installed package's sources with ``ast`` (every import
statement, at module level or inside a function, under TYPE_CHECKING
too): each sub-package imports only the ones its ``__init__`` names
(docs/architecture.md), no two modules import each other through any
chain, and every import of ours is absolute, under ``kmap_scenarios``
(no top-level ``dsl`` or ``runtime``, which would collide with other
installed packages).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

PACKAGE = "kmap_scenarios"

# sub-package -> the sub-packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "runtime.kernel": set(),
    "runtime.search": {"runtime.kernel"},
    "dsl.syntax": set(),
    "dsl.check": {"dsl.syntax", "runtime.kernel"},
    "dsl.lower": {"dsl.syntax", "dsl.check", "runtime.kernel"},
    "dsl.formats": {"dsl.syntax", "dsl.lower", "runtime.kernel", "runtime.search"},
    "dsl.editors": {"dsl.syntax", "runtime.kernel"},
    "dsl.fmt": {"dsl.syntax"},
    "dsl.lsp": {"dsl.syntax", "dsl.check", "runtime.kernel"},
    "dsl.repl": {"dsl.syntax", "dsl.lower", "dsl.formats", "dsl.editors",
                 "runtime.kernel", "runtime.search"},
    "dsl.kmod": {"dsl.syntax", "dsl.check", "dsl.lower", "runtime.kernel", "runtime.search"},
    "dsl.cli": {"dsl.syntax", "dsl.check", "dsl.lower", "dsl.formats", "dsl.editors",
                "dsl.repl", "dsl.kmod", "dsl.fmt", "dsl.lsp", "runtime.kernel", "runtime.search",
                "examples",
                ""},   # "": kmap_scenarios itself, for __version__
    # the pytest plugin: `kmap test`'s runner, nothing below it directly
    "dsl.testing": {"dsl.cli"},
    "": {"dsl.cli"},   # kmap_scenarios itself: __main__
}


def _sources() -> dict[str, Path]:
    """Every module of the installed package: dotted name -> file."""
    out: dict[str, Path] = {}
    top = importlib.util.find_spec(PACKAGE)
    assert top is not None and top.submodule_search_locations
    for f in Path(list(top.submodule_search_locations)[0]).glob("*.py"):
        out[PACKAGE if f.stem == "__init__" else f"{PACKAGE}.{f.stem}"] = f
    for sub in ("dsl", "runtime", "grammar", "examples"):
        spec = importlib.util.find_spec(f"{PACKAGE}.{sub}")
        assert spec is not None and spec.submodule_search_locations
        base = Path(list(spec.submodule_search_locations)[0])
        for f in base.rglob("*.py"):
            parts = [p for p in f.relative_to(base).with_suffix("").parts if p != "__init__"]
            out[".".join([PACKAGE, sub, *parts])] = f
    return out


SOURCES = _sources()


def _imports(name: str, path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement in the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((node.lineno, "." * node.level + (node.module or "")))
                continue
            assert node.module is not None
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.append((node.lineno, sub if sub in SOURCES else node.module))
    return found


def _ours(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def _layer(module: str) -> str:
    """kmap_scenarios.runtime.kernel.pkmap -> runtime.kernel"""
    parts = module.split(".")[1:]
    if parts[:1] in (["dsl"], ["runtime"]) and len(parts) >= 2:
        return ".".join(parts[:2]) if f"{PACKAGE}.{parts[0]}.{parts[1]}" in SOURCES else parts[0]
    return parts[0] if parts and parts[0] in ("grammar", "examples") else ""


GRAPH = {name: sorted({m for _, m in _imports(name, path) if _ours(m) and m != name})
         for name, path in SOURCES.items()}


def test_the_package_is_found_and_whole() -> None:
    assert f"{PACKAGE}.runtime.kernel.pkmap" in SOURCES
    assert f"{PACKAGE}.dsl.cli.main" in SOURCES
    assert len(SOURCES) > 60


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_imports_are_absolute_and_ours(name: str) -> None:
    """No relative import, and no top-level dsl/runtime/grammar."""
    for line, module in _imports(name, SOURCES[name]):
        assert not module.startswith("."), f"{name}:{line}: relative import {module}"
        assert module.split(".")[0] not in ("dsl", "runtime", "grammar", "examples"), \
            f"{name}:{line}: imports top-level {module}; use {PACKAGE}.{module}"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_module_imports_only_the_layers_below(name: str) -> None:
    mine = _layer(name)
    if mine in ("grammar", "examples"):
        assert not GRAPH[name], f"{name} is data: it imports {GRAPH[name]}"
        return
    if mine in ("dsl", "runtime"):   # the sub-packages' parents hold docstrings only
        assert not GRAPH[name], f"{name} imports {GRAPH[name]}"
        return
    allowed = ALLOWED[mine] | {mine}
    bad = [m for m in GRAPH[name] if _layer(m) not in allowed]
    assert not bad, f"{name} ({mine or PACKAGE}) may not import {bad}"


def test_the_kernel_model_imports_neither_the_search_nor_the_front_end() -> None:
    """Said on its own, since it is the rule a newcomer is likeliest to
    break: runtime.kernel is the model, and knows nothing of its users."""
    for name, deps in GRAPH.items():
        if _layer(name) == "runtime.kernel":
            assert all(_layer(d) == "runtime.kernel" for d in deps), (name, deps)


def test_no_import_circles() -> None:
    """No module reaches itself through the imports of others (Tarjan's
    strongly connected components over the module graph)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    circles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH.get(v, ()):
            if w not in GRAPH:
                continue
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            connect(v)
    assert not circles, f"import circles: {circles}"


def test_the_checker_finds_a_circle() -> None:
    """The rule above can fail: a graph with a circle has one found."""
    saved = dict(GRAPH)
    try:
        GRAPH["kmap_scenarios.runtime.kernel.state"] = ["kmap_scenarios.runtime.kernel.machine"]
        with pytest.raises(AssertionError, match="import circles"):
            test_no_import_circles()
    finally:
        GRAPH.clear()
        GRAPH.update(saved)
