"""No module of engine/ or gui/ imports another that imports it back, annotations and lazy imports included.

import-linter's contracts leave out `if TYPE_CHECKING:` imports (pyproject's exclude_type_checking_imports), and a
cycle there still ties two modules together for a reader and a type checker: this test reads every import.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("collabsheet", "engine", "gui")  # engine/ and gui/ install as collabsheet.engine and collabsheet.gui

# Cycles someone is removing now, each as the sorted names of its modules. Empty it as they go: a cycle not
# listed here fails the test, and so does one listed that no longer exists.
ALLOWED: set[tuple[str, ...]] = set()  # none


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(parts if parts[0] == "collabsheet" else ("collabsheet", *parts))


def modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules that `name` imports anywhere in its text (top level, functions, TYPE_CHECKING)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package this module is in
                here = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` the module mod
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a name inside a module: its module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[tuple[str, ...]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(tuple(sorted(component)))
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph()
    assert "collabsheet.gui.runtime.runner" in graph["collabsheet.gui.sheet.runner"]  # a top-level `from … import`
    assert "collabsheet.engine.sheet.sheet" in graph["collabsheet.gui.sheet.load_commands"]  # one inside a function and under TYPE_CHECKING
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b", "c")]


def test_no_module_imports_one_that_imports_it_back():
    found = set(cycles(import_graph()))
    unexpected = sorted(found - ALLOWED)
    assert not unexpected, "import cycles: " + "; ".join(" ↔ ".join(c) for c in unexpected)
    gone = sorted(ALLOWED - found)
    assert not gone, "no longer cycles, take them off ALLOWED: " + "; ".join(" ↔ ".join(c) for c in gone)
