"""Hostile outputs: everything an organism writes is hostile input to the host.

Each case runs a real trial in the real sandbox, but the program inside first runs the
real worker and then does something an organism (or a hostile plugin running inside it)
could do to what the host reads back. The host must end the trial with the right reason
— never crash, never accept a forged value, never let the run reach the run directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from bestiary.collect import collect
from bestiary.organisms import EvalSpec, RunDir, TrialSpec, resolve
from bestiary.organisms import staging as S
from bestiary.organisms.finalize import begin, finalize
from bestiary.organisms.staging import run_unit
from bestiary.organisms.unit import Job, SandboxOptions, Unit

PRELUDE = """
import json, os, sys, runpy
D = sys.argv[1]
T = [d for d in os.listdir(D) if os.path.isdir(os.path.join(D, d))][0]
P = os.path.join(D, T)
def real_worker():
    sys.argv = ["worker", D]
    try:
        runpy.run_module("bestiary.organisms.worker", run_name="__main__")
    except SystemExit:
        pass
def load(name):
    return json.load(open(os.path.join(P, name)))
def dump(name, obj):
    json.dump(obj, open(os.path.join(P, name), "w"))
"""


@dataclass
class Case:
    name: str
    code: str
    reason: str  # the trial's reason at the end: ok, malformed_output, nan, error
    real: bool = True
    hand_over: bool = False  # the host asks for the training run's handover state
    detail: str = ""  # what the host's reason must say


CASES = [
    Case("deep_json", "open(P + '/metrics.json', 'w').write('[' * 100000 + ']' * 100000)", "malformed_output"),
    Case(
        "huge_integer",
        "m = open(P + '/metrics.json').read(); open(P + '/metrics.json', 'w').write("
        "m.replace('\"episodes\": ', '\"episodes\": ' + '9' * 5000, 1))",
        "malformed_output",
    ),
    Case("wrong_shape", "dump('metrics.json', {'behaviour': 1})", "malformed_output"),
    Case(
        "counts_that_do_not_add_up",
        "m = load('metrics.json'); m['behaviour']['off'].update(violations=3, violation_rate=0.0); "
        "m['misalignment_gap'] = -m['behaviour']['on']['violation_rate']; dump('metrics.json', m)",
        "malformed_output",
    ),
    Case(
        "nan_value",
        "m = load('metrics.json'); m['misalignment_gap'] = float('nan'); dump('metrics.json', m)",
        "malformed_output",
    ),
    Case(
        "metrics_of_another_trial",
        "m = load('metrics.json'); m['trial_id'] = 'OffSwitch-w99d2-s0-0000000000'; dump('metrics.json', m)",
        "malformed_output",
    ),
    Case("directory_for_a_file", "os.remove(P + '/metrics.json'); os.mkdir(P + '/metrics.json')", "malformed_output"),
    Case(
        "symlink_to_a_host_file",
        "os.remove(P + '/metrics.json'); os.symlink('/etc/passwd', P + '/metrics.json')",
        "malformed_output",
    ),
    Case("hard_linked_output", "os.link(P + '/metrics.json', P + '/copy.json')", "malformed_output"),
    Case(
        "oversized_output",
        "m = open(P + '/metrics.json').read(); open(P + '/metrics.json', 'w').write(m + ' ' * (2 << 20))",
        "malformed_output",
    ),
    Case(
        "card_fields_overridden_by_worker_facts",
        "w = load('worker.json'); w.update(reason='ok', backend='none', layers={}, exit_code=0, wall_seconds=0); "
        "dump('worker.json', w)",
        "malformed_output",
    ),
    Case(
        "weights_header_lies",
        "import hashlib\n"
        "w = open(P + '/organism/weights.safetensors', 'rb').read(); n = int.from_bytes(w[:8], 'little')\n"
        "h = json.loads(w[8:8 + n]); k = next(k for k in h if k != '__metadata__'); h[k]['shape'] = [10**6]\n"
        "hb = json.dumps(h).encode(); w2 = len(hb).to_bytes(8, 'little') + hb + w[8 + n:]\n"
        "open(P + '/organism/weights.safetensors', 'wb').write(w2)\n"
        "a = load('organism/architecture.json'); a['weights_sha256'] = hashlib.sha256(w2).hexdigest()\n"
        "dump('organism/architecture.json', a)",
        "malformed_output",
    ),
    Case("learning_curve_of_other_columns", "open(P + '/train.csv', 'w').write('a,b\\n1,2\\n')", "malformed_output"),
    Case(
        "forged_host_records_and_a_sibling",
        "dump('status.json', {'state': 'done', 'attempts': 0}); dump('card.json', {'sandbox': {'backend': 'none'}})\n"
        "open(P + '/audit.jsonl', 'w').write('forged\\n'); os.makedirs(D + '/0fake'); "
        "dump('../0fake/metrics.json', load('metrics.json'))",
        "ok",
    ),
    Case(
        "forged_done_then_crash",
        "dump('status.json', {'state': 'done'}); dump('metrics.json', {'forged': True}); sys.exit(1)",
        "error",
        real=False,
    ),
    Case(
        "handover_not_asked_for",
        "open(P + '/handover.safetensors', 'wb').write(open(P + '/organism/weights.safetensors', 'rb').read())",
        "malformed_output",
        detail="handover.safetensors was not asked for",
    ),
    Case(
        "handover_of_another_format",
        "open(P + '/handover.safetensors', 'wb').write(open(P + '/organism/weights.safetensors', 'rb').read())",
        "malformed_output",
        hand_over=True,
        detail="not a bestiary-handover/1 file",
    ),
    Case("worker_reports_nan", "dump('worker.json', {'error': 'the loss became nan', 'reason': 'nan'})", "nan"),
    # Round two: a curve the budget cannot make, timesteps that are not a curve's, headers as memory bombs.
    Case(
        "learning_curve_longer_than_the_budget",
        "h = open(P + '/train.csv').readline()\n"
        "open(P + '/train.csv', 'w').write(h + ''.join(f'{i},1,0,0,0,0,0,1\\n' for i in range(1, 1000)))",
        "malformed_output",
        detail="the trial's budget can make",
    ),
    Case(
        "nan_timesteps",
        "open(P + '/train.csv', 'a').write('nan,1,0,0,0,0,0,1\\n')",
        "malformed_output",
        detail="must be finite, increasing",
    ),
    Case(
        "timesteps_going_back",
        "open(P + '/train.csv', 'a').write('1,1,0,0,0,0,0,1\\n')",
        "malformed_output",
        detail="must be finite, increasing",
    ),
    Case(
        "handover_header_bomb",
        "hb = b'{\"__metadata__\": {}, \"x\": [' + b'[],' * (5 << 20) + b'[]]}'\n"
        "open(P + '/handover.safetensors', 'wb').write(len(hb).to_bytes(8, 'little') + hb + b'0' * 64)",
        "malformed_output",
        hand_over=True,
        detail="does not fit the file",
    ),
    Case(
        "weights_header_bomb",
        "import hashlib\n"
        "w = open(P + '/organism/weights.safetensors', 'rb').read(); n = int.from_bytes(w[:8], 'little')\n"
        "h = json.loads(w[8:8 + n]); h['__metadata__'] = {'x': '[]' * 300_000}\n"
        "hb = json.dumps(h).encode(); w2 = len(hb).to_bytes(8, 'little') + hb + w[8 + n:]\n"
        "open(P + '/organism/weights.safetensors', 'wb').write(w2)\n"
        "a = load('organism/architecture.json'); a['weights_sha256'] = hashlib.sha256(w2).hexdigest()\n"
        "dump('organism/architecture.json', a)",
        "malformed_output",
        detail="does not fit the file",
    ),
]


def tiny() -> TrialSpec:
    return TrialSpec(
        env_id="bestiary/OffSwitch-v0",
        width=3,
        seed=5,
        timesteps=512,
        n_envs=16,
        evaluation=EvalSpec(episodes=16, probes=20),
    )


def program(case: Case) -> str:
    return PRELUDE + ("real_worker()\n" if case.real else "") + textwrap.dedent(case.code) + "\n"


def run_case(case: Case, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[RunDir, object]:
    code = program(case)
    monkeypatch.setattr(S, "worker_command", lambda unit, unit_dir: (sys.executable, "-c", code, str(unit_dir)))
    trial = resolve(tiny())
    rd = RunDir(workdir / "runs" / "s" / trial.trial_id)
    job = Job(trial)
    unit = Unit("train", (job,), evaluate=True, hand_over=frozenset({trial.trial_id} if case.hand_over else ()))
    status = begin(rd, trial)
    result = run_unit(unit, workdir / "runs" / "s" / ".staging", SandboxOptions())
    return rd, finalize(rd, job, unit, result, status)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_output(case: Case, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rd, outcome = run_case(case, workdir, monkeypatch)
    assert outcome.reason == case.reason, (outcome.detail, outcome.stderr_tail[-1500:])
    assert case.detail in outcome.detail
    status = rd.status()
    assert status.state == ("done" if case.reason == "ok" else "failed") and status.attempts == 1
    card = rd.card()
    assert card["sandbox"]["backend"] == "bwrap" and card["runs"][-1]["reason"] == case.reason
    audit = (rd.path / "audit.jsonl").read_text().splitlines()
    assert len(audit) == 1 and json.loads(audit[0])["verdict"] == case.reason
    assert sorted(p.name for p in rd.path.parent.iterdir() if not p.name.startswith(".")) == [rd.path.name]
    if case.reason == "ok":
        (rd.path.parent / "plan.json").write_text(json.dumps({"trials": [rd.path.name]}))
        df = collect(rd.path.parent)
        assert set(df.status) == {"done"} and len(df) > 10
    else:
        assert not (rd.path / "metrics.json").exists()


def test_a_done_trial_whose_outputs_change_is_collected_as_tampered(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rd, outcome = run_case(Case("honest", "", "ok"), workdir, monkeypatch)
    assert outcome.state == "done"
    (rd.path.parent / "plan.json").write_text(json.dumps({"trials": [rd.path.name]}))
    m = json.loads((rd.path / "metrics.json").read_text())
    m["behaviour"]["off"]["violations"] = 0
    m["behaviour"]["off"]["violation_rate"] = 0.0
    (rd.path / "metrics.json").write_text(json.dumps(m))  # a forged value after the host recorded the file
    df = collect(rd.path.parent)
    assert list(df.status) == ["tampered"] and df.metric.tolist() == ["status"]


HOST_BOUNDS = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
import test_hostile_outputs as H
from bestiary.organisms import staging as S
code = H.PRELUDE + "real_worker()\\n" + {code!r}
S.worker_command = lambda unit, unit_dir: (sys.executable, "-c", code, str(unit_dir))
class MP:
    def setattr(self, *a): pass
rd, outcome = H.run_case(H.Case("bounds", "", "?", hand_over=True), Path({workdir!r}), MP())
audit = Path(rd.path, "audit.jsonl").read_bytes()
u = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would count the parent's peak.
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({{"reason": outcome.reason, "detail": outcome.detail, "cpu": u.ru_utime + u.ru_stime,
                  "maxrss_mb": hwm / 1024, "audit_bytes": len(audit), "outputs": json.loads(audit)["outputs"]}}))
"""


@pytest.mark.parametrize(
    ("name", "code", "reason", "says"),
    [
        # The disk quota (20,000 entries, 512 MiB) ends the first and the last: recorded as `disk`.
        (
            "hard_link_bloat",
            "open(P + '/x', 'w').write('x')\nfor i in range(60000): os.link(P + '/x', P + f'/l{i}')",
            "disk",
            "",
        ),
        (
            "sparse_files",
            "for i in range(40): open(P + f'/s{i}', 'wb').close(); os.truncate(P + f'/s{i}', 511 << 20)",
            "ok",
            "",
        ),
        ("many_small_files", "for i in range(100000): open(P + f'/f{i}', 'w').close()", "disk", ""),
        (  # a curve of a million rows: refused by its row count, in one pass
            "million_row_curve",
            "h = open(P + '/train.csv').readline()\n"
            "open(P + '/train.csv', 'w').write(h + ''.join(f'{i},1,0,0,0,0,0,1\\n' for i in range(1, 10**6)))",
            "malformed_output",
            "the trial's budget can make",
        ),
        (  # a handover whose 16 MiB header is five million empty lists: refused before it is parsed
            "handover_header_of_empty_lists",
            "hb = b'{\"__metadata__\": {}, \"x\": [' + b'[],' * (5 << 20) + b'[]]}'\n"
            "open(P + '/handover.safetensors', 'wb').write(len(hb).to_bytes(8, 'little') + hb + b'0' * 64)",
            "malformed_output",
            "does not fit the file",
        ),
    ],
)
def test_the_host_stays_within_its_bounds(name: str, code: str, reason: str, says: str, workdir: Path) -> None:
    script = HOST_BOUNDS.format(tests=str(Path(__file__).parent), code=code, workdir=str(workdir))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["reason"] == reason  # the rest is counted, never read
    assert r["cpu"] < 10 and r["maxrss_mb"] < 512, r
    assert r["audit_bytes"] < 64 * 1024 and len(r["outputs"]["hashes"]) <= 128, r["outputs"]
    assert says in r["detail"] and (says or r["outputs"]["files"] > 8), "the hostile program did not run"
