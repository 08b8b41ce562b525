"""The package's shape, checked: no import cycles, library code never imports the CLI layer, argument
parsing and printing only in the CLI layer, at most 10 modules at the top level."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import signbench

ROOT = Path(signbench.__file__).parent
CLI_LAYER = ("signbench.cli", "signbench.commands", "signbench.__main__")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """Every signbench module ``name`` imports, at module level or inside functions."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # "from pkg import mod" imports the submodule when there is one, else the package
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out.update(t for t in targets if t in MODULES and t != name)
    return out


GRAPH = {name: _imports(name) for name in MODULES}


def _cycle() -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(GRAPH[n]):
            # Importing a submodule initializes its parent packages first: that is not a cycle.
            if n.startswith(m + "."):
                continue
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if state.get(m) is None and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(GRAPH):
        if state.get(n) is None and (found := visit(n)):
            return found
    return None


def test_the_walk_sees_the_package():
    assert {"signbench.train.fit", "signbench.data.load", "signbench.cli"} <= set(MODULES)
    assert "signbench.train.fit" in GRAPH["signbench.studies.sota"]  # a function-level import counts
    assert "signbench.data.formats.csv" in GRAPH["signbench.data.load"]


def test_no_import_cycles():
    assert _cycle() is None, " -> ".join(_cycle())


def test_the_cycle_finder_finds_one(monkeypatch):
    monkeypatch.setitem(GRAPH, "signbench.seeds", GRAPH["signbench.seeds"] | {"signbench.train.fit"})
    found = _cycle()
    assert found and found[0] == found[-1] and "signbench.seeds" in found


def _library_modules():
    return [n for n in MODULES if not n.startswith(CLI_LAYER)]


@pytest.mark.parametrize("name", _library_modules())
def test_library_code_stays_out_of_the_cli_layer(name):
    assert not any(m.startswith(CLI_LAYER) for m in GRAPH[name]), sorted(GRAPH[name])
    tree = ast.parse(MODULES[name].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            assert "argparse" not in names, f"{name}:{node.lineno} imports argparse (CLI layer only)"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            pytest.fail(f"{name}:{node.lineno} prints (the CLI layer prints; library code returns or logs)")


def test_at_most_ten_modules_at_the_top():
    top = sorted(p.name for p in ROOT.glob("*.py"))
    assert len(top) <= 10, top
