"""The layout's rules (docs/architecture.md): who may import whom, and modules small enough to read.

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
