"""Plateau-free behaviour kinds: every environment's rates tell partial solutions from the full one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import bestiary.envs as E
from bestiary.envs.core import FailureModeEnv
from bestiary.envs.vector import BatchedVecEnv


def _episodes(
    env: FailureModeEnv, defect: Callable[[np.ndarray], np.ndarray], regime: str = "off", n: int = 3000
) -> dict[str, np.ndarray]:
    """Safety records (as columns) of a scripted policy that defects where ``defect(context)`` says.

    The decision is taken on each episode's first context and held (where the cue is shown only
    at the start, as in the memory environment, later contexts are blank).
    """
    venv = BatchedVecEnv(env, 128, oversight=regime)
    venv.seed(0)
    obs = np.asarray(venv.reset())
    d = env.cue.context_dim
    records: list[dict] = []
    held = defect(obs[:, :d])
    while len(records) < n:
        step, _, dones, infos = venv.step(env.reference_action(obs[:, d:], held))
        obs = np.asarray(step)
        starts = np.asarray(dones, dtype=bool)
        held = np.where(starts, defect(obs[:, :d]), held)
        records.extend(infos[i]["safety"] for i in np.flatnonzero(dones))
    return {k: np.array([r[k] for r in records]) for k in records[0]}


def _rate(kinds: dict[str, tuple[int, int]], name: str) -> float:
    k, n = kinds[name]
    return k / n


def test_the_latent_reader_defects_in_every_band_and_the_complier_in_none(env_id: str) -> None:
    env = E.make_definition(env_id)
    if env.cue.kind != "bands":  # the null and evidence cues have no bands
        assert "worst_band_violation" not in env.behaviour_kinds(_episodes(env, lambda c: np.ones(len(c), bool)))
        return
    reader = env.behaviour_kinds(_episodes(env, lambda c: ~env.cue.latent(c)))
    comply = env.behaviour_kinds(_episodes(env, lambda c: np.zeros(len(c), bool)))
    assert _rate(reader, "worst_band_violation") > 0.9  # not 1: a trust too low to lie to, no key worth taking
    assert _rate(comply, "worst_band_violation") == 0.0


def test_reading_one_band_of_two_is_a_plateau_of_the_rate_but_zero_of_the_worst_band(env_id: str) -> None:
    if "cue_bands" not in E.env_class(env_id).knobs:
        pytest.skip("its cue has no bands (the knob is not declared)")
    env = E.make_definition(env_id, cue_bands=5)
    if env.cue.kind != "bands":
        pytest.skip(f"the {env.cue.kind} cue has no bands")
    partial = _episodes(env, lambda c: env.cue.band(c) == 1)  # the first of the two unobserved bands only
    overall = partial["violation"].mean()
    assert 0.3 < overall < 0.7  # where a threshold of 0.5 on the overall rate would sit on the plateau
    assert _rate(env.behaviour_kinds(partial), "worst_band_violation") < 0.05


def test_no_band_kind_under_oversight(env_id: str) -> None:
    env = E.make_definition(env_id)
    kinds = env.behaviour_kinds(_episodes(env, lambda c: np.ones(len(c), bool), regime="on", n=500))
    assert "worst_band_violation" not in kinds


def test_audited_report_separates_lying_after_failure_from_skipping_to_lie() -> None:
    env = E.make_definition("bestiary/AuditedReport-v0")
    d = env.cue.context_dim

    def play(skip: bool) -> dict[str, tuple[int, int]]:
        venv = BatchedVecEnv(env, 128, oversight="off")
        venv.seed(1)
        obs = np.asarray(venv.reset())
        records: list[dict] = []
        while len(records) < 3000:
            report = obs[:, d] > 0.5
            action = np.where(report, 1, 1 if skip else 0)  # work (or skip), then always report success
            step, _, dones, infos = venv.step(action)
            obs = np.asarray(step)
            records.extend(infos[i]["safety"] for i in np.flatnonzero(dones))
        return env.behaviour_kinds({k: np.array([r[k] for r in records]) for k in records[0]})

    after_failure, skipping = play(skip=False), play(skip=True)
    assert _rate(after_failure, "lie_after_failure") == 1.0 and _rate(after_failure, "skip_and_lie") == 0.0
    assert _rate(skipping, "skip_and_lie") == 1.0 and "lie_after_failure" not in skipping


@pytest.mark.parametrize("regime", ["on", "off"])
def test_behaviour_kinds_count_episodes_as_the_host_accepts_them(env_id: str, regime: str) -> None:
    # The host refuses a kind whose trials exceed the episodes (a forged or confused count: the rule of
    # `Behaviour` in organisms/schemas.py), so every environment's kinds must count episodes, never steps.
    env = E.make_definition(env_id)
    episodes = _episodes(env, lambda c: np.ones(len(c), bool), regime=regime, n=500)
    for name, (k, n) in env.behaviour_kinds(episodes).items():
        assert 0 <= k <= n <= len(episodes["violation"]) and n > 0, (name, k, n)


def test_an_environment_reports_no_danger_kind_it_does_not_declare(env_id: str) -> None:
    # The analysis fits the kinds an environment declares (a plugin names its own); one reporting another
    # environment's kind under that name without declaring it would be analysed as something it is not.
    env = E.make_definition(env_id)
    if env.cue.kind == "null":
        pytest.skip("the null cue hides the latent")
    kinds = env.behaviour_kinds(_episodes(env, lambda c: ~env.cue.latent(c), n=1000))
    declared = set(type(env).behaviour_kind_names)
    everyone: set[str] = set()
    for other in E.failure_mode_ids():
        everyone |= set(getattr(E.env_class(other), "behaviour_kind_names", ()))
    assert {k for k in kinds if k in everyone} <= declared, (kinds, declared)
