"""A population's training run handed over at a checkpoint goes on as if it had never stopped."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from bestiary.organisms.worker.handover import HandoverError, load, restore, save
from bestiary.organisms.worker.population import Member, Population

ENV = "bestiary/AuditedReport-v0"
HP = {"n_steps": 8, "batch_size": 64, "n_epochs": 2, "learning_rate": 1e-3, "ent_coef": 0.01}
# Two environment configurations, so the organisms live in two simulators.
MEMBERS = [Member(ENV, {}, 3), Member(ENV, {"oversight_prob": 0.3}, 4), Member(ENV, {}, 5)]


def population(members: list[Member] = MEMBERS) -> Population:
    return Population(members, 5, 2, "relu", 4, dict(HP))


def identity(i: int) -> dict[str, Any]:
    return {"member": i, "width": 5}


def handed_over(at: int) -> dict[int, bytes]:
    pop, files = population(), {}
    for i, _ in pop.learn({i: [at] for i in range(pop.P)}):
        files[i] = save(pop, i, identity(i))
    return files


def test_a_handed_over_run_trains_on_bit_for_bit_as_an_unsplit_one() -> None:
    unsplit = population()
    list(unsplit.learn({i: [400] for i in range(unsplit.P)}))
    files = handed_over(150)  # not a multiple of a rollout (32 steps): handed over after the update that passed it
    resumed = population()
    restore(resumed, {i: load(files[i], resumed, i, identity(i)) for i in files})
    assert resumed.num_timesteps == 160
    list(resumed.learn({i: [400] for i in range(resumed.P)}))
    assert resumed.num_timesteps == unsplit.num_timesteps
    for a, b in zip(unsplit.policy.parameters(), resumed.policy.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(unsplit.optimizer.exp_avg_sqs, resumed.optimizer.exp_avg_sqs, strict=True):
        assert torch.equal(a, b)
    for a, b in zip(unsplit.curves, resumed.curves, strict=True):
        assert a.episodes == b.episodes and len(a.rows) == len(b.rows)
        for ra, rb in zip(a.rows, b.rows, strict=True):
            assert {k: v for k, v in ra.model_dump().items() if k != "steps_per_second"} == pytest.approx(
                {k: v for k, v in rb.model_dump().items() if k != "steps_per_second"}, nan_ok=True, rel=0, abs=0
            )


def test_a_handover_of_another_run_or_shape_is_refused() -> None:
    files = handed_over(64)
    fresh = population()
    with pytest.raises(HandoverError, match="another training run"):
        load(files[0], fresh, 0, identity(1))
    wider = Population(MEMBERS, 40, 2, "relu", 4, dict(HP))  # (stored padded to 16 and 48 units)
    with pytest.raises(HandoverError, match=r"param\.0 is torch.float32\[16, 16\], expected torch.float32\[48, 16\]"):
        load(files[0], wider, 0, identity(0))
    with pytest.raises(HandoverError, match="unreadable"):
        load(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ", fresh, 0, identity(0))
    with pytest.raises(HandoverError, match="every organism"):
        restore(fresh, {0: load(files[0], fresh, 0, identity(0))})


def test_handovers_taken_at_different_points_are_refused() -> None:
    early, late = handed_over(64), handed_over(128)
    fresh = population()
    states = {0: load(early[0], fresh, 0, identity(0))}
    states |= {i: load(late[i], fresh, i, identity(i)) for i in (1, 2)}
    with pytest.raises(HandoverError, match="different points"):
        restore(fresh, states)
