"""Study 4 (assignment Problem 4): dropout against overfitting.

5 hidden layers x 1024 units on MNIST, Adam at its defaults. Four arms: sigmoid + Xavier and ReLU + He, each
without and with dropout - rate 0.2 on the first layer's input (the pixels) and 0.5 on the inputs of every later
layer, hidden and output (`dropout_rates` + `build_mlp`). Train and test loss/accuracy are both measured after
every epoch in eval mode (dropout off), so the train-test gap is a clean comparison. A fixed subset of the
training images makes the no-dropout nets' overfitting show within a few epochs (and keeps the study cheap).
Each run is a job with its own file under OUT/runs/ (see `arms.py`): the study resumes after an interruption.

The full preset is sized for 2 CPU cores: a fixed random 5 000 of the 60 000 training images, batch 128,
12 epochs, 5 000 test images, 3 seeds. `--train-subset 0 --test-subset 0` uses all images.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from denselab.config import Runtime
from denselab.errors import DenselabError
from denselab.io import write_json
from denselab.models.mlp import dropout_rates
from denselab.studies import arms
from denselab.studies.optim import arm_label

ARMS = ("sigmoid-xavier", "relu-he")
OVERFIT_RISE = 0.05  # a run overfits when its final test loss is this fraction above its lowest test loss


@dataclass(frozen=True)
class Config:
    """Study 4: sigmoid + Xavier and ReLU + He, without and with dropout, 5x1024 nets, Adam defaults."""

    seed: int = 0
    """One seed drives every random choice (subset, init, data order, dropout masks); runs use seed..seed+seeds-1."""
    seeds: int = 3
    """Number of seeds every arm is repeated for (figures show the mean and the min-max band)."""
    arms: tuple[str, ...] = ARMS
    """Activation-init arms, each trained without and with dropout (from: sigmoid-xavier relu-he)."""
    hidden_layers: int = 5
    """Number of hidden layers."""
    hidden_width: int = 1024
    """Units per hidden layer."""
    input_dropout: float = 0.2
    """Dropout rate on the first layer's input (the assignment's 0.2)."""
    hidden_dropout: float = 0.5
    """Dropout rate on the input of every later layer, output layer included (the assignment's 0.5)."""
    epochs: int = 12
    """Training epochs (the same for every run)."""
    batch_size: int = 128
    """Images per optimiser step."""
    train_subset: int | None = 5000
    """Train on this many randomly chosen MNIST training images, the same ones for every run (0 or none = all 60000)."""
    test_subset: int | None = 5000
    """Test on this many randomly chosen test images (0 or none = all 10000)."""
    probe_size: int = 512
    """Training images the activation statistics are measured on."""
    trace_steps: int = 50
    """Steps at the start of each run whose loss and per-layer gradient norms are recorded one by one."""


PRESETS: dict[str, dict[str, Any]] = {
    "full": {},
    "quick": {"seeds": 1, "epochs": 2, "train_subset": 2000, "test_subset": 2000, "probe_size": 256,
              "trace_steps": 16},
}


def validate(config: Config) -> None:
    """Reject bad settings before anything is written (called by the CLI, and again by `run`)."""
    arms.check_choices("arms", config.arms, ARMS)
    arms.check_positive(config, ("seeds", "epochs", "batch_size", "hidden_layers", "hidden_width", "probe_size"))
    arms.check_subsets(config)
    for name in ("input_dropout", "hidden_dropout"):
        if not 0.0 <= getattr(config, name) < 1.0:
            raise DenselabError(f"--{name.replace('_', '-')} must lie in [0, 1), got {getattr(config, name)}")


def jobs(config: Config) -> list[dict[str, Any]]:
    """Every arm without and with dropout, at every seed."""
    n_layers = config.hidden_layers + 1
    specs = []
    for arm in config.arms:
        activation, init = arm.split("-")
        for use_dropout in (False, True):
            rates = dropout_rates(n_layers, config.input_dropout, config.hidden_dropout) if use_dropout else 0.0
            for seed in range(config.seed, config.seed + config.seeds):
                specs.append({"study": "dropout", "arm": arm, "activation": activation, "init": init,
                              "init_std": 0.01, "widths": [784] + [config.hidden_width] * config.hidden_layers + [10],
                              "dropout": rates, "optimizer": "adam", "lr": None, "epochs": config.epochs,
                              "batch_size": config.batch_size, "train_subset": config.train_subset,
                              "test_subset": config.test_subset, "data_seed": config.seed, "seed": seed,
                              "eval_train": True, "probe_size": config.probe_size,
                              "trace_steps": config.trace_steps})
    return specs


def run(config: Config, out_dir: Path, runtime: Runtime | None = None) -> dict[str, Any]:
    """Train every job not already in OUT/runs, draw the figures, write summary.json (last)."""
    from denselab.plotting.curves import dropout_figures

    runtime = runtime or Runtime()
    validate(config)
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    done = arms.run_jobs(jobs(config), out_dir / "runs",
                         lambda: arms.load_data(runtime, config.train_subset, config.test_subset, config.seed),
                         runtime)
    runs = []
    for job in done:
        entry = arms.run_entry(job, ("activation", "init", "seed"))
        rates = job["spec"]["dropout"]
        entry["dropout"] = bool(rates)
        entry["dropout_rates"] = rates if rates else []
        runs.append(entry)
    summary = summarise(config, runs)
    summary["train_seconds"] = sum(r["train_seconds"] for r in runs)
    summary["reused_runs"] = sum(j["reused"] for j in done)
    figures = dropout_figures(summary, out_dir / "figures")
    summary["figures"] = [str(p.relative_to(out_dir)) for p in figures]
    summary["wall_seconds"] = time.perf_counter() - t0
    write_json(out_dir / "summary.json", summary)
    return summary


# ------------------------------------------------------------------------------------------------ summary

def _final(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return arms.seed_stats([arms.last_finite(r[key]) for r in runs])


def _min_epoch(values: list[float | None]) -> tuple[float | None, int | None]:
    finite = [(v, i + 1) for i, v in enumerate(values) if v is not None]
    return min(finite) if finite else (None, None)


def arm_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers the report quotes for one (arm, dropout) over its seeds."""
    r0 = runs[0]
    gaps_loss = [(arms.last_finite(r["test_loss"]) or 0) - (arms.last_finite(r["train_loss"]) or 0) for r in runs]
    gaps_acc = [(arms.last_finite(r["train_accuracy"]) or 0) - (arms.last_finite(r["test_accuracy"]) or 0)
                for r in runs]
    mins = [_min_epoch(r["test_loss"]) for r in runs]
    finals = [arms.last_finite(r["test_loss"]) for r in runs]
    rises = [(f - m) / m if f is not None and m else None for f, (m, _) in zip(finals, mins)]
    rise = arms.seed_stats(rises)
    return {
        "activation": r0["activation"], "init": r0["init"], "dropout": r0["dropout"],
        "label": f"{arm_label(r0['activation'], r0['init'])}, {'with' if r0['dropout'] else 'no'} dropout",
        "seeds": [r["seed"] for r in runs],
        "final_train_loss": _final(runs, "train_loss"), "final_test_loss": _final(runs, "test_loss"),
        "final_train_accuracy": _final(runs, "train_accuracy"), "final_test_accuracy": _final(runs, "test_accuracy"),
        "best_test_accuracy": arms.seed_stats([max((a for a in r["test_accuracy"] if a is not None), default=None)
                                               for r in runs]),
        # test loss minus train loss, and train accuracy minus test accuracy, after the last epoch
        "final_gap_loss": arms.seed_stats(gaps_loss), "final_gap_accuracy": arms.seed_stats(gaps_acc),
        "min_test_loss": arms.seed_stats([m for m, _ in mins]),
        "min_test_loss_epoch": [e for _, e in mins],
        # (final test loss - lowest test loss) / lowest: how far the test loss climbed back up
        "test_loss_rise": rise,
        "overfits": rise["mean"] is not None and rise["mean"] > OVERFIT_RISE,
        "diverged_seeds": sum(r["diverged"] for r in runs),
    }


def _notes(rows: list[dict[str, Any]]) -> list[str]:
    """Measured observations, set against the lecture trend (no-dropout nets overfit, dropout narrows the gap)."""
    notes = []
    for r in rows:
        if r["diverged_seeds"]:
            notes.append(f"{r['label']}: {r['diverged_seeds']} seed(s) diverged (non-finite loss).")
    by_arm: dict[tuple, dict[bool, dict]] = {}
    for r in rows:
        by_arm.setdefault((r["activation"], r["init"]), {})[r["dropout"]] = r
    for (activation, init), pair in by_arm.items():
        if False not in pair or True not in pair:
            continue
        no, do = pair[False], pair[True]
        name = arm_label(activation, init)
        rise, ep = no["test_loss_rise"]["mean"], no["min_test_loss_epoch"]
        if no["overfits"]:
            notes.append(f"{name} without dropout overfits, as the lecture trend expects: its test loss bottoms out "
                         f"at epoch {ep[0]} (seed 0) and ends {100 * rise:.0f}% higher (mean over seeds), while its "
                         f"training loss ends at {no['final_train_loss']['mean']:.3g}.")
        else:
            notes.append(f"{name} without dropout does not overfit visibly in these epochs (test loss ends "
                         f"{100 * (rise or 0):.0f}% above its minimum): DIFFERS from the lecture trend.")
        g_no, g_do = no["final_gap_loss"]["mean"], do["final_gap_loss"]["mean"]
        verdict = "as expected" if g_do < g_no else "DIFFERS from the lecture trend"
        notes.append(f"{name}: dropout changes the final test-minus-train loss gap from {g_no:.3f} to {g_do:.3f} "
                     f"({verdict}), the final test loss from {no['final_test_loss']['mean']:.3f} to "
                     f"{do['final_test_loss']['mean']:.3f} and the final test accuracy from "
                     f"{no['final_test_accuracy']['mean']:.4f} to {do['final_test_accuracy']['mean']:.4f} "
                     f"(means over seeds).")
    return notes


def summarise(config: Config, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """summary.json: the CONTRACT's `runs`, per-arm numbers and measured notes."""
    groups: dict[tuple, list] = {}
    for r in runs:
        groups.setdefault((r["activation"], r["init"], r["dropout"]), []).append(r)
    rows = [arm_summary(g) for g in groups.values()]
    return {
        "study": "dropout",
        "runs": runs,
        "arms": rows,
        "notes": _notes(rows),
        "overfit_threshold": OVERFIT_RISE,
        "epochs": config.epochs, "batch_size": config.batch_size, "optimizer": "adam (torch defaults)",
        "dropout_rates": dropout_rates(config.hidden_layers + 1, config.input_dropout, config.hidden_dropout),
        "widths": [784] + [config.hidden_width] * config.hidden_layers + [10],
        "seeds": list(range(config.seed, config.seed + config.seeds)),
        "train_size": runs[0]["train_size"], "test_size": runs[0]["test_size"],
        "steps_per_epoch": runs[0]["steps_per_epoch"],
    }
