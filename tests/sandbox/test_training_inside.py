"""A real torch + stable-baselines3 training step runs inside the sandbox, and its outputs come back."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from bestiary.cli import app
from bestiary.sandbox import Limits, Policy, read_output, run

TRAIN = """
import json, torch
torch.set_num_threads(1)
from safetensors.torch import save_file
from stable_baselines3 import PPO
import bestiary.envs as E
venv = E.make_vec("bestiary/OffSwitch-v0", n_envs=8, seed=0)
model = PPO("MlpPolicy", venv, n_steps=32, batch_size=128, n_epochs=2, seed=0, device="cpu",
            policy_kwargs=dict(net_arch=[16, 16]))
model.learn(512)
save_file({k: v.contiguous() for k, v in model.policy.state_dict().items()}, "policy.safetensors")
json.dump({"timesteps": int(model.num_timesteps), "params": sum(p.numel() for p in model.policy.parameters())},
          open("metrics.json", "w"))
"""


def test_torch_and_sb3_train_inside_and_outputs_come_back(workdir: Path) -> None:
    result = run([sys.executable, "-c", TRAIN], workdir, Policy(limits=Limits(wall_seconds=300)))
    assert result.ok, result.stderr.decode()[-2000:]
    metrics = json.loads(read_output(workdir, "metrics.json"))
    assert metrics["timesteps"] >= 512 and metrics["params"] > 0
    hashes = result.audit["outputs"]["hashes"]
    assert set(hashes) == {"metrics.json", "policy.safetensors"}
    assert result.layers["seccomp"] and result.layers["landlock"] and result.layers["cgroup"]


def test_cli_sandbox_check_passes(backend: str) -> None:
    result = CliRunner().invoke(app, ["sandbox", "check", "--backend", backend], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "every required guarantee holds" in result.output


def test_cli_sandbox_run_passes_the_exit_code(workdir: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["sandbox", "run", "--workdir", str(workdir), "--", sys.executable, "-c", "print(42)"])
    assert ok.exit_code == 0 and "42" in ok.output
    bad = runner.invoke(app, ["sandbox", "run", "--workdir", str(workdir), "--", "sh", "-c", "exit 3"])
    assert bad.exit_code == 3


def test_cli_sandbox_run_rejects_bad_limits() -> None:
    result = CliRunner().invoke(app, ["sandbox", "run", "--memory-mb", "0", "--", "true"])
    assert result.exit_code == 2 and "memory_mb" in result.output


def test_the_same_trial_gives_the_same_numbers_under_bwrap_and_gvisor(workdir: Path) -> None:
    from bestiary.organisms import EvalSpec, TrialSpec, train_organism

    spec = TrialSpec(
        env_id="bestiary/OffSwitch-v0",
        width=6,
        seed=2,
        timesteps=4096,
        n_envs=16,
        evaluation=EvalSpec(episodes=64, probes=64),
    )
    under = {b: train_organism(spec, workdir / b, backend=b) for b in ("bwrap", "gvisor")}
    assert all(o.state == "done" for o in under.values()), {b: o.detail for b, o in under.items()}
    assert under["gvisor"].card["sandbox"]["backend"] == "gvisor"
    assert under["gvisor"].card["sandbox"]["layers"]["user_space_kernel"].startswith("gVisor")
    assert under["bwrap"].metrics == under["gvisor"].metrics
