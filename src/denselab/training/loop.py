"""Flat training functions over tensors that live in memory.

Batches are index slices of one seeded permutation per epoch (no DataLoader, no per-sample Python).
Classification is detected from the targets: integer labels get accuracy, float targets get loss only.
A non-finite loss stops the run and marks it diverged; it never raises.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from denselab.errors import DenselabError


def _fused(cls: type[torch.optim.Optimizer]) -> Callable[..., torch.optim.Optimizer]:
    """Constructor of an Adam-family optimiser that uses torch's fused kernel (one pass over every tensor
    per step) unless the caller picks an implementation. The default for-loop update makes ~10 elementwise
    passes over each weight matrix, about a tenth of a 5x1024 step at batch 512 on CPU. Same update, same
    seeds; falls back to the default where the fused kernel is unavailable (torch < 2.4 on CPU, other
    devices)."""

    def make(params, lr: float = 1e-3, **kw) -> torch.optim.Optimizer:
        params = list(params)
        plain_tensors = all(isinstance(p, torch.Tensor) for p in params)  # param-group dicts: torch's default
        if plain_tensors and not {"fused", "foreach", "differentiable"} & set(kw):
            try:
                return cls(params, lr=lr, fused=True, **kw)
            except (RuntimeError, ValueError):
                pass
        return cls(params, lr=lr, **kw)

    return make


# name -> constructor(params, **kwargs). SGD is plain on purpose: the assignment says "no momentum".
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda params, lr=1.0, **kw: torch.optim.SGD(params, lr=lr, momentum=0.0, **kw),
    "adam": _fused(torch.optim.Adam),
    "adamw": _fused(torch.optim.AdamW),
}


def make_optimizer(name: str, params, **kwargs) -> torch.optim.Optimizer:
    """Optimiser by name (`sgd`, `adam`, `adamw`); kwargs go to the torch constructor."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")
    return OPTIMIZERS[name](params, **kwargs)


def one_cycle(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_fraction: float,
    div_factor: float = 25.0,
    final_div_factor: float = 1e3,
) -> torch.optim.lr_scheduler.LambdaLR:
    """One-cycle schedule around each group's lr (the peak): cosine warm-up from peak/div_factor over the
    first `warmup_fraction` of the steps, then cosine decay to peak/div_factor/final_div_factor.

    Same curve as torch's OneCycleLR (cos anneal, no momentum cycling), but defined for any number of steps:
    torch's divides by zero when the warm-up rounds to a single step (e.g. 4 steps at 25 %)."""
    start, end = 1.0 / div_factor, 1.0 / div_factor / final_div_factor
    up = warmup_fraction * total_steps - 1.0  # last warm-up step (float, as in torch)
    last = total_steps - 1.0

    def cos(a: float, b: float, pct: float) -> float:
        return b + (a - b) / 2.0 * (1.0 + math.cos(math.pi * min(max(pct, 0.0), 1.0)))

    def factor(step: int) -> float:
        if up > 0 and step <= up:
            return cos(start, 1.0, step / up)
        begin = max(up, 0.0)  # warm-up shorter than one step: start at the peak
        return cos(1.0, end, (step - begin) / (last - begin)) if last > begin else 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch from one number; returns a CPU generator for data order."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(name: str) -> str:
    """`auto` -> `cuda` when a GPU is visible, else `cpu`; asking for `cuda` without one is a user error."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise DenselabError(
            "--device cuda was asked for but no CUDA GPU is visible (use --device auto or cpu)"
        )
    if name not in ("cpu", "cuda"):
        raise DenselabError(f"unknown device {name!r} (choose from auto, cpu, cuda)")
    return name


def batch_indices(
    n: int, batch_size: int, generator: torch.Generator | None, device: str | torch.device | None = None
) -> Iterator[torch.Tensor]:
    """Index tensors of one epoch: a seeded permutation (or 0..n-1 when `generator` is None) cut into batches.

    The permutation is drawn on the CPU (the same order on every device) and moved to `device` once per
    epoch, not once per batch."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    if device is not None:
        order = order.to(device)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


@dataclass
class History:
    """Per-epoch curves of one training run (lists are indexed by epoch; test_* empty without test data)."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    diverged: bool = False
    diverged_at: dict | None = (
        None  # {"epoch": 1-based, "step": 0-based within the epoch} of the first non-finite loss
    )

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


def _is_classification(y: torch.Tensor) -> bool:
    return not torch.is_floating_point(y)


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batch_size: int,
    generator: torch.Generator | None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
    progress: tqdm | None = None,
) -> tuple[float, float, int | None]:
    """One pass over (x, y) in seeded random order.

    Returns (mean training loss, training accuracy or NaN for regression, index of the first step whose
    loss was non-finite or None). Loss and accuracy are running means over the batches as trained (dropout
    on), which costs no extra pass. `transform` augments a batch of inputs; `on_step(step, loss)` is called
    after every optimiser step (used for gradient/activation probes)."""
    model.train()
    classify = _is_classification(y)
    device = x.device
    total_loss = torch.zeros((), device=device, dtype=torch.float64)
    total_correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    for step, idx in enumerate(batch_indices(len(x), batch_size, generator, device=device)):
        xb, yb = x[idx], y[idx]
        if transform is not None:
            xb = transform(xb)
        out = model(xb)
        loss = loss_fn(out, yb)
        if not torch.isfinite(loss):
            return _mean(total_loss, seen), _acc(total_correct, seen, classify), step
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if on_step is not None:
            on_step(step, loss.detach())
        n = len(idx)
        total_loss += loss.detach().double() * n
        if classify:
            total_correct += (out.detach().argmax(1) == yb).sum()
        seen += n
        if progress is not None:
            progress.update(n)
    return _mean(total_loss, seen), _acc(total_correct, seen, classify), None


def _mean(total: torch.Tensor, n: int) -> float:
    return float(total) / n if n else math.nan


def _acc(correct: torch.Tensor, n: int, classify: bool) -> float:
    return float(correct) / n if (n and classify) else math.nan


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batch_size: int = 4096,
) -> tuple[float, float]:
    """(mean loss, accuracy or NaN for regression) of the model in eval mode (dropout off)."""
    model.eval()
    classify = _is_classification(y)
    total_loss = torch.zeros((), device=x.device, dtype=torch.float64)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    for idx in batch_indices(len(x), batch_size, None, device=x.device):
        out = model(x[idx])
        total_loss += loss_fn(out, y[idx]).double() * len(idx)
        if classify:
            correct += (out.argmax(1) == y[idx]).sum()
    return _mean(total_loss, len(x)), _acc(correct, len(x), classify)


def image_progress(total: int, desc: str, quiet: bool) -> tqdm:
    """A progress bar counting training images (renders as a widget in Jupyter, as text in a terminal)."""
    return tqdm(
        total=total, desc=desc, unit="img", unit_scale=True, disable=quiet, leave=False, dynamic_ncols=True
    )


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    epochs: int,
    batch_size: int,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
    generator: torch.Generator | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    eval_train: bool = False,
    on_step: Callable[[int, int, torch.Tensor], None] | None = None,
    quiet: bool = False,
    desc: str = "train",
) -> History:
    """Train for `epochs` and return the per-epoch `History`.

    `eval_train=True` re-measures the training loss/accuracy in eval mode after each epoch (one extra pass;
    the dropout study needs it to compare train and test without dropout noise). `on_step(epoch, step, loss)`
    runs after each step.
    A non-finite loss ends the run with `history.diverged = True`."""
    x, y = train
    hist = History()
    bar = image_progress(epochs * len(x), desc, quiet)
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            step_cb = (lambda step, loss, _e=epoch: on_step(_e, step, loss)) if on_step else None
            loss, acc, bad_step = train_epoch(
                model, optimizer, x, y, loss_fn, batch_size, generator, scheduler, transform, step_cb, bar
            )
            if bad_step is not None:
                hist.diverged = True
                hist.diverged_at = {"epoch": epoch, "step": bad_step}
                hist.train_loss.append(math.nan if bad_step == 0 else loss)
                hist.train_accuracy.append(acc)
                if test is not None:
                    hist.test_loss.append(math.nan)
                    hist.test_accuracy.append(math.nan)
                hist.epoch_seconds.append(time.perf_counter() - t0)
                break
            if eval_train:
                loss, acc = evaluate(model, x, y, loss_fn)
            hist.train_loss.append(loss)
            hist.train_accuracy.append(acc)
            if test is not None:
                tl, ta = evaluate(model, *test, loss_fn)
                hist.test_loss.append(tl)
                hist.test_accuracy.append(ta)
            hist.epoch_seconds.append(time.perf_counter() - t0)
            if not quiet:
                shown = {"loss": f"{loss:.4f}"}
                if test is not None and not math.isnan(hist.test_accuracy[-1]):
                    shown["test_acc"] = f"{hist.test_accuracy[-1]:.4f}"
                bar.set_postfix(shown)
    finally:
        bar.close()
    return hist
