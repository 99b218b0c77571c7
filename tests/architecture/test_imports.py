"""The house's one-way doors, checked on the source (``ast``: every import at any depth, lazy ones in
functions included):

- a stage (``nodes/<stage>/``) imports only itself and ``nodes/common``; ``nodes/common`` imports no
  stage; nothing under ``nodes/`` imports ``control_api``;
- no import cycle among the modules of ``nodes/`` and ``control_api/``;
- the API process does not load the worker (arq jobs, the DoraEngine).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("nodes", "control_api")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


MODULES = project_modules()


def imported(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(module, line) of every project module ``path`` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target:
                yield target, node.lineno


GRAPH = {name: sorted(set(imported(name, path))) for name, path in MODULES.items()}


def stage_of(module: str) -> str | None:
    """``tts`` for ``nodes.tts.core``; None outside the stage packages (``nodes.common`` is "common")."""
    parts = module.split(".")
    if parts[0] == "nodes" and len(parts) >= 2 and (ROOT / "nodes" / parts[1]).is_dir():
        return parts[1]
    return None


def test_a_stage_imports_only_itself_and_common():
    wrong = []
    for module, targets in GRAPH.items():
        if not module.startswith("nodes."):
            continue
        own = stage_of(module)
        for target, line in targets:
            if target.startswith("control_api"):
                wrong.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {target}")
            other = stage_of(target)
            if other and other != own and other != "common":
                wrong.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {target}")
    assert wrong == [], "cross-stage imports:\n" + "\n".join(wrong)


def cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
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
        for w, _ in graph.get(v, []):
            if w == v:
                continue
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": [("b", 1)], "b": [("c", 1)], "c": [("a", 1)], "d": [("a", 1)]}) == [["a", "b", "c"]]


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(target for target, _ in GRAPH.get(module, []))
    return seen


@pytest.mark.parametrize("forbidden", ["control_api.worker", "control_api.engines.dora"])
def test_the_api_does_not_load_the_worker(forbidden):
    api = "control_api.api"
    assert api in MODULES
    assert forbidden not in reachable(api)
