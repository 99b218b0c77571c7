"""Rooms by responsibility: no source module over 500 lines (migrations aside), every dora node's
``node.py`` only its loop (at most 60 lines)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 500
MAX_NODE_LINES = 60


def sizes(pattern: str) -> dict[str, int]:
    return {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
            for package in ("nodes", "control_api") for p in (ROOT / package).rglob(pattern)
            if "migrations" not in p.parts}


def test_no_module_is_over_500_lines():
    assert {path: n for path, n in sizes("*.py").items() if n > MAX_MODULE_LINES} == {}


def test_every_node_py_is_its_dora_loop_only():
    found = sizes("node.py")
    assert len(found) == 6
    assert {path: n for path, n in found.items() if n > MAX_NODE_LINES} == {}
