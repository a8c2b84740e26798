"""Amending a committed seal: remade from its own committed table alone, the original untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bestiary.analysis.sealed import ForecastError, make_forecast
from bestiary.analysis.synthetic import synthetic_grid
from bestiary.seal_amend import amend_seal
from bestiary.seal_export import read_seal

SPEC = """name: s
environments: [{id: bestiary/AbsentSupervisor-v0}]
scale: {params: {min: 100, max: 10000, rungs: 5}, timesteps: {min: 30000, max: 300000, rungs: 3}}
seeds: 2
forecast: {compute: [1.0e9]}
"""


@pytest.fixture
def seal_folder(tmp_path: Path) -> Path:
    table = synthetic_grid(params=(100, 1e4, 5), timesteps=(3e4, 3e5, 3), seeds=2)
    early = table[table.params <= 1000].reset_index(drop=True)
    doc = make_forecast(early, n_boot=20, context={"seal": 1, "seals": 1, "sealed_below": {"compute": 1e9},
                                                   "organisms_beyond_already_trained": 0})  # fmt: skip
    folder = tmp_path / "seal-1"
    folder.mkdir()
    (folder / "forecast.json").write_text(json.dumps(doc, indent=1) + "\n")
    early.to_csv(folder / "table.csv", index=False)
    (folder / "sweep.yaml").write_text(SPEC)
    return folder


def test_an_amendment_uses_exactly_the_original_organisms_and_says_what_it_amends(seal_folder: Path) -> None:
    before = {p.name: p.read_bytes() for p in seal_folder.iterdir()}
    done = amend_seal(seal_folder, seal_folder.parent / "seal-1-amended", "the compute axis forecast the wrong kind")
    original, amended = read_seal(seal_folder / "forecast.json"), read_seal(done.folder / "forecast.json")
    assert amended["organisms"] == original["organisms"] and amended["sha256"] != original["sha256"]
    ctx = amended["context"]
    assert ctx["amends"]["sha256"] == original["sha256"] and "wrong kind" in ctx["amends"]["why"]
    assert "organisms_beyond_already_trained" not in ctx and ctx["sealed_below"] == {"compute": 1e9}
    assert {p.name: p.read_bytes() for p in seal_folder.iterdir()} == before  # the original is never touched
    # Budgets the spec plans but the table lacks are forecast too, as in the sweep's own seal.
    assert {p["at"].get("timesteps") for p in amended["predictions"]} >= {30000.0, 94868.0, 300000.0}
    with pytest.raises(ForecastError, match="never overwritten"):
        amend_seal(seal_folder, done.folder, "again")


def test_a_table_other_than_the_seal_s_or_no_reason_is_refused(seal_folder: Path) -> None:
    with pytest.raises(ForecastError, match="say why"):
        amend_seal(seal_folder, seal_folder.parent / "a", "  ")
    table = pd.read_csv(seal_folder / "table.csv")
    table.loc[0, "value"] = 0.123456
    table.to_csv(seal_folder / "table.csv", index=False)
    with pytest.raises(ForecastError, match="not the table the seal was made from"):
        amend_seal(seal_folder, seal_folder.parent / "b", "a reason")
    assert not (seal_folder.parent / "b").exists()
