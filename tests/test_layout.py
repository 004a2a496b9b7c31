"""The package's shape, read from its code: stages import in one direction, only the front ends import Textual,
no import loops, no long units. A move that breaks a rule fails here, not in a reviewer's head."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import REPO

PACKAGE = REPO / "emotui"
STAGES = ("data", "learn", "live")
# what each part may import of emotui (beyond the shared top-level modules, which import no stage)
ALLOWED = {
    "data": {"data"},
    "learn": {"data", "learn"},
    "live": {"data", "learn", "live"},
    "shared": set(),
}
FRONT_ENDS = ("commands", "tui")
MAX_SHARED_MODULES = 8
MAX_UNIT_LINES = 150
MAX_TUI_UNIT_LINES = 250


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Every module of emotui that `name` imports, at the top or inside a function."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in STAGES + FRONT_ENDS:
        return parts[1]
    if len(parts) == 2 and parts[1] in STAGES + FRONT_ENDS:
        return parts[1]
    return "shared" if parts[-1] not in ("cli", "__main__") else "entry"


MODULES = _modules()
GRAPH = {name: {m for m in _imports(name, path) if m in MODULES and m != name} for name, path in MODULES.items()}


def test_the_three_stages_exist_beside_at_most_eight_shared_modules():
    for stage in STAGES:
        assert (PACKAGE / stage / "__init__.py").is_file()
    shared = sorted(n for n in MODULES if _part(n) == "shared" and n != "emotui")
    assert len(shared) <= MAX_SHARED_MODULES, shared


@pytest.mark.parametrize("part", ["data", "learn", "live", "shared"])
def test_stages_import_only_in_their_direction(part):
    wrong = []
    for name, imported in GRAPH.items():
        if _part(name) != part:
            continue
        for module in imported:
            target = _part(module)
            if target in STAGES + FRONT_ENDS and target not in ALLOWED[part]:
                wrong.append(f"{name} imports {module}")
    assert not wrong, wrong


def test_only_the_front_ends_import_textual():
    wrong = [name for name, path in MODULES.items() if _part(name) not in FRONT_ENDS
             and any(m == "textual" or m.startswith(("textual.", "textual_")) for m in _imports(name, path))]
    assert not wrong, wrong


def test_no_import_loops():
    # a module's package __init__ is not a loop partner: the edges are module to module
    state: dict[str, int] = {}
    loops = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(GRAPH[name]):
            if MODULES[nxt].name == "__init__.py":
                continue
            if state.get(nxt) == 1:
                loops.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [name, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert not loops, loops


def _long_units() -> list[str]:
    out = []
    for name, path in MODULES.items():
        limit = MAX_TUI_UNIT_LINES if _part(name) == "tui" else MAX_UNIT_LINES
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    out.append(f"{name}.{node.name}: {lines} lines (limit {limit})")
    return out


def test_no_unit_is_longer_than_a_screen_or_two():
    assert not _long_units()


def test_the_rules_catch_what_they_are_for(tmp_path):
    """The checks above can fail: the reader finds relative and in-function imports."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..live.monitor import run_monitor\n    from . import features\n")
    found = _imports("emotui.data.probe", probe)
    assert "emotui.live.monitor" in found and "emotui.data.features" in found
    assert _part("emotui.live.monitor") == "live" and "live" not in ALLOWED["data"]
