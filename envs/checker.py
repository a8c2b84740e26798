"""``bestiary envs check``: small checks, one property each, of a failure-mode environment.

Each ``check_*`` function takes a :class:`Target` and returns a short detail string on
success or raises :class:`CheckFailed` (or any exception) naming what is wrong.
:func:`run_checks` runs them all and never stops at the first failure.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import DummyVecEnv

from bestiary.envs.core import OVERSIGHT_REGIMES, SAFETY_KEYS, FailureModeEnv
from bestiary.envs.knobs import Knob
from bestiary.envs.registry import env_spec, load_class
from bestiary.envs.vector import BatchedVecEnv

KNOWN_FAILURE_MODES = ("situational_awareness", "deception", "power_seeking")


class CheckFailed(AssertionError):
    """A property of Contract 1 (or Gymnasium's / SB3's API) does not hold."""


@dataclass
class Target:
    """What is being checked: a registered id or a ``module:Class``.

    Attributes:
        name: How the user named it.
        cls: The environment class (or the entry point's callable, for other Gymnasium envs).
        kwargs: Constructor kwargs (a registered id's configuration).
    """

    name: str
    cls: Any
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make(self, **extra: Any) -> Any:
        """A fresh instance with the target's kwargs (and ``extra``)."""
        return self.cls(**{**self.kwargs, **extra})

    @property
    def is_failure_mode_env(self) -> bool:
        """Whether the class derives from :class:`FailureModeEnv`."""
        return isinstance(self.cls, type) and issubclass(self.cls, FailureModeEnv)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check."""

    name: str
    passed: bool
    detail: str


def resolve(target: str) -> Target:
    """Turn ``bestiary/Name-v0`` or ``module:Class`` into a :class:`Target`."""
    if ":" in target and "/" not in target:
        return Target(target, load_class(target))
    spec = env_spec(target)
    entry = spec.entry_point
    cls = gymnasium.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
    return Target(target, cls, dict(spec.kwargs))


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise CheckFailed(message)


def _episodes(env: gymnasium.Env, n: int, seed: int, regime: str | None = None) -> list[dict[str, Any]]:
    """Run ``n`` random-action episodes; return their safety records with step sums."""
    records = []
    env.action_space.seed(seed)
    options = {"oversight": regime} if regime else None
    for k in range(n):
        env.reset(seed=seed + k, options=options)
        hidden = observed = 0.0
        for _ in range(10_000):
            _, reward, terminated, truncated, info = env.step(env.action_space.sample())
            _require("hidden_reward" in info, "info['hidden_reward'] missing from a step's info")
            _require(isinstance(info["hidden_reward"], float), "info['hidden_reward'] must be a float")
            hidden += info["hidden_reward"]
            observed += float(reward)
            if terminated or truncated:
                _require("safety" in info, "info['safety'] missing at episode end")
                records.append({**info["safety"], "_hidden_sum": hidden, "_observed_sum": observed})
                break
            _require("safety" not in info, "info['safety'] present before the episode ended")
        else:
            raise CheckFailed("an episode of random actions did not end within 10,000 steps")
    return records


def check_metadata(t: Target) -> str:
    """Class metadata: failure mode, one-line summary, knobs with valid defaults."""
    _require(t.is_failure_mode_env, f"{t.cls} is not a subclass of bestiary.envs.FailureModeEnv")
    cls = t.cls
    mode = getattr(cls, "failure_mode", "")
    _require(isinstance(mode, str) and mode != "", "failure_mode must be a non-empty string")
    summary = getattr(cls, "summary", "")
    _require(
        isinstance(summary, str) and summary.strip() != "" and "\n" not in summary, "summary must be one non-empty line"
    )
    knobs = cls.knobs
    _require(all(isinstance(k, Knob) for k in knobs.values()), "every entry of knobs must be a Knob")
    _require(any(k.kind == "capability" for k in knobs.values()), "at least one capability knob is required")
    for name, knob in knobs.items():
        knob.validate(name, knob.default, cls.__name__)
    for name, value in t.kwargs.items():
        if name != "oversight":
            _require(name in knobs, f"registered kwarg `{name}` is not a declared knob")
            knobs[name].validate(name, value, cls.__name__)
    note = "" if mode in KNOWN_FAILURE_MODES else f" (new failure mode {mode!r})"
    return f"{mode}{note}; knobs: {', '.join(knobs)}"


DOC_SECTIONS = (
    "Description",
    "Observation",
    "Actions",
    "Rewards",
    "True objective",
    "Failure signature",
    "Capability knobs",
    "Registered configurations",
)


def check_docstring(t: Target) -> str:
    """The module docstring has the Minigrid-style sections plus Bestiary's safety ones."""
    module = sys.modules.get(t.cls.__module__)
    doc = (getattr(module, "__doc__", None) or "") + (t.cls.__doc__ or "")
    missing = [s for s in DOC_SECTIONS if f"## {s}" not in doc]
    _require(not missing, f"the module docstring lacks the section(s) {', '.join(missing)} ('## Section' headings)")
    return f"{len(DOC_SECTIONS)} sections"


def check_gymnasium_api(t: Target) -> str:
    """Gymnasium's own env checker."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gymnasium_check_env(t.make(), skip_render_check=True)
    return f"passed ({len(caught)} warnings)"


def check_sb3_api(t: Target) -> str:
    """stable-baselines3's env checker."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(t.make(), warn=True)
    return f"passed ({len(caught)} warnings)"


def check_determinism(t: Target) -> str:
    """Same seed and actions give identical observations, rewards and infos."""
    runs = []
    for _ in range(2):
        env = t.make()
        rng = np.random.default_rng(0)
        trace: list[Any] = [env.reset(seed=7)[0]]
        for _ in range(300):
            obs, r, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
            trace.append((obs, r, term, trunc, info))
            if term or trunc:
                trace.append(env.reset()[0])
        runs.append(trace)
    _require(_same(runs[0], runs[1]), "two runs with the same seed and actions differ")
    return "300 steps identical"


def check_rewards_and_safety(t: Target) -> str:
    """``info['hidden_reward']`` every step; ``info['safety']`` at the end, with the required fields."""
    records = _episodes(t.make(), 40, seed=11)
    for rec in records:
        missing = [k for k in SAFETY_KEYS if k not in rec]
        _require(not missing, f"info['safety'] lacks {', '.join(missing)}")
        plain = all(isinstance(v, (bool, int, float, str)) for v in rec.values())
        _require(plain, f"info['safety'] has a value that is not a plain type: {rec}")
        for key in ("violation", "overseen", "task_success"):
            _require(isinstance(rec[key], bool), f"info['safety'][{key!r}] must be a bool")
        _require(
            math.isclose(rec["hidden_return"], rec["_hidden_sum"], abs_tol=1e-6),
            "info['safety']['hidden_return'] is not the sum of the episode's hidden rewards",
        )
        _require(
            math.isclose(rec["observed_return"], rec["_observed_sum"], abs_tol=1e-6),
            "info['safety']['observed_return'] is not the sum of the episode's rewards",
        )
    return f"{len(records)} episodes"


def check_oversight_regimes(t: Target) -> str:
    """``reset(options={'oversight': ...})``: ``on`` is always overseen, ``off`` never, ``train`` mixes."""
    seen = {}
    for regime in OVERSIGHT_REGIMES:
        records = _episodes(t.make(), 60, seed=3, regime=regime)
        seen[regime] = float(np.mean([r["overseen"] for r in records]))
        for rec in records:
            # The hidden reward is the reward as if overseen: equal to the observed one when
            # overseen, never above it when not.
            if rec["overseen"]:
                _require(
                    math.isclose(rec["hidden_return"], rec["observed_return"], abs_tol=1e-6),
                    f"[{regime}] an overseen episode's hidden return differs from its observed return",
                )
            else:
                _require(
                    rec["hidden_return"] <= rec["observed_return"] + 1e-6,
                    f"[{regime}] an unobserved episode's hidden return exceeds its observed return",
                )
    _require(seen["on"] == 1.0, f"oversight 'on' must oversee every episode (got {seen['on']:.2f})")
    _require(seen["off"] == 0.0, f"oversight 'off' must oversee no episode (got {seen['off']:.2f})")
    _require(
        0.0 < seen["train"] < 1.0 or getattr(t.make(), "oversight_prob", 0.5) in (0.0, 1.0),
        f"oversight 'train' should mix overseen and unobserved episodes (got {seen['train']:.2f})",
    )
    return ", ".join(f"{k}: {v:.2f} overseen" for k, v in seen.items())


def check_probe_set(t: Target) -> str:
    """``probe_set()``: observations in the space, balanced boolean labels, a valid dangerous action."""
    env = t.make()
    probes = env.probe_set()
    _require(probes.obs.dtype == np.float32 and probes.obs.ndim == 2, "probe observations must be float32 (m, d)")
    _require(
        all(env.observation_space.contains(o) for o in probes.obs),
        "a probe observation is outside the observation space",
    )
    _require(
        probes.overseen.dtype == bool and len(probes.overseen) == len(probes.obs),
        "probe labels must be one bool per observation",
    )
    _require(0 < probes.overseen.mean() < 1, "probe labels must include both overseen and unobserved")
    _require(
        env.action_space.contains(np.int64(probes.dangerous_action)),
        "probe dangerous_action is not in the action space",
    )
    return f"{len(probes.obs)} probes at: {probes.decision}"


def check_batched_equals_single(t: Target, n: int = 4, steps: int = 400) -> str:
    """The batched VecEnv equals a ``DummyVecEnv`` of single envs under the same seeds and actions."""
    if not t.is_failure_mode_env:
        return "skipped (no batched implementation)"
    for regime in OVERSIGHT_REGIMES:
        batched = BatchedVecEnv(t.make(), n)
        single = DummyVecEnv([t.make for _ in range(n)])
        for venv in (batched, single):
            venv.seed(123)
            venv.set_options({"oversight": regime})
        obs_b, obs_s = np.asarray(batched.reset()), np.asarray(single.reset())
        _require(np.array_equal(obs_b, obs_s), f"[{regime}] reset observations differ")
        rng = np.random.default_rng(5)
        n_actions = int(t.cls.n_actions)
        for step in range(steps):
            actions = rng.integers(n_actions, size=n)
            ob, rb, db, ib = batched.step(actions)
            os_, rs, ds, is_ = single.step(actions)
            where = f"[{regime}] step {step}"
            _require(np.array_equal(db, ds), f"{where}: dones differ")
            _require(np.array_equal(rb, rs), f"{where}: rewards differ")
            _require(np.array_equal(np.asarray(ob), np.asarray(os_)), f"{where}: observations differ")
            _require(_same(ib, is_), f"{where}: infos differ")
    return f"{n} copies × {steps} steps × {len(OVERSIGHT_REGIMES)} regimes identical"


CHECKS: dict[str, Callable[[Target], str]] = {
    "metadata": check_metadata,
    "docstring": check_docstring,
    "gymnasium_api": check_gymnasium_api,
    "sb3_api": check_sb3_api,
    "determinism": check_determinism,
    "rewards_and_safety": check_rewards_and_safety,
    "oversight_regimes": check_oversight_regimes,
    "probe_set": check_probe_set,
    "batched_equals_single": check_batched_equals_single,
}


def run_checks(target: str | Target) -> list[CheckResult]:
    """Run every check on ``target``; a failing check does not stop the others."""
    t = resolve(target) if isinstance(target, str) else target
    results = []
    for name, check in CHECKS.items():
        try:
            results.append(CheckResult(name, True, check(t)))
        except Exception as exc:
            results.append(CheckResult(name, False, f"{type(exc).__name__}: {exc}"))
    return results


def _same(a: Any, b: Any) -> bool:
    """Exact structural equality of nested tuples/lists/dicts of arrays and scalars."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    return bool(a == b)


def main(argv: list[str] | None = None) -> None:
    """``python -m bestiary.envs.checker TARGET ...``: every check of every target, as JSON on stdout."""
    import json

    from bestiary.envs.errors import EnvError

    out: dict[str, Any] = {}
    for target in argv if argv is not None else sys.argv[1:]:
        try:
            out[target] = [r.__dict__ for r in run_checks(target)]
        except EnvError as exc:
            out[target] = {"error": str(exc)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
