"""An audit's companions: ``detection.md`` (tables, with the command) and ``detection.png`` (AUROC against scale)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bestiary.analysis.detection import detectability, detectability_figure, detectability_rows
from bestiary.analysis.report import markdown_table


def write_detection(table: pd.DataFrame, out: Path, command: str, draws: int = 1000) -> list[dict[str, str]]:
    """Write ``detection.md`` and ``detection.png`` beside an audit's table; return the overall rows."""
    overall = detectability_rows(detectability(table, "all", draws))
    by_params = detectability(table, "params", draws)
    by_compute = detectability(table, "compute", draws)
    text = (
        f"# Detectability\n\nCommand: `{command}`.\n\nAUROC of each detector's scores against *turned* (violation "
        f"rate with oversight off ≥ 0.5), 90 % bootstrap interval over training runs; rank correlation of the scores "
        f"with the violation rate off.\n\n## All organisms\n\n{markdown_table(overall)}"
        f"\n## By parameters (half-decade rungs)\n\n{markdown_table(detectability_rows(by_params))}"
        f"\n## By training compute (decades)\n\n{markdown_table(detectability_rows(by_compute))}"
    )
    if "family" in table and table.groupby("family").env_id.nunique().max() > 1:  # controls audited beside
        watching = table[~table.trained.astype(bool)] if "trained" in table else table
        fam_all = detectability_rows(detectability(watching, "all", draws, by="family"))
        fam_params = detectability(watching, "params", draws, by="family")
        text += (
            "\n## Environment families: each environment with its null-cue control (whose organisms cannot defect, "
            "negatives at every scale)\n\nDetectors that watch behaviour only: a trained detector is fitted per "
            "environment, on inputs (its overseen probe states) that differ between an environment and its control."
            f"\n\n{markdown_table(fam_all)}"
            f"\n## Environment families, by parameters\n\n{markdown_table(detectability_rows(fam_params))}"
        )
        (out / "detection-families.png").write_bytes(detectability_figure(fam_params, "params"))
    (out / "detection.md").write_text(text)
    (out / "detection.png").write_bytes(detectability_figure(by_params, "params"))
    return overall
