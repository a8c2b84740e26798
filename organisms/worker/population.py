"""Population training: P organisms of one shape trained as one batched computation, with PPO as SB3 does it.

Every organism has its own environment copies (its own knobs and seed: copy ``i`` of an
organism seeded ``s`` is seeded ``s + i``, as in stable-baselines3), its own torch
generator (initial weights, action sampling, minibatch order), its own advantage
normalisation, loss, gradient clipping and Adam state. Only the arithmetic is shared:
each layer of every organism is one batched matrix product, and the environments of all
organisms step in one numpy call per configuration, their safety records kept as arrays.

The algorithm is SB3's ``PPO.learn`` with the same hyperparameters, step for step:
rollouts of ``n_steps`` × ``n_envs`` with the time-limit bootstrap, GAE(γ, λ), ``n_epochs``
passes of shuffled minibatches of ``batch_size`` with per-minibatch advantage
normalisation (unbiased std + 1e-8), the clipped surrogate, the value MSE (``vf_coef``),
the entropy bonus (``ent_coef``), gradient norms clipped to ``max_grad_norm`` per organism,
and Adam (eps 1e-5; torch's fused kernel, which rounds differently from the default one
SB3 steps, by about 1e-6 after 300 steps). The networks are stored zero-padded to
multiples of 16 units, which computes nothing but changes the order of sums (rounding
again). Beyond rounding, the differences are in random streams only, so an organism is
statistically, not bitwise, the one SB3 would train from the same seed:

- actions are sampled by the Gumbel-max trick from uniforms drawn per rollout from the
  organism's generator (SB3: ``torch.multinomial`` on the global generator);
- initial weights are orthogonal draws from the organism's generator (SB3 draws them
  from the global generator after torch's default initialisation has consumed some);
- minibatches are a ``torch.randperm`` of the organism's generator (SB3: numpy's global).

An organism does not depend on the others in its population: its experience comes from
its own generator and environments, and its update from its own minibatches; every
reduction runs along one organism's own rows. What remains is the rounding of MKL's batched
products, which depends on a slice's place in the stack (alternate entries are computed
differently, even with every slice 4 KiB-aligned): organism 0 trains bit for bit as it
would alone (tested), another place may differ in the last bits
(so a trial retried alone, or in a resumed sweep's regrouped population, is the same
organism to float precision, not bitwise; over long training such differences can grow).
``benchmarks/population_equivalence.py`` checks that the two trainers learn the same thing.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from gymnasium.utils import seeding

from bestiary import envs
from bestiary.envs.simulator import Simulator, regime_code
from bestiary.organisms.errors import OrganismError
from bestiary.organisms.protocol import TrainRow
from bestiary.organisms.streams import stream_base
from bestiary.organisms.worker.stacked import StackedAdam, StackedPolicy

#: Inputs and hidden layers are stored padded to a multiple of this many units (MKL's products are
#: much faster on such sizes; the padding computes nothing: organisms/worker/stacked.py).
PAD = 16

#: PPO hyperparameters the population trainer implements (SB3's names), with SB3's defaults.
SUPPORTED = {
    "n_steps": 2048, "batch_size": 64, "n_epochs": 10, "learning_rate": 3e-4, "ent_coef": 0.0, "gamma": 0.99,
    "gae_lambda": 0.95, "clip_range": 0.2, "vf_coef": 0.5, "max_grad_norm": 0.5, "normalize_advantage": True,
}  # fmt: skip


@dataclass
class Member:
    """One organism of a population: its environment, seed and training regime."""

    env_id: str
    env_kwargs: dict[str, Any]
    seed: int
    oversight: str = "train"


@dataclass
class Curve:
    """One organism's learning curve: a row per rollout, like SB3's callback writes ``train.csv``."""

    rows: list[TrainRow] = field(default_factory=list)
    episodes: int = 0


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the kernel.

    The population's tensors are large and short-lived; by default glibc serves each from
    fresh pages (``mmap``) and gives them back on free, so every minibatch pays for page
    faults — about 40 % of the update at 1e4 parameters. With ``mmap`` off and trimming
    raised, freed blocks are reused. Returns False where there is no glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))


def hyperparameters(hp: dict[str, Any]) -> dict[str, Any]:
    """SB3's defaults overlaid with ``hp``.

    Raises:
        OrganismError: For a PPO option the population trainer does not implement.
    """
    unknown = sorted(set(hp) - set(SUPPORTED) - {"policy_kwargs"})
    if unknown or hp.get("policy_kwargs"):
        raise OrganismError(
            f"the population trainer does not implement {', '.join(unknown) or 'policy_kwargs'}; "
            f"train these organisms with trainer: sb3"
        )
    return {**SUPPORTED, **hp}


class Population:
    """P organisms of one architecture, trained together.

    Args:
        members: The organisms (same environment class and observation size).
        width: Units per hidden layer.
        depth: Hidden layers.
        activation: ``relu`` or ``tanh``.
        n_envs: Environment copies per organism.
        hp: PPO hyperparameters (SB3 names; see :data:`SUPPORTED`).
        pad: Networks stored padded to a multiple of this many units (the same arithmetic on
            the real units; see :class:`~bestiary.organisms.worker.stacked.StackedMLP`).
    """

    def __init__(
        self,
        members: list[Member],
        width: int,
        depth: int,
        activation: str,
        n_envs: int,
        hp: dict[str, Any],
        pad: int = PAD,
    ) -> None:
        torch.set_num_threads(1)
        keep_freed_memory()
        self.members, self.hp, self.n_envs = members, hyperparameters(hp), n_envs
        self.P = len(members)
        self.generators = [torch.Generator().manual_seed(m.seed) for m in members]
        # Organisms of one environment configuration share a simulator (one numpy call per step).
        self.sims: list[tuple[Simulator, list[int]]] = []
        configs: dict[tuple, list[int]] = {}
        for i, m in enumerate(members):
            configs.setdefault((m.env_id, tuple(sorted(m.env_kwargs.items())), m.oversight), []).append(i)
        for (env_id, kwargs, oversight), idx in configs.items():
            definition = envs.make_definition(env_id, **dict(kwargs))
            sim = Simulator(definition, n_envs * len(idx))
            sim.regime[:] = regime_code(oversight)
            for j, i in enumerate(idx):  # copy c of member i is seeded base_i + c, as the SB3 trainer seeds its VecEnv
                base = stream_base(members[i].seed, "train")
                for c in range(n_envs):
                    sim.set_generator(j * n_envs + c, seeding.np_random(base + c)[0])
            sim.reset(np.arange(sim.n))
            self.sims.append((sim, idx))
        self.order = np.concatenate([idx for _, idx in self.sims])  # population slot of each simulator block
        self.obs_dim = int(definition.observation_space.shape[0])  # type: ignore[index]
        self.n_actions = int(definition.action_space.n)  # type: ignore[attr-defined]
        self.policy = StackedPolicy(self.obs_dim, self.n_actions, width, depth, activation, self.generators, pad)
        self.features = self.policy.in_features  # observations zero-padded to this many
        self.optimizer = StackedAdam(self.policy.parameters(), lr=self.hp["learning_rate"], eps=1e-5)
        self.num_timesteps = 0
        self.alive = torch.ones(self.P, dtype=torch.bool)
        self.curves = [Curve() for _ in members]
        self.last_obs = self._gather_obs([sim.current() for sim, _ in self.sims])
        self.episode_starts = torch.ones(self.P, n_envs)
        self.start_time = time.perf_counter()
        self.start_timesteps = 0  # where this process began training (later than 0 when handed over)

    def rows_of(self, i: int) -> tuple[Simulator, np.ndarray]:
        """Organism ``i``'s simulator and its copies' rows in it."""
        for sim, idx in self.sims:
            if i in idx:
                j = idx.index(i)
                return sim, np.arange(j * self.n_envs, (j + 1) * self.n_envs)
        raise IndexError(f"no organism {i} in a population of {self.P}")

    def _gather_obs(self, blocks: list[np.ndarray]) -> torch.Tensor:
        """Simulator blocks → ``(P, n_envs, features)`` in population order, zero-padded."""
        obs = np.concatenate(blocks).reshape(len(self.order), self.n_envs, -1)
        out = np.zeros((len(self.order), self.n_envs, self.features), dtype=np.float32)
        out[self.order, :, : obs.shape[2]] = obs
        return torch.from_numpy(out)

    # ----------------------------------------------------------------- rollout
    def collect(self) -> dict[str, torch.Tensor]:
        """One rollout of ``n_steps`` for every organism, with returns and advantages (GAE)."""
        n_steps, copies, P, A = self.hp["n_steps"], self.n_envs, self.P, self.n_actions
        gumbel = torch.stack([torch.rand(n_steps, A, copies, generator=g) for g in self.generators], 1)
        gumbel = -torch.log(-torch.log(gumbel.clamp_min(1e-20)))
        buf = {
            "obs": torch.empty(n_steps, P, copies, self.features),
            "actions": torch.empty(n_steps, P, copies, dtype=torch.long),
            "rewards": torch.empty(n_steps, P, copies),
            "starts": torch.empty(n_steps, P, copies),
            "values": torch.empty(n_steps, P, copies),
            "log_probs": torch.empty(n_steps, P, copies),
        }
        stats = np.zeros((6, P))  # episodes, observed, hidden, violations, unobserved episodes, unobserved violations
        for step in range(n_steps):
            obs = self.last_obs
            with torch.no_grad():
                features = obs.transpose(1, 2)  # feature-major (P, features, n_envs): see stacked.py
                logits = self.policy.actor(features)
                values = self.policy.critic(features).squeeze(1)
                actions = (logits + gumbel[step]).max(1).indices  # (argmax over a short dim is 30× slower)
                log_probs = torch.log_softmax(logits, 1).gather(1, actions.unsqueeze(1)).squeeze(1)
            rewards, ended, new_obs = self._step(actions, stats)
            buf["obs"][step], buf["actions"][step], buf["rewards"][step] = obs, actions, rewards
            buf["starts"][step], buf["values"][step], buf["log_probs"][step] = self.episode_starts, values, log_probs
            self.episode_starts = ended
            self.last_obs = new_obs
        self.num_timesteps += n_steps * copies
        with torch.no_grad():
            last_values = self.policy.critic(self.last_obs.transpose(1, 2)).squeeze(1)
        self._log(stats)
        buf["advantages"], buf["returns"] = self._gae(buf, last_values)
        return buf

    def _step(self, actions: torch.Tensor, stats: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        copies, gamma = self.n_envs, self.hp["gamma"]
        a = actions.numpy()
        rewards = torch.empty(self.P, copies)
        ended = torch.empty(self.P, copies)
        blocks, truncated_obs = [], []
        for sim, idx in self.sims:
            out = sim.step(a[idx].reshape(-1), records=False)
            rewards[idx] = torch.from_numpy(out.observed_reward.astype(np.float32)).view(len(idx), copies)
            ended[idx] = torch.from_numpy(out.ended.astype(np.float32)).view(len(idx), copies)
            ep = out.episodes
            if len(ep.idx):
                who = np.asarray(idx)[ep.idx // copies]
                unobserved = ~ep.overseen
                for row, values in enumerate(
                    (1.0, ep.observed_return, ep.hidden_return, ep.violation, unobserved, ep.violation & unobserved)
                ):
                    weights = np.broadcast_to(np.asarray(values, dtype=float), ep.idx.shape)
                    stats[row] += np.bincount(who, weights=weights, minlength=self.P)
            if out.truncated.any():  # SB3's time-limit bootstrap: r += γ V(terminal observation)
                t = np.flatnonzero(out.truncated)
                truncated_obs.append((np.asarray(idx)[t // copies], t % copies, out.obs[t]))
            blocks.append(sim.reset(np.flatnonzero(out.ended)) if out.ended.any() else out.obs)
        for who, copy, term_obs in truncated_obs:
            # Every organism's copies at once, whichever were truncated: a product whose width depended on the
            # other organisms' truncations would round differently, and an organism would not be the same
            # alone as in a population.
            x = torch.zeros(self.P, copies, self.features)
            x[who, copy, : self.obs_dim] = torch.from_numpy(term_obs)
            with torch.no_grad():
                v = self.policy.critic(x.transpose(1, 2))[who, 0, copy]
            rewards[who, copy] += gamma * v
        return rewards, ended, self._gather_obs(blocks)

    def _gae(self, buf: dict[str, torch.Tensor], last_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gamma, lam = self.hp["gamma"], self.hp["gae_lambda"]
        n_steps = buf["rewards"].shape[0]
        advantages = torch.empty_like(buf["rewards"])
        last = torch.zeros(self.P, self.n_envs)
        for step in reversed(range(n_steps)):
            if step == n_steps - 1:
                non_terminal, next_values = 1.0 - self.episode_starts, last_values
            else:
                non_terminal, next_values = 1.0 - buf["starts"][step + 1], buf["values"][step + 1]
            delta = buf["rewards"][step] + gamma * next_values * non_terminal - buf["values"][step]
            last = delta + gamma * lam * non_terminal * last
            advantages[step] = last
        return advantages, advantages + buf["values"]

    def _log(self, stats: np.ndarray) -> None:
        elapsed = max(time.perf_counter() - self.start_time, 1e-9)
        for i, curve in enumerate(self.curves):
            n, obs_ret, hid_ret, viol, unobs, unobs_viol = stats[:, i]
            if n == 0:
                continue
            curve.episodes += int(n)
            curve.rows.append(
                TrainRow(
                    timesteps=self.num_timesteps,
                    episodes=curve.episodes,
                    observed_return=obs_ret / n,
                    hidden_return=hid_ret / n,
                    violation_rate=viol / n,
                    violation_rate_unobserved=unobs_viol / unobs if unobs else float("nan"),
                    violation_rate_overseen=(viol - unobs_viol) / (n - unobs) if n > unobs else float("nan"),
                    steps_per_second=(self.num_timesteps - self.start_timesteps) / elapsed,
                )
            )

    # ------------------------------------------------------------------ update
    def update(self, buf: dict[str, torch.Tensor]) -> None:
        """``n_epochs`` passes of shuffled minibatches, as SB3's ``PPO.train``."""
        hp = self.hp
        N = hp["n_steps"] * self.n_envs
        # SB3 flattens the buffer copy-major ([n_envs, n_steps] → N) before shuffling. Observations are
        # kept as rows (P·N, features): a minibatch is one index_select, seen feature-major by transposing.
        obs = buf["obs"].permute(1, 2, 0, 3).reshape(self.P * N, self.features)
        used = ("actions", "log_probs", "advantages", "returns")  # what the loss reads (no value clipping)
        flat = {k: buf[k].permute(1, 2, 0).reshape(self.P, N) for k in used}
        offsets = (torch.arange(self.P) * N).unsqueeze(1)
        for _ in range(hp["n_epochs"]):
            perms = torch.stack([torch.randperm(N, generator=g) for g in self.generators])
            for start in range(0, N, hp["batch_size"]):
                idx = perms[:, start : start + hp["batch_size"]]
                mb = {k: v.gather(1, idx) for k, v in flat.items()}
                rows = obs.index_select(0, (idx + offsets).reshape(-1))
                mb["obs"] = rows.view(self.P, -1, self.features).transpose(1, 2)
                self.gradients(mb)
                self._clip_gradients(self.policy.grads())
                self.optimizer.step()
        self.alive &= self.policy.finite()

    def gradients(self, mb: dict[str, torch.Tensor]) -> torch.Tensor:
        """Each organism's PPO loss on its minibatch, ``(P,)``, with its gradients written into ``.grad``.

        The loss is SB3's; its gradients with respect to the logits and values are
        written out (``tests/organisms/test_population.py`` checks them against autograd)
        and passed back through the networks by hand, which is faster than autograd
        here because every layout stays feature-major and nothing is kept that is not needed.
        """
        hp = self.hp
        logits, actor_inputs = self.policy.actor.forward(mb["obs"])  # (P, n_actions, batch)
        values, critic_inputs = self.policy.critic.forward(mb["obs"])
        values = values.squeeze(1)
        batch = logits.shape[2]
        log_softmax = torch.log_softmax(logits, 1)
        probs = log_softmax.exp()
        actions = mb["actions"].unsqueeze(1)
        log_prob = log_softmax.gather(1, actions).squeeze(1)
        entropy = -(probs * log_softmax).sum(1)
        adv = mb["advantages"]
        if hp["normalize_advantage"] and batch > 1:
            adv = (adv - adv.mean(1, keepdim=True)) / (adv.std(1, keepdim=True) + 1e-8)
        ratio = torch.exp(log_prob - mb["log_probs"])
        clip = hp["clip_range"]
        unclipped, clipped = adv * ratio, adv * ratio.clamp(1 - clip, 1 + clip)
        surrogate = torch.min(unclipped, clipped)
        loss = (
            -surrogate.mean(1)
            - hp["ent_coef"] * entropy.mean(1)
            + hp["vf_coef"] * ((mb["returns"] - values) ** 2).mean(1)
        )
        # d loss / d log π(a): the surrogate's, where the unclipped term is the smaller (inside the clip
        # range both terms are equal and together carry the whole gradient, as torch.min's does).
        d_log_prob = -(unclipped * (unclipped <= clipped)) / batch
        d_logits = probs * (-d_log_prob).unsqueeze(1)
        d_logits.scatter_add_(1, actions, d_log_prob.unsqueeze(1))
        # d (−ent_coef · mean H) / d logits = ent_coef / batch · p (log p + H).
        d_logits += (hp["ent_coef"] / batch) * probs * (log_softmax + entropy.unsqueeze(1))
        d_values = (2 * hp["vf_coef"] / batch) * (values - mb["returns"])
        self.policy.actor.backward(d_logits, actor_inputs)
        self.policy.critic.backward(d_values.unsqueeze(1), critic_inputs)
        return loss

    def _clip_gradients(self, grads: list[torch.Tensor]) -> None:
        """``clip_grad_norm_`` per organism: each organism's gradient norm over all its parameters."""
        # Summed along rows, (P, tensors): a column sum over (tensors, P) is vectorised across organisms, and
        # rounds differently with P — an organism would not train the same alone as in a population.
        norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads], 1).sum(1).sqrt()
        coef = (self.hp["max_grad_norm"] / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))

    def learn(self, checkpoints: dict[int, list[int]]) -> Iterator[tuple[int, int]]:
        """Train until every organism has passed its last checkpoint, yielding each checkpoint as it is reached.

        Args:
            checkpoints: Organism slot → the timesteps at which to hand it over.

        Yields:
            ``(slot, timesteps)`` after the update in which the organism's ``num_timesteps``
            first reached a checkpoint (SB3's ``learn(T)`` stops there); training goes on
            when the caller asks for the next one.
        """
        pending = {i: sorted(c) for i, c in checkpoints.items()}
        while any(pending.values()):
            buf = self.collect()
            self.update(buf)
            for i, cps in pending.items():
                while cps and self.num_timesteps >= cps[0]:
                    yield i, cps.pop(0)
