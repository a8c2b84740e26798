"""A whole unit of hostile organisms: the host's memory and time stay bounded however many there are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, resource, sys
from pathlib import Path
from bestiary.organisms import EvalSpec, RunDir, TrialSpec, resolve
from bestiary.organisms import staging as S
from bestiary.organisms.finalize import begin, finalize
from bestiary.organisms.staging import SandboxOptions, run_unit
from bestiary.organisms.unit import Job, Unit
code = '''
import os, sys, runpy
D = sys.argv[1]
sys.argv = ["worker", D]
try:
    runpy.run_module("bestiary.organisms.worker", run_name="__main__")
except SystemExit:
    pass
for t in os.listdir(D):  # every declared output made sparse, up to its bound: nothing on disk, much to read
    for rel, size in (("train.csv", 32 << 20), ("metrics.json", 1 << 20), ("worker.json", 256 << 10)):
        p = os.path.join(D, t, rel)
        if os.path.isfile(p):
            os.truncate(p, size - 1)
'''
S.worker_command = lambda unit, unit_dir: (sys.executable, "-c", code, str(unit_dir))
work = Path({workdir!r})
trials = [resolve(TrialSpec(env_id="bestiary/OffSwitch-v0", width=3, seed=s, timesteps=512, n_envs=16,
                            trainer="population", hyperparameters={{"n_steps": 32}},
                            evaluation=EvalSpec(episodes=16, probes=20))) for s in range(16)]
unit = Unit("train", tuple(Job(t) for t in trials), trainer="population")
dirs = {{t.trial_id: RunDir(work / "runs" / "s" / t.trial_id) for t in trials}}
statuses = {{t.trial_id: begin(dirs[t.trial_id], t) for t in trials}}
result = run_unit(unit, work / "runs" / "s" / ".staging", SandboxOptions())
reasons = [finalize(dirs[j.trial.trial_id], j, unit, result, statuses[j.trial.trial_id]).reason for j in unit.jobs]
u = resource.getrusage(resource.RUSAGE_SELF)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({{"reasons": reasons, "cpu": u.ru_utime + u.ru_stime, "maxrss_mb": hwm / 1024,
                  "problems": [p for s in result.trials.values() for p in s.problems][:3]}}))
"""


def test_a_unit_of_16_organisms_with_sparse_outputs_costs_the_host_little(workdir: Path) -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(workdir=str(workdir))], capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["reasons"] == ["malformed_output"] * 16, r
    assert any("sparse" in p for p in r["problems"]), r["problems"]
    assert r["cpu"] < 10 and r["maxrss_mb"] < 512, r
