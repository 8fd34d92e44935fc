"""Figures of Study 3 (optim), drawn from its summary.json dict; nothing here trains."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from denselab.io import save_figure
from denselab.plotting.curves import (
    ARM_COLORS,
    LR_COLORS,
    arm_title,
    as_array,
    band,
    by_arm,
    divergence_box,
    divergence_legend,
    group_runs,
    init_std_of,
    integer_epochs,
    probe_figure,
    seed_note,
    width_of,
)
from denselab.plotting.sgd_map import first_epoch_figure, sgd_map_figure


def optim_figures(summary: dict[str, Any], fig_dir: Path) -> list[Path]:
    """Per optimiser: training loss (log) and test accuracy per epoch for every arm; probes; first steps; the
    SGD runs' first epoch step by step; beyond the assignment: the lr sweep, the SGD map and the SGD figure of
    the map's first setting where the slide's trend appears (each when there is something to draw)."""
    fig_dir = Path(fig_dir)
    runs = summary["runs"]
    std = init_std_of(summary)
    size = f"{summary['train_size']} training images, batch {summary['batch_size']}"
    paths = []
    for (opt, lr), group in group_runs(runs, "optimizer", "lr").items():
        name = f"SGD, lr {lr:g}, no momentum" if opt == "sgd" else "Adam (torch defaults)"
        title = f"Study 3 — {name}: 5x{width_of(summary)} MLP on MNIST ({size}; {seed_note(group)})"
        paths.append(curves_figure(group, fig_dir / f"optim_{opt}.png", title, std))
    for (opt,), group in group_runs(runs, "optimizer").items():
        first = [rs[0] for rs in by_arm(group).values()]
        label = f"SGD lr {group[0]['lr']:g}" if opt == "sgd" else "Adam"
        paths.append(
            probe_figure(
                first,
                fig_dir / f"optim_probes_{opt}.png",
                f"Study 3 — {label}: per-layer gradient norms and activations (seed {first[0]['seed']})",
                std,
            )
        )
    paths.append(first_steps_figure(runs, fig_dir / "optim_first_steps.png", std))
    sgd = [r for r in runs if r["optimizer"] == "sgd" and r.get("step_loss")]
    if sgd:
        paths.append(first_epoch_figure(sgd, fig_dir / "sgd_first_epoch.png", std))
    sweep = summary.get("lr_sweep") or {}
    if sweep.get("enabled") and sweep.get("runs"):
        paths.append(
            lr_sweep_figure(
                sweep["runs"] + [r for r in runs if r["optimizer"] == "sgd"],
                fig_dir / "optim_lr_sweep.png",
                std,
            )
        )
    if summary.get("sgd_map"):
        paths.append(sgd_map_figure(summary, fig_dir / "sgd_map.png", std))
    if summary.get("sgd_map_trend"):
        paths.append(trend_figure(summary, summary["sgd_map_trend"][0], fig_dir / "sgd_trend.png", std))
    return paths


def trend_figure(summary: dict[str, Any], setting: dict[str, Any], path: Path, std: float = 0.01) -> Path:
    """The SGD figure (`curves_figure`) of the map's runs at one setting (scaling, batch size, images)."""
    keys = ("scaling", "batch_size", "train_size")
    runs = [r for r in summary.get("sgd_map_runs") or [] if all(r[k] == setting[k] for k in keys)]
    grid = summary.get("sgd_map_grid") or {}
    pixels = "pixels in [0, 1]" if setting["scaling"] == "unit" else "standardised pixels"
    title = (
        f"Study 3, BEYOND THE ASSIGNMENT — SGD lr {grid.get('lr', 1.0):g} where the slide's trend appears: "
        f"{pixels}, batch {setting['batch_size']}, {setting['train_size']} training images, "
        f"{grid.get('epochs')} epochs (seed {grid.get('seed')})"
    )
    return curves_figure(runs, path, title, std)


def curves_figure(runs: Sequence[dict[str, Any]], path: Path, title: str, std: float = 0.01) -> Path:
    """Training loss (log) and test accuracy per epoch of every arm in `runs` (one optimiser and lr)."""
    fig, (a_loss, a_acc) = plt.subplots(1, 2, figsize=(13, 4.8))
    for arm, rs in by_arm(runs).items():
        band(a_loss, rs, "train_loss", ARM_COLORS.get(arm, None), arm_title(rs[0], std))
        band(a_acc, rs, "test_accuracy", ARM_COLORS.get(arm, None), arm_title(rs[0], std))
    divergence_legend(a_loss)
    divergence_box(a_acc, runs, std)
    a_loss.set_yscale("log")
    a_loss.set(
        xlabel="epoch (0 = at initialisation)",
        ylabel="training loss (cross-entropy, log scale)",
        title="training loss",
    )
    a_acc.set(
        xlabel="epoch (0 = at initialisation)",
        ylabel="test accuracy (fraction)",
        title="test accuracy",
        ylim=(0, 1),
    )
    a_acc.axhline(0.1, color="black", lw=0.8, ls=":", label="chance (0.1)")
    a_loss.legend(fontsize=8, loc="best")
    a_acc.legend(fontsize=8, loc="lower right")
    for ax in (a_loss, a_acc):
        ax.grid(alpha=0.3, which="both")
        ax.set_xlim(left=-0.1)
    integer_epochs(a_loss, a_acc)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def first_steps_figure(runs: Sequence[dict[str, Any]], path: Path, std: float = 0.01) -> Path:
    """Loss of every step over the first steps of each run (first seed), one panel per optimiser."""
    groups = group_runs(runs, "optimizer")
    fig, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), 4.0), squeeze=False)
    for ax, ((opt,), group) in zip(axes[0], groups.items()):
        for arm, rs in by_arm(group).items():
            r = rs[0]
            y = as_array(r["first_steps_loss"])
            ax.plot(np.arange(1, len(y) + 1), y, color=ARM_COLORS.get(arm), label=arm_title(r, std), lw=1.4)
            d = r.get("diverged_at")
            if d and d["global_step"] <= len(y) + 1:
                finite = y[np.isfinite(y)]
                ax.plot(
                    [d["global_step"]],
                    [finite[-1] if len(finite) else 2.3],
                    marker="X",
                    ms=11,
                    color=ARM_COLORS.get(arm),
                    mec="black",
                    ls="none",
                    zorder=5,
                )
        divergence_legend(ax)
        ax.set_yscale("log")
        name = f"SGD lr {group[0]['lr']:g}" if opt == "sgd" else "Adam (defaults)"
        ax.set(
            xlabel="optimiser step",
            ylabel="training loss of the batch (log scale)",
            title=f"{name}: the first {max(len(r['first_steps_loss']) for r in group)} steps "
            f"(seed {group[0]['seed']})",
        )
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("Study 3 — where the runs start: per-step loss (X = first non-finite loss)")
    fig.tight_layout()
    return save_figure(fig, path)


def lr_sweep_figure(runs: Sequence[dict[str, Any]], path: Path, std: float = 0.01) -> Path:
    """Beyond the assignment: every arm under SGD at each swept learning rate (loss and test accuracy)."""
    per_arm = by_arm(runs)
    lrs = sorted({r["lr"] for r in runs})
    colors = {lr: LR_COLORS[i % len(LR_COLORS)] for i, lr in enumerate(lrs)}
    # one row per arm, A4-wide: legible in print however many arms there are
    fig, grid = plt.subplots(len(per_arm), 2, figsize=(8, 2.4 * len(per_arm)), squeeze=False, sharex=True)
    axes = grid.T  # axes[quantity, arm]
    for col, rs in enumerate(per_arm.values()):
        for lr in lrs:
            sel = [r for r in rs if r["lr"] == lr]
            if sel:
                band(axes[0, col], sel, "train_loss", colors[lr], f"lr {lr:g}")
                band(axes[1, col], sel, "test_accuracy", colors[lr], f"lr {lr:g}")
        axes[0, col].set(title=arm_title(rs[0], std), yscale="log", ylabel="training loss (log)")
        axes[1, col].set(ylabel="test accuracy")
        axes[1, col].set(xlabel="epoch (0 = at initialisation)", ylim=(0, 1))
        axes[1, col].axhline(0.1, color="black", lw=0.8, ls=":")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3, which="both")
        integer_epochs(*axes[:, col])
    divergence_legend(axes[0, 0])
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Beyond the assignment: plain SGD at several learning rates (the assignment fixes 1.0)")
    fig.tight_layout()
    return save_figure(fig, path)
