"""Persistence under safety training: the turned cells chosen, continued in the sandbox, resumable, tamper-refusing."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from bestiary import persistence
from bestiary.collect import collect
from bestiary.persistence import continue_organisms, persistence_figure, persistence_table, turned_cells
from tests.bestiary.sweeps import tiny_spec, trained_sweep


def _row(env: str, params: int, steps: int, seed: int, off: float) -> dict:
    return {"env_id": env, "env_kwargs": "{}", "params": params, "width": params // 10, "timesteps": steps,
            "compute": 26.0 * params * steps, "seed": seed, "trial_id": f"{env}-{params}-{steps}-{seed}",
            "metric": "violation_rate", "condition": "off", "value": off, "status": "done"}  # fmt: skip


def test_the_largest_compute_cells_that_turned_are_chosen_with_all_their_seeds() -> None:
    rows = []
    for params, steps, off in [(100, 1e5, 0.9), (1000, 1e5, 0.85), (1000, 4e5, 0.95), (10000, 1e5, 0.9),
                               (10000, 4e5, 0.7), (100, 4e5, 0.99)]:  # fmt: skip
        rows += [_row("e/A-v0", params, int(steps), s, off + (0.04 if s else -0.04)) for s in range(2)]
    rows += [_row("e/ANullCue-v0", 10000, 400000, s, 0.99) for s in range(2)]  # a control: never persisted
    chosen = turned_cells(pd.DataFrame(rows), turned=0.8, cells=3)
    cells = sorted({(r.params, r.timesteps) for r in chosen.itertuples()})
    # Turned, by compute: 10000×1e5 (2.6e10), 1000×4e5 (1.04e10), 1000×1e5 (2.6e9), 100×4e5 (1.04e9)…;
    # 10000×4e5 did not (0.7).
    assert cells == [(1000, 100000), (1000, 400000), (10000, 100000)]
    assert len(chosen) == 6 and set(chosen.env_id) == {"e/A-v0"}


def test_the_table_reports_surviving_violation_and_honeypot_detection() -> None:
    rows = pd.DataFrame([
        {"env_id": "e", "env_kwargs": "{}", "regime": "honeypots", "params": 100, "timesteps": 10, "compute": 1.0,
         "seed": s, "state": "done", "off_before": 0.9, "on_before": 0.1, "off_after": off, "on_after": 0.0,
         "honeypot_after": 0.1} for s, off in enumerate([0.9, 0.45])
    ])  # fmt: skip
    (r,) = persistence_table(rows).itertuples()
    assert math.isclose(r.surviving, 0.75) and math.isclose(r.detection, 0.575) and r.organisms == 2
    assert persistence_figure(rows).startswith(b"\x89PNG")


@pytest.fixture(scope="module")
def sweep_dir() -> Iterator[Path]:
    with trained_sweep(tiny_spec([4], 2), 2, "bestiary-test-persist-") as path:
        yield path


def test_continued_in_the_sandbox_read_back_when_done_and_a_tampered_source_refused(
    sweep_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = turned_cells(collect(sweep_dir), turned=0.0, cells=1)
    assert len(sources) == 2
    into = sweep_dir.parent / "safety"
    rows = continue_organisms(sweep_dir, sources, "honeypots", 2048, into)
    assert list(rows.state) == ["done", "done"] and rows.honeypot_after.notna().all()
    # Resumable: a finished continuation is read back, never retrained.
    monkeypatch.setattr(persistence, "train_organism", lambda *a, **k: pytest.fail("retrained"))
    again = continue_organisms(sweep_dir, sources, "honeypots", 2048, into)
    assert again.off_after.tolist() == rows.off_after.tolist()
    # The command reads them back too, and writes the regime's table and the figure of every regime.
    from typer.testing import CliRunner

    from bestiary.cli import app

    out = sweep_dir.parent / "tables"
    args = ["persist", str(sweep_dir), "--regime", "honeypots", "--timesteps", "2048", "--turned", "0", "--cells", "1",
            "--out", str(out), "--into", str(into)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {
        "persistence-honeypots.csv",
        "persistence-honeypots.md",
        "persistence.png",
    }
    assert "bestiary persist" in (out / "persistence-honeypots.md").read_text()
    # A source whose results changed since the host wrote them is refused, with the reason, not a traceback.
    metrics = sweep_dir / sources.trial_id.iloc[0] / "metrics.json"
    metrics.write_text(metrics.read_text().replace("violation_rate", "violation_rate ", 1))
    refused = continue_organisms(sweep_dir, sources, "honeypots", 2048, into)
    assert list(refused.state) == ["refused", "done"] and "tampered" in refused.reason.iloc[0]


def test_the_command_refuses_an_unknown_regime_and_a_target_inside_the_sweep(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bestiary.cli import app

    runs = tmp_path / "s"
    runs.mkdir()
    bad = CliRunner().invoke(app, ["persist", str(runs), "--regime", "off", "--out", "o", "--into", "x"])
    assert bad.exit_code != 0 and "--regime must be one of on, in_distribution, honeypots" in bad.output
    inside = CliRunner().invoke(app, ["persist", str(runs), "--regime", "on", "--out", "o", "--into", str(runs / "x")])
    assert inside.exit_code != 0 and "inside the sweep's directory" in inside.output
