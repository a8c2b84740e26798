"""`bestiary forecast` selects the organisms it forecasts from; `bestiary score` says when there is nothing to score."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bestiary.analysis.sealed import FORMAT, _self_hash
from bestiary.analysis.synthetic import synthetic_grid
from bestiary.cli import app

runner = CliRunner()


def test_a_forecast_from_organisms_within_bounds_records_them(tmp_path: Path) -> None:
    table = synthetic_grid(params=(100, 1e4, 5), timesteps=(3e4, 3e5, 3), seeds=2)
    source = tmp_path / "results.parquet"
    table.to_parquet(source)
    out = tmp_path / "f.json"
    args = ["forecast", str(source), "-o", str(out), "--n-boot", "0", "--max-params", "1000", "--budget", "1000000"]
    result = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    used = table[table.trial_id.isin(doc["organisms"])]
    assert set(doc["organisms"]) == set(table[table.params <= 1000].trial_id) and used.params.max() <= 1000
    assert doc["context"]["sealed_below"] == {"params": 1000.0} and "hindsight" not in doc
    assert 1e6 in {p["at"].get("timesteps") for p in doc["predictions"]}
    none = runner.invoke(app, [*args[:3], str(tmp_path / "g.json"), "--max-params", "10"], env={"COLUMNS": "250"})
    assert none.exit_code == 2 and "no organism within {'params': 10.0}" in none.output


def test_score_says_when_nothing_can_be_scored(tmp_path: Path) -> None:
    table = synthetic_grid(params=(100, 1e4, 3), timesteps=(3e4, 3e5, 2), seeds=1)
    source = tmp_path / "results.parquet"
    table.to_parquet(source)
    doc = {"format": FORMAT, "created": "now", "tau": 0.5, "metric": "violation_rate", "condition": "off",
           "context": {}, "hashed": ["condition", "metric", "value", "successes", "trials"],
           "organisms": {}, "predictions": []}  # fmt: skip
    doc["sha256"] = _self_hash(doc)
    seal = tmp_path / "empty.json"
    seal.write_text(json.dumps(doc))
    result = runner.invoke(app, ["score", str(seal), str(source)], env={"COLUMNS": "250"})
    assert result.exit_code == 1 and "nothing to score: the forecast holds no prediction" in result.output
    assert "Empty DataFrame" not in result.output
