"""The *jobs* Studies 3 (optim) and 4 (dropout) are lists of (`Job`: one training run, an arm of the study at
one seed). Every job writes its own atomic result file `OUT/runs/<name>.json`, and a job whose file holds the
same spec is not trained again. So a study killed at any moment resumes from the last finished group, and its
groups could be fanned out to other machines (`executor`).

Jobs that share a shape (widths, batch size, epochs, data) are trained together as one batched computation
(`group_jobs`, `train_group`, `training.batched`): each keeps its own initialisation, data order, dropout
masks, optimiser state and divergence, and a group of one is the single-run path.

A job also records *why* an arm trains or not: per-layer gradient norms and activation statistics at a few
probe points (first steps, middle, end), and the loss of every step of the first epoch, where sigmoid +
N(0, 0.01²) shows vanishing gradients and ReLU under lr 1.0 shows the blow-up.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from denselab.config import Runtime
from denselab.io import finite, json_roundtrip, read_json, write_json
from denselab.studies.sweeps import executor
from denselab.studies.sweeps.base import ArmConfig, widths
from denselab.training.batched import Data, Member, Shape, fit_group

# Bump when the meaning of a job's numbers changes, so old run files are not reused.
JOB_FORMAT = "denselab-arm-job/2"  # 2: results carry `step_loss`


# --------------------------------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Job:
    """One training run: an arm of a study at one seed. Its fields, as JSON, are the `spec` stored in the run
    file; a finished file whose spec equals the job's is reused."""

    study: str
    arm: str  # "<activation>-<init>"
    activation: str
    init: str
    init_std: float  # std of the `normal` init
    widths: tuple[int, ...]
    dropout: float | tuple[float, ...]  # input dropout rate per weight layer (0.0 = none)
    optimizer: str
    lr: float | None  # None = the optimiser's torch default
    epochs: int
    batch_size: int
    train_subset: int | None
    test_subset: int | None
    data_seed: int  # picks the image subsets (the same for every run of a study)
    seed: int  # init, data order and dropout masks
    eval_train: bool  # re-measure the training curves in eval mode after every epoch
    probe_size: int
    trace_steps: int
    input_scaling: str = "standardise"  # a key of base.SCALINGS
    tag: str = ""  # names a job whose shape is not its study's main one (e.g. a cell of the SGD map)

    @property
    def name(self) -> str:
        """File-name-safe name: optimiser[-lr], activation-init, [-dropout], seed."""
        parts = [self.optimizer]
        if self.lr is not None:
            parts.append(f"lr{self.lr:g}")
        parts += [self.activation, self.init]
        if self.dropout:
            parts.append("dropout")
        if self.input_scaling != "standardise":
            parts.append(self.input_scaling)
        if self.tag:
            parts.append(self.tag)
        parts.append(f"s{self.seed}")
        return "-".join(parts)

    def spec(self) -> dict[str, Any]:
        """The job as it is stored in (and read back from) its run file; the default scaling and an empty tag
        are left out (the spec of a job without them is what it was before those fields existed)."""
        spec = dataclasses.asdict(self)
        if spec["input_scaling"] == "standardise":
            del spec["input_scaling"]
        if not spec["tag"]:
            del spec["tag"]
        return json_roundtrip(spec)


def make_job(
    config: ArmConfig,
    study: str,
    arm: str,
    seed: int,
    *,
    optimizer: str,
    lr: float | None = None,
    dropout: float | tuple[float, ...] = 0.0,
    init_std: float = 0.01,
    eval_train: bool = False,
    input_scaling: str = "standardise",
    tag: str = "",
) -> Job:
    """A job of `study` at `seed` with the shared settings (widths, epochs, batch, subsets, probes) of
    `config`."""
    activation, init = arm.split("-")
    return Job(
        study=study,
        arm=arm,
        activation=activation,
        init=init,
        init_std=init_std,
        widths=tuple(widths(config)),
        dropout=dropout,
        optimizer=optimizer,
        lr=lr,
        epochs=config.epochs,
        batch_size=config.batch_size,
        train_subset=config.train_subset,
        test_subset=config.test_subset,
        data_seed=config.seed,
        seed=seed,
        eval_train=eval_train,
        probe_size=config.probe_size,
        trace_steps=config.trace_steps,
        input_scaling=input_scaling,
        tag=tag,
    )


def member(job: Job) -> Member:
    """What the job's run does differently from the others of its group: activation, init (N(0, init_std²)
    for `normal`), input dropout rate of each weight layer (a single rate applies to every layer), optimiser,
    seed."""
    n_layers = len(job.widths) - 1
    rates = (
        tuple(float(p) for p in job.dropout)
        if isinstance(job.dropout, (tuple, list))
        else (float(job.dropout),) * n_layers
    )
    return Member(
        activation=job.activation,
        init=job.init,
        init_std=job.init_std,
        dropout=rates,
        optimizer=job.optimizer,
        lr=job.lr,
        seed=job.seed,
    )


def group_key(job: Job) -> tuple:
    """What the jobs trained together share: widths, batch size, epochs, the data (subsets, their seed, the
    pixel scaling) and what is measured (eval mode train curves, probe size, traced steps)."""
    return (
        tuple(job.widths),
        job.batch_size,
        job.epochs,
        job.train_subset,
        job.test_subset,
        job.data_seed,
        job.eval_train,
        job.probe_size,
        job.trace_steps,
        job.input_scaling,
    )


# Largest per-layer stacked weight (bytes) of a group. glibc hands blocks above 32 MiB (its largest mmap
# threshold) back to the OS on every free, so each step's gradients would be page-faulted in anew: measured
# 0.60 of peak for all 40 Study-3 runs in one group against 0.65 for 20 (CPU time, 2 threads, shared machine).
GROUP_LAYER_BYTES = 32 * 2**20


def group_jobs(jobs: Sequence[Job], max_size: int | None = None) -> list[list[Job]]:
    """The jobs as groups that `train_group` trains together: jobs with the same `group_key`, in order of
    first appearance, each in the jobs' order, cut into as few near-equal pieces as keep every piece within
    `max_size` runs (None: no limit) and its largest stacked weight within GROUP_LAYER_BYTES.

    On one machine large groups are fastest (docs/BENCHMARKS.md, batched runs); an executor with many cores
    may ask for smaller ones to keep them all busy."""
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault(group_key(job), []).append(job)
    out = []
    for group in groups.values():
        w = group[0].widths
        size = max(1, GROUP_LAYER_BYTES // (4 * max(a * b for a, b in zip(w[:-1], w[1:]))))
        if max_size and max_size > 0:
            size = min(size, max_size)
        pieces = -(-len(group) // size)
        bounds = [round(i * len(group) / pieces) for i in range(pieces + 1)]
        out += [group[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    return out


def train_group(
    jobs: Sequence[Job], data: Data, runtime: Runtime, desc: str = "train"
) -> list[dict[str, Any]]:
    """Train jobs that share a `group_key` as one batched computation (`training.batched.fit_group`); one
    result per job, in order: curves, initial metrics, probes, trace, divergence, timings. Each job keeps its
    own initialisation, data order, dropout masks, optimiser state and divergence; a group of one is the
    single-run path."""
    keys = {group_key(job) for job in jobs}
    if len(keys) != 1:
        raise ValueError(
            f"train_group needs jobs that share widths, batch size, epochs and data; got {len(keys)} kinds"
        )
    j0 = jobs[0]
    members = [member(j) for j in jobs]
    shape = Shape(
        widths=tuple(j0.widths),
        epochs=j0.epochs,
        batch_size=j0.batch_size,
        eval_train=j0.eval_train,
        probe_size=j0.probe_size,
        trace_steps=j0.trace_steps,
    )
    return fit_group(members, shape, data, runtime.device, quiet=runtime.quiet, desc=desc)


def run_jobs(
    jobs: Sequence[Job],
    runs_dir: Path,
    data_fn: Callable[[Runtime], Data],
    runtime: Runtime,
    group_size: int = 0,
) -> list[dict[str, Any]]:
    """Run every job not already finished in `runs_dir` on `runtime.executor`; return per job, in order, the
    run file's record as JSON reads it back plus `"reused"` (`{"name", "spec", "result", "reused"}`), or
    `{"name", "spec", "failed": True, "error", "reused": False}` for a job that failed for good (it has no run
    file, so the next run of the study trains it again).

    A run file is reused only when its stored spec equals the job's spec; anything else (missing, unreadable,
    another spec) is trained again, in groups (`group_jobs`, `train_group`) of at most `group_size` runs
    (0: no limit) and at most as many as give every slot of the executor a group; each job's file is written
    (atomically, by this process) as its group returns. `data_fn(runtime)` loads the data, only if some job
    needs training."""
    runs_dir = Path(runs_dir)
    done: dict[str, dict[str, Any]] = {}
    todo = []
    for job in jobs:
        stored = _read_run(runs_dir / f"{job.name}.json")
        if stored is not None and stored.get("spec") == job.spec():
            done[job.name] = {**stored, "reused": True}
        else:
            todo.append(job)
    if done and not runtime.quiet:
        print(
            f"  {len(done)} of {len(jobs)} jobs finished earlier: reusing their files in {runs_dir}",
            file=sys.stderr,
        )

    def on_result(name: str, job: Job, result: dict[str, Any] | None, error: str | None) -> None:
        if error is not None:
            done[name] = {"name": name, "spec": job.spec(), "failed": True, "error": error, "reused": False}
            tqdm.write(f"denselab: run {name} failed: {error}", file=sys.stderr)
            return
        record = {"format": JOB_FORMAT, "name": name, "spec": job.spec(), "result": result}
        write_json(runs_dir / f"{name}.json", record)
        done[name] = {**json_roundtrip(record), "reused": False}

    def units(slots: int) -> list[list[tuple[str, Job]]]:  # groups cut so that every slot gets one
        size = math.ceil(len(todo) / slots)
        groups = group_jobs(todo, min(size, group_size) if group_size else size)
        return [[(job.name, job) for job in group] for group in groups]

    if todo:
        executor.run_units(units, train_group, data_fn, runtime, on_result, done_before=len(done))
    return [done[job.name] for job in jobs]


def run_jobs_by_data(
    jobs: Sequence[Job],
    runs_dir: Path,
    load: Callable[[Runtime, str, int | None], Data],
    runtime: Runtime,
    group_size: int = 0,
) -> dict[str, dict[str, Any]]:
    """`run_jobs` for jobs that train on different data: one call per (pixel scaling, training subset), in
    order of first appearance, whose data `load(runtime, scaling, train_subset)` gives. A job named twice runs
    once. Returns job name -> `run_jobs`' record."""
    parts: dict[tuple[str, int | None], list[Job]] = {}
    for job in {job.name: job for job in jobs}.values():
        parts.setdefault((job.input_scaling, job.train_subset), []).append(job)
    done: dict[str, dict[str, Any]] = {}
    for (scaling, subset), part in parts.items():

        def data_fn(rt: Runtime, scaling: str = scaling, subset: int | None = subset) -> Data:
            return load(rt, scaling, subset)

        done.update(zip((j.name for j in part), run_jobs(part, runs_dir, data_fn, runtime, group_size)))
    return done


def failed_entries(done: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """The summary's `failed_runs`: per failed job the spec fields in `keys`, its name and its error.

    Raises RuntimeError when every job failed (there is nothing to summarise)."""
    failed = [
        {**{k: j["spec"][k] for k in keys}, "failed": True, "error": j["error"], "name": j["name"]}
        for j in done
        if j.get("failed")
    ]
    if failed and len(failed) == len(done):
        raise RuntimeError(
            f"all {len(done)} runs failed; the first: {failed[0]['name']}: {failed[0]['error']}"
        )
    return failed


def _read_run(path: Path) -> dict[str, Any] | None:
    try:
        stored = read_json(path)
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("format") != JOB_FORMAT or "result" not in stored:
        return None
    return stored


# ------------------------------------------------------------------------------------------------ summary


def seed_stats(values: Sequence[float | None]) -> dict[str, float | None]:
    """mean / min / max over the finite values (None when there are none)."""
    vals = [float(v) for v in values if finite(v)]
    if not vals:
        return {"mean": None, "min": None, "max": None, "n": 0}
    return {"mean": sum(vals) / len(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def run_entry(job: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """One `runs` item of a summary: the spec fields in `keys`, the per-epoch curves, divergence, probes, the
    traced loss of the first steps and the loss of every step of the first epoch (`step_loss`; not the traced
    per-step gradient norms: those stay in the run file)."""
    spec, res = job["spec"], job["result"]
    entry = {k: spec[k] for k in keys}
    entry.update(
        {
            k: res.get(k)
            for k in (
                "train_loss",
                "train_accuracy",
                "test_loss",
                "test_accuracy",
                "diverged",
                "diverged_at",
                "initial",
                "epochs_completed",
                "steps_per_epoch",
                "train_size",
                "test_size",
                "train_seconds",
                "train_cpu_seconds",
                "probes",
            )
        }
    )
    entry["first_steps_loss"] = res["trace"]["loss"]
    entry["step_loss"] = res.get("step_loss")
    entry["run_file"] = f"runs/{job['name']}.json"
    return entry


def grad_ratio(probe: dict[str, Any]) -> float | None:
    """Gradient norm of the first weight layer over that of the last one at one probe (None if undefined)."""
    g = probe["grad_norm"]
    if not g or g[0] is None or g[-1] is None or not g[-1]:
        return None
    return g[0] / g[-1]
