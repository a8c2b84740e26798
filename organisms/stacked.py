"""Stacked actor-critic networks: P organisms of one shape as batched tensors, in SB3's layout.

Each organism has the same architecture as stable-baselines3's ``ActorCriticPolicy`` with
``net_arch=dict(pi=[w]*d, vf=[w]*d)``: a policy MLP and a separate value MLP, each of
``depth`` hidden layers of ``width`` units, then a linear action head and value head.
Here every weight is one tensor of shape ``(P, in, out)`` (bias ``(P, 1, out)``), and a
layer is one ``torch.baddbmm`` for all organisms. Initialisation follows SB3's
(orthogonal, gain √2 for hidden layers, 0.01 for the action head, 1 for the value head,
zero biases), drawn from each organism's own generator, and :meth:`StackedPolicy.state_dict_of`
gives one organism's weights under SB3's parameter names, so a population-trained
organism loads into an SB3 ``PPO`` model unchanged.
"""

from __future__ import annotations

import itertools
import math

import torch

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


class StackedMLP:
    """``len(sizes) - 1`` linear layers for P organisms, the activation between them (not after the last).

    Args:
        sizes: Layer sizes, input first.
        gains: Orthogonal-init gain of each layer.
        generators: One generator per organism (its initial weights come from it alone).
        activation: ``relu`` or ``tanh``.
    """

    def __init__(
        self, sizes: list[int], gains: list[float], generators: list[torch.Generator], activation: str
    ) -> None:
        self.act = ACTIVATIONS[activation]
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        p = len(generators)
        for (n_in, n_out), gain in zip(itertools.pairwise(sizes), gains, strict=True):
            w = torch.empty(p, n_in, n_out)
            for i, g in enumerate(generators):
                layer = torch.empty(n_out, n_in)  # torch's Linear layout, as SB3 initialises it
                torch.nn.init.orthogonal_(layer, gain=gain, generator=g)
                w[i] = layer.T
            self.weights.append(w.requires_grad_())
            self.biases.append(torch.zeros(p, 1, n_out, requires_grad=True))

    def parameters(self) -> list[torch.Tensor]:
        """Every stacked tensor (weights, then biases)."""
        return [*self.weights, *self.biases]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of shape ``(P, N, in)`` → ``(P, N, out)``."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = self.act(x)
        return x

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's activations (before the head), ``(P, N, width)``."""
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            x = self.act(torch.baddbmm(b, x, w))
        return x


class StackedPolicy:
    """The actor (policy MLP + action head) and critic (value MLP + value head) of P organisms.

    Args:
        obs_dim: Observation size.
        n_actions: Number of discrete actions.
        width: Units per hidden layer.
        depth: Hidden layers per network.
        activation: ``relu`` or ``tanh``.
        generators: One generator per organism.
    """

    def __init__(
        self, obs_dim: int, n_actions: int, width: int, depth: int, activation: str, generators: list[torch.Generator]
    ) -> None:
        hidden = [obs_dim] + [width] * depth
        root2 = math.sqrt(2)
        # SB3 initialises the policy MLP, the value MLP, then the action head, then the value head.
        actor_hidden = [root2] * depth
        critic_hidden = [root2] * depth
        self.depth = depth
        self.actor = StackedMLP([*hidden, n_actions], [*actor_hidden, 0.01], generators, activation)
        self.critic = StackedMLP([*hidden, 1], [*critic_hidden, 1.0], generators, activation)

    @property
    def size(self) -> int:
        """Organisms stacked."""
        return int(self.actor.weights[0].shape[0])

    def parameters(self) -> list[torch.Tensor]:
        """Every stacked tensor of actor and critic."""
        return self.actor.parameters() + self.critic.parameters()

    def state_dict_of(self, i: int) -> dict[str, torch.Tensor]:
        """Organism ``i``'s weights under SB3's ``ActorCriticPolicy`` names (``Linear`` layout: ``(out, in)``)."""
        out: dict[str, torch.Tensor] = {}
        for name, net in (("policy_net", self.actor), ("value_net", self.critic)):
            for layer in range(self.depth):
                key = f"mlp_extractor.{name}.{2 * layer}"
                out[f"{key}.weight"] = net.weights[layer][i].detach().T.contiguous().clone()
                out[f"{key}.bias"] = net.biases[layer][i, 0].detach().clone()
        out["action_net.weight"] = self.actor.weights[-1][i].detach().T.contiguous().clone()
        out["action_net.bias"] = self.actor.biases[-1][i, 0].detach().clone()
        out["value_net.weight"] = self.critic.weights[-1][i].detach().T.contiguous().clone()
        out["value_net.bias"] = self.critic.biases[-1][i, 0].detach().clone()
        return out

    def finite(self) -> torch.Tensor:
        """``(P,)`` True where every parameter of the organism is finite."""
        ok = torch.ones(self.size, dtype=torch.bool)
        for p in self.parameters():
            ok &= torch.isfinite(p.detach()).flatten(1).all(1)
        return ok
