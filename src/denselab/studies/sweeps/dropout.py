"""Study 4 (assignment Problem 4): dropout against overfitting.

5 hidden layers x 1024 units on MNIST, Adam at its defaults. Four arms: sigmoid + Xavier and ReLU + He, each
without and with dropout - rate 0.2 on the first layer's input (the pixels) and 0.5 on the inputs of every
later layer, hidden and output (`dropout_rates` + `build_mlp`). Train and test loss/accuracy are both measured
after every epoch in eval mode (dropout off), so the train-test gap is a clean comparison. A fixed subset of
the training images makes the no-dropout nets' overfitting show within a few epochs (and keeps the study
cheap). Each run is a job with its own file under OUT/runs/ (see `jobs.py`): the study resumes after an
interruption.

The full preset trains long enough to answer the question: each plain net's lowest test loss lies well before
the last epoch, and the dropout nets' test curves have flattened (`PRESET_HELP` states its sizes).
`comparison` sets each arm's plain and dropout nets side by side: the epoch of the lowest test loss, the final
train-test gap, and the epoch from which the dropout net stays ahead. `--train-subset 0 --test-subset 0` uses
all images.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from denselab.config import Runtime
from denselab.data.mnist import check_download_folder
from denselab.errors import DenselabError
from denselab.io import last_finite, write_json
from denselab.models.mlp import arm_label, dropout_rates
from denselab.studies.sweeps.base import ArmConfig, load_data, run_seeds, validate_common, widths
from denselab.studies.sweeps.comparison import compare
from denselab.studies.sweeps.jobs import Job, failed_entries, make_job, run_entry, run_jobs, seed_stats

ARMS = ("sigmoid-xavier", "relu-he")
OVERFIT_RISE = 0.05  # an arm overfits when its final test loss is more than this fraction above its lowest


@dataclass(frozen=True)
class Config(ArmConfig):
    """Study 4: sigmoid + Xavier and ReLU + He, without and with dropout, 5x1024 nets, Adam defaults."""

    seed: int = 0
    """One seed drives every random choice (subset, init, data order, dropout masks); runs use seeds
    seed..seed+seeds-1."""
    seeds: int = 1
    """Number of seeds every arm is repeated for (figures show the mean and the min-max band)."""
    arms: tuple[str, ...] = ARMS
    """Activation-init arms, each trained without and with dropout (from: sigmoid-xavier relu-he)."""
    hidden_width: int = 1024
    epochs: int = 35
    batch_size: int = 128
    train_subset: int | None = 5000
    trace_steps: int = 50
    input_dropout: float = 0.2
    """Dropout rate on the first layer's input (the assignment's 0.2)."""
    hidden_dropout: float = 0.5
    """Dropout rate on the input of every later layer, output layer included (the assignment's 0.5)."""


PRESETS: dict[str, dict[str, Any]] = {
    "full": {},
    "quick": {
        "seeds": 1,
        "epochs": 2,
        "train_subset": 2000,
        "test_subset": 2000,
        "probe_size": 256,
        "trace_steps": 16,
    },
}


def _preset_help(preset: str) -> str:
    c = Config(**PRESETS[preset])
    return (
        f"the assignment's four nets (5x{c.hidden_width}, Adam, dropout {c.input_dropout:g} on the pixels "
        f"and {c.hidden_dropout:g} on every later layer's input) on {c.train_subset} training images, batch "
        f"{c.batch_size}, {c.epochs} epochs, {c.seeds} seed{'s' if c.seeds != 1 else ''}"
    )


PRESET_HELP: dict[str, str] = {preset: _preset_help(preset) for preset in PRESETS}


def validate(config: Config) -> None:
    """Reject bad settings before anything is written (called by the CLI, and again by `run`)."""
    validate_common(config, ARMS)
    for name in ("input_dropout", "hidden_dropout"):
        if not 0.0 <= getattr(config, name) < 1.0:
            raise DenselabError(f"--{name.replace('_', '-')} must lie in [0, 1), got {getattr(config, name)}")


def dropout_rates_of(config: Config) -> list[float]:
    """Per weight layer: `input_dropout` on the pixels, `hidden_dropout` on every later layer's input."""
    return dropout_rates(config.hidden_layers + 1, config.input_dropout, config.hidden_dropout)


def jobs(config: Config) -> list[Job]:
    """Every arm without and with dropout, at every seed (Adam at its defaults, train curves in eval mode)."""
    return [
        make_job(
            config,
            "dropout",
            arm,
            seed,
            optimizer="adam",
            eval_train=True,
            dropout=tuple(dropout_rates_of(config)) if use_dropout else 0.0,
        )
        for arm in config.arms
        for use_dropout in (False, True)
        for seed in run_seeds(config)
    ]


def run(config: Config, out_dir: Path, runtime: Runtime | None = None) -> dict[str, Any]:
    """Train every job not already in OUT/runs, draw the figures, write summary.json (last)."""
    from denselab.plotting.curves import dropout_figures

    runtime = runtime or Runtime()
    validate(config)
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    done = run_jobs(
        jobs(config), out_dir / "runs", lambda rt: load_data(rt, config), runtime, config.group_size
    )
    failed = [
        {**f, "dropout": bool(f["dropout"])}
        for f in failed_entries(done, ("activation", "init", "dropout", "seed"))
    ]
    runs = []
    for job in (j for j in done if not j.get("failed")):
        entry = run_entry(job, ("activation", "init", "seed"))
        rates = job["spec"]["dropout"]
        entry["dropout"] = bool(rates)
        entry["dropout_rates"] = rates if rates else []
        runs.append(entry)
    summary = summarise(config, runs)
    summary["failed_runs"] = failed
    summary["train_seconds"] = sum(r["train_seconds"] for r in runs)
    summary["reused_runs"] = sum(j["reused"] for j in done)
    figures = dropout_figures(summary, out_dir / "figures")
    summary["figures"] = [str(p.relative_to(out_dir)) for p in figures]
    summary["wall_seconds"] = time.perf_counter() - t0
    write_json(out_dir / "summary.json", summary)
    return summary


# ------------------------------------------------------------------------------------------------ summary


def _final(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return seed_stats([last_finite(r[key]) for r in runs])


def _min_epoch(values: list[float | None]) -> tuple[float | None, int | None]:
    finite = [(v, i + 1) for i, v in enumerate(values) if v is not None]
    return min(finite) if finite else (None, None)


def overfits(test_loss_rise: float | None) -> bool:
    """The "overfits" verdict: the final test loss lies more than OVERFIT_RISE (a fraction) above the lowest
    test loss of the run (`test_loss_rise`, mean over the seeds; None: no finite test loss)."""
    return test_loss_rise is not None and test_loss_rise > OVERFIT_RISE


def arm_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers the report quotes for one (arm, dropout) over its seeds."""
    r0 = runs[0]
    gaps_loss = [(last_finite(r["test_loss"]) or 0) - (last_finite(r["train_loss"]) or 0) for r in runs]
    gaps_acc = [
        (last_finite(r["train_accuracy"]) or 0) - (last_finite(r["test_accuracy"]) or 0) for r in runs
    ]
    mins = [_min_epoch(r["test_loss"]) for r in runs]
    finals = [last_finite(r["test_loss"]) for r in runs]
    rises = [(f - m) / m if f is not None and m else None for f, (m, _) in zip(finals, mins)]
    rise = seed_stats(rises)
    return {
        "activation": r0["activation"],
        "init": r0["init"],
        "dropout": r0["dropout"],
        "label": f"{arm_label(r0['activation'], r0['init'])}, {'with' if r0['dropout'] else 'no'} dropout",
        "seeds": [r["seed"] for r in runs],
        "final_train_loss": _final(runs, "train_loss"),
        "final_test_loss": _final(runs, "test_loss"),
        "final_train_accuracy": _final(runs, "train_accuracy"),
        "final_test_accuracy": _final(runs, "test_accuracy"),
        "best_test_accuracy": seed_stats(
            [max((a for a in r["test_accuracy"] if a is not None), default=None) for r in runs]
        ),
        # test loss minus train loss, and train accuracy minus test accuracy, after the last epoch
        "final_gap_loss": seed_stats(gaps_loss),
        "final_gap_accuracy": seed_stats(gaps_acc),
        "min_test_loss": seed_stats([m for m, _ in mins]),
        "min_test_loss_epoch": [e for _, e in mins],
        # (final test loss - lowest test loss) / lowest: how far the test loss climbed back up
        "test_loss_rise": rise,
        "overfits": overfits(rise["mean"]),
        "diverged_seeds": sum(r["diverged"] for r in runs),
    }


def summarise(config: Config, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """summary.json: the CONTRACT's `runs` and per-arm numbers."""
    groups: dict[tuple, list] = {}
    for r in runs:
        groups.setdefault((r["activation"], r["init"], r["dropout"]), []).append(r)
    rows = [arm_summary(g) for g in groups.values()]
    return {
        "study": "dropout",
        "runs": runs,
        "arms": rows,
        "overfit_threshold": OVERFIT_RISE,
        "comparison": compare(runs),
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "optimizer": "adam (torch defaults)",
        "dropout_rates": dropout_rates_of(config),
        "widths": widths(config),
        "seeds": run_seeds(config),
        "train_size": runs[0]["train_size"],
        "test_size": runs[0]["test_size"],
        "steps_per_epoch": runs[0]["steps_per_epoch"],
    }


def check_inputs(config: Config, data_dir: Path) -> None:
    """DenselabError when <data-dir>/mnist holds a file that cannot be read (it may be absent: it is
    downloaded); writes nothing."""
    check_download_folder(Path(data_dir) / "mnist")
