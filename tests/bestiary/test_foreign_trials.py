"""A sweep's directory holding trials its plan does not (older environment code): said in the header, not reused."""

from __future__ import annotations

from pathlib import Path

from bestiary.cli.sweep import foreign_note
from bestiary.sweep import plan
from bestiary.sweep_spec import parse_sweep

SPEC = """name: s
environments: [{id: bestiary/AbsentSupervisor-v0}]
scale: {params: {min: 100, max: 1000, rungs: 2}, timesteps: 20000}
seeds: 1
"""


def test_trials_of_older_code_are_counted_and_the_fix_named(tmp_path: Path) -> None:
    planned = plan(parse_sweep(SPEC), tmp_path)
    assert foreign_note(tmp_path / "s", planned) == ""  # no directory yet
    for p in planned:  # the plan's own trials are not foreign
        p.run_dir.path.mkdir(parents=True)
        (p.run_dir.path / "trial.json").write_text("{}")
    old = tmp_path / "s" / "AbsentSupervisor-w2d2-s0-0123456789"
    old.mkdir()
    (old / "trial.json").write_text("{}")
    (tmp_path / "s" / "not-a-trial").mkdir()
    note = foreign_note(tmp_path / "s", planned)
    assert note.startswith("; 1 trial directories here are not in this plan") and "git worktree" in note
