"""The package's layers as a tested rule: every import of every module under src/denselab (at any depth,
inside functions too) goes to the module's own rank or a lower one, and no modules import each other in a
cycle. Also: no source file over 400 lines, no function over 80.

Ranks (docs/ARCHITECTURE.md): a module may import only from its own rank/package or lower ranks."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = SRC / "denselab"

# module-name prefix -> rank; the longest matching prefix wins
RANKS: dict[str, int] = {
    "denselab": 12,  # denselab/__init__: the Python API (its imports are lazy, on first use)
    "denselab.version": 0,
    "denselab.errors": 0,
    "denselab.io": 0,
    "denselab.lock": 0,
    "denselab.config": 1,
    "denselab.data": 2,
    "denselab.models": 3,
    "denselab.training": 4,
    "denselab.plotting": 5,
    "denselab.studies": 6,
    "denselab.provenance": 1,
    "denselab.registry": 7,
    "denselab.reporting": 8,
    "denselab.pipeline": 9,
    "denselab.bench": 10,
    "denselab.api": 10,
    "denselab.cli": 11,
    "denselab.__main__": 11,
}

MAX_LINES = 400
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def rank(module: str) -> int:
    best = max((prefix for prefix in RANKS if module == prefix or module.startswith(prefix + ".")), key=len)
    return RANKS[best]


def _target(name: str) -> str | None:
    """The denselab module `name` refers to: itself, or the package/module that defines it."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, path: Path) -> list[tuple[str, int]]:
    """(imported denselab module, line) for every import statement in the file, at any depth."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per extra dot
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            # `from a.b import c` imports module a.b.c when it exists, else the name c from a.b
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names
            ]
        else:
            continue
        for name in names:
            if name == "denselab" or name.startswith("denselab."):
                target = _target(name)
                if target and target != module:
                    found.append((target, node.lineno))
    return found


def graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: first line}."""
    edges: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        edges[module] = {}
        for target, line in imports(module, path):
            edges[module].setdefault(target, line)
    return edges


def _where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(REPO)}:{line}"


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
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
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_rank() -> None:
    assert len(MODULES) > 20 and "denselab.cli" in MODULES
    for module in MODULES:
        rank(module)  # raises ValueError (max of nothing) for a module the table does not place


def test_the_parser_sees_imports_inside_functions_and_both_forms(tmp_path: Path) -> None:
    edges = graph()
    assert "denselab.registry" in edges["denselab.cli"]  # from denselab.registry import ...
    # from denselab.studies import mnist (a module)
    assert "denselab.studies.mnist" in edges["denselab.registry"]
    assert "denselab.reporting" in edges["denselab.pipeline"]
    assert "denselab.studies.denoise.commands" in edges["denselab.cli.commands"]  # imported inside a function
    assert "denselab.cli" in edges["denselab.__main__"]
    fake = tmp_path / "fake.py"
    fake.write_text(
        "import denselab.io\nimport numpy\n\ndef f():\n    from denselab.studies import mnist, STUDIES\n"
        "    if True:\n        from . import errors\n        from .data.mnist import NUM_CLASSES\n"
    )
    found = imports("denselab.config", fake)  # parsed as if it were src/denselab/config.py
    assert found == [
        ("denselab.io", 1),
        ("denselab.studies.mnist", 5),
        ("denselab.studies", 5),
        ("denselab.errors", 7),
        ("denselab.data.mnist", 8),
    ]
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]
    assert rank("denselab.studies.denoise.model") == 6 and rank("denselab.version") == 0


def test_no_import_from_a_lower_layer_into_a_higher_one() -> None:
    bad = [
        f"{_where(m, line)}: {m} (rank {rank(m)}) imports {t} (rank {rank(t)})"
        for m, targets in graph().items()
        for t, line in targets.items()
        if rank(t) > rank(m)
    ]
    print("\n".join(bad))
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    edges = graph()
    found = cycles(edges)
    lines = []
    for component in found:
        members = set(component)
        lines.append("cycle: " + ", ".join(component))
        lines += [
            f"  {_where(m, line)}: {m} -> {t}"
            for m in component
            for t, line in edges[m].items()
            if t in members
        ]
    print("\n".join(lines))
    assert not found, "import cycles:\n" + "\n".join(lines)


def test_source_files_and_functions_stay_short() -> None:
    """The house rules for src/: no file over MAX_LINES lines, no function over MAX_FUNCTION_LINES lines
    (line length is ruff's, see pyproject.toml)."""
    long_files, long_functions = {}, {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        name = str(path.relative_to(REPO))
        if (n := len(text.splitlines())) > MAX_LINES:
            long_files[name] = n
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions[f"{name}:{node.lineno} {node.name}"] = length
    assert not long_files, f"files over {MAX_LINES} lines (split by responsibility): {long_files}"
    assert not long_functions, f"functions over {MAX_FUNCTION_LINES} lines: {long_functions}"
