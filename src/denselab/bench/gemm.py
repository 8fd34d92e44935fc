"""The yardstick: every GEMM of one training step on the net's own shapes, and timing them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from denselab.bench.machine import sync

Gemm = tuple[str, float, Callable[[], None]]  # (label, FLOPs, run)


def step_gemms(widths: list[int], batch: int, device: str) -> list[Gemm]:
    """Every GEMM of one training step of a `widths` MLP at `batch`, in the layouts autograd uses for
    nn.Linear (weight stored (out, in)): forward addmm(b, x, W^T), grad-input g W, grad-weight g^T x.

    Returns (label, FLOPs, run) triples; the operands are random and the results go to preallocated
    tensors, so `run` times the multiplication only."""
    gemms = []
    for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
        x = torch.randn(batch, fan_in, device=device)
        w = torch.randn(fan_out, fan_in, device=device)
        b = torch.randn(fan_out, device=device)
        g = torch.randn(batch, fan_out, device=device)
        y, gx, gw = (
            torch.empty(batch, fan_out, device=device),
            torch.empty(batch, fan_in, device=device),
            torch.empty(fan_out, fan_in, device=device),
        )
        flops = 2.0 * batch * fan_in * fan_out
        gemms += [
            (
                f"layer {layer} forward ({batch}x{fan_in})@({fan_in}x{fan_out})",
                flops,
                lambda b=b, x=x, w=w, y=y: torch.addmm(b, x, w.t(), out=y),
            ),
            (
                f"layer {layer} grad_input ({batch}x{fan_out})@({fan_out}x{fan_in})",
                flops,
                lambda g=g, w=w, gx=gx: torch.mm(g, w, out=gx),
            ),
            (
                f"layer {layer} grad_weight ({fan_out}x{batch})@({batch}x{fan_in})",
                flops,
                lambda g=g, x=x, gw=gw: torch.mm(g.t(), x, out=gw),
            ),
        ]
    return gemms


def group_step_gemms(widths: list[int], batch: int, runs: int, device: str) -> list[Gemm]:
    """Every GEMM of one training step of `runs` `widths` MLPs trained as one group (`training.batched`:
    weights stacked (runs, in, out)): forward baddbmm(b, x, W), grad-input bmm(g, W^T), grad-weight
    bmm(x^T, g), none for the first layer's input. What the study's products alone reach on its own
    shapes: the ceiling of its training rate. Same (label, FLOPs, run) triples as `step_gemms`."""
    gemms = []
    for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
        x = torch.randn(runs, batch, fan_in, device=device)
        w = torch.randn(runs, fan_in, fan_out, device=device)
        b = torch.randn(runs, 1, fan_out, device=device)
        g = torch.randn(runs, batch, fan_out, device=device)
        y, gx, gw = (
            torch.empty(runs, batch, fan_out, device=device),
            torch.empty(runs, batch, fan_in, device=device),
            torch.empty(runs, fan_in, fan_out, device=device),
        )
        flops = 2.0 * runs * batch * fan_in * fan_out
        gemms.append(
            (f"layer {layer} forward", flops, lambda b=b, x=x, w=w, y=y: torch.baddbmm(b, x, w, out=y))
        )
        if layer > 1:
            gemms.append(
                (
                    f"layer {layer} grad_input",
                    flops,
                    lambda g=g, w=w, gx=gx: torch.bmm(g, w.transpose(1, 2), out=gx),
                )
            )
        gemms.append(
            (
                f"layer {layer} grad_weight",
                flops,
                lambda g=g, x=x, gw=gw: torch.bmm(x.transpose(1, 2), g, out=gw),
            )
        )
    return gemms


def time_gemms(gemms: list[Gemm], best: dict[str, float], device: str) -> None:
    """Time each GEMM once and keep its best time in `best` (label -> seconds): the per-shape rates."""
    for label, _, run in gemms:
        sync(device)
        t0 = time.perf_counter()
        run()
        sync(device)
        best[label] = min(best.get(label, math.inf), time.perf_counter() - t0)


def time_gemm_steps(gemms: list[Gemm], steps: int, device: str) -> float:
    """Seconds for all GEMMs of `steps` training steps back to back: a block as long as a training window,
    so a busy machine disturbs the peak and the training measurement alike."""
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        for _, _, run in gemms:
            run()
    sync(device)
    return time.perf_counter() - t0
