"""The package's layout, read from its source: no import circle between its modules, no
module using another's private names, and modules short enough to read alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "acting_mirror"
MAX_LINES = 400


def module_files() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(path: Path, modules: dict[str, Path]) -> list[tuple[str, str]]:
    """(module imported, name taken from it or "") for every import of the package's own
    modules in `path`, at any depth (a lazy import inside a function counts too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "acting_mirror":
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.append((submodule, "") if submodule in modules else (node.module, alias.name))
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name.split(".")[0] == "acting_mirror"]
    return found


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph` (module -> modules it imports) as a path, or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once all below it are seen
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == "open":
                return path[path.index(imported):] + [imported]
            if imported not in state and (circle := visit(imported)):
                return circle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (circle := visit(module)):
            return circle
    return None


def test_no_import_circle():
    modules = module_files()
    graph = {name: {imported for imported, _ in imports_of(path, modules) if imported in modules and imported != name}
             for name, path in modules.items()}
    assert find_circle(graph) is None, f"import circle: {' -> '.join(find_circle(graph))}"


def test_the_circle_finder_finds_a_circle():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_module_imports_another_modules_private_names():
    modules = module_files()
    taken = [f"{name} imports {source}.{imported}" for name, path in modules.items()
             for source, imported in imports_of(path, modules) if imported.startswith("_") and source != name]
    assert taken == []


@pytest.mark.parametrize("name", sorted(module_files()))
def test_module_is_short_enough_to_read_alone(name):
    lines = len(module_files()[name].read_text().splitlines())
    assert lines < MAX_LINES, f"{name} has {lines} lines: split it by job"
