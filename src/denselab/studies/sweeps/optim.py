"""Study 3 (assignment Problem 3): does a deep net train? Initialisation x activation x optimiser.

5 hidden layers x 512 units on MNIST, five arms - sigmoid + N(0, 0.01²), sigmoid + Xavier, ReLU + N(0, 0.01²),
ReLU + Xavier, ReLU + He - each trained with plain SGD at lr 1.0 (no momentum, no weight decay, no schedule)
and with Adam at its library defaults, with the same batch size and epochs for every run and the same data
order for every run of one seed. `--seeds N` repeats every run for seeds seed..seed+N-1 (figures: mean
curve, min-max band). That is the main result.

Beyond the assignment: the same arms under SGD at smaller learning rates (`--lr-sweep`), under the other
pixel scaling (`--scaling-check`), and the SGD map (`--sgd-map`, `sgd_map.py`): lr 1.0 over a grid of the
choices the assignment leaves free. Each run is a job with its own file under OUT/runs/ (see `jobs.py`): the
study resumes after an interruption. A run whose loss goes non-finite stops, is recorded as `diverged` and
the study goes on.
The full preset's sizes are in `PRESETS` / `Config` and stated by `PRESET_HELP`; `--train-subset 0
--test-subset 0` uses all images.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from denselab.config import Runtime
from denselab.data.mnist import check_download_folder
from denselab.errors import DenselabError
from denselab.io import write_json
from denselab.studies.sweeps import sgd_map
from denselab.studies.sweeps.base import (
    ArmConfig,
    check_choices,
    load_data,
    other_scaling,
    run_seeds,
    validate_common,
)
from denselab.studies.sweeps.jobs import Job, failed_entries, make_job, run_entry, run_jobs_by_data
from denselab.studies.sweeps.optim_summary import summarise

ARMS = ("sigmoid-normal", "sigmoid-xavier", "relu-normal", "relu-xavier", "relu-he")
OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class Config(ArmConfig):
    """Study 3: five init x activation arms, each under plain SGD (lr 1.0) and Adam (defaults), 5x512 nets."""

    arms: tuple[str, ...] = ARMS
    """Activation-init arms to train (from: sigmoid-normal sigmoid-xavier relu-normal relu-xavier relu-he)."""
    batch_size: int = 64
    """Images per optimiser step (the same for every main run)."""
    optimizers: tuple[str, ...] = OPTIMIZERS
    """Optimisers every arm is trained with (sgd = plain SGD at --sgd-lr; adam = torch defaults)."""
    init_std: float = 0.01
    """Standard deviation of the `normal` initialisation (the assignment's σ = 0.01: N(0, 0.01²))."""
    sgd_lr: float = 1.0
    """Learning rate of plain SGD: the assignment fixes it at 1.0 (change it only to experiment)."""
    lr_sweep: bool = True
    """Beyond the assignment: also train every arm under SGD at each of --sweep-lrs."""
    sweep_lrs: tuple[float, ...] = (0.01, 0.1)
    """SGD learning rates of the sweep (the main runs supply --sgd-lr)."""
    sweep_seeds: int = 1
    """Seeds per sweep and scaling-check run (seed..seed+sweep_seeds-1)."""
    input_scaling: Literal["standardise", "unit"] = "standardise"
    """Pixels of the main runs: standardise = [0, 1] then (x - 0.1307) / 0.3081 (the assignment's); unit:
    [0, 1]."""
    scaling_check: bool = True
    """Beyond the assignment: also train the arms under SGD at --sgd-lr with the other --input-scaling."""
    sgd_map: bool = True
    """Beyond the assignment: train the arms under SGD at --sgd-lr, seed --seed, in every cell of the map."""
    map_scalings: tuple[str, ...] = ("unit", "standard")
    """SGD map: pixel scalings (unit = [0, 1]; standard = [0, 1] then (x - 0.1307) / 0.3081)."""
    map_batch_sizes: tuple[int, ...] = (64, 256)
    """SGD map: batch sizes."""
    map_train_sizes: tuple[int, ...] = (2000, 10000)
    """SGD map: training images, each a random subset (the smaller inside the larger), below 60000."""
    map_epochs: int = 8
    """SGD map: epochs of every cell (a cell with the main batch size, images and epochs reuses main runs)."""


PRESETS: dict[str, dict[str, Any]] = {
    "full": {},
    "quick": {
        "seeds": 1,
        "epochs": 2,
        "train_subset": 2000,
        "test_subset": 2000,
        "sweep_lrs": (0.1,),
        "probe_size": 256,
        "trace_steps": 32,
        "map_batch_sizes": (64, 256),
        "map_train_sizes": (500, 2000),
        "map_epochs": 2,
    },
}


def _preset_help(preset: str) -> str:
    c = Config(**PRESETS[preset])
    cells = len(c.map_scalings) * len(c.map_batch_sizes) * len(c.map_train_sizes)
    return (
        f"the assignment's runs (plain SGD lr {c.sgd_lr:g}, Adam) on {c.train_subset} training images, "
        f"batch {c.batch_size}, {c.epochs} epochs, {c.seeds} seed{'s' if c.seeds != 1 else ''}; beyond the "
        f"assignment: SGD at lr "
        f"{', '.join(f'{lr:g}' for lr in c.sweep_lrs)}, the other pixel scaling, and the SGD map "
        f"({cells} settings x {len(c.arms)} arms, {c.map_epochs} epochs, 1 seed)"
    )


PRESET_HELP: dict[str, str] = {preset: _preset_help(preset) for preset in PRESETS}


def validate(config: Config) -> None:
    """Reject bad settings before anything is written (called by the CLI, and again by `run`)."""
    validate_common(config, ARMS, positive=("sweep_seeds", "map_epochs"))
    check_choices("optimizers", config.optimizers, OPTIMIZERS)
    if not config.sgd_lr > 0 or any(not lr > 0 for lr in config.sweep_lrs):
        raise DenselabError("learning rates must be positive")
    if config.sgd_map:
        check_choices("map-scalings", config.map_scalings, tuple(sgd_map.MAP_SCALINGS))
        for name, values, top in (
            ("map-batch-sizes", config.map_batch_sizes, None),
            ("map-train-sizes", config.map_train_sizes, 59999),
        ):
            if not values or any(v < 1 or (top and v > top) for v in values):
                limit = f"from 1 to {top}" if top else "at least 1"
                raise DenselabError(f"--{name} must each be {limit}, got {' '.join(map(str, values))}")


def jobs(config: Config) -> tuple[list[Job], list[Job], list[Job], list[Job]]:
    """(main jobs, sweep jobs, scaling-check jobs, SGD-map jobs). Main: every arm x optimiser x seed; sweep:
    every arm under SGD at each sweep lr; scaling check: every arm under SGD at --sgd-lr with the other input
    scaling (the sweep and the check run --sweep-seeds seeds); map: the `sgd_map.cells` that are none of the
    others."""

    def job(
        arm: str, optimizer: str, lr: float | None, seed: int, scaling: str = config.input_scaling
    ) -> Job:
        return make_job(
            config,
            "optim",
            arm,
            seed,
            optimizer=optimizer,
            lr=lr,
            init_std=config.init_std,
            input_scaling=scaling,
        )

    sweep_seeds = range(config.seed, config.seed + config.sweep_seeds)
    main = [
        job(arm, opt, config.sgd_lr if opt == "sgd" else None, s)
        for opt in config.optimizers
        for arm in config.arms
        for s in run_seeds(config)
    ]
    lrs = [lr for lr in config.sweep_lrs if lr != config.sgd_lr] if config.lr_sweep else []
    sweep = [job(arm, "sgd", lr, s) for lr in lrs for arm in config.arms for s in sweep_seeds]
    check = []
    if config.scaling_check and "sgd" in config.optimizers:
        other = other_scaling(config.input_scaling)
        check = [job(arm, "sgd", config.sgd_lr, s, other) for arm in config.arms for s in sweep_seeds]
    known = {j.name for j in main + sweep + check}
    cells = [c.job for c in sgd_map.cells(config) if c.job.name not in known]
    return main, sweep, check, cells


RUN_KEYS = ("optimizer", "lr", "activation", "init", "seed")


def run(config: Config, out_dir: Path, runtime: Runtime | None = None) -> dict[str, Any]:
    """Train every job not already in OUT/runs, draw the figures, write summary.json (last)."""
    from denselab.plotting.optim import optim_figures

    runtime = runtime or Runtime()
    validate(config)
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    main, sweep, check, cells = jobs(config)

    def load(rt: Runtime, scaling: str, train_subset: int | None):
        return load_data(rt, replace(config, train_subset=train_subset), scaling)

    done = run_jobs_by_data(main + sweep + check + cells, out_dir / "runs", load, runtime, config.group_size)
    failed = failed_entries(list(done.values()), RUN_KEYS)

    def entries(part: list[Job]) -> list[dict[str, Any]]:
        return [run_entry(done[j.name], RUN_KEYS) for j in part if not done[j.name].get("failed")]

    summary = summarise(config, entries(main), entries(sweep), entries(check))
    summary.update(sgd_map.summarise(config, done))
    summary["failed_runs"] = failed
    trained = [d for d in done.values() if not d.get("failed")]
    summary["train_seconds"] = sum(d["result"]["train_seconds"] for d in trained)
    summary["reused_runs"] = sum(d["reused"] for d in done.values())
    figures = optim_figures(summary, out_dir / "figures")
    summary["figures"] = [str(p.relative_to(out_dir)) for p in figures]
    summary["wall_seconds"] = time.perf_counter() - t0
    write_json(out_dir / "summary.json", summary)
    return summary


def check_inputs(config: Config, data_dir: Path) -> None:
    """DenselabError when <data-dir>/mnist holds a file that cannot be read (it may be absent: it is
    downloaded); writes nothing."""
    check_download_folder(Path(data_dir) / "mnist")
