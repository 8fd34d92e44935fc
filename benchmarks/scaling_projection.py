"""Projected wall time of Studies 3 and 4 on a Ray cluster, from measured per-job times (docs/SCALING.md).

Reads the run files of a finished `optim` and `dropout` folder, takes each job's measured CPU seconds of its
training loop (`train_cpu_seconds`: with one torch thread per job, what the job takes on a core of its own),
averages them per kind of job (the job's name without its seed; a kind not measured takes the mean of the
measured jobs of its study with the same dropout setting, which have the same shapes), builds the job list of
the full presets at `--seeds` seeds with the studies' own `jobs()`, and schedules it longest-first onto
machines x cores one-thread slots (what Ray does with `--threads-per-job 1` when every job is queued at
once). It prints the per-kind times
and a Markdown table of projected training time (the makespan) per cluster shape.

    python benchmarks/scaling_projection.py --optim runs/optim --dropout runs/dropout --seeds 10

This is a projection, not a measurement: it assumes a job takes as long on a busy 16-core machine as on a core
of its own (no memory-bandwidth contention), and it leaves out the fixed costs (Ray start, data, figures),
which the caller adds from a measured run.
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import json
from pathlib import Path

from denselab.studies.sweeps import dropout, optim


def kind(name: str) -> str:
    """A job's name without its seed: `sgd-lr1-relu-he-s2` -> `sgd-lr1-relu-he`."""
    return name.rsplit("-s", 1)[0]


def family(spec: dict) -> str:
    """Jobs of the same shapes: the study, with or without dropout."""
    return f"{spec['study']}{'-dropout' if spec['dropout'] else ''} (any arm)"


def measured(folder: Path) -> dict[str, list[float]]:
    """Kind of job (and family of jobs) -> CPU seconds of each measured job of that kind (family)."""
    times: dict[str, list[float]] = {}
    for path in sorted((folder / "runs").glob("*.json")):
        record = json.loads(path.read_text())
        for key in (kind(record["name"]), family(record["spec"])):
            times.setdefault(key, []).append(record["result"]["train_cpu_seconds"])
    return times


def makespan(seconds: list[float], slots: int) -> float:
    """Longest-first list scheduling of jobs onto `slots` identical slots: when the last one ends."""
    ends = [0.0] * slots
    for s in sorted(seconds, reverse=True):
        heapq.heapreplace(ends, ends[0] + s)  # ends is a heap: its smallest is the slot that frees first
    return max(ends)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--optim", type=Path, required=True, help="a finished `denselab optim` folder")
    ap.add_argument("--dropout", type=Path, required=True, help="a finished `denselab dropout` folder")
    ap.add_argument("--seeds", type=int, default=10, help="seeds of the projected run [default: 10]")
    ap.add_argument("--machines", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--cores", type=int, nargs="+", default=[2, 16])
    args = ap.parse_args()

    per_kind = {**measured(args.optim), **measured(args.dropout)}
    mean = {k: sum(v) / len(v) for k, v in per_kind.items()}
    print("| job kind | measured jobs | CPU seconds per job (mean, min-max) |\n|---|---|---|")
    for k in sorted(k for k in mean if "(any arm)" not in k):
        v = per_kind[k]
        print(f"| `{k}` | {len(v)} | {mean[k]:.1f} ({min(v):.1f}-{max(v):.1f}) |")

    configs = {
        "optim": dataclasses.replace(optim.Config(), seeds=args.seeds),
        "dropout": dataclasses.replace(dropout.Config(), seeds=args.seeds),
    }
    job_lists = {
        "optim": [j for part in optim.jobs(configs["optim"]) for j in part],
        "dropout": dropout.jobs(configs["dropout"]),
    }
    seconds = {
        study: [mean[kind(j.name)] if kind(j.name) in mean else mean[family(j.spec())] for j in jobs]
        for study, jobs in job_lists.items()
    }
    total = {s: sum(v) for s, v in seconds.items()}
    print(
        f"\n{args.seeds} seeds: optim {len(seconds['optim'])} jobs ({total['optim'] / 60:.0f} CPU minutes), "
        f"dropout {len(seconds['dropout'])} jobs ({total['dropout'] / 60:.0f} CPU minutes)\n"
    )
    print("| machines x cores | slots | optim (min) | dropout (min) | both, one after the other (min) |")
    print("|---|---|---|---|---|")
    for cores in args.cores:
        for machines in args.machines:
            slots = machines * cores
            o, d = makespan(seconds["optim"], slots), makespan(seconds["dropout"], slots)
            print(f"| {machines} x {cores} | {slots} | {o / 60:.1f} | {d / 60:.1f} | {(o + d) / 60:.1f} |")


if __name__ == "__main__":
    main()
