"""Copy the studies' generated tables into the READMEs, between their markers.

- README.md, ``results``: study 2's headline figure (its report's overview) and its emergence along
  parameters at each budget (docs/results/study2/emergence.md, from scripts/study2_emergence.py);
- docs/results/study1/README.md, ``summary``: study 1's summary table; ``robustness``: the forecast
  robustness table (docs/results/study1/robustness.md, from scripts/forecast_robustness.py).

Run by scripts/study.sh and scripts/study2.sh, so the tables in the READMEs are always the ones the
analysis wrote.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs/results/study1"
STUDY2 = ROOT / "docs/results/study2"


def replace_block(path: Path, name: str, body: str) -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``path``.

    Raises:
        SystemExit: If the markers are missing (say where, rather than silently skip).
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{path}: missing the markers {start} … {end}")
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{start}\n{body}\n{end}{tail}")


def _tables(md: Path) -> tuple[str, str]:
    lines = md.read_text().splitlines()
    table = "\n".join(line for line in lines if line.startswith("|"))
    other = "\n".join(line for line in lines if line.strip() and not line.startswith(("|", "#")))
    return table, other


def headline_table(emergence_md: Path) -> str:
    """The second table of study 2's emergence.md: emergence along parameters at each budget."""
    tables, current = [], []
    for line in emergence_md.read_text().splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    tables += [current] if current else []
    if len(tables) < 2:
        raise SystemExit(f"{emergence_md}: expected two tables (along compute, along parameters)")
    return "\n".join(tables[1])


def main() -> None:
    """Replace the results blocks."""
    table, text = _tables(RESULTS / "summary.md")
    status = next((line for line in text.splitlines() if " trials: " in line), "")
    replace_block(RESULTS / "README.md", "summary", f"{table}\n\n{status}.")
    if (RESULTS / "robustness.md").exists():
        rtable, rtext = _tables(RESULTS / "robustness.md")
        replace_block(RESULTS / "README.md", "robustness", f"{rtext}\n\n{rtable}")
    figure = "![violation rate over parameters × training budget, per environment](docs/results/study2/grid.png)"
    source = (
        "log10 parameters where the violation rate with oversight off crosses 0.5 (90 % interval), on each "
        "environment's plateau-free rate; 3,096 organisms, 8 seeds. Written by `scripts/study2_emergence.py` (the "
        "figure by `scripts/study2_grid_figure.py`); "
        "what it means, the controls, the sealed forecasts and persistence: "
        "[docs/results/study2](docs/results/study2/README.md)."
    )
    replace_block(ROOT / "README.md", "results", f"{figure}\n\n{headline_table(STUDY2 / 'emergence.md')}\n\n{source}")


if __name__ == "__main__":
    main()
