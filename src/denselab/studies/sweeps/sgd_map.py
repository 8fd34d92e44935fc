"""Beyond the assignment, Study 3's SGD map: the five arms under plain SGD at --sgd-lr, one seed, in every
cell of a grid of the choices the assignment leaves free (pixel scaling, batch size, number of training
images), fixed in the config before any result is seen. Each cell's runs share one shape and one data set, so
they train as one batched group; a cell with the main runs' batch size, images and epochs is those runs (the
main SGD runs of the first seed, or the scaling check's), not trained again.

Per cell and arm the study's verdict (`optim_summary.outcome`), and the settings where the trend of the
course's slide appears: ReLU + He ends above every other arm and sigmoid + N(0, 0.01²) is stuck.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from denselab.io import last_finite
from denselab.studies.sweeps.jobs import Job, make_job
from denselab.studies.sweeps.optim_summary import outcome

# the map's names of the pixel scalings (summary.json) -> the study's (`base.SCALINGS`)
MAP_SCALINGS = {"unit": "unit", "standard": "standardise"}
TREND_BEST = "relu-he"  # the arm that must end above every other one
TREND_STUCK = "sigmoid-normal"  # the arm that must be stuck
MAP_RUN_KEYS = ("activation", "init", "seed", "lr")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One setting of the map and one arm, and the job that trains it."""

    scaling: str
    batch_size: int
    train_size: int
    arm: str
    job: Job


def cells(config: Any) -> list[Cell]:
    """Every (scaling, batch size, training images) x arm of the grid of `config` (Study 3's `optim.Config`),
    in that order, with its job: plain SGD at --sgd-lr, seed --seed, --map-epochs epochs, the main runs' test
    images."""
    if not config.sgd_map:
        return []
    out = []
    grid = itertools.product(config.map_scalings, config.map_batch_sizes, config.map_train_sizes)
    for scaling, batch, n in grid:
        shape = dataclasses.replace(config, batch_size=batch, train_subset=n, epochs=config.map_epochs)
        main = (batch, n, config.map_epochs) == (config.batch_size, config.train_subset, config.epochs)
        for arm in config.arms:
            job = make_job(
                shape,
                "optim",
                arm,
                config.seed,
                optimizer="sgd",
                lr=config.sgd_lr,
                init_std=config.init_std,
                input_scaling=MAP_SCALINGS[scaling],
                tag="" if main else f"b{batch}-n{n}-e{config.map_epochs}",
            )
            out.append(Cell(scaling, batch, n, arm, job))
    return out


def grid(config: Any) -> dict[str, Any]:
    """summary.json `sgd_map_grid`: the grid as the config fixed it."""
    return {
        "scalings": list(config.map_scalings),
        "batch_sizes": list(config.map_batch_sizes),
        "train_sizes": list(config.map_train_sizes),
        "epochs": config.map_epochs,
        "seed": config.seed,
        "lr": config.sgd_lr,
    }


def _setting(cell: Cell) -> dict[str, Any]:
    return {"scaling": cell.scaling, "batch_size": cell.batch_size, "train_size": cell.train_size}


def summarise(config: Any, done: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`sgd_map` (one entry per cell and arm that did not fail), `sgd_map_grid`, `sgd_map_trend` and
    `sgd_map_runs` (each map run's per-epoch curves, for the figures) from the runs by job name."""
    entries, runs = [], []
    for cell in cells(config):
        record = done.get(cell.job.name)
        if record is None or record.get("failed"):
            continue
        res = record["result"]
        final = None if res["diverged"] else last_finite(res["test_accuracy"])
        entries.append(
            {
                **_setting(cell),
                "arm": cell.arm,
                "outcome": outcome(final, int(res["diverged"]), 1),
                "final_test_accuracy": final,
            }
        )
        runs.append(
            {
                **_setting(cell),
                **{k: record["spec"][k] for k in MAP_RUN_KEYS},
                "optimizer": "sgd",
                **{k: res[k] for k in ("train_loss", "test_accuracy", "initial", "diverged", "diverged_at")},
                "epochs_completed": res["epochs_completed"],
                "run_file": f"runs/{cell.job.name}.json",
            }
        )
    return {
        "sgd_map": entries,
        "sgd_map_grid": grid(config),
        "sgd_map_trend": trend(entries),
        "sgd_map_runs": runs,
    }


def trend(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The settings (in the map's order) where TREND_BEST's final test accuracy is above every other arm's
    (a diverged arm has none) and TREND_STUCK's outcome is `stuck`; empty when either arm is not mapped."""
    settings: dict[tuple, dict[str, dict[str, Any]]] = {}
    for e in entries:
        settings.setdefault((e["scaling"], e["batch_size"], e["train_size"]), {})[e["arm"]] = e
    out = []
    for (scaling, batch, n), arms in settings.items():
        best, stuck = arms.get(TREND_BEST), arms.get(TREND_STUCK)
        if best is None or stuck is None or best["final_test_accuracy"] is None:
            continue
        others = [a["final_test_accuracy"] for name, a in arms.items() if name != TREND_BEST]
        above = all(acc is None or best["final_test_accuracy"] > acc for acc in others)
        if above and stuck["outcome"] == "stuck":
            out.append({"scaling": scaling, "batch_size": batch, "train_size": n})
    return out
