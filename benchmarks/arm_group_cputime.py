"""Study 3 or 4 training rate over the GEMM peak, in CPU time, for several group sizes (docs/BENCHMARKS.md,
batched Studies 3 and 4). For a busy machine: run with OMP_WAIT_POLICY=PASSIVE so waiting threads burn no CPU.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/arm_group_cputime.py optim 1,20,40 --steps 24 --threads 2
    OMP_WAIT_POLICY=PASSIVE python benchmarks/arm_group_cputime.py dropout 1,6 --steps 8 --threads 2

The groups are picked evenly across the study's full-preset jobs, trained for 2 epochs of `steps` batches
(test images in the study's proportion, probes off) by `jobs.train_group`; the second epoch's CPU
seconds count, with FLOPs as `denselab bench` counts them (6 x parameters x training images + 2 x per
evaluated image).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from denselab.bench import step_gemms
from denselab.config import Runtime
from denselab.models.mlp import build_mlp, count_parameters
from denselab.studies.sweeps import base, dropout, optim
from denselab.studies.sweeps import jobs as job_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=("optim", "dropout"))
    parser.add_argument("groups", help="comma-separated group sizes")
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--data-dir", default="../shared/data")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runtime = Runtime("cpu", args.data_dir, quiet=True)
    if args.study == "optim":
        main_jobs, sweep, _, _ = optim.jobs(optim.Config())  # the check and the map use other data
        jobs, test_per_train = main_jobs + sweep, 0.5
    else:
        jobs, test_per_train = dropout.jobs(dropout.Config()), 1.0
    n_train = args.steps * jobs[0].batch_size
    n_test = round(n_train * test_per_train)
    jobs = [
        dataclasses.replace(
            j, epochs=2, train_subset=n_train, test_subset=n_test, probe_size=1, trace_steps=0
        )
        for j in jobs
    ]
    data = base.load_data(runtime, optim.Config(train_subset=n_train, test_subset=n_test))
    params = count_parameters(build_mlp(jobs[0].widths))
    gemms = step_gemms([784] + [1024] * 5 + [10], 512, "cpu")
    gemm_flops = sum(f for _, f, _ in gemms)

    def peak() -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.process_time()
            for _, _, run in gemms:
                run()
            best = min(best, time.process_time() - t0)
        return (
            gemm_flops / best * args.threads / 1e9
        )  # CPU seconds over threads ~ wall seconds of a quiet machine

    for size in (int(g) for g in args.groups.split(",")):
        group = [jobs[(i * len(jobs)) // size] for i in range(size)]
        results = job_table.train_group(group, data, runtime)
        alive = [r for r in results if not r["diverged"]]
        flops = len(alive) * params * (6 * n_train + 2 * n_test + (2 * n_train if group[0].eval_train else 0))
        cpu = sum(r["epoch_cpu_seconds"][1] for r in alive)
        rate = flops / cpu * args.threads / 1e9
        p = peak()
        print(
            f"{args.study} group of {size} ({len(alive)} not diverged): {rate:.1f} GFLOP/s, peak {p:.1f}, "
            f"ratio {rate / p:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
