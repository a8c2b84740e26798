"""``bestiary audit``: organisms audited in the sandbox, outputs read as hostile input, resumable, in the report."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bestiary import audit as audit_module
from bestiary.audit import DETECTION_TABLE, AuditSettings, audit, judge, read_observations
from bestiary.cli import app
from bestiary.organisms.protocol import DETECTION, MAX_VALUES, WORKER_FILE
from bestiary.organisms.readback import StagedTrial
from tests.bestiary.sweeps import tiny_spec, trained_sweep

SETTINGS = AuditSettings(("honeypot", "null"), 16, 16)


def staged(detection: object, worker: object | None = None, raw: bytes | None = None) -> StagedTrial:
    files = {WORKER_FILE: json.dumps(worker or {"versions": {}}).encode()}
    files[DETECTION] = raw if raw is not None else json.dumps(detection).encode()
    return StagedTrial(files)


GOOD = {"trial_id": "t", "detectors": {"honeypot": {"features": {"violations": [3.0], "episodes": [16.0]}},
                                       "null": {"features": {"draw": [0.4]}}}}  # fmt: skip


def test_a_good_output_is_kept() -> None:
    observed, reason = judge(staged(GOOD), "t", SETTINGS)
    assert reason == "" and observed["honeypot"] == {"violations": [3.0], "episodes": [16.0]}


@pytest.mark.parametrize(
    ("detection", "raw", "expected"),
    [
        ({**GOOD, "trial_id": "other"}, None, "names organism 'other'"),
        ({**GOOD, "detectors": {**GOOD["detectors"], "extra": {}}}, None, "not those asked"),
        ({**GOOD, "detectors": {"honeypot": GOOD["detectors"]["honeypot"]}}, None, "not those asked"),
        ({**GOOD, "detectors": {"honeypot": {"features": {"x": [0.0] * (MAX_VALUES + 1)}}, "null": {}}}, None,
         "at most"),
        ({**GOOD, "detectors": {"honeypot": {"features": {"a b": [1.0]}}, "null": {}}}, None, "feature names"),
        (None, b'{"trial_id": "t", "detectors": {"null": {"features": {"d": [NaN]}}}}', "malformed_output"),
        (None, b"[" * 100 + b"]" * 100, "malformed_output"),
        (None, b"\xff\xfe not json", "malformed_output"),
        ({**GOOD, "smuggled": 1}, None, "malformed_output"),
    ],
)  # fmt: skip
def test_a_surprising_output_is_a_reason_never_a_traceback(detection: object, raw: bytes | None, expected: str) -> None:
    observed, reason = judge(staged(detection, raw=raw), "t", SETTINGS)
    assert observed == {} and expected in reason


def test_the_worker_error_and_a_missing_file_are_reasons() -> None:
    assert judge(staged(GOOD, {"error": "boom"}), "t", SETTINGS)[1] == "error: boom"
    assert "missing" in judge(StagedTrial({WORKER_FILE: b"{}"}), "t", SETTINGS)[1]
    assert "malformed_output" in judge(StagedTrial({}, ["weights: too large"]), "t", SETTINGS)[1]


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20))  # fmt: skip
def test_any_json_is_judged_without_raising(doc: object) -> None:
    try:
        raw = json.dumps(doc).encode()
    except ValueError:
        return
    observed, reason = judge(staged(None, raw=raw), "t", SETTINGS)
    assert bool(observed) != bool(reason)


@pytest.fixture(scope="module")
def sweep_dir() -> Iterator[Path]:
    with trained_sweep(tiny_spec([4, 8], 3), 6, "bestiary-test-audit-") as path:
        yield path


def test_audited_in_the_sandbox_resumable_and_a_tampered_organism_refused(
    sweep_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = sweep_dir.parent / "audit"
    settings = AuditSettings(("honeypot", "cue_sensitivity", "defection_probe", "null"), 16, 16)
    table = audit(sweep_dir, out, settings)
    assert len(table) == 6 * 4 and set(table.detector) == set(settings.detectors)
    assert (table.reason == "").all(), table.reason.unique()
    assert table.score.map(math.isfinite).all() and set(table.sandbox) == {"bwrap"}
    assert len(read_observations(out / audit_module.OBSERVATIONS, settings.key())) == 6
    # Resumable: what was kept is not audited again.
    monkeypatch.setattr(audit_module, "run_unit", lambda *a, **k: pytest.fail("audited again"))
    again = audit(sweep_dir, out, settings)
    assert again.score.tolist() == table.score.tolist()
    monkeypatch.undo()
    # Organism files changed since the host wrote them: refused with the reason, the others audited.
    victim = sorted(p for p in sweep_dir.iterdir() if (p / "organism").is_dir())[0]
    weights = victim / "organism" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\x00\x00\x80\x7f")
    fresh = audit(sweep_dir, sweep_dir.parent / "audit2", AuditSettings(("null",), 4, 4))
    refused = fresh[fresh.trial_id == victim.name]
    assert refused.reason.iloc[0].startswith("refused:") and "tampered" in refused.reason.iloc[0]
    assert (fresh[fresh.trial_id != victim.name].reason == "").all()


def test_the_command_writes_its_tables_and_the_report_shows_them(sweep_dir: Path) -> None:
    out = sweep_dir.parent / "audit-cli"
    args = ["audit", str(sweep_dir), "--out", str(out), "--detector", "null", "--detector", "honeypot_plain",
            "--episodes", "16", "--states", "8", "--draws", "50"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {DETECTION_TABLE, "detection.csv", "detection.md", "detection.png"} <= {p.name for p in out.iterdir()}
    assert "bestiary audit" in (out / "detection.md").read_text()
    report = sweep_dir.parent / "report.html"
    shown = CliRunner().invoke(app, ["report", str(sweep_dir), "-o", str(report), "--n-boot", "5",
                                     "--audit", str(out / DETECTION_TABLE)])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "Catching them: detectability" in report.read_text()


def test_the_command_refuses_an_unknown_detector_and_an_empty_directory(tmp_path: Path) -> None:
    bad = CliRunner().invoke(app, ["audit", str(tmp_path), "--detector", "psychic"])
    assert bad.exit_code != 0 and "unknown detector 'psychic'; known: honeypot" in bad.output
    empty = CliRunner().invoke(app, ["audit", str(tmp_path)])
    assert empty.exit_code != 0 and "holds no finished organisms" in empty.output


def test_organisms_are_kept_by_trial_id_whatever_their_directory_is_called(
    sweep_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in persistence's directories (<source>-<regime><steps>): a rerun audits nothing again."""
    import shutil

    renamed = sweep_dir.parent / "renamed"
    renamed.mkdir()
    renamed.chmod(0o755)
    for i, d in enumerate(
        sorted(p for p in sweep_dir.iterdir() if (p / "organism").is_dir())[-2:]
    ):  # not the tampered one
        shutil.copytree(d, renamed / f"{d.name}-on{i}")
    settings = AuditSettings(("null",), 4, 4)
    first = audit(renamed, renamed.parent / "audit-renamed", settings)
    assert (first.reason == "").all() and len(first) == 2
    monkeypatch.setattr(audit_module, "run_unit", lambda *a, **k: pytest.fail("audited again"))
    assert audit(renamed, renamed.parent / "audit-renamed", settings).score.tolist() == first.score.tolist()
