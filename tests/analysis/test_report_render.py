"""The report renders in headless Chromium: every figure loads, the page is not blank, no console errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from bestiary.analysis import build_report
from bestiary.analysis.synthetic import synthetic_table

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    df = synthetic_table(envs={"synthetic/A-v0": (3.8, 8.0), "synthetic/B-v0": (4.3, 3.0)}, rungs=6, seeds=3)
    return build_report(df, out / "report.html", n_boot=20)


def test_report_files(report: dict[str, Path]) -> None:
    html = report["html"].read_text()
    assert "<h2>Summary</h2>" in html and "synthetic/A-v0" in html and "Provenance" in html
    assert report["fits"].read_text().startswith("env_id,")
    assert "| environment |" in report["summary"].read_text()
    assert re.search(r"src=\"data:image/png;base64,", html)  # self-contained


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup.sh installs it as root)")
def test_report_renders_in_headless_chromium(report: dict[str, Path], tmp_path: Path) -> None:
    url = report["html"].resolve().as_uri()
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    images = re.search(r'data-images="(\d+)"', dom.stdout)
    broken = re.search(r'data-broken-images="(\d+)"', dom.stdout)
    assert images and broken, f"the page's image check did not run:\n{dom.stderr[-2000:]}"
    expected = report["html"].read_text().count("<img ")
    assert int(images.group(1)) == expected > 0
    assert int(broken.group(1)) == 0
    console_errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and "error" in line.lower()]
    assert console_errors == []
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile-shot'}",
            "--window-size=1280,2000",
            f"--screenshot={shot}",
            url,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = plt.imread(shot)
    assert pixels.std() > 0.05, "the screenshot is blank"


def test_analysis_imports_no_training_stack() -> None:
    code = (
        "import sys, bestiary.analysis, bestiary.analysis.report; "
        "print([m for m in ('torch', 'stable_baselines3', 'gymnasium', 'bestiary.envs', 'bestiary.organisms') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_figures_drawn_in_parallel_are_the_figures_drawn_serially(
    report: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bestiary.analysis.figure_jobs as figure_jobs

    calls = []
    real, threshold = figure_jobs.render, figure_jobs.MIN_PARALLEL
    monkeypatch.setattr(figure_jobs, "MIN_PARALLEL", 10**9)  # serial
    monkeypatch.setattr("bestiary.analysis.report.render", lambda jobs: calls.append(len(jobs)) or real(jobs))
    df = synthetic_table(envs={"synthetic/A-v0": (3.8, 8.0), "synthetic/B-v0": (4.3, 3.0)}, rungs=6, seeds=3)
    serial = build_report(df, tmp_path / "report.html", n_boot=20)
    assert calls and calls[0] >= threshold  # enough figures that the fixture's report drew them in parallel
    assert serial["html"].read_bytes() == report["html"].read_bytes()
    assert serial["overview"].read_bytes() == report["overview"].read_bytes()
