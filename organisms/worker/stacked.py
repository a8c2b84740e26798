"""Stacked actor-critic networks: P organisms of one shape as batched tensors, in SB3's layout.

Each organism has the same architecture as stable-baselines3's ``ActorCriticPolicy`` with
``net_arch=dict(pi=[w]*d, vf=[w]*d)``: a policy MLP and a separate value MLP, each of
``depth`` hidden layers of ``width`` units, then a linear action head and value head.
Here every weight is one tensor of shape ``(P, out, in)`` (torch's ``Linear`` layout;
bias ``(P, out, 1)``), activations are *feature-major* ``(P, features, samples)``, and a
layer is one ``torch.baddbmm`` for all organisms. Feature-major matters: the narrow
heads (2 actions, 1 value) are 10–30× faster as ``W @ h`` than as ``h @ W`` in MKL, which
makes the whole update 1.2–2× faster (``benchmarks/train_throughput.py``). Initialisation follows SB3's
(orthogonal, gain √2 for hidden layers, 0.01 for the action head, 1 for the value head,
zero biases), drawn from each organism's own generator, and :meth:`StackedPolicy.state_dict_of`
gives one organism's weights under SB3's parameter names, so a population-trained
organism loads into an SB3 ``PPO`` model unchanged.
"""

from __future__ import annotations

import math

import torch

ACTIVATIONS = ("relu", "tanh")


def padded(n: int, pad: int) -> int:
    """``n`` rounded up to a multiple of ``pad``."""
    return -(-n // pad) * pad


def _back_through(w: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """``wᵀ d`` for stacked ``w`` (P, out, in) and ``d`` (P, out, N).

    Through a narrow layer (the heads: 1 or 2 outputs) it is a sum of outer products,
    computed as such: MKL takes 3× longer over a contraction of one or two terms.
    """
    wt = w.transpose(1, 2)
    if w.shape[1] > 2:
        return torch.bmm(wt, d)
    out = wt[:, :, :1] * d[:, :1]
    for j in range(1, w.shape[1]):
        out.addcmul_(wt[:, :, j : j + 1], d[:, j : j + 1])
    return out


class StackedMLP:
    """``len(sizes) - 1`` linear layers for P organisms, the activation between them (not after the last).

    The input and the hidden layers are stored zero-padded to a multiple of ``pad`` units
    (the output is not): MKL's products are up to 3× slower when a matrix side is not a
    multiple of 16 (the weight gradient of a 62 × 62 layer runs at 62 GFLOP/s, of a 64 × 64
    one at 89; ``benchmarks/train_throughput.py``). The padding changes nothing: a padded
    unit has zero weights in and out and a zero bias, so its activation is 0 (ReLU and tanh
    alike), its weights' gradients are 0, and Adam leaves them 0 (tested).

    Args:
        sizes: Layer sizes, input first.
        gains: Orthogonal-init gain of each layer.
        generators: One generator per organism (its initial weights come from it alone).
        activation: ``relu`` or ``tanh``.
        pad: Store the input and hidden layers padded to a multiple of this many units.
    """

    def __init__(
        self, sizes: list[int], gains: list[float], generators: list[torch.Generator], activation: str, pad: int = 1
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation {activation!r} is not one of {', '.join(ACTIVATIONS)}")
        self.activation = activation
        self.sizes = list(sizes)
        self.padded = [padded(n, pad) for n in sizes[:-1]] + [sizes[-1]]
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        p = len(generators)
        for k, gain in enumerate(gains):
            (n_in, n_out), shape = self.sizes[k : k + 2], (self.padded[k + 1], self.padded[k])
            w = torch.zeros(p, *shape)  # torch's Linear layout, as SB3 initialises it (in the top-left corner)
            for i, g in enumerate(generators):
                torch.nn.init.orthogonal_(w[i, :n_out, :n_in], gain=gain, generator=g)
            self.weights.append(w)
            self.biases.append(torch.zeros(p, shape[0], 1))
        # Gradients are computed by hand (backward below) into these, which the optimiser reads.
        for t in self.parameters():
            t.grad = torch.zeros_like(t)

    def parameters(self) -> list[torch.Tensor]:
        """Every stacked tensor (weights, then biases)."""
        return [*self.weights, *self.biases]

    def layer_of(self, i: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Organism ``i``'s weight and bias of layer ``k``, without the padding."""
        k = k % len(self.weights)
        n_in, n_out = self.sizes[k], self.sizes[k + 1]
        return self.weights[k][i, :n_out, :n_in].clone(), self.biases[k][i, :n_out, 0].clone()

    def _act(self, z: torch.Tensor) -> torch.Tensor:
        return z.relu_() if self.activation == "relu" else z.tanh_()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of shape ``(P, in, N)`` → ``(P, out, N)``."""
        return self.forward(x)[0]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The output and every layer's input (what :meth:`backward` needs)."""
        inputs = [x]
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            x = self._act(torch.baddbmm(b, w, x))
            inputs.append(x)
        return torch.baddbmm(self.biases[-1], self.weights[-1], x), inputs

    def backward(self, d_out: torch.Tensor, inputs: list[torch.Tensor]) -> None:
        """Write the gradients of a loss into every parameter's ``.grad``, from ``d loss / d output``.

        Args:
            d_out: ``(P, out, N)``.
            inputs: The layer inputs from :meth:`forward`.
        """
        d = d_out
        for k in range(len(self.weights) - 1, -1, -1):
            h = inputs[k]
            torch.bmm(d, h.transpose(1, 2), out=self.weights[k].grad)
            torch.sum(d, 2, keepdim=True, out=self.biases[k].grad)
            if k == 0:
                break
            d = _back_through(self.weights[k], d)  # d loss / d h, contiguous
            if self.activation == "relu":
                d = torch.ops.aten.threshold_backward(d, h, 0.0)
            else:
                d.mul_(1.0 - h * h)


class StackedPolicy:
    """The actor (policy MLP + action head) and critic (value MLP + value head) of P organisms.

    Args:
        obs_dim: Observation size.
        n_actions: Number of discrete actions.
        width: Units per hidden layer.
        depth: Hidden layers per network.
        activation: ``relu`` or ``tanh``.
        generators: One generator per organism.
        pad: Store inputs and hidden layers padded to a multiple of this many units (see
            :class:`StackedMLP`); observations are then given with :attr:`in_features` features.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        width: int,
        depth: int,
        activation: str,
        generators: list[torch.Generator],
        pad: int = 1,
    ) -> None:
        hidden = [obs_dim] + [width] * depth
        root2 = math.sqrt(2)
        # SB3 initialises the policy MLP, the value MLP, then the action head, then the value head.
        actor_hidden = [root2] * depth
        critic_hidden = [root2] * depth
        self.depth = depth
        self.actor = StackedMLP([*hidden, n_actions], [*actor_hidden, 0.01], generators, activation, pad)
        self.critic = StackedMLP([*hidden, 1], [*critic_hidden, 1.0], generators, activation, pad)
        self.in_features = self.actor.padded[0]

    @property
    def size(self) -> int:
        """Organisms stacked."""
        return int(self.actor.weights[0].shape[0])

    def parameters(self) -> list[torch.Tensor]:
        """Every stacked tensor of actor and critic."""
        return self.actor.parameters() + self.critic.parameters()

    def grads(self) -> list[torch.Tensor]:
        """Their gradients (written by the networks' ``backward``)."""
        return [p.grad for p in self.parameters()]  # type: ignore[misc]

    def state_dict_of(self, i: int) -> dict[str, torch.Tensor]:
        """Organism ``i``'s weights under SB3's ``ActorCriticPolicy`` names."""
        out: dict[str, torch.Tensor] = {}
        for name, net in (("policy_net", self.actor), ("value_net", self.critic)):
            for layer in range(self.depth):
                key = f"mlp_extractor.{name}.{2 * layer}"
                out[f"{key}.weight"], out[f"{key}.bias"] = net.layer_of(i, layer)
        out["action_net.weight"], out["action_net.bias"] = self.actor.layer_of(i, -1)
        out["value_net.weight"], out["value_net.bias"] = self.critic.layer_of(i, -1)
        return out

    def finite(self) -> torch.Tensor:
        """``(P,)`` True where every parameter of the organism is finite."""
        ok = torch.ones(self.size, dtype=torch.bool)
        for p in self.parameters():
            ok &= torch.isfinite(p).flatten(1).all(1)
        return ok


#: Per-organism sizes that are multiples of this are stepped by the fused kernel in whole vector blocks.
FUSED_BLOCK = 16


class StackedAdam:
    """``torch.optim.Adam(fused=True)`` over the stacked tensors, through torch's functional Adam.

    The same arithmetic as ``torch.optim.Adam(params, lr, eps=eps, fused=True).step()``
    (tested bit for bit), without the ``Optimizer`` object: constructing or stepping one
    imports ``torch._dynamo`` (about a second of every sandboxed process's start-up), which
    nothing here uses. The fused kernel is Adam in one pass over each tensor, 3.5× faster
    than the default CPU path here; the two differ in rounding only (by at most 1e-6 after
    300 steps; SB3 uses the default). Each organism's moments are its own slice of the
    stacked moments, as its parameters are.

    The fused kernel steps a tensor in vector blocks and its remainder elementwise, and the two
    round differently: a tensor whose per-organism size is not a multiple of 16 (an output
    head's bias, 1 or 2 units per organism) would then round one way alone and another in a
    population, depending only on how many organisms it stacks. Such tensors, a few elements
    each, take Adam's default single-tensor path, which rounds alike whatever the stack.

    Args:
        params: The tensors to update (their ``.grad`` holds the gradients).
        lr: Learning rate.
        eps: Adam's epsilon (SB3's PPO uses 1e-5).
        betas: Adam's decay rates.
    """

    def __init__(
        self, params: list[torch.Tensor], lr: float, eps: float = 1e-8, betas: tuple[float, float] = (0.9, 0.999)
    ) -> None:
        from torch.optim.adam import adam

        self._adam = adam
        self.params, self.lr, self.eps, self.betas = params, lr, eps, betas
        self.exp_avgs = [torch.zeros_like(p) for p in params]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in params]
        self.steps = [torch.tensor(0.0) for _ in params]  # Adam keeps the step count on the CPU, as float32
        whole = [i for i, p in enumerate(params) if p[0].numel() % FUSED_BLOCK == 0]
        self._fused, self._plain = whole, [i for i in range(len(params)) if i not in whole]

    def step(self) -> None:
        """One Adam step of every tensor from its ``.grad``."""
        for fused, idx in ((True, self._fused), (False, self._plain)):
            if not idx:
                continue
            params = [self.params[i] for i in idx]
            grads: list[torch.Tensor] = [p.grad for p in params]  # type: ignore[misc]
            with torch.no_grad():
                self._adam(
                    params, grads, [self.exp_avgs[i] for i in idx], [self.exp_avg_sqs[i] for i in idx], [],
                    [self.steps[i] for i in idx],
                    foreach=False, capturable=False, differentiable=False, fused=fused, grad_scale=None,
                    found_inf=None, has_complex=False, decoupled_weight_decay=False, amsgrad=False,
                    beta1=self.betas[0], beta2=self.betas[1], lr=self.lr, weight_decay=0.0, eps=self.eps,
                    maximize=False,
                )  # fmt: skip
