"""The disk quota: a run that fills its writable directory ends with reason ``disk`` and touches nothing else."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bestiary.sandbox import Limits, Policy, read_output, run
from bestiary.sandbox import quota as Q

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the quota tmpfs is mounted by a root launcher")

FIRST = "open('kept.txt', 'w').write('kept')\n"
CASES = {
    "one_big_file": "f = open('big', 'wb')\nwhile True: f.write(b'x' * 2**20); f.flush()",
    "many_small_files": "i = 0\nwhile True: open(f'f{i}', 'w').close(); i += 1",
    "many_directories": "import os\ni = 0\nwhile True: os.mkdir(f'd{i}'); i += 1",
    "sparse_files_then_data": "import os\nfor i in range(8): open(f's{i}', 'wb').close(); "
    "os.truncate(f's{i}', 400 << 20)\nf = open('s0', 'r+b')\nwhile True: f.write(b'y' * 2**20); f.flush()",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_filling_the_disk_ends_the_run_with_reason_disk(name: str, backend: str, workdir: Path) -> None:
    before = sorted(p.name for p in workdir.parent.iterdir())
    limits = Limits(disk_mb=16, disk_files=500, wall_seconds=60)
    result = run([sys.executable, "-c", FIRST + CASES[name]], workdir, Policy(limits=limits), backend=backend)
    assert result.reason == "disk", (result.reason, result.stderr[-800:])
    assert result.layers["disk_quota"] == "tmpfs" and result.wall_seconds < 30
    # Nothing outside the writable directory was touched, and no quota mount is left behind.
    assert sorted(p.name for p in workdir.parent.iterdir()) == before
    assert not any(Q.is_workspace(p) for p in workdir.parent.iterdir())
    # What the host reads is unaffected: the run's first output came back intact.
    assert read_output(workdir, "kept.txt") == b"kept"


def test_a_workspace_holds_inputs_and_outputs_and_goes_away(backend: str, workdir: Path) -> None:
    space = workdir / "unit"
    limits = Limits(disk_mb=8, disk_files=100)
    with Q.workspace(space, limits, 65534) as d:
        assert Q.is_workspace(d)
        (d / "input.txt").write_text("in")
        code = "open('out.txt', 'w').write(open('input.txt').read() + 'out')"
        result = run([sys.executable, "-c", code], d, backend=backend)
        assert result.ok and result.layers["disk_quota"] == "tmpfs"
        assert read_output(d, "out.txt") == b"inout"
    assert not space.exists()
