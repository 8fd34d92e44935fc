"""The live runs of a group as stacked tensors (`RunStack`): what `training.batched` trains in one batched
computation. Layer l of every run is one slice of a stacked weight (G, in, out); each run keeps its own
initialisation (`build_mlp` under its seed), dropout generator and optimiser state. `activation_stats`
measures the stack's hidden layers on a probe batch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.optim.adam as torch_adam

from denselab.models.mlp import ACTIVATIONS, build_mlp, linear_layers

ADAM_DEFAULTS = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}  # torch.optim.Adam's
# Sigmoid unit counted as saturated when its output is this close to 0 or 1 (there sigma' < 0.02).
SATURATION_MARGIN = 0.02


@dataclass(frozen=True)
class Member:
    """One run of a group: what it does differently from the others."""

    activation: str
    """Hidden-layer activation (a `models.mlp.ACTIVATIONS` name)."""
    init: str
    """Weight initialisation (a `models.mlp.INITS` name)."""
    init_std: float
    """Standard deviation of the `normal` initialisation."""
    dropout: tuple[float, ...]
    """Dropout rate on each weight layer's input (all zero: no dropout)."""
    optimizer: str
    """`sgd` (plain: no momentum, no weight decay) or `adam` (torch defaults apart from lr)."""
    lr: float | None
    """Learning rate; None = the optimiser's default (SGD: 1.0, as `make_optimizer`; Adam: 1e-3)."""
    seed: int
    """Seeds the run's initialisation, dropout masks and data order."""


# ------------------------------------------------------------------------------------------------ the stack


class RunStack:
    """The live runs of a group, in stacked order: weights (G, in, out), biases (G, 1, out), Adam moments,
    dropout generators, and contiguous segments of runs sharing an activation or an (optimiser, lr)."""

    def __init__(self, members: Sequence[Member], widths: Sequence[int], device: str | torch.device):
        # stacked order groups equal activations and optimisers so every segment is a slice along dim 0
        self.ids = sorted(
            range(len(members)),
            key=lambda i: (
                members[i].activation,
                members[i].optimizer,
                members[i].lr if members[i].lr is not None else -1.0,
            ),
        )
        self.members = [members[i] for i in self.ids]
        weights, biases, self.gens = [], [], []
        for m in self.members:
            with torch.random.fork_rng(devices=[]):
                # the run alone: seed_everything(seed), then build_mlp draws the init from the global RNG,
                # then Dropout draws masks from it; the run's own generator continues that stream
                torch.manual_seed(m.seed)
                model = build_mlp(widths, m.activation, m.init, 0.0, init_std=m.init_std)
                gen = torch.Generator()
                gen.set_state(torch.get_rng_state())
            self.gens.append(gen)
            layers = linear_layers(model)
            weights.append([l.weight.detach().t() for l in layers])  # (in, out): x @ W
            biases.append([l.bias.detach().unsqueeze(0) for l in layers])
        n_layers = len(widths) - 1
        self.w = [torch.stack([w[l] for w in weights]).to(device).requires_grad_() for l in range(n_layers)]
        self.b = [torch.stack([b[l] for b in biases]).to(device).requires_grad_() for l in range(n_layers)]
        adam = any(m.optimizer == "adam" for m in self.members)
        params = self.w + self.b
        self.exp_avg = [torch.zeros_like(p) for p in params] if adam else []
        self.exp_avg_sq = [torch.zeros_like(p) for p in params] if adam else []
        self.steps = 0
        self._segments()

    def _segments(self) -> None:
        def runs(key) -> list[tuple[Any, int, int]]:
            out: list[tuple[Any, int, int]] = []
            for i, m in enumerate(self.members):
                k = key(m)
                if out and out[-1][0] == k:
                    out[-1] = (k, out[-1][1], i + 1)
                else:
                    out.append((k, i, i + 1))
            return out

        self.act_segments = [(ACTIVATIONS[a](), s, e) for a, s, e in runs(lambda m: m.activation)]
        self.opt_segments = runs(lambda m: (m.optimizer, m.lr))
        rates = torch.tensor([m.dropout for m in self.members], dtype=torch.float64).reshape(
            len(self.members), -1
        )
        dropped = torch.clamp(torch.round(rates * 65536), max=65535)  # as models.mlp.Dropout
        self.drop_layers = [l for l in range(rates.shape[1]) if bool((rates[:, l] > 0).any())]
        self.drop_threshold = (dropped - 32768).to(torch.int16)  # (G, L); rate 0 -> -32768: keep everything
        self.drop_scale = (65536 / (65536 - dropped)).to(torch.float32)

    def __len__(self) -> int:
        return len(self.members)

    def keep(self, rows: Sequence[int]) -> None:
        """Drop every run not in `rows` (positions in stacked order) from the group."""
        if not rows:
            self.ids, self.members, self.gens = [], [], []
            return
        idx = torch.tensor(list(rows), dtype=torch.long, device=self.w[0].device)
        with torch.no_grad():
            self.w = [p.index_select(0, idx).requires_grad_() for p in self.w]
            self.b = [p.index_select(0, idx).requires_grad_() for p in self.b]
            self.exp_avg = [t.index_select(0, idx) for t in self.exp_avg]
            self.exp_avg_sq = [t.index_select(0, idx) for t in self.exp_avg_sq]
        self.ids = [self.ids[i] for i in rows]
        self.members = [self.members[i] for i in rows]
        self.gens = [self.gens[i] for i in rows]
        self._segments()

    def activate(self, z: torch.Tensor) -> torch.Tensor:
        """Each run's hidden activation on its slice of z (G, N, width)."""
        if len(self.act_segments) == 1:
            return self.act_segments[0][0](z)
        return torch.cat([fn(z[s:e]) for fn, s, e in self.act_segments])

    def forward(self, x: torch.Tensor, train: bool = False, hidden: list | None = None) -> torch.Tensor:
        """Logits (G, N, classes) of every run for its inputs x (G, N, in) or shared inputs x (N, in).

        `train` applies each run's dropout; `hidden` (a list) collects each hidden layer's (G, N, width)."""
        h = x
        last = len(self.w) - 1
        for l, (w, b) in enumerate(zip(self.w, self.b)):
            if train and l in self.drop_layers:
                h = h * self._dropout_keep(h.shape[1:], l)
            if h.dim() == 2:  # inputs shared by every run (evaluation, probes)
                z = torch.matmul(h, w).add_(b)
            else:
                z = torch.baddbmm(b, h, w)
            h = z if l == last else self.activate(z)
            if hidden is not None and l < last:
                hidden.append(h)
        return h

    def _dropout_keep(self, shape: torch.Size, layer: int) -> torch.Tensor:
        """(G, *shape) float mask already scaled by 1 / (1 - p): the words `models.mlp.Dropout` draws, per
        run."""
        n = math.prod(shape)
        words = (n + 3) // 4
        bits = torch.empty(len(self), words * 4, dtype=torch.int16)
        thresholds = self.drop_threshold[:, layer]
        for r, gen in enumerate(self.gens):
            if (
                thresholds[r] > -32768
            ):  # a run without dropout on this layer draws nothing (it has no Dropout)
                bits[r].view(torch.int64).random_(-(2**63), None, generator=gen)
        bits = bits[:, :n].reshape(len(self), *shape).to(self.w[0].device)
        view = (len(self),) + (1,) * len(shape)
        keep = torch.ge(bits, thresholds.view(view).to(bits.device)).to(self.w[0].dtype)
        return keep.mul_(self.drop_scale[:, layer].view(view).to(keep.device))

    @torch.no_grad()
    def step(self) -> None:
        """One optimiser step of every run on its own slice (torch's SGD and fused-Adam updates)."""
        self.steps += 1
        params = self.w + self.b
        for (opt, lr), s, e in self.opt_segments:
            # one tensor per run and layer, never a slice of several runs: an elementwise kernel splits each
            # tensor into vector lanes and a scalar tail, whose roundings differ, so a run's bits would depend
            # on where its elements fall in a longer tensor, i.e. on the group
            def rows(ts: list[torch.Tensor]) -> list[torch.Tensor]:
                return [t[r] for t in ts for r in range(s, e)]

            ps, gs = rows(params), rows([p.grad for p in params])
            if opt == "sgd":
                torch._foreach_add_(ps, gs, alpha=-(1.0 if lr is None else lr))
            elif opt == "adam":
                steps = [torch.tensor(float(self.steps - 1)) for _ in ps]  # adam() adds 1 before using it
                torch_adam.adam(
                    ps,
                    gs,
                    rows(self.exp_avg),
                    rows(self.exp_avg_sq),
                    [],
                    steps,
                    fused=True,
                    amsgrad=False,
                    beta1=ADAM_DEFAULTS["beta1"],
                    beta2=ADAM_DEFAULTS["beta2"],
                    lr=ADAM_DEFAULTS["lr"] if lr is None else lr,
                    weight_decay=0.0,
                    eps=ADAM_DEFAULTS["eps"],
                    maximize=False,
                )
            else:
                raise ValueError(f"unknown optimizer {opt!r} (choose from sgd, adam)")


@torch.no_grad()
def activation_stats(stack: RunStack, x: torch.Tensor) -> list[dict[str, list[float]]]:
    """Per run: statistics of every hidden layer's output on the probe batch x (N, in), eval mode.

    `mean`, `std` over units and images; sigmoid runs add `saturated` (fraction of outputs within
    SATURATION_MARGIN of 0 or 1), ReLU runs add `dead` (fraction of units zero for every probe image) and
    `zero` (fraction of outputs exactly zero)."""
    hidden: list[torch.Tensor] = []
    stack.forward(x, hidden=hidden)
    dims = (1, 2)
    # run by run in float64: a diverging run's outputs (~1e35) would overflow float32's squares, and how a
    # reduction over the whole stack meets that overflow depends on the group's size; a run's numbers must not
    mean = [[float(a[r].double().mean()) for a in hidden] for r in range(len(stack.members))]  # (G, layers)
    std = [[float(a[r].double().std()) for a in hidden] for r in range(len(stack.members))]
    sat = torch.stack(
        [((a < SATURATION_MARGIN) | (a > 1 - SATURATION_MARGIN)).float().mean(dims) for a in hidden], 1
    ).tolist()
    dead = torch.stack([(a <= 0).all(1).float().mean(1) for a in hidden], 1).tolist()
    zero = torch.stack([(a <= 0).float().mean(dims) for a in hidden], 1).tolist()
    out = []
    for r, m in enumerate(stack.members):
        stats = {"mean": mean[r], "std": std[r]}
        if m.activation == "sigmoid":
            stats["saturated"] = sat[r]
        if m.activation == "relu":
            stats.update(dead=dead[r], zero=zero[r])
        out.append(stats)
    return out
