"""Train a group of same-shaped fully connected classifiers as one batched computation.

Runs that share widths, batch size, epochs and data (Studies 3 and 4: seeds, arms, optimisers) are trained
together: layer l of every run is one slice of a stacked weight (G, in, out) and each matrix product is one
`torch.baddbmm` over the group, which keeps the cores busy where one 64-image product of one small net cannot.
Everything else stays per run, exactly as `build_mlp` + `fit` would do it alone:

- initialisation: each run's net is built by `build_mlp` under that run's seed, then its weights are stacked;
- data order: each run's own generator draws each epoch's permutation (`batch_indices`' order);
- dropout masks: each run's own generator, continuing from where its initialisation left the global RNG, draws
  the same 16-bit words `models.mlp.Dropout` would;
- optimiser state: plain SGD or Adam (torch's fused kernel, the one `make_optimizer` uses) on the run's slice;
  Adam is elementwise, so a batched step is each run's own step;
- divergence: a run whose loss goes non-finite is recorded at that step and dropped from the group; the others go
  on;
- probes: per-layer weight-gradient norms every step, activation statistics at probe steps, the loss trace.

A group of one is the single-run path: "alone" and "in a group" are the same code at G = 1 and G = N.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.optim.adam as torch_adam
from torch import nn
from tqdm.auto import tqdm

from denselab.models.mlp import ACTIVATIONS, build_mlp, linear_layers

# Sigmoid unit counted as saturated when its output is this close to 0 or 1 (there sigma' < 0.02).
SATURATION_MARGIN = 0.02
ADAM_DEFAULTS = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}  # torch.optim.Adam's
EVAL_ROWS = 6144  # images x runs per evaluation chunk: (G, rows / G, width) activations stay below 32 MiB

Data = tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


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


@dataclass(frozen=True)
class Shape:
    """What every run of a group shares."""

    widths: tuple[int, ...]
    """Layer sizes, input first, logits last."""
    epochs: int
    """Training epochs."""
    batch_size: int
    """Images per optimiser step."""
    eval_train: bool
    """Re-measure train loss/accuracy in eval mode after each epoch (else: running means over the epoch)."""
    probe_size: int
    """Training images the activation statistics are measured on."""
    trace_steps: int
    """Steps at the start whose loss and per-layer gradient norms are recorded one by one."""


def probe_steps(total_steps: int) -> dict[int, str]:
    """0-based global steps to probe -> label: the first step, step 10, the middle and the last step."""
    points = {
        0: "step 1",
        min(9, total_steps - 1): "step 10",
        total_steps // 2: "middle",
        total_steps - 1: "end",
    }
    return dict(sorted(points.items()))


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
                # the run alone: seed_everything(seed), then build_mlp draws the init from the global RNG, then
                # Dropout draws masks from it; the run's own generator continues that stream
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
        """(G, *shape) float mask already scaled by 1 / (1 - p): the words `models.mlp.Dropout` draws, per run."""
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


# ----------------------------------------------------------------------------------------- measurements


def _per_run_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each image (G, N) for logits (G, N, C) and labels (G, N) or shared (N,)."""
    g, n, c = logits.shape
    return nn.functional.cross_entropy(
        logits.reshape(g * n, c), y.expand(g, n).reshape(g * n), reduction="none"
    ).view(g, n)


@torch.no_grad()
def evaluate_group(stack: RunStack, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
    """(mean loss, accuracy) of every run on (x, y), eval mode (dropout off): per-image losses in float32,
    summed in float64, as `training.evaluate` does per chunk."""
    total = torch.zeros(len(stack), dtype=torch.float64, device=x.device)
    correct = torch.zeros(len(stack), dtype=torch.int64, device=x.device)
    chunk = max(256, EVAL_ROWS // len(stack))
    for start in range(0, len(x), chunk):
        logits = stack.forward(x[start : start + chunk])
        yb = y[start : start + chunk]
        total += _per_run_loss(logits, yb).double().sum(1)
        correct += (logits.argmax(-1) == yb).sum(1)
    return (total / len(x)).tolist(), (correct.double() / len(x)).tolist()


@torch.no_grad()
def activation_stats(stack: RunStack, x: torch.Tensor) -> list[dict[str, list[float]]]:
    """Per run: statistics of every hidden layer's output on the probe batch x (N, in), eval mode.

    `mean`, `std` over units and images; sigmoid runs add `saturated` (fraction of outputs within
    SATURATION_MARGIN of 0 or 1), ReLU runs add `dead` (fraction of units zero for every probe image) and
    `zero` (fraction of outputs exactly zero)."""
    hidden: list[torch.Tensor] = []
    stack.forward(x, hidden=hidden)
    dims = (1, 2)
    mean = torch.stack([a.mean(dims) for a in hidden], 1).tolist()  # (G, layers)
    std = torch.stack([a.std(dims) for a in hidden], 1).tolist()
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


# -------------------------------------------------------------------------------------------------- train


def fit_group(
    members: Sequence[Member],
    shape: Shape,
    data: Data,
    device: str | torch.device = "cpu",
    quiet: bool = False,
    desc: str = "train",
) -> list[dict[str, Any]]:
    """Train every member on `data` as one batched computation; one result per member, in `members`' order.

    A result holds the per-epoch curves (`train_loss`, `train_accuracy`, `test_loss`, `test_accuracy`; the
    epoch a run diverges in has the running train means of its finite steps and NaN test values, and is its
    last), `initial` metrics, `diverged` / `diverged_at` (where, and the per-layer weight-gradient norms of
    the step before and of the last all-finite step), `probes`, `trace`, and timings: a group's wall and CPU
    seconds of each epoch are shared equally among the runs that trained in it."""
    (x_tr, y_tr), (x_te, y_te) = data
    n_runs, n, batch = len(members), len(x_tr), shape.batch_size
    steps_per_epoch = math.ceil(n / batch)
    total = shape.epochs * steps_per_epoch
    n_layers = len(shape.widths) - 1
    stack = RunStack(members, shape.widths, device)
    order = [torch.Generator().manual_seed(m.seed) for m in members]  # data order, as fit's generator
    # per global step, per member (original order): mean loss, correct count, weight-gradient norm per layer
    step_loss = torch.full((total, n_runs), math.nan)
    step_correct = torch.zeros((total, n_runs), dtype=torch.int64)
    step_norm = torch.full((total, n_runs, n_layers), math.nan)
    batch_n = torch.tensor(
        [min(batch, n - s * batch) for s in range(steps_per_epoch)] * shape.epochs, dtype=torch.float64
    )
    init = {}
    for split, (x, y) in (("train", (x_tr, y_tr)), ("test", (x_te, y_te))):
        loss, acc = evaluate_group(stack, x, y)
        for r, i in enumerate(stack.ids):
            init.setdefault(i, {}).update({f"{split}_loss": loss[r], f"{split}_accuracy": acc[r]})
    evals: list[list[tuple[float, float, float, float]]] = [
        [] for _ in members
    ]  # per epoch: train/test metrics
    died: dict[
        int, tuple[int, int]
    ] = {}  # member -> (epoch, step within the epoch) of its first non-finite loss
    probes: list[list[dict[str, Any]]] = [[] for _ in members]
    seconds = [[0.0, 0.0] for _ in members]  # wall, CPU
    epoch_seconds: list[list[float]] = [[] for _ in members]
    epoch_cpu: list[list[float]] = [[] for _ in members]
    points = probe_steps(total)
    probe_x = x_tr[: shape.probe_size]
    bar = tqdm(
        total=total * batch * n_runs,
        desc=desc,
        unit="img",
        unit_scale=True,
        disable=quiet,
        leave=False,
        dynamic_ncols=True,
    )
    try:
        for epoch in range(1, shape.epochs + 1):
            if not len(stack):
                break
            t0, cpu0, started = time.perf_counter(), time.process_time(), list(stack.ids)
            perms = torch.stack([torch.randperm(n, generator=order[i]) for i in stack.ids]).to(device)
            for step in range(steps_per_epoch):
                g = (epoch - 1) * steps_per_epoch + step
                idx = perms[:, step * batch : (step + 1) * batch]
                yb = y_tr[idx]
                logits = stack.forward(x_tr[idx], train=True)
                loss = _per_run_loss(logits, yb).mean(1)  # (G,)
                losses = loss.detach()
                bad = (~torch.isfinite(losses)).nonzero().flatten().tolist()
                if len(bad) == len(stack):
                    for r in bad:
                        died[stack.ids[r]] = (epoch, step)
                    stack.keep([])
                    break
                for p in stack.w + stack.b:
                    p.grad = None
                loss.sum().backward()  # d(sum)/d(loss_r) = 1: each run gets its own gradient, NaN stays in its rows
                stack.step()
                ids = torch.tensor(stack.ids)
                with torch.no_grad():
                    step_loss[g, ids] = losses.cpu()
                    step_correct[g, ids] = (logits.detach().argmax(-1) == yb).sum(1).cpu()
                    norms = torch.stack(
                        [torch.linalg.vector_norm(w.grad, dim=(1, 2)) for w in stack.w], 1
                    ).cpu()
                    step_norm[g, ids] = norms
                if g in points:
                    stats = activation_stats(stack, probe_x)
                    for r, i in enumerate(stack.ids):
                        if r not in bad:
                            probes[i].append(
                                {
                                    "label": points[g],
                                    "step": g + 1,
                                    "epoch": epoch,
                                    "loss": float(losses[r]),
                                    "grad_norm": norms[r].tolist(),
                                    "activation": stats[r],
                                }
                            )
                if bad:
                    for r in bad:
                        died[stack.ids[r]] = (epoch, step)
                    good = [r for r in range(len(stack)) if r not in bad]
                    stack.keep(good)
                    perms = perms[good]
                bar.update(len(idx) * idx.shape[1])
            with torch.no_grad():
                if len(stack):
                    train = evaluate_group(stack, x_tr, y_tr) if shape.eval_train else None
                    test = evaluate_group(stack, x_te, y_te)
                    for r, i in enumerate(stack.ids):
                        tr = (train[0][r], train[1][r]) if train else (math.nan, math.nan)
                        evals[i].append((*tr, test[0][r], test[1][r]))
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            for i in started:
                seconds[i][0] += wall / len(started)
                seconds[i][1] += cpu / len(started)
                epoch_seconds[i].append(wall / len(started))
                epoch_cpu[i].append(cpu / len(started))
    finally:
        bar.close()
    return [
        _result(
            i,
            shape,
            steps_per_epoch,
            n,
            len(x_te),
            step_loss,
            step_correct,
            step_norm,
            batch_n,
            evals[i],
            died.get(i),
            init[i],
            probes[i],
            seconds[i],
            epoch_seconds[i],
            epoch_cpu[i],
            n_runs,
        )
        for i in range(n_runs)
    ]


def _result(
    i: int,
    shape: Shape,
    steps_per_epoch: int,
    train_size: int,
    test_size: int,
    step_loss: torch.Tensor,
    step_correct: torch.Tensor,
    step_norm: torch.Tensor,
    batch_n: torch.Tensor,
    evals: list,
    died: tuple[int, int] | None,
    initial: dict[str, float],
    probes: list,
    seconds: list[float],
    epoch_seconds: list[float],
    epoch_cpu: list[float],
    group_size: int,
) -> dict[str, Any]:
    """One member's result from the group's per-step records (the dict `arms.train_job` always returned)."""
    end = (died[0] - 1) * steps_per_epoch + died[1] if died else shape.epochs * steps_per_epoch  # steps taken
    curves: dict[str, list[float]] = {
        "train_loss": [],
        "train_accuracy": [],
        "test_loss": [],
        "test_accuracy": [],
    }
    for e in range(len(evals) + (1 if died else 0)):
        lo, hi = e * steps_per_epoch, min((e + 1) * steps_per_epoch, end)
        seen = float(batch_n[lo:hi].sum())
        running_loss = (
            float((step_loss[lo:hi, i].double() * batch_n[lo:hi]).sum()) / seen if seen else math.nan
        )
        running_acc = float(step_correct[lo:hi, i].sum()) / seen if seen else math.nan
        if e < len(evals):
            tl, ta, sl, sa = evals[e]
            if not shape.eval_train:
                tl, ta = running_loss, running_acc
        else:  # the epoch it diverged in
            tl, ta, sl, sa = running_loss, running_acc, math.nan, math.nan
        for key, v in zip(curves, (tl, ta, sl, sa)):
            curves[key].append(v)
    diverged_at = None
    if died:
        finite = [t for t in range(end) if bool(torch.isfinite(step_norm[t, i]).all())]
        diverged_at = {
            "epoch": died[0],
            "step": died[1],
            "global_step": end + 1,
            "fractional_epoch": died[0] - 1 + died[1] / steps_per_epoch,
            # per-layer weight-gradient norms of the step before the blow-up (null: overflowed to inf),
            # and of the last step whose gradients were all finite
            "last_grad_norm": step_norm[end - 1, i].tolist() if end else [],
            "last_finite_grad_step": finite[-1] + 1 if finite else None,
            "last_finite_grad_norm": step_norm[finite[-1], i].tolist() if finite else [],
        }
    traced = min(shape.trace_steps, end)
    return {
        **curves,
        "initial": initial,
        "diverged": died is not None,
        "diverged_at": diverged_at,
        "epochs_completed": len(curves["train_loss"]) - (1 if died else 0),
        "steps_per_epoch": steps_per_epoch,
        "train_size": train_size,
        "test_size": test_size,
        "probes": probes,
        "trace": {"loss": step_loss[:traced, i].tolist(), "grad_norm": step_norm[:traced, i].tolist()},
        # the group's wall and CPU (all threads) seconds, shared equally among the runs training in each epoch
        "epoch_seconds": epoch_seconds,
        "epoch_cpu_seconds": epoch_cpu,
        "train_seconds": seconds[0],
        "train_cpu_seconds": seconds[1],
        "group_size": group_size,
    }
