"""A seal is as strong as a record its maker cannot rewrite: a commit; every forecast made is logged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bestiary.sealing import forecast_log_note, log_forecast, seal_status


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True)  # fmt: skip


def test_a_forecast_is_sealed_only_by_the_commit_that_added_it(tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / "forecast.json").write_text("{}\n")
    assert seal_status(outside / "forecast.json").startswith("unsealed: the forecast is not in a git repository")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    path = repo / "forecast.json"
    path.write_text(json.dumps({"tau": 0.5}) + "\n")
    assert seal_status(path).startswith("unsealed: the forecast was never committed")
    _git(repo, "add", "forecast.json")
    _git(repo, "commit", "-q", "-m", "seal")
    assert seal_status(path).startswith("sealed by commit")
    path.write_text(json.dumps({"tau": 0.4}) + "\n")  # edited after the seal, even if the hash were recomputed
    assert seal_status(path).startswith("changed since commit")


def test_every_forecast_made_is_logged_so_trying_several_tau_shows(tmp_path: Path) -> None:
    assert forecast_log_note(tmp_path) == ""
    for tau in (0.5, 0.4):
        log_forecast(tmp_path, {"created": "now", "sha256": "x", "tau": tau, "organisms": {}}, tmp_path / "f.json")
    note = forecast_log_note(tmp_path)
    assert note.startswith("2 forecasts were made") and "0.4" in note and "0.5" in note


def test_git_proves_the_order_only_when_the_seal_was_committed_before_the_results(tmp_path: Path) -> None:
    from bestiary.git_record import order_status

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    seal, results = repo / "seal.json", repo / "results.csv"
    seal.write_text("{}\n")
    assert order_status(seal, results).startswith("NOT PROVEN: the seal is not committed")
    results.write_text("a\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "both at once")
    assert "does not precede" in order_status(seal, results)  # one commit proves no order
    later = repo / "later.csv"
    later.write_text("b\n")
    assert "never committed" in order_status(seal, later)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "results after")
    assert order_status(seal, later).startswith("proven: sealed in commit")
    assert "does not precede" in order_status(later, seal)
    assert "not a committed file" in order_status(seal, repo)
