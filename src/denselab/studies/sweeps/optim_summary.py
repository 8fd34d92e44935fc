"""Study 3's numbers: per (optimiser, lr, arm) over its seeds, the verdict (`outcome`, a function of the final
test accuracy with named thresholds) against what theory predicts (`EXPECTED`), and the summary.json of the
main runs, the lr sweep and the scaling check."""

from __future__ import annotations

from typing import Any

from denselab.io import last_finite
from denselab.models.mlp import arm_label
from denselab.studies.sweeps.base import other_scaling, run_seeds, widths
from denselab.studies.sweeps.jobs import grad_ratio, seed_stats

# What the variance argument predicts before measuring (Glorot & Bengio 2010; He et al. 2015): with a tiny
# N(0, 0.01²) init the signal and the gradients vanish through 5 layers, so plain SGD stays at chance;
# Xavier (sigmoid) and Xavier/He (ReLU) keep them alive, so the net learns; Adam's per-weight step size
# rescues every arm.
EXPECTED = {("sgd", "sigmoid-normal"): "stuck", ("sgd", "relu-normal"): "stuck"}  # every other pair: "learns"
STUCK_BELOW_ACCURACY = 0.2  # below this final test accuracy an arm counts as stuck (chance is 0.1)
LEARNS_FROM_ACCURACY = 0.9  # at or above it an arm counts as having learned; in between, learning slowly


def _label(optimizer: str, lr: float | None) -> str:
    return f"SGD lr {lr:g}" if optimizer == "sgd" else "Adam (defaults)"


def outcome(final_accuracy: float | None, diverged_seeds: int, seeds: int) -> str:
    """The verdict on an arm from its seeds: `diverged` when every seed's loss went non-finite; else from the
    mean final test accuracy of the seeds that did not (None: no such seed): `stuck` below
    STUCK_BELOW_ACCURACY, `learns` from LEARNS_FROM_ACCURACY on, `learns slowly` in between."""
    if diverged_seeds == seeds:
        return "diverged"
    if final_accuracy is None or final_accuracy < STUCK_BELOW_ACCURACY:
        return "stuck"
    return "learns" if final_accuracy >= LEARNS_FROM_ACCURACY else "learns slowly"


def outcome_thresholds() -> dict[str, float]:
    """The numbers `outcome` compares with (summary.json `outcome_thresholds`)."""
    return {
        "stuck_below_test_accuracy": STUCK_BELOW_ACCURACY,
        "learns_from_test_accuracy": LEARNS_FROM_ACCURACY,
    }


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
        # per seed: the first epoch whose test accuracy reaches STUCK_BELOW_ACCURACY (None: never, or
        # diverged first)
        "left_chance_epoch": [
            next(
                (
                    i + 1
                    for i, a in enumerate(r["test_accuracy"])
                    if a is not None and a >= STUCK_BELOW_ACCURACY
                ),
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
        "outcome": outcome(acc["mean"], n_div, len(runs)),
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
    config: Any,
    runs: list[dict[str, Any]],
    sweep_runs: list[dict[str, Any]],
    check_runs: list[dict[str, Any]] = (),
) -> dict[str, Any]:
    """summary.json (`config`: Study 3's `optim.Config`): the CONTRACT's `runs`, per-arm numbers, the lr
    sweep and the input-scaling check."""
    arm_rows = [arm_summary(g, config.init_std) for g in _group(runs)]
    sweep_rows = [arm_summary(g, config.init_std) for g in _group(sweep_runs)]
    other = other_scaling(config.input_scaling)
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
        # beyond the assignment: the SGD arms under both pixel scalings (the main runs' rows, then the
        # check's)
        "scaling": {
            "enabled": bool(check_runs),
            "beyond_assignment": True,
            "default": config.input_scaling,
            "other": other,
            "runs": list(check_runs),
            "arms": sgd_rows + check_rows if check_rows else [],
        },
        "input_scaling": config.input_scaling,
        "thresholds": outcome_thresholds(),  # the name the report has read so far
        "outcome_thresholds": outcome_thresholds(),
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
