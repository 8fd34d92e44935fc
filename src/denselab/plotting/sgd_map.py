"""Figures of Study 3's SGD runs step by step and of its SGD map (beyond the assignment), drawn from its
summary.json dict; nothing here trains."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from denselab.io import save_figure
from denselab.plotting.curves import ARM_COLORS, arm_title, as_array, by_arm, divergence_legend

PIXELS = {"unit": "[0, 1]", "standard": "standardised"}
OUTCOME_COLORS = {
    "learns": "#4daf4a",
    "learns slowly": "#c7e9a0",
    "stuck": "#bdbdbd",
    "diverged": "#e41a1c",
}


def first_epoch_figure(runs: Sequence[dict[str, Any]], path: Path, std: float = 0.01) -> Path:
    """Training loss of every step of the first epoch (log scale) of each SGD run, one colour per arm, one
    line per seed; a run that blows up ends at its last finite step, with an X there."""
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    for arm, rs in by_arm(runs).items():
        color = ARM_COLORS.get(arm)
        for i, r in enumerate(sorted(rs, key=lambda r: r["seed"])):
            y = as_array(r["step_loss"])
            x = np.arange(1, len(y) + 1)
            ax.plot(
                x,
                y,
                color=color,
                lw=1.2,
                alpha=0.9 if i == 0 else 0.45,
                label=arm_title(r, std) if i == 0 else None,
            )
            finite = np.flatnonzero(np.isfinite(y))
            if r.get("diverged") and len(finite) and finite[-1] < len(y) - 1:
                ax.plot(
                    [x[finite[-1]]], [y[finite[-1]]], marker="X", ms=10, color=color, mec="black", ls="none"
                )
    divergence_legend(ax, "last finite loss before the blow-up")
    ax.set_yscale("log")
    ax.set_xscale("log")  # the blow-ups happen within the first ten steps; the stuck runs take all of them
    lr, seeds = runs[0]["lr"], len({r["seed"] for r in runs})
    ax.set(
        xlabel="optimiser step of the first epoch (log scale)",
        ylabel="training loss of the batch (log scale)",
        title=f"Plain SGD lr {lr:g}: the first epoch step by step ({seeds} seed{'s' if seeds != 1 else ''})",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def sgd_map_figure(summary: dict[str, Any], path: Path, std: float = 0.01) -> Path:
    """One row per setting of the map (pixel scaling, training images, batch size), one column per arm; each
    cell coloured by its outcome and labelled with its final test accuracy; the settings where the slide's
    trend appears are starred."""
    entries = summary["sgd_map"]
    grid = summary.get("sgd_map_grid") or {}
    arms = list(dict.fromkeys(e["arm"] for e in entries))
    settings = list(dict.fromkeys((e["scaling"], e["train_size"], e["batch_size"]) for e in entries))
    trend = {(t["scaling"], t["train_size"], t["batch_size"]) for t in summary.get("sgd_map_trend") or []}
    cell = {(e["scaling"], e["train_size"], e["batch_size"], e["arm"]): e for e in entries}
    fig, ax = plt.subplots(figsize=(2.0 * len(arms) + 3.5, 0.42 * len(settings) + 1.8))
    for row, setting in enumerate(settings):
        for col, arm in enumerate(arms):
            e = cell.get((*setting, arm))
            if e is None:
                continue
            ax.add_patch(plt.Rectangle((col, row), 1, 1, color=OUTCOME_COLORS[e["outcome"]], ec="white"))
            acc = e["final_test_accuracy"]
            ax.text(
                col + 0.5,
                row + 0.5,
                "diverged" if acc is None else f"{acc:.3f}",
                ha="center",
                va="center",
                fontsize=8,
            )
    labels = [f"{'* ' if s in trend else ''}{PIXELS[s[0]]}, {s[1]} images, batch {s[2]}" for s in settings]
    ax.set(xlim=(0, len(arms)), ylim=(len(settings), 0))
    ax.set_xticks(
        np.arange(len(arms)) + 0.5,
        [arm_title(dict(zip(("activation", "init"), a.split("-"))), std) for a in arms],
        fontsize=8,
    )
    ax.set_yticks(np.arange(len(settings)) + 0.5, labels, fontsize=8)
    ax.tick_params(length=0)
    handles = [Patch(color=c, label=o) for o, c in OUTCOME_COLORS.items()]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(
        f"Study 3, BEYOND THE ASSIGNMENT — the SGD map: plain SGD lr {grid.get('lr', 1.0):g}, "
        f"{grid.get('epochs')} epochs, seed {grid.get('seed')}; final test accuracy per setting and arm\n"
        f"(* = the slide's trend: ReLU + He ends above every other arm and sigmoid + N(0, σ²) is stuck)",
        fontsize=9,
    )
    fig.tight_layout()
    return save_figure(fig, path)
