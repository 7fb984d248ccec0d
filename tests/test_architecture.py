"""The shape of the code, checked: no import cycles, no hidden imports, small modules.

The layer contracts themselves (web -> subscribers -> digest -> paperpost) are checked by
`lint-imports` (pyproject.toml, `make lint`); these tests cover what a contract cannot say.
docs/architecture.md explains the layers."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("paperpost", "digest", "subscribers", "web", "community")
MAX_LINES = 500
# Modules exempt from the two checks below (none: digest/matching.py is now a package).
NOT_YET: set[str] = set()


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in relative and relative not in NOT_YET:
                yield relative, path


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), plus self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_there_are_no_import_cycles():
    """Every import counts, function-level ones too: a cycle hidden inside a function is
    still a cycle. A failure names the modules that import each other."""
    graph = grimp.build_graph(*PACKAGES)
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from . import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("loop")) == [["loop.a", "loop.b"]]


def test_function_level_imports_say_why():
    """An import inside a function hides a dependency (usually a wrong boundary); the few
    that must stay (the app registry, an optional heavy import) carry a comment saying why,
    on the line itself or in the comment lines just above it."""
    silent = []
    for relative, path in _modules():
        lines = path.read_text().splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    line = lines[node.lineno - 1]
                    above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
                    if "#" not in line and not above.startswith("#"):
                        silent.append(f"{relative}:{node.lineno}: {line.strip()}")
    assert not silent, "function-level imports without a comment saying why:\n" + "\n".join(silent)


def test_no_module_is_over_500_lines():
    long = [f"{relative}: {n} lines" for relative, path in _modules()
            if (n := len(path.read_text().splitlines())) > MAX_LINES]
    assert not long, "split these by what they do:\n" + "\n".join(long)
