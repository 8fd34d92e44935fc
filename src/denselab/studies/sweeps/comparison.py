"""Study 4's `comparison`: per arm (activation + init), its net without dropout ("plain") against its net
with dropout, per seed and on the seed-mean curves: the epoch of the lowest test loss, the final train-test
accuracy gap, and the epoch from which the dropout net's test accuracy stays above the plain net's. Epochs are
1-based; a number that does not exist (no finite value, never ahead) is None."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from denselab.io import finite, last_finite

CURVES = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")


def best_epoch(test_loss: Sequence[float | None]) -> int | None:
    """1-based epoch of the lowest finite test loss (the first, on a tie)."""
    values = [(v, i + 1) for i, v in enumerate(test_loss) if finite(v)]
    return min(values)[1] if values else None


def final_gap(curves: dict[str, Any]) -> float | None:
    """Train accuracy minus test accuracy at the last epoch with both finite."""
    pairs = [
        (a, b) for a, b in zip(curves["train_accuracy"], curves["test_accuracy"]) if finite(a) and finite(b)
    ]
    return pairs[-1][0] - pairs[-1][1] if pairs else None


def passes_at(plain: Sequence[float | None], dropout: Sequence[float | None]) -> int | None:
    """First epoch from which `dropout` (test accuracy per epoch) stays strictly above `plain` until the last
    epoch both have; None when it is not above at that last epoch."""
    n = min(len(plain), len(dropout))
    first = None
    for i in reversed(range(n)):
        if not (finite(plain[i]) and finite(dropout[i]) and dropout[i] > plain[i]):
            break
        first = i + 1
    return first


def seed_mean(runs: Sequence[dict[str, Any]]) -> dict[str, list[float | None]]:
    """Per curve, the mean over `runs` of each epoch's finite values (None where there is none)."""
    out: dict[str, list[float | None]] = {}
    for key in CURVES:
        length = max(len(r[key]) for r in runs)
        out[key] = []
        for e in range(length):
            vals = [r[key][e] for r in runs if e < len(r[key]) and finite(r[key][e])]
            out[key].append(math.fsum(vals) / len(vals) if vals else None)
    return out


def _pair(plain: dict[str, Any], drop: dict[str, Any]) -> dict[str, Any]:
    return {
        "best_epoch": {"plain": best_epoch(plain["test_loss"]), "dropout": best_epoch(drop["test_loss"])},
        "final_gap": {"plain": final_gap(plain), "dropout": final_gap(drop)},
        "passes_at": passes_at(plain["test_accuracy"], drop["test_accuracy"]),
    }


def compare(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """summary.json `comparison`: one entry per arm with both nets, in the runs' order, from the `runs`
    entries (activation, init, dropout, seed and the per-epoch curves); a seed whose plain or dropout run is
    missing (failed) is left out of both `per_seed` and `mean`."""
    arms: dict[tuple[str, str], dict[bool, dict[int, dict[str, Any]]]] = {}
    for r in runs:
        arms.setdefault((r["activation"], r["init"]), {False: {}, True: {}})[bool(r["dropout"])][
            r["seed"]
        ] = r
    out = []
    for (activation, init), nets in arms.items():
        seeds = [s for s in nets[False] if s in nets[True]]
        if not seeds:
            continue
        plain, drop = seed_mean([nets[False][s] for s in seeds]), seed_mean([nets[True][s] for s in seeds])
        mean = _pair(plain, drop)
        mean["final_test_accuracy"] = {
            "plain": last_finite(plain["test_accuracy"]),
            "dropout": last_finite(drop["test_accuracy"]),
        }
        out.append(
            {
                "activation": activation,
                "init": init,
                "per_seed": [{"seed": s, **_pair(nets[False][s], nets[True][s])} for s in seeds],
                "mean": mean,
            }
        )
    return out
