"""Study 3 (assignment Problem 3): does a deep net train? Initialisation x activation x optimiser.

5 hidden layers x 512 units on MNIST, five arms - sigmoid + N(0, 0.01²), sigmoid + Xavier, ReLU + N(0, 0.01²),
ReLU + Xavier, ReLU + He - each trained with plain SGD at lr 1.0 (no momentum, no weight decay, no schedule)
and with Adam at its library defaults, with the same batch size and epochs for every run and the same data
order for every run of one seed.
`--seeds N` repeats every run for seeds seed..seed+N-1 (figures: mean curve, min-max band).

Beyond the assignment (`--lr-sweep`): the same arms under SGD at smaller learning rates, so a reader sees what
lr 1.0 alone does. Each run is a job with its own file under OUT/runs/ (see `jobs.py`): the study resumes
after an interruption. A run whose loss goes non-finite stops, is recorded as `diverged` and the study goes on.

The full preset is sized for 2 CPU cores: a fixed random 10 000 of the 60 000 training images, batch 64, 8 epochs
(1250 steps per run, enough for sigmoid + Xavier to leave its plateau under lr 1.0), 5 000 test images,
3 seeds; the sweep adds lr 0.01 and 0.1 at one seed. `--train-subset 0 --test-subset 0` uses all images.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from denselab.config import Runtime
from denselab.errors import DenselabError
from denselab.io import last_finite, write_json
from denselab.models.mlp import arm_label
from denselab.studies.sweeps.base import (
    SCALINGS,
    ArmConfig,
    check_choices,
    load_data,
    run_seeds,
    validate_common,
    widths,
)
from denselab.studies.sweeps.jobs import (
    Job,
    failed_entries,
    grad_ratio,
    make_job,
    run_entry,
    run_jobs,
    seed_stats,
)

ARMS = ("sigmoid-normal", "sigmoid-xavier", "relu-normal", "relu-xavier", "relu-he")
OPTIMIZERS = ("sgd", "adam")
# What the variance argument predicts before measuring (Glorot & Bengio 2010; He et al. 2015): with a tiny
# N(0, 0.01²) init the signal and the gradients vanish through 5 layers, so plain SGD stays at chance; Xavier
# (sigmoid) and Xavier/He (ReLU) keep them alive, so the net learns; Adam's per-weight step size rescues every arm.
EXPECTED = {("sgd", "sigmoid-normal"): "stuck", ("sgd", "relu-normal"): "stuck"}  # every other pair: "learns"
CHANCE_ACCURACY = 0.2  # below this final test accuracy an arm counts as stuck (chance is 0.1)
LEARNED_ACCURACY = 0.9  # at or above it an arm counts as having learned; in between, learning slowly


@dataclass(frozen=True)
class Config(ArmConfig):
    """Study 3: five init x activation arms, each under plain SGD (lr 1.0) and Adam (defaults), 5x512 nets."""

    arms: tuple[str, ...] = ARMS
    """Activation-init arms to train (from: sigmoid-normal sigmoid-xavier relu-normal relu-xavier relu-he)."""
    batch_size: int = 64
    """Images per optimiser step (the same for every run; small, so 8 epochs of 10000 images are 1250 steps)."""
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
    """Pixels of every run: standardise = [0, 1] then (x - 0.1307) / 0.3081 (the assignment's Normalize); unit = [0, 1]."""
    scaling_check: bool = True
    """Beyond the assignment: also train the arms under SGD at --sgd-lr with the other --input-scaling."""


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
    },
}


def validate(config: Config) -> None:
    """Reject bad settings before anything is written (called by the CLI, and again by `run`)."""
    validate_common(config, ARMS, positive=("sweep_seeds",))
    check_choices("optimizers", config.optimizers, OPTIMIZERS)
    if not config.sgd_lr > 0 or any(not lr > 0 for lr in config.sweep_lrs):
        raise DenselabError("learning rates must be positive")


def other_scaling(config: Config) -> str:
    """The input scaling the scaling check uses: the one the main runs do not."""
    return next(s for s in SCALINGS if s != config.input_scaling)


def jobs(config: Config) -> tuple[list[Job], list[Job], list[Job]]:
    """(main jobs, sweep jobs, scaling-check jobs). Main: every arm x optimiser x seed; sweep: every arm under SGD
    at each sweep lr; scaling check: every arm under SGD at --sgd-lr with the other input scaling. The sweep and
    the check run --sweep-seeds seeds."""

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

    main = [
        job(arm, opt, config.sgd_lr if opt == "sgd" else None, s)
        for opt in config.optimizers
        for arm in config.arms
        for s in run_seeds(config)
    ]
    sweep = []
    if config.lr_sweep:
        lrs = [lr for lr in config.sweep_lrs if lr != config.sgd_lr]
        sweep = [
            job(arm, "sgd", lr, s)
            for lr in lrs
            for arm in config.arms
            for s in range(config.seed, config.seed + config.sweep_seeds)
        ]
    check = (
        [
            job(arm, "sgd", config.sgd_lr, s, other_scaling(config))
            for arm in config.arms
            for s in range(config.seed, config.seed + config.sweep_seeds)
        ]
        if config.scaling_check and "sgd" in config.optimizers
        else []
    )
    return main, sweep, check


RUN_KEYS = ("optimizer", "lr", "activation", "init", "seed")


def run(config: Config, out_dir: Path, runtime: Runtime | None = None) -> dict[str, Any]:
    """Train every job not already in OUT/runs, draw the figures, write summary.json (last)."""
    from denselab.plotting.optim import optim_figures

    runtime = runtime or Runtime()
    validate(config)
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    main, sweep, check = jobs(config)
    done = run_jobs(
        main + sweep,
        out_dir / "runs",
        lambda rt: load_data(rt, config, config.input_scaling),
        runtime,
        config.group_size,
    )
    # the scaling check needs the other pixels: its own data, loaded only if one of its jobs trains
    done_check = run_jobs(
        check,
        out_dir / "runs",
        lambda rt: load_data(rt, config, other_scaling(config)),
        runtime,
        config.group_size,
    )
    failed = failed_entries(done + done_check, RUN_KEYS)
    runs = [run_entry(j, RUN_KEYS) for j in done[: len(main)] if not j.get("failed")]
    sweep_runs = [run_entry(j, RUN_KEYS) for j in done[len(main) :] if not j.get("failed")]
    check_runs = [run_entry(j, RUN_KEYS) for j in done_check if not j.get("failed")]
    summary = summarise(config, runs, sweep_runs, check_runs)
    summary["failed_runs"] = failed
    done += done_check
    summary["train_seconds"] = sum(r["train_seconds"] for r in runs + sweep_runs + check_runs)
    summary["reused_runs"] = sum(j["reused"] for j in done)
    figures = optim_figures(summary, out_dir / "figures")
    summary["figures"] = [str(p.relative_to(out_dir)) for p in figures]
    summary["wall_seconds"] = time.perf_counter() - t0
    write_json(out_dir / "summary.json", summary)
    return summary


# ------------------------------------------------------------------------------------------------ summary


def _label(optimizer: str, lr: float | None) -> str:
    return f"SGD lr {lr:g}" if optimizer == "sgd" else "Adam (defaults)"


def _outcome(final_acc: float | None, n_diverged: int, n: int) -> str:
    if n_diverged == n:
        return "diverged"
    if final_acc is None or final_acc < CHANCE_ACCURACY:
        return "stuck"
    return "learns" if final_acc >= LEARNED_ACCURACY else "learns slowly"


def arm_summary(runs: list[dict[str, Any]], init_std: float) -> dict[str, Any]:
    """Numbers the report quotes for one (optimiser, lr, arm) over its seeds."""
    r0 = runs[0]
    finals = [last_finite(r["test_accuracy"]) if not r["diverged"] else None for r in runs]
    acc = seed_stats(finals)
    n_div = sum(r["diverged"] for r in runs)
    arm = f"{r0['activation']}-{r0['init']}"
    first = [p for p in r0["probes"] if p["label"] == "step 1"]
    end = [p for p in r0["probes"] if p["label"] == "end"]
    return {
        "optimizer": r0["optimizer"],
        "lr": r0["lr"],
        "activation": r0["activation"],
        "init": r0["init"],
        "label": f"{_label(r0['optimizer'], r0['lr'])}, {arm_label(r0['activation'], r0['init'], init_std)}",
        "seeds": [r["seed"] for r in runs],
        "final_test_accuracy": acc,
        "final_train_loss": seed_stats(
            [last_finite(r["train_loss"]) if not r["diverged"] else None for r in runs]
        ),
        "best_test_accuracy": seed_stats(
            [max((a for a in r["test_accuracy"] if a is not None), default=None) for r in runs]
        ),
        # per seed: the first epoch whose test accuracy reaches CHANCE_ACCURACY (None: never, or diverged first)
        "left_chance_epoch": [
            next(
                (i + 1 for i, a in enumerate(r["test_accuracy"]) if a is not None and a >= CHANCE_ACCURACY),
                None,
            )
            for r in runs
        ],
        "diverged_seeds": n_div,
        # where each diverged seed blew up, with its weight-gradient norms per layer one step before
        "diverged_at": [
            r["diverged_at"]
            and {
                k: r["diverged_at"].get(k)
                for k in ("epoch", "step", "global_step", "last_finite_grad_step", "last_finite_grad_norm")
            }
            for r in runs
            if r["diverged"]
        ],
        "outcome": _outcome(acc["mean"], n_div, len(runs)),
        "expected": EXPECTED.get((r0["optimizer"], arm), "learns"),
        # first-layer / last-layer weight-gradient norm: << 1 means the gradient vanishes on its way down
        "grad_ratio_first_last": seed_stats(
            [grad_ratio(p) for r in runs for p in r["probes"] if p["label"] == "step 1"]
        ),
        "grad_norm_step1_seed0": first[0]["grad_norm"] if first else None,
        # activation statistics per hidden layer at the last step (mean, std, saturated or dead fraction)
        "end_activation_seed0": end[0]["activation"] if end else None,
    }


def _group(runs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[tuple, list] = {}
    for r in runs:
        groups.setdefault((r["optimizer"], r["lr"], r["activation"], r["init"]), []).append(r)
    return list(groups.values())


def summarise(
    config: Config,
    runs: list[dict[str, Any]],
    sweep_runs: list[dict[str, Any]],
    check_runs: list[dict[str, Any]] = (),
) -> dict[str, Any]:
    """summary.json: the CONTRACT's `runs`, per-arm numbers, the lr sweep and the input-scaling check."""
    arm_rows = [arm_summary(g, config.init_std) for g in _group(runs)]
    sweep_rows = [arm_summary(g, config.init_std) for g in _group(sweep_runs)]
    other = other_scaling(config)
    check_rows = [
        {**arm_summary(g, config.init_std), "input_scaling": other} for g in _group(list(check_runs))
    ]
    sgd_rows = [
        {**a, "input_scaling": config.input_scaling}
        for a in arm_rows
        if a["optimizer"] == "sgd" and a["lr"] == config.sgd_lr
    ]
    r0 = runs[0]
    return {
        "study": "optim",
        "runs": runs,
        "arms": arm_rows,
        "lr_sweep": {
            "enabled": config.lr_sweep,
            "beyond_assignment": True,
            "lrs": sorted(
                {r["lr"] for r in sweep_runs} | ({config.sgd_lr} if "sgd" in config.optimizers else set())
            ),
            "runs": sweep_runs,
            "arms": sweep_rows,
        },
        # beyond the assignment: the SGD arms under both pixel scalings (the main runs' rows, then the check's)
        "scaling": {
            "enabled": bool(check_runs),
            "beyond_assignment": True,
            "default": config.input_scaling,
            "other": other,
            "runs": list(check_runs),
            "arms": sgd_rows + check_rows if check_rows else [],
        },
        "input_scaling": config.input_scaling,
        "thresholds": {
            "stuck_below_test_accuracy": CHANCE_ACCURACY,
            "learns_from_test_accuracy": LEARNED_ACCURACY,
        },
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "sgd_lr": config.sgd_lr,
        "init_std": config.init_std,
        "widths": widths(config),
        "seeds": run_seeds(config),
        "train_size": r0["train_size"],
        "test_size": r0["test_size"],
        "steps_per_epoch": r0["steps_per_epoch"],
    }


def check_inputs(config: Config, data_dir: Path) -> None:
    """Nothing to check: MNIST is read from <data-dir>/mnist and downloaded there when absent."""
