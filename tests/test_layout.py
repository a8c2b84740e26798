"""The layout's rules (docs/architecture.md): who may import whom, no import loops, one owner per file name.

Every import statement of every module (top level or inside a function) is parsed, so a
rule cannot be dodged by importing lazily.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRONT_DOOR = [
    "bestiary.cli", "bestiary.sweep", "bestiary.sweep_spec", "bestiary.collect", "bestiary.executors",
    "bestiary.provenance", "bestiary.planning", "bestiary.sandboxed", "bestiary.errors",
]  # fmt: skip
RULES = {
    # folder: (what it is, forbidden import prefixes)
    "envs": ("imports nothing else of Bestiary's", ["bestiary.organisms", "bestiary.sandbox", "bestiary.analysis",
                                                     *FRONT_DOOR]),
    "sandbox": ("imports nothing else of Bestiary's", ["bestiary.envs", "bestiary.organisms", "bestiary.analysis",
                                                        *FRONT_DOOR]),
    "analysis": (
        "reads the results table only (no torch, SB3, environments or organisms)",
        ["torch", "stable_baselines3", "sb3_contrib", "gymnasium", "bestiary.envs", "bestiary.organisms",
         "bestiary.sandbox", *FRONT_DOOR],
    ),
    "organisms": ("never reaches up into the front door or the analysis", ["bestiary.analysis", *FRONT_DOOR]),
}  # fmt: skip
MAX_LINES = 420
#: Folder → the package it installs as.
PACKAGES = {"bestiary": "bestiary", "envs": "bestiary.envs", "organisms": "bestiary.organisms",
            "sandbox": "bestiary.sandbox", "analysis": "bestiary.analysis"}  # fmt: skip
#: Everything that runs inside the sandbox; nothing outside it imports it.
WORKER = "bestiary.organisms.worker"
#: The modules that own the names of the files of a run, a sweep and a unit's staging directory.
NAME_OWNERS = {"organisms/protocol.py", "organisms/rundir.py", "organisms/sweepdir.py"}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("folder", sorted(RULES))
def test_import_rules(folder: str) -> None:
    what, forbidden = RULES[folder]
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in sorted(imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert not bad, f"{folder} {what}, but:\n" + "\n".join(bad)


def test_no_module_is_too_long_to_read() -> None:
    folders = ["bestiary", *RULES]
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for folder in folders
        for p in sorted((ROOT / folder).rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    ]
    assert not long, "modules over ~400 lines:\n" + "\n".join(long)


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name."""
    found = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def runtime_imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``path`` imports when it runs (``TYPE_CHECKING`` blocks left out).

    ``from package import module`` is an edge to the module only: Python imports a
    package's ``__init__`` before any of its modules, which is not a loop of ours.
    """
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                module = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            submodules = {f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in known}
            out |= submodules
            if len(submodules) < len(node.names):
                out.add(module)
    return {m for m in out if m in known and m != name}


def import_loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                loops.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return loops


def test_import_loops_are_found() -> None:
    assert import_loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_loops({"a": {"b"}, "b": set()}) == []


def test_no_import_loop_in_the_package() -> None:
    known = modules()
    graph = {name: runtime_imports(path, name, known) for name, path in known.items()}
    loops = import_loops(graph)
    detail = [" ↔ ".join(loop) + ": " + "; ".join(f"{m} → {sorted(graph[m] & set(loop))}" for m in loop)
              for loop in loops]  # fmt: skip
    assert not loops, "import loops:\n" + "\n".join(detail)


def test_the_host_never_imports_the_worker() -> None:
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for module, path in sorted(modules().items())
        if not (module == WORKER or module.startswith(WORKER + "."))
        for name in sorted(imports(path))
        if name == WORKER or name.startswith(WORKER + ".")
    ]
    assert not bad, "only the sandbox runs the worker (python -m bestiary.organisms.worker):\n" + "\n".join(bad)


def owned_file_names() -> set[str]:
    """The file names the owners define: every module-level string constant of theirs that looks like one."""
    names = set()
    for rel in NAME_OWNERS:
        for node in ast.parse((ROOT / rel).read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                value = node.value.value
                if isinstance(value, str) and "." in value and " " not in value and len(value) < 40:
                    names.add(value.rsplit("/", 1)[-1])
    return names


def test_file_names_of_runs_and_sweeps_are_written_only_by_their_owners() -> None:
    names = owned_file_names()
    assert {"trial.json", "plan.json", "worker.json", "claim.json", "forecast.json", ".staging"} <= names
    bad = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for path in sorted(modules().values())
        if str(path.relative_to(ROOT)) not in NAME_OWNERS
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    ]
    assert not bad, "file names spelled outside RunDir, SweepDir and protocol.py (use their constants):\n" + "\n".join(
        bad
    )
