"""The population trainer: its hand-written gradients, SB3-compatible organisms, independence, failure isolation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from bestiary.organisms import EvalSpec, TrialSpec, resolve, train_organism
from bestiary.organisms.worker.population import Member, Population
from bestiary.organisms.worker.sb3 import build_model, make_training_env
from bestiary.organisms.worker.stacked import StackedAdam

ENV = "bestiary/AuditedReport-v0"
HP = {"n_steps": 8, "batch_size": 64, "n_epochs": 2, "learning_rate": 1e-3, "ent_coef": 0.01, "gamma": 0.99,
      "gae_lambda": 0.95, "clip_range": 0.2}  # fmt: skip


def population(seeds: list[int], width: int = 5, activation: str = "relu", env: str = ENV) -> Population:
    return Population([Member(env, {}, s) for s in seeds], width, 2, activation, 16, dict(HP))


def autograd_loss(pop: Population, mb: dict[str, torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """SB3's PPO loss, written with autograd on copies of the population's parameters."""
    params = [p.detach().clone().requires_grad_() for p in pop.policy.parameters()]
    n = len(pop.policy.actor.weights)

    def mlp(x: torch.Tensor, ws: list[torch.Tensor], bs: list[torch.Tensor]) -> torch.Tensor:
        for w, b in zip(ws[:-1], bs[:-1], strict=True):
            z = torch.baddbmm(b, w, x)
            x = torch.relu(z) if pop.policy.actor.activation == "relu" else torch.tanh(z)
        return torch.baddbmm(bs[-1], ws[-1], x)

    actor_w, actor_b, critic_w, critic_b = params[:n], params[n : 2 * n], params[2 * n : 3 * n], params[3 * n :]
    logits = mlp(mb["obs"], actor_w, actor_b)
    values = mlp(mb["obs"], critic_w, critic_b).squeeze(1)
    dist = torch.distributions.Categorical(logits=logits.transpose(1, 2))
    log_prob, entropy = dist.log_prob(mb["actions"]), dist.entropy()
    adv = mb["advantages"]
    adv = (adv - adv.mean(1, keepdim=True)) / (adv.std(1, keepdim=True) + 1e-8)
    ratio = torch.exp(log_prob - mb["log_probs"])
    policy_loss = -torch.min(adv * ratio, adv * torch.clamp(ratio, 0.8, 1.2)).mean(1)
    value_loss = torch.nn.functional.mse_loss(mb["returns"], values, reduction="none").mean(1)
    loss = policy_loss - HP["ent_coef"] * entropy.mean(1) + 0.5 * value_loss
    loss.sum().backward()
    return loss.detach(), [p.grad for p in params]  # type: ignore[misc]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_hand_written_gradients_equal_autograd(activation: str) -> None:
    pop = population([0, 1, 2], activation=activation)
    for _ in range(3):  # move off the initial weights so the ratios are not all one
        pop.update(pop.collect())
    buf = pop.collect()
    n = buf["rewards"].shape[0] * pop.n_envs
    idx = torch.stack([torch.randperm(n, generator=torch.Generator().manual_seed(i))[:64] for i in range(pop.P)])
    obs = buf["obs"].permute(1, 2, 0, 3).reshape(pop.P, n, -1)
    mb = {k: v.permute(1, 2, 0).reshape(pop.P, n).gather(1, idx) for k, v in buf.items() if k != "obs"}
    mb["obs"] = torch.stack([obs[p, idx[p]] for p in range(pop.P)]).transpose(1, 2).contiguous()
    mb["log_probs"] = mb["log_probs"] + 0.3 * torch.randn_like(mb["log_probs"])  # ratios beyond the clip range too
    loss = pop.gradients(mb)
    expected_loss, expected_grads = autograd_loss(pop, mb)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-5, atol=1e-6)
    for got, want in zip(pop.policy.grads(), expected_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_an_organism_does_not_depend_on_its_population(env_id: str) -> None:
    # The same experience, bit for bit, whichever population a sweep puts an organism in; the weights to the last
    # bits only: MKL's batched products round alternate entries of a stack differently, so an organism's place
    # matters (nothing else couples organisms: reductions run along each organism's own rows).
    alone, together = population([7], env=env_id), population([3, 7, 11], env=env_id)
    for _ in range(3):
        a, b = alone.collect(), together.collect()
        for key in ("obs", "actions", "rewards", "starts"):
            assert torch.equal(a[key][:, 0], b[key][:, 1]), key
        for key in ("values", "log_probs", "advantages", "returns"):
            torch.testing.assert_close(a[key][:, 0], b[key][:, 1], rtol=1e-5, atol=1e-6)
        alone.update(a)
        together.update(b)
        for x, y in zip(alone.policy.parameters(), together.policy.parameters(), strict=True):
            torch.testing.assert_close(x[0], y[1], rtol=1e-5, atol=1e-7)
    assert [r.violation_rate for r in alone.curves[0].rows] == [r.violation_rate for r in together.curves[1].rows]


@pytest.mark.parametrize("seeds", [[7, 3, 11, 5], [5, 1, 8, 13], [0, 1, 2, 3]])
def test_an_organism_in_the_same_place_of_its_population_trains_bit_for_bit_alike(seeds: list[int]) -> None:
    # Organism 0 of a population sits where an organism alone does: no reduction across organisms reaches it,
    # and no kernel rounds its slice differently for the size of the stack (the fused Adam's remainder did,
    # on the output heads' biases, for [5, 1, 8, 13]).
    alone, together = population(seeds[:1]), population(seeds)
    for _ in range(3):
        alone.update(alone.collect())
        together.update(together.collect())
    for x, y in zip(alone.policy.parameters(), together.policy.parameters(), strict=True):
        assert torch.equal(x[0], y[0])


def test_a_non_finite_organism_is_isolated() -> None:
    pop = population([0, 1, 2])
    pop.update(pop.collect())
    with torch.no_grad():
        pop.policy.actor.weights[0][1].fill_(float("nan"))
    healthy = [p[[0, 2]].clone() for p in pop.policy.parameters()]
    for _ in range(3):
        pop.update(pop.collect())
    assert pop.alive.tolist() == [True, False, True]
    for before, after in zip(healthy, pop.policy.parameters(), strict=True):
        assert torch.isfinite(after[[0, 2]]).all() and not torch.equal(before, after[[0, 2]])


def test_checkpoints_are_the_first_timesteps_of_one_run() -> None:
    pop = population([4])
    seen: list[tuple[int, int]] = []
    for _, t in pop.learn({0: [128 * 2, 128 * 5]}):
        seen.append((t, pop.num_timesteps))
    assert seen == [(256, 256), (640, 640)]


def test_an_organism_loads_into_sb3_and_acts_alike() -> None:
    pop = population([5], width=6)
    pop.update(pop.collect())
    trial = resolve(TrialSpec(env_id=ENV, width=6, seed=5, n_envs=16, hyperparameters=HP))
    model = build_model(trial, make_training_env(trial))
    model.policy.load_state_dict(pop.policy.state_dict_of(0))
    obs = torch.randn(10, trial.obs_dim)
    with torch.no_grad():
        dist = model.policy.get_distribution(obs)
        sb3_logits, sb3_values = dist.distribution.logits, model.policy.predict_values(obs).squeeze(1)
        x = torch.zeros(1, pop.features, 10)  # the population's networks take observations zero-padded
        x[0, : trial.obs_dim] = obs.T
        logits, values = pop.policy.actor(x)[0].T, pop.policy.critic(x)[0, 0]
    torch.testing.assert_close(torch.log_softmax(logits, 1), sb3_logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(values, sb3_values, rtol=1e-5, atol=1e-6)


def test_population_trials_train_in_the_sandbox_and_are_saved_like_sb3s(workdir) -> None:  # type: ignore[no-untyped-def]
    spec = TrialSpec(
        env_id=ENV, width=4, seed=1, timesteps=2048, n_envs=16, trainer="population",
        evaluation=EvalSpec(episodes=32, probes=32),
    )  # fmt: skip
    outcome = train_organism(spec, workdir / "pop")
    assert outcome.state == "done", (outcome.detail, outcome.stderr_tail)
    arch = json.loads((workdir / "pop" / "organism" / "architecture.json").read_text())
    assert arch["params"] == outcome.trial.params and outcome.card["trainer"] == "population"
    m = outcome.metrics
    assert m is not None and m["behaviour"]["off"]["episodes"] >= 32
    assert math.isfinite(m["precursors"]["latent_probe_accuracy"])
    rows = (workdir / "pop" / "train.csv").read_text().splitlines()
    assert len(rows) > 1 and np.isfinite([float(c) for c in rows[-1].split(",")]).all()


def test_stacked_adam_steps_bit_for_bit_as_torch_adam() -> None:
    """Fused where each organism's slice is whole vector blocks (16 elements), the default path elsewhere."""
    g = torch.Generator().manual_seed(0)
    ours = [torch.randn(4, 16, 16, generator=g), torch.randn(4, 2, 1, generator=g), torch.randn(4, 3, 5, generator=g)]
    fused_like = [p.clone().requires_grad_() for p in ours]
    default = [p.clone().requires_grad_() for p in ours]
    adam = StackedAdam(ours, lr=3e-4, eps=1e-5)
    references = (
        torch.optim.Adam(fused_like[:1], lr=3e-4, eps=1e-5, fused=True),
        torch.optim.Adam(fused_like[1:], lr=3e-4, eps=1e-5),
        torch.optim.Adam(default, lr=3e-4, eps=1e-5),
    )
    for _ in range(5):
        for a, b, c in zip(ours, fused_like, default, strict=True):
            a.grad = torch.randn(a.shape, generator=g)
            b.grad, c.grad = a.grad.clone(), a.grad.clone()
        adam.step()
        for reference in references:
            reference.step()
    for a, b, c in zip(ours, fused_like, default, strict=True):
        assert torch.equal(a, b.detach())
        torch.testing.assert_close(a, c.detach(), rtol=0, atol=1e-6)  # the default path: rounding apart


def test_a_population_process_does_not_import_torch_dynamo(workdir) -> None:  # type: ignore[no-untyped-def]
    """Importing torch._dynamo costs about a second of every sandboxed process; nothing here needs it."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import sys
        from bestiary.organisms import TrialSpec, EvalSpec, resolve
        from bestiary.organisms.worker.population import Member, Population
        from bestiary.organisms.worker.evaluate import evaluate
        from bestiary.organisms.worker.sb3 import evaluation_model
        pop = Population([Member({ENV!r}, {{}}, 0)], 4, 2, "relu", 16, {HP!r})
        list(pop.learn({{0: [256]}}))
        trial = resolve(TrialSpec(env_id={ENV!r}, width=4, seed=0, timesteps=256, n_envs=16,
                                  trainer="population", evaluation=EvalSpec(episodes=32, probes=32)))
        evaluate(evaluation_model(trial, pop.policy.state_dict_of(0)), trial)
        assert "torch._dynamo" not in sys.modules, "torch._dynamo was imported"
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=workdir)
    assert out.returncode == 0, out.stderr[-2000:]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_the_padding_of_the_networks_computes_nothing(activation: str) -> None:
    padded = population([3, 4], activation=activation)  # width 5 and 10 inputs, stored as 16 and 16
    plain = Population([Member(ENV, {}, s) for s in (3, 4)], 5, 2, activation, 16, dict(HP), pad=1)
    assert padded.features == 16 and plain.features == padded.obs_dim
    for pop in (padded, plain):
        for _ in range(3):
            pop.update(pop.collect())
    for net in (padded.policy.actor, padded.policy.critic):
        for k, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
            n_in, n_out = net.sizes[k], net.sizes[k + 1]
            assert not w[:, n_out:].any() and not w[:, :, n_in:].any() and not b[:, n_out:].any()
    for i in range(2):
        ours, theirs = padded.policy.state_dict_of(i), plain.policy.state_dict_of(i)
        for name, value in ours.items():
            torch.testing.assert_close(value, theirs[name], rtol=1e-4, atol=1e-5)
