"""No two organisms share an environment stream (seeds are independent replicates)."""

from __future__ import annotations

import numpy as np
import pytest

from bestiary.organisms.spec import TrialSpec, resolve
from bestiary.organisms.streams import SCHEME, stream_base
from bestiary.organisms.worker.sb3 import make_training_env


def test_copy_seeds_of_different_organisms_never_coincide() -> None:
    copies = 64
    windows = {s: {stream_base(s, "train") + c for c in range(copies)} for s in range(20)}
    evals = {s: {stream_base(s, "eval") + c for c in range(copies)} for s in range(20)}
    every = [w for ws in (windows, evals) for w in ws.values()]
    union = set().union(*every)
    assert len(union) == sum(len(w) for w in every)  # no copy seed used twice, by any organism or purpose


def test_neighbouring_seeds_see_different_episodes() -> None:
    """Under SB3's seed + copy convention, seed 1's copy 0 replayed seed 0's copy 1."""
    first = {}
    for s in (0, 1):
        venv = make_training_env(resolve(TrialSpec(env_id="bestiary/AbsentSupervisor-v0", params=500, seed=s)))
        first[s] = np.asarray(venv.reset())
    assert not np.allclose(first[1][0], first[0][1])
    assert not any(np.allclose(first[1][i], first[0][j]) for i in range(4) for j in range(4))


def test_the_seeding_scheme_is_part_of_the_trial_identity() -> None:
    trial = resolve(TrialSpec(env_id="bestiary/AbsentSupervisor-v0", params=500, seed=0))
    assert trial.streams == SCHEME and trial.to_json()["streams"] == SCHEME


def test_unknown_purpose_is_refused() -> None:
    with pytest.raises(ValueError, match="valid: train, eval"):
        stream_base(0, "test")
