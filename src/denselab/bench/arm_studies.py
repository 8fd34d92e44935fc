"""Studies 3 and 4 against the same GEMM peak: the largest group each study trains together, cut to a
window, trained by the study's own grouped code."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from denselab.bench import studies
from denselab.bench.gemm import group_step_gemms, step_gemms, time_gemm_steps
from denselab.bench.machine import log
from denselab.config import Runtime
from denselab.models.mlp import build_mlp, count_parameters
from denselab.registry import REGISTRY

ARM_STUDIES = ("optim", "dropout")


def arm_window(name: str, preset: str, runtime: Runtime, seed: int, steps: int):
    """The group the study's `preset` trains together (its largest), cut to a window: 2 epochs of `steps`
    batches, test images and probe images cut in the study's own proportions (test : train images as in the
    preset; probe images per step as over the whole study), and its data. Returns (jobs, data, details)."""
    module = REGISTRY[name].module
    config = REGISTRY[name].config(preset, {"seed": seed})
    jobs = module.jobs(config)
    if isinstance(jobs, tuple):  # optim: (main, sweep, check)
        jobs = [j for part in jobs for j in part]
    group = max(studies.group_jobs(jobs), key=len)
    j0 = group[0]
    train_size, test_size = j0.train_subset or 60000, j0.test_subset or 10000
    study_steps = j0.epochs * math.ceil(train_size / j0.batch_size)
    n_train = steps * j0.batch_size
    n_test = max(1, round(n_train * test_size / train_size))
    probe = max(1, round(j0.probe_size * 2 * steps / study_steps))
    window = [
        dataclasses.replace(
            j,
            epochs=2,
            train_subset=n_train,
            test_subset=n_test,
            probe_size=probe,
            trace_steps=min(j.trace_steps, 2 * steps),
        )
        for j in group
    ]
    data = studies.load_arm_data(
        runtime, dataclasses.replace(config, train_subset=n_train, test_subset=n_test), j0.input_scaling
    )
    return (
        window,
        data,
        {
            "group_size": len(group),
            "widths": list(j0.widths),
            "batch_size": j0.batch_size,
            "steps_per_window": steps,
            "train_images": n_train,
            "test_images": n_test,
            "eval_train": j0.eval_train,
            "probe_size": probe,
            "parameters": count_parameters(build_mlp(j0.widths)),
        },
    )


def arm_window_run(window, data, runtime: Runtime, parameters: int) -> tuple[float, float]:
    """(seconds, FLOPs) of the window's second epoch, trained by the study's own code (`train_group`):
    6 x parameters x training images + 2 x parameters x images per evaluation pass, for the runs that did not
    diverge (a diverged run stops training in the study too)."""
    results = studies.train_group(window, data, dataclasses.replace(runtime, quiet=True))
    # each run's share of the one batched epoch: together, the epoch's seconds
    seconds = sum(r["epoch_seconds"][1] for r in results if len(r["epoch_seconds"]) > 1)
    n_train, n_test = len(data[0][0]), len(data[1][0])
    per_run = parameters * (6 * n_train + 2 * n_test + (2 * n_train if window[0].eval_train else 0))
    return seconds, per_run * sum(not r["diverged"] for r in results)


def measure_arm_studies(
    result: dict[str, Any],
    preset: str,
    runtime: Runtime,
    seed: int,
    windows: int,
    window_steps: dict[str, int],
) -> dict[str, Any]:
    """`<study>_train_to_peak_ratio` for Studies 3 and 4: the best of `windows` window runs of
    `window_steps[study]` batches per epoch, each between two more blocks of the Study-1 GEMM peak; the peak
    (and `train_to_peak_ratio`) is then the best of all blocks."""
    steps = result["train"]["steps_per_window"]
    gemms = step_gemms(result["train"]["widths"], result["train"]["batch_size"], runtime.device)
    blocks = result["peak"]["block_seconds"]
    details: dict[str, Any] = {}
    for name in ARM_STUDIES:
        window, data, info = arm_window(name, preset, runtime, seed, window_steps[name])
        group = group_step_gemms(info["widths"], info["batch_size"], len(window), runtime.device)
        group_flops = sum(f for _, f, _ in group) * info["steps_per_window"]
        seconds, group_blocks, flops = [], [], math.nan
        for i in range(windows):
            log(runtime, f"{name}: peak and training window {i + 1}/{windows} ({len(window)} runs batched)")
            blocks.append(time_gemm_steps(gemms, steps, runtime.device))
            group_blocks.append(time_gemm_steps(group, info["steps_per_window"], runtime.device))
            s, flops = arm_window_run(window, data, runtime, info["parameters"])
            seconds.append(s)
        blocks.append(time_gemm_steps(gemms, steps, runtime.device))
        details[name] = {
            **info,
            "window_seconds": seconds,
            "window_flops": flops,
            "gflops": flops / min(seconds) / 1e9 if min(seconds) > 0 else math.nan,
            # the group's own batched products alone, every run live: the ceiling of `gflops`
            "group_gemm_block_seconds": group_blocks,
            "group_gemm_gflops": group_flops / min(group_blocks) / 1e9,
        }
    peak = result["peak"]["gemm_step_flops"] * steps / min(blocks) / 1e9
    out = {"peak_gflops": peak, "train_to_peak_ratio": result["train_gflops"] / peak, "arm_training": details}
    out.update({f"{name}_train_to_peak_ratio": d["gflops"] / peak for name, d in details.items()})
    for d in details.values():
        d["group_gemm_to_peak_ratio"] = d["group_gemm_gflops"] / peak
    return out
