"""Issue 16 levers, measured on `denselab bench`'s own Study 3/4 windows (docs/BENCHMARKS.md, 2026-11-29 05:00).

    python benchmarks/arm_window_ab.py variant OTHER_BATCHED.py [--reps 8] [--mult 1]
    python benchmarks/arm_window_ab.py slots [--reps 4]
    python benchmarks/arm_window_ab.py layouts [--reps 12]
    python benchmarks/arm_window_ab.py profile

`variant`: the window (`bench.arm_window`, run by `bench.arm_window_run` as the bench does) trained by the
installed `denselab/training/batched.py` ("installed") and by another copy of that file ("other", e.g. the
installed one with `benchmarks/tried/manual_backward.diff` applied), alternating which goes first, each
repetition beside a GEMM-peak block. Prints each pair's time ratio (other / installed), their median, and each
version's best ratio to the peak. `--mult` makes the window that many times longer.

`slots`: the study's two largest groups as the window's 2 epochs, trained one after the other at 2 torch threads
(what `--executor local` does) and side by side in two Python threads at 1 torch thread each (what a local
two-slot executor would do). Prints the wall seconds of both, the longest epoch-2 time, and the median of the
pairs' wall-time ratios.

`layouts`: the batched products of Study 3's and Study 4's shapes in each layout (weights stored (in, out) or
(out, in); the weight gradient or its transpose), interleaved, best of `--reps` rounds, in GFLOP/s.

`profile`: `torch.profiler`'s self-CPU table of one window of each study, trained by the installed code.

The machine's speed moves by up to 25 % between two 3-second windows, so compare medians of pairs, not single
numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from denselab import bench
from denselab.config import Runtime
from denselab.runner import REGISTRY, study_config
from denselab.studies import arms

STUDY1_WIDTHS, STUDY1_BATCH = [784] + [1024] * 5 + [10], 512  # the peak's shapes (Study 1's full preset)


def load_variant(path: Path):
    spec = importlib.util.spec_from_file_location("batched_other", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["batched_other"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def variant(other: Path, runtime: Runtime, reps: int, mult: int) -> None:
    import denselab.training.batched as installed

    versions = {"installed": installed.fit_group, "other": load_variant(other).fit_group}
    gemms = bench.step_gemms(STUDY1_WIDTHS, STUDY1_BATCH, runtime.device)
    flops_step = sum(f for _, f, _ in gemms)
    blocks: list[float] = []
    for name in ("optim", "dropout"):
        window, data, info = bench.arm_window(name, runtime, 0, bench.ARM_WINDOW_STEPS[name] * mult)
        best = {v: math.inf for v in versions}
        pairs, flops = [], math.nan
        for i in range(reps):
            blocks.append(bench.time_gemm_steps(gemms, 8, runtime.device))
            seconds = {}
            for v in list(versions) if i % 2 == 0 else list(versions)[::-1]:
                arms.fit_group = versions[v]  # what arms.train_group calls
                seconds[v], flops = bench.arm_window_run(window, data, runtime, info["parameters"])
                best[v] = min(best[v], seconds[v])
            pairs.append(seconds["other"] / seconds["installed"])
        arms.fit_group = installed.fit_group
        blocks.append(bench.time_gemm_steps(gemms, 8, runtime.device))
        peak = flops_step * 8 / min(blocks) / 1e9
        print(
            f"{name}: other/installed time per pair {[round(p, 3) for p in pairs]}, median "
            f"{statistics.median(pairs):.3f}; best ratio to the peak ({peak:.1f} GFLOP/s): "
            + ", ".join(f"{v} {flops / best[v] / 1e9 / peak:.3f}" for v in versions),
            flush=True,
        )


def slots(runtime: Runtime, reps: int) -> None:
    pool = ThreadPoolExecutor(2)
    for name in ("optim", "dropout"):
        window, data, info = bench.arm_window(name, runtime, 0, bench.ARM_WINDOW_STEPS[name])
        w0 = window[0]
        jobs = REGISTRY[name].module.jobs(study_config(name, "full", {"seed": 0}))
        jobs = [j for part in jobs for j in part] if isinstance(jobs, tuple) else jobs
        groups = [
            [
                dataclasses.replace(
                    j,
                    epochs=2,
                    train_subset=w0.train_subset,
                    test_subset=w0.test_subset,
                    probe_size=w0.probe_size,
                    trace_steps=w0.trace_steps,
                )
                for j in g
            ]
            for g in sorted(arms.group_jobs(jobs), key=len, reverse=True)[:2]
        ]

        def epoch2(group: list) -> float:  # the group's second-epoch seconds, as the bench times a window
            return bench.arm_window_run(group, data, runtime, info["parameters"])[0]

        def one_after_the_other() -> tuple[float, float]:
            torch.set_num_threads(2)
            t0 = time.perf_counter()
            e = [epoch2(g) for g in groups]
            return time.perf_counter() - t0, sum(e)

        def side_by_side() -> tuple[float, float]:
            def job(g):
                torch.set_num_threads(1)  # per OS thread: OpenMP keeps the thread count per thread
                return epoch2(g)

            t0 = time.perf_counter()
            e = [f.result() for f in [pool.submit(job, g) for g in groups]]
            torch.set_num_threads(2)
            return time.perf_counter() - t0, max(e)

        modes = {
            "one after the other, 2 threads": one_after_the_other,
            "side by side, 1 thread each": side_by_side,
        }
        pairs = []
        for i in range(reps):
            walls = {}
            for label in list(modes) if i % 2 == 0 else list(modes)[::-1]:
                wall, e2 = walls[label] = modes[label]()
                print(
                    f"{name} ({len(groups[0])} + {len(groups[1])} runs) {label}: {wall:.2f} s, epoch 2 {e2:.2f} s",
                    flush=True,
                )
            pairs.append(walls["side by side, 1 thread each"][0] / walls["one after the other, 2 threads"][0])
        print(
            f"{name}: side by side / one after the other, wall, per pair {[round(p, 3) for p in pairs]}, median "
            f"{statistics.median(pairs):.3f}",
            flush=True,
        )


def layouts(reps: int) -> None:
    for g, n, fan_in, fan_out in (
        (20, 64, 512, 512),
        (20, 64, 784, 512),
        (6, 128, 1024, 1024),
        (6, 128, 784, 1024),
    ):
        x, dz, b = torch.randn(g, n, fan_in), torch.randn(g, n, fan_out), torch.randn(g, 1, fan_out)
        w = torch.randn(g, fan_in, fan_out)
        wt = w.transpose(1, 2).contiguous()  # (out, in), as nn.Linear stores it
        y, dx = torch.empty(g, n, fan_out), torch.empty(g, n, fan_in)
        dw, dwt = torch.empty(g, fan_in, fan_out), torch.empty(g, fan_out, fan_in)
        products = {
            "forward x@W": lambda: torch.baddbmm(b, x, w, out=y),
            "forward x@(Wt)^T": lambda: torch.baddbmm(b, x, wt.transpose(1, 2), out=y),
            "grad-input dZ@W^T": lambda: torch.bmm(dz, w.transpose(1, 2), out=dx),
            "grad-input dZ@Wt": lambda: torch.bmm(dz, wt, out=dx),
            "grad-weight X^T@dZ": lambda: torch.bmm(x.transpose(1, 2), dz, out=dw),
            "grad-weight^T dZ^T@X": lambda: torch.bmm(dz.transpose(1, 2), x, out=dwt),
        }
        best = {k: math.inf for k in products}
        for _ in range(reps):
            for k, fn in products.items():
                fn()
                t0 = time.perf_counter()
                for _ in range(5):
                    fn()
                best[k] = min(best[k], (time.perf_counter() - t0) / 5)
        flops = 2 * g * n * fan_in * fan_out
        print(
            f"{g} runs x ({n}x{fan_in})@({fan_in}x{fan_out}):",
            ", ".join(f"{k} {flops / t / 1e9:.1f}" for k, t in best.items()),
            flush=True,
        )


def profile(runtime: Runtime) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    for name in ("optim", "dropout"):
        window, data, _ = bench.arm_window(name, runtime, 0, bench.ARM_WINDOW_STEPS[name])
        arms.train_group(window, data, runtime)  # warm-up
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            arms.train_group(window, data, runtime)
        print(name, prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("variant", "slots", "layouts", "profile"))
    parser.add_argument("other", nargs="?", type=Path, help="variant: another copy of training/batched.py")
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--mult", type=int, default=1)
    parser.add_argument("--data-dir", default="../shared/data")
    args = parser.parse_args()
    runtime = Runtime(data_dir=args.data_dir, quiet=True)
    if args.what == "variant":
        if args.other is None:
            parser.error("variant needs the other copy of training/batched.py")
        variant(args.other, runtime, args.reps, args.mult)
    elif args.what == "slots":
        slots(runtime, args.reps)
    elif args.what == "layouts":
        layouts(args.reps)
    else:
        profile(runtime)


if __name__ == "__main__":
    main()
