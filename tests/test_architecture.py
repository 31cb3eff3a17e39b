"""The rooms of the house and what each may import (docs/architecture.md), checked by
reading the imports of every module: a rule broken here is a layer crossed."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "adapters", "clients")

# room -> the imports it must not have (a name and everything under it)
FORBIDDEN = {
    "hub.domain": ("hub.store", "hub.service", "hub.api", "hub.runtime", "hub.dispatch", "hub.ports", "hub.bootstrap",
                   "hub.settings", "hub.v1", "adapters", "grpc", "google.protobuf", "sqlalchemy", "structlog"),
    "hub.ports": ("hub.service", "hub.api", "hub.runtime", "hub.dispatch", "hub.bootstrap", "hub.settings", "adapters",
                  "grpc", "sqlalchemy"),
    "hub.service": ("hub.api", "hub.runtime", "hub.dispatch", "hub.bootstrap", "hub.settings", "hub.v1", "adapters",
                    "grpc", "google.protobuf", "sqlalchemy"),
    "hub.store": ("hub.service", "hub.api", "hub.runtime", "hub.dispatch", "hub.bootstrap", "hub.settings", "hub.v1",
                  "adapters", "grpc"),
    "hub.dispatch": ("hub.service", "hub.api", "hub.runtime", "hub.bootstrap", "hub.settings", "adapters", "grpc"),
    "hub.runtime": ("hub.api", "hub.bootstrap", "hub.settings", "adapters"),
    "hub.api": ("hub.bootstrap", "hub.settings", "hub.dispatch", "adapters", "sqlalchemy"),
    "adapters": ("hub.service", "hub.store", "hub.api", "hub.runtime", "hub.dispatch", "hub.bootstrap"),
    "clients": ("hub.service", "hub.store", "hub.api", "hub.runtime", "hub.dispatch", "hub.domain", "hub.ports",
                "hub.bootstrap", "hub.settings", "adapters", "sqlalchemy"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "v1" in path.relative_to(ROOT).parts[:2] and path.parts[-2] == "v1":
                continue  # the generated stubs
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports(module: str) -> set[str]:
    """Every module `module` imports (at the top or inside a function), but for imports
    made only for type checking."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if _in_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
    return out


def _room(module: str) -> str | None:
    return next((room for room in sorted(FORBIDDEN, key=len, reverse=True)
                 if module == room or module.startswith(room + ".")), None)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_each_room_imports_only_what_it_may():
    broken = []
    for module in sorted(MODULES):
        room = _room(module)
        if room is None:
            continue
        for name in sorted(imports(module)):
            bad = next((f for f in FORBIDDEN[room] if _under(name, f)), None)
            if bad is not None:
                broken.append(f"{module} imports {name} ({room} may not import {bad})")
    assert not broken, "\n".join(broken)


def test_no_import_cycle_between_files():
    graph = {m: {i for i in imports(m) if i in MODULES and i != m} for m in MODULES}
    # A package's __init__ is imported with any module under it, but that is not a cycle.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2
    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles[:10])


@pytest.mark.parametrize("module", ["hub.service.cases", "hub.service.payments", "hub.domain.model"])
def test_the_check_sees_imports(module):
    """(So that the rules above cannot pass for having read nothing.)"""
    assert imports(module)
    assert "hub.store.uow" in imports("hub.service.cases") and "sqlalchemy" in imports("hub.store.uow")


DOC_REFERENCE = re.compile(r"`((?:hub|adapters|clients)/[\w/]+\.py):([\w.]+)`")


def _defines(path: Path, dotted: str) -> bool:
    """`path` defines `dotted` (a function, class, method or module-level name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    scope: list[ast.AST] = tree.body
    for part in dotted.split("."):
        found = None
        for node in scope:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == part:
                found = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == part for t in targets):
                    found = node
        if found is None:
            return False
        scope = getattr(found, "body", [])
    return True


@pytest.mark.parametrize("doc", ["docs/architecture.md", "docs/messages.md", "docs/case-model.md", "README.md"])
def test_the_docs_point_at_code_that_is_there(doc):
    """The docs say where each rule lives (`file:name`): each such pointer, and each
    file they name, is checked, so that the map does not drift from the house."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    pointers = DOC_REFERENCE.findall(text)
    if doc == "docs/architecture.md":
        assert len(pointers) > 40
    missing = [f"{p}:{name}" for p, name in pointers if not (ROOT / p).exists() or not _defines(ROOT / p, name)]
    files = set(re.findall(r"`((?:hub|adapters|clients|tests|bench)/[\w/]+\.py)", text))
    missing += [f for f in sorted(files) if not (ROOT / f).exists()]
    assert not missing, f"{doc} points at what is not there:\n" + "\n".join(missing)
