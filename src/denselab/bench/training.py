"""Study 1's training against the GEMM peak (`measure_training`), and its epochs and seconds to 98.5 %
(`time_to_accuracy`): both call the study's own `train_classifier`."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

from denselab.bench.gemm import step_gemms, time_gemm_steps, time_gemms
from denselab.bench.machine import log
from denselab.config import Runtime
from denselab.data.mnist import NUM_CLASSES
from denselab.errors import DenselabError
from denselab.models.mlp import count_parameters

TARGET_ACCURACY = 0.985


def train_window_seconds(study, config, data, device: str, steps: int) -> float:
    """Seconds of `steps` optimiser steps of Study 1's own training code (`train_classifier`: its model,
    dropout, pixel shifts, loss, AdamW and one-cycle schedule) in steady state: a run of two epochs of
    `steps` batches each, timed over the second (the first pays allocator and thread warm-up).
    The test set is cut to 10 images, so the per-epoch test pass costs next to nothing."""
    n = steps * config.batch_size
    sub = dataclasses.replace(
        data,
        x_train=data.x_train[:n],
        y_train=data.y_train[:n],
        x_test=data.x_test[:10],
        y_test=data.y_test[:10],
    )
    _, history, _ = study.train_classifier(dataclasses.replace(config, epochs=2), sub, device, quiet=True)
    if history.diverged or len(history.epoch_seconds) < 2:
        return math.nan
    return history.epoch_seconds[1]


def measure_training(
    study, config, data, device: str, windows: int, steps: int, runtime: Runtime
) -> dict[str, Any]:
    """Interleave GEMM-peak repetitions with training windows; each keeps its best (fastest) repetition."""
    widths = [data.x_train.shape[1]] + [config.hidden_width] * config.hidden_layers + [NUM_CLASSES]
    batch = config.batch_size
    steps = max(4, steps)  # the one-cycle schedule needs a step or more in each of its phases
    if len(data.x_train) < steps * batch:
        raise DenselabError(
            f"the bench needs {steps} batches of {batch} training images; only {len(data.x_train)} are there"
        )
    gemms = step_gemms(widths, batch, device)
    best: dict[str, float] = {}
    time_gemms(gemms, best, device)  # warm-up
    best.clear()
    window_seconds, gemm_seconds = [], []
    for i in range(windows):
        log(runtime, f"peak and training window {i + 1}/{windows}")
        time_gemms(gemms, best, device)
        gemm_seconds.append(time_gemm_steps(gemms, steps, device))
        window_seconds.append(train_window_seconds(study, config, data, device, steps))
        gemm_seconds.append(time_gemm_steps(gemms, steps, device))
    gemm_flops = sum(f for _, f, _ in gemms)
    peak = gemm_flops * steps / min(gemm_seconds) / 1e9
    params = count_parameters(study.build_classifier(config, widths[0]))
    finite = [s for s in window_seconds if math.isfinite(s)]
    step_seconds = min(finite) / steps if finite else math.nan
    train = 6.0 * params * batch / step_seconds / 1e9
    return {
        "peak_gflops": peak,
        "train_gflops": train,
        "train_to_peak_ratio": train / peak,
        "train": {
            "widths": widths,
            "batch_size": batch,
            "parameters": params,
            "flops_per_step": 6.0 * params * batch,
            "step_seconds": step_seconds,
            "steps_per_window": steps,
            "window_seconds": window_seconds,
            "recipe": {
                k: getattr(config, k)
                for k in (
                    "optimizer",
                    "lr",
                    "weight_decay",
                    "label_smoothing",
                    "input_dropout",
                    "hidden_dropout",
                    "shift_pixels",
                )
            },
        },
        "peak": {
            "gemm_step_seconds": min(gemm_seconds) / steps,
            "gemm_step_flops": gemm_flops,
            "block_seconds": gemm_seconds,
            "gemms": [{"gemm": label, "gflops": f / best[label] / 1e9} for label, f, _ in gemms],
        },
    }


def time_to_accuracy(
    study, config, data, device: str, quiet: bool, target: float = TARGET_ACCURACY
) -> dict[str, Any]:
    """Train with the full recipe; the first epoch whose test accuracy reaches `target` and the wall
    seconds up to the end of it (training plus the per-epoch test pass)."""
    _, history, seconds = study.train_classifier(config, data, device, quiet)
    reached = next((i for i, a in enumerate(history.test_accuracy) if a >= target), None)
    elapsed = list(itertools.accumulate(history.epoch_seconds))

    params = count_parameters(study.build_classifier(config, data.x_train.shape[1]))
    return {
        "mnist_epochs_to_98_5": None if reached is None else reached + 1,
        "mnist_seconds_to_98_5": None if reached is None else elapsed[reached],
        "mnist": {
            "target_accuracy": target,
            "epochs": config.epochs,
            "train_images": len(data.x_train),
            "test_images": len(data.x_test),
            "test_accuracy": history.test_accuracy,
            "epoch_seconds": history.epoch_seconds,
            "train_seconds": seconds,
            "final_test_accuracy": history.test_accuracy[-1] if history.test_accuracy else None,
            "diverged": history.diverged,
            # cross-checks of train_gflops over whole epochs, each epoch's test pass included
            "run_gflops": 6.0 * params * len(data.x_train) * history.epochs / seconds / 1e9
            if seconds
            else None,
            "best_epoch_gflops": (
                6.0 * params * len(data.x_train) / min(history.epoch_seconds) / 1e9
                if history.epoch_seconds
                else None
            ),
        },
    }
