"""The README's commands and .ci/run stay in step."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    command = ci[ci.index("# README test command:") + 1].strip()
    readme_block = (ROOT / "README.md").read_text().split("```")[1]
    readme_commands = [line.split("#")[0].strip() for line in readme_block.splitlines()]
    assert command in readme_commands


def test_torch_is_pinned_exactly() -> None:
    pins = (ROOT / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in pins


def _block(path: Path, name: str) -> str:
    text = path.read_text()
    return text.split(f"<!-- {name}:start -->")[1].split(f"<!-- {name}:end -->")[0]


def _table(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def test_the_readmes_show_the_study_tables_the_analysis_wrote() -> None:
    results = ROOT / "docs" / "results" / "study1"
    summary = _table((results / "summary.md").read_text())
    assert summary, "docs/results/study1/summary.md has no table"
    headline = (ROOT / "docs" / "results" / "study2" / "emergence.md").read_text().split("\n\n")
    along_params = next(block for block in headline if block.startswith("| environment") and "50,000" in block)
    assert _table(_block(ROOT / "README.md", "results")) == _table(along_params)
    assert _table(_block(results / "README.md", "summary")) == summary
    assert _table(_block(results / "README.md", "robustness")) == _table((results / "robustness.md").read_text())
