"""Every registered environment passes every property of ``bestiary envs check``."""

from __future__ import annotations

import pytest

from bestiary.envs.checker import CHECKS, resolve


@pytest.mark.parametrize("check", list(CHECKS))
def test_registered_env_passes_check(env_id: str, check: str) -> None:
    CHECKS[check](resolve(env_id))


def test_registry_covers_the_three_failure_modes() -> None:
    import bestiary.envs as E

    modes = {row.failure_mode for row in E.list_envs()}
    assert {"situational_awareness", "deception", "power_seeking"} <= modes


def test_registered_variants_share_dynamics_but_not_cue(env_id: str) -> None:
    import bestiary.envs as E

    env = E.make_definition(env_id)
    if env_id.endswith("NullCue-v0"):
        assert env.cue.kind == "null"
        assert env.cue.latent(env.probe_set().obs[:, : env.cue.context_dim]) is None
    else:
        # The probe labels are exactly what the cue encodes (bands), or what its Bayes decision mostly
        # recovers (pooled evidence: the latent is not a function of the context).
        probes = env.probe_set()
        decoded = env.cue.latent(probes.obs[:, : env.cue.context_dim])
        if env.cue.kind == "bands":
            assert (decoded == probes.overseen).all()
        else:
            assert (decoded == probes.overseen).mean() > 0.9
