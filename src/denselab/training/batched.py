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
- divergence: a run whose loss goes non-finite is recorded at that step and dropped from the group; the
  others go on;
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
from torch import nn

from denselab.training.loop import image_progress
from denselab.training.stack import Member, RunStack, activation_stats

__all__ = ["Data", "Member", "RunStack", "Shape", "activation_stats", "evaluate_group", "fit_group"]

EVAL_ROWS = 6144  # images x runs per evaluation chunk: (G, rows / G, width) activations stay below 32 MiB

Data = tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


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


# -------------------------------------------------------------------------------------------------- train


@dataclass
class Record:
    """What a group's training writes down, per member in the members' order (not the stacked order)."""

    step_loss: torch.Tensor
    """(steps, runs) mean loss of each step's batch; NaN where a run did not train that step."""
    step_correct: torch.Tensor
    """(steps, runs) images of each step's batch classified correctly (int64)."""
    step_norm: torch.Tensor
    """(steps, runs, weight layers) L2 norm of each weight layer's gradient at each step."""
    initial: dict[int, dict[str, float]]
    """member -> train/test loss and accuracy at initialisation."""
    evals: list[list[tuple[float, float, float, float]]]
    """per member, per finished epoch: train loss and accuracy (NaN unless eval_train), test loss and
    accuracy."""
    died: dict[int, tuple[int, int]]
    """member -> (1-based epoch, 0-based step within it) of its first non-finite loss."""
    probes: list[list[dict[str, Any]]]
    """per member: the probe points it reached."""
    epoch_seconds: list[list[float]]
    """per member: its share of each epoch's wall seconds."""
    epoch_cpu: list[list[float]]
    """per member: its share of each epoch's CPU seconds (all threads)."""

    @classmethod
    def empty(cls, runs: int, steps: int, layers: int) -> Record:
        return cls(
            step_loss=torch.full((steps, runs), math.nan),
            step_correct=torch.zeros((steps, runs), dtype=torch.int64),
            step_norm=torch.full((steps, runs, layers), math.nan),
            initial={},
            evals=[[] for _ in range(runs)],
            died={},
            probes=[[] for _ in range(runs)],
            epoch_seconds=[[] for _ in range(runs)],
            epoch_cpu=[[] for _ in range(runs)],
        )


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
    the step before and of the last all-finite step), `probes`, `trace`, `step_loss` (the loss of every step
    of the first epoch) and timings: a group's wall and CPU seconds of each epoch are shared equally among the
    runs that trained in it."""
    (x_tr, _), (x_te, _) = data
    steps_per_epoch = math.ceil(len(x_tr) / shape.batch_size)
    stack = RunStack(members, shape.widths, device)
    rec = Record.empty(len(members), shape.epochs * steps_per_epoch, len(shape.widths) - 1)
    rec.initial = _initial_metrics(stack, data)
    order = [torch.Generator().manual_seed(m.seed) for m in members]  # data order, as fit's generator
    bar = image_progress(shape.epochs * steps_per_epoch * shape.batch_size * len(members), desc, quiet)
    try:
        for epoch in range(1, shape.epochs + 1):
            if not len(stack):
                break
            t0, cpu0, started = time.perf_counter(), time.process_time(), list(stack.ids)
            _train_epoch(stack, rec, epoch, shape, data, order, bar)
            _evaluate_epoch(stack, rec, shape, data)
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            for i in started:
                rec.epoch_seconds[i].append(wall / len(started))
                rec.epoch_cpu[i].append(cpu / len(started))
    finally:
        bar.close()
    return [_result(i, shape, rec, len(x_tr), len(x_te), len(members)) for i in range(len(members))]


def _initial_metrics(stack: RunStack, data: Data) -> dict[int, dict[str, float]]:
    """member -> train/test loss and accuracy before the first step."""
    initial: dict[int, dict[str, float]] = {}
    for split, (x, y) in zip(("train", "test"), data):
        loss, acc = evaluate_group(stack, x, y)
        for r, i in enumerate(stack.ids):
            initial.setdefault(i, {}).update({f"{split}_loss": loss[r], f"{split}_accuracy": acc[r]})
    return initial


def _train_epoch(
    stack: RunStack, rec: Record, epoch: int, shape: Shape, data: Data, order: list[torch.Generator], bar
) -> None:
    """One epoch of every live run, each in its own data order; a run whose loss goes non-finite leaves
    `stack`."""
    (x_tr, y_tr), _ = data
    n, batch = len(x_tr), shape.batch_size
    steps_per_epoch = math.ceil(n / batch)
    points = probe_steps(shape.epochs * steps_per_epoch)
    device = stack.w[0].device
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
                rec.died[stack.ids[r]] = (epoch, step)
            stack.keep([])
            return
        for p in stack.w + stack.b:
            p.grad = None
        loss.sum().backward()  # d(sum)/d(loss_r) = 1: each run gets its own gradient, NaN stays in its rows
        stack.step()
        norms = _record_step(stack, rec, g, losses, logits, yb)
        if g in points:
            _probe(stack, rec, x_tr[: shape.probe_size], points[g], g, epoch, losses, norms, bad)
        if bad:
            for r in bad:
                rec.died[stack.ids[r]] = (epoch, step)
            good = [r for r in range(len(stack)) if r not in bad]
            stack.keep(good)
            perms = perms[good]
        bar.update(len(idx) * idx.shape[1])


@torch.no_grad()
def _record_step(
    stack: RunStack, rec: Record, g: int, losses: torch.Tensor, logits: torch.Tensor, yb: torch.Tensor
) -> torch.Tensor:
    """Write step g's loss, correct count and per-layer weight-gradient norms of every live run; the norms
    (G, layers) in stacked order."""
    ids = torch.tensor(stack.ids)
    rec.step_loss[g, ids] = losses.cpu()
    rec.step_correct[g, ids] = (logits.detach().argmax(-1) == yb).sum(1).cpu()
    norms = torch.stack([torch.linalg.vector_norm(w.grad, dim=(1, 2)) for w in stack.w], 1).cpu()
    rec.step_norm[g, ids] = norms
    return norms


def _probe(
    stack: RunStack,
    rec: Record,
    probe_x: torch.Tensor,
    label: str,
    g: int,
    epoch: int,
    losses: torch.Tensor,
    norms: torch.Tensor,
    bad: list[int],
) -> None:
    """Activation statistics on the probe images after step g, with that step's loss and gradient norms, for
    every live run whose loss was finite."""
    stats = activation_stats(stack, probe_x)
    for r, i in enumerate(stack.ids):
        if r not in bad:
            rec.probes[i].append(
                {
                    "label": label,
                    "step": g + 1,
                    "epoch": epoch,
                    "loss": float(losses[r]),
                    "grad_norm": norms[r].tolist(),
                    "activation": stats[r],
                }
            )


@torch.no_grad()
def _evaluate_epoch(stack: RunStack, rec: Record, shape: Shape, data: Data) -> None:
    """After an epoch: every live run's test loss and accuracy, and its train ones when `shape.eval_train`."""
    if not len(stack):
        return
    (x_tr, y_tr), (x_te, y_te) = data
    train = evaluate_group(stack, x_tr, y_tr) if shape.eval_train else None
    test = evaluate_group(stack, x_te, y_te)
    for r, i in enumerate(stack.ids):
        tr = (train[0][r], train[1][r]) if train else (math.nan, math.nan)
        rec.evals[i].append((*tr, test[0][r], test[1][r]))


def _curves(i: int, rec: Record, steps_per_epoch: int, end: int, batch_n: torch.Tensor, eval_train: bool):
    """Member i's per-epoch train/test loss and accuracy: the evaluated ones, or the running means over the
    epoch's steps (the train curves without `eval_train`, and the epoch a run diverged in)."""
    curves: dict[str, list[float]] = {
        "train_loss": [],
        "train_accuracy": [],
        "test_loss": [],
        "test_accuracy": [],
    }
    evals, died = rec.evals[i], i in rec.died
    for e in range(len(evals) + (1 if died else 0)):
        lo, hi = e * steps_per_epoch, min((e + 1) * steps_per_epoch, end)
        seen = float(batch_n[lo:hi].sum())
        running_loss = (
            float((rec.step_loss[lo:hi, i].double() * batch_n[lo:hi]).sum()) / seen if seen else math.nan
        )
        running_acc = float(rec.step_correct[lo:hi, i].sum()) / seen if seen else math.nan
        if e < len(evals):
            tl, ta, sl, sa = evals[e]
            if not eval_train:
                tl, ta = running_loss, running_acc
        else:  # the epoch it diverged in
            tl, ta, sl, sa = running_loss, running_acc, math.nan, math.nan
        for key, v in zip(curves, (tl, ta, sl, sa)):
            curves[key].append(v)
    return curves


def _diverged_at(i: int, rec: Record, steps_per_epoch: int, end: int) -> dict[str, Any] | None:
    """Where member i blew up, with the per-layer weight-gradient norms of the step before the blow-up (null:
    overflowed to inf) and of the last step whose gradients were all finite; None if it never did."""
    died = rec.died.get(i)
    if died is None:
        return None
    finite = [t for t in range(end) if bool(torch.isfinite(rec.step_norm[t, i]).all())]
    return {
        "epoch": died[0],
        "step": died[1],
        "global_step": end + 1,
        "fractional_epoch": died[0] - 1 + died[1] / steps_per_epoch,
        "last_grad_norm": rec.step_norm[end - 1, i].tolist() if end else [],
        "last_finite_grad_step": finite[-1] + 1 if finite else None,
        "last_finite_grad_norm": rec.step_norm[finite[-1], i].tolist() if finite else [],
    }


def _result(
    i: int, shape: Shape, rec: Record, train_size: int, test_size: int, group_size: int
) -> dict[str, Any]:
    """Member i's result from the group's record (see `fit_group`)."""
    steps_per_epoch = math.ceil(train_size / shape.batch_size)
    died = rec.died.get(i)
    end = (died[0] - 1) * steps_per_epoch + died[1] if died else shape.epochs * steps_per_epoch  # steps taken
    batch = shape.batch_size
    batch_n = torch.tensor(
        [min(batch, train_size - s * batch) for s in range(steps_per_epoch)] * shape.epochs,
        dtype=torch.float64,
    )
    curves = _curves(i, rec, steps_per_epoch, end, batch_n, shape.eval_train)
    traced = min(shape.trace_steps, end)
    return {
        **curves,
        "initial": rec.initial[i],
        "diverged": died is not None,
        "diverged_at": _diverged_at(i, rec, steps_per_epoch, end),
        "epochs_completed": len(curves["train_loss"]) - (1 if died else 0),
        "steps_per_epoch": steps_per_epoch,
        "train_size": train_size,
        "test_size": test_size,
        "probes": rec.probes[i],
        "trace": {
            "loss": rec.step_loss[:traced, i].tolist(),
            "grad_norm": rec.step_norm[:traced, i].tolist(),
        },
        # the first epoch's per-step losses; NaN (JSON null) from a blow-up on
        "step_loss": rec.step_loss[:steps_per_epoch, i].tolist(),
        # the group's wall and CPU (all threads) seconds, shared equally among the runs training in each epoch
        "epoch_seconds": rec.epoch_seconds[i],
        "epoch_cpu_seconds": rec.epoch_cpu[i],
        "train_seconds": sum(rec.epoch_seconds[i]),
        "train_cpu_seconds": sum(rec.epoch_cpu[i]),
        "group_size": group_size,
    }
