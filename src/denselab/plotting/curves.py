"""Figures of Studies 3 (optim) and 4 (dropout), drawn from their summary.json dicts; nothing here trains.

Curves over seeds are drawn as the mean with a min-max band. A run that diverged (non-finite loss) is cut at
its last finished epoch and marked with an X where it blew up (at its fractional epoch).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from denselab.io import save_figure
from denselab.models.mlp import arm_label

ARM_COLORS = {
    "sigmoid-normal": "tab:blue",
    "sigmoid-xavier": "tab:purple",
    "relu-normal": "tab:gray",
    "relu-xavier": "tab:orange",
    "relu-he": "tab:red",
}
PROBE_COLORS = {"step 1": "tab:orange", "step 10": "tab:green", "middle": "tab:blue", "end": "black"}
LR_COLORS = ("tab:blue", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:olive")


def arm_title(run: dict[str, Any], init_std: float = 0.01) -> str:
    return arm_label(run["activation"], run["init"], init_std)


def _arm(run: dict[str, Any]) -> str:
    return f"{run['activation']}-{run['init']}"


def as_array(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def curve(run: dict[str, Any], key: str, with_initial: bool) -> np.ndarray:
    """Per-epoch values of `key` over the finished epochs, led by the value at initialisation when asked."""
    values = list(run[key][: run.get("epochs_completed", len(run[key]))])
    if with_initial:
        values = [run["initial"][key]] + values
    return as_array(values)


def band(
    ax,
    runs: Sequence[dict[str, Any]],
    key: str,
    color: str,
    label: str | None,
    ls: str = "-",
    with_initial: bool = True,
    mark_divergence: bool = True,
) -> None:
    """Mean over `runs` of `key` per epoch with a min-max band; epochs 0 (initialisation) or 1 onwards."""
    curves = [curve(r, key, with_initial) for r in runs]
    length = max((len(c) for c in curves), default=0)
    start = 0 if with_initial else 1
    if length:
        grid = np.full((len(curves), length), np.nan)
        for i, c in enumerate(curves):
            grid[i, : len(c)] = c
        x = np.arange(start, start + length)
        with warnings.catch_warnings():  # an all-NaN column (every seed diverged before it) is expected
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, lo, hi = np.nanmean(grid, 0), np.nanmin(grid, 0), np.nanmax(grid, 0)
        ax.plot(x, mean, ls=ls, color=color, label=label, lw=1.8, marker="o" if length < 4 else None, ms=4)
        if len(runs) > 1:
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
    if mark_divergence:
        for r, c in zip(runs, curves):
            d = r.get("diverged_at") if r.get("diverged") else None
            finite = np.flatnonzero(np.isfinite(c))
            if d and len(finite):
                # the X sits at the fractional epoch of the blow-up, level with the run's last finite value,
                # so one exploded run does not squash the other curves' axis
                x_last, y = start + finite[-1], c[finite[-1]]
                ax.plot([x_last, d["fractional_epoch"]], [y, y], ls=":", color=color, lw=1.2)
                ax.plot(
                    [d["fractional_epoch"]],
                    [y],
                    marker="X",
                    ms=11,
                    color=color,
                    mec="black",
                    mew=0.8,
                    ls="none",
                    zorder=5,
                )


def integer_epochs(*axes) -> None:
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def divergence_legend(ax, label: str = "diverged here (non-finite loss)") -> None:
    """A legend entry for the X that marks where a run's loss went non-finite."""
    ax.plot([], [], marker="X", ms=9, color="white", mec="black", ls="none", label=label)


def divergence_box(ax, runs: Sequence[dict[str, Any]], std: float = 0.01) -> None:
    """A text box naming, per arm, the global step at which each diverged seed's loss went non-finite."""
    lines = []
    for rs in by_arm(runs).values():
        steps = [
            str(r["diverged_at"]["global_step"]) for r in rs if r.get("diverged") and r.get("diverged_at")
        ]
        if steps:
            lines.append(f"{arm_title(rs[0], std)}: step {', '.join(steps)} ({len(steps)}/{len(rs)} seeds)")
    if lines:
        ax.text(
            0.02,
            0.97,
            "diverged (non-finite loss) at\n" + "\n".join(lines),
            transform=ax.transAxes,
            va="top",
            ha="left",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.6"},
        )


def group_runs(runs: Sequence[dict[str, Any]], *keys: str) -> dict[tuple, list[dict[str, Any]]]:
    out: dict[tuple, list[dict[str, Any]]] = {}
    for r in runs:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def seed_note(runs: Sequence[dict[str, Any]]) -> str:
    seeds = sorted({r["seed"] for r in runs})
    return (
        f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}: mean, min-max band"
        if len(seeds) > 1
        else "1 seed"
    )


# ------------------------------------------------------------------------------------------------ shared


def init_std_of(summary: dict[str, Any]) -> float:
    return float(summary.get("init_std", 0.01))


def width_of(summary: dict[str, Any]) -> int:
    return summary["widths"][1]


def by_arm(runs: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        out.setdefault(_arm(r), []).append(r)
    return out


# ------------------------------------------------------------------------------------------------ probes


def probe_figure(runs: Sequence[dict[str, Any]], path: Path, title: str, std: float = 0.01) -> Path:
    """One row per run: weight-gradient norm per layer (log), hidden activation mean per layer, and the
    saturated (sigmoid) or dead (ReLU) fraction per layer, one line per probe point. Drawn A4-wide (rows,
    not columns, grow with the runs) so that it stays legible in print."""
    fig, grid = plt.subplots(len(runs), 3, figsize=(10, 2.9 * len(runs)), squeeze=False)
    axes = grid.T  # axes[quantity, run]
    for col, r in enumerate(runs):
        for p in r["probes"]:
            color = PROBE_COLORS.get(p["label"], "black")
            lab = p["label"] if p["label"].startswith("step") else f"{p['label']} (step {p['step']})"
            g = as_array(p["grad_norm"])
            axes[0, col].plot(np.arange(1, len(g) + 1), g, marker="o", ms=3, color=color, label=lab)
            act = p["activation"]
            m = as_array(act["mean"])
            axes[1, col].plot(np.arange(1, len(m) + 1), m, marker="o", ms=3, color=color, label=lab)
            key = "saturated" if "saturated" in act else "dead"
            f = as_array(act.get(key, []))
            axes[2, col].plot(np.arange(1, len(f) + 1), f, marker="o", ms=3, color=color, label=lab)
        head = arm_title(r, std) + (", dropout" if r.get("dropout") else "")
        d = r.get("diverged_at") if r.get("diverged") else None
        if d:
            head += f"\n(diverged at step {d['global_step']})"
            g = as_array(d.get("last_finite_grad_norm") or [])
            if d.get("last_finite_grad_step") and d["last_finite_grad_step"] > 1:
                axes[0, col].plot(
                    np.arange(1, len(g) + 1),
                    g,
                    marker="s",
                    ms=3,
                    color="tab:red",
                    ls="--",
                    label=f"step {d['last_finite_grad_step']}: last finite gradients",
                )
                axes[0, col].legend(fontsize=7)
        axes[0, col].set_title(head, fontsize=10, loc="left")
        axes[0, col].set_ylabel("weight-gradient norm (log)", fontsize=8)
        axes[1, col].set_ylabel("mean activation", fontsize=8)
        axes[0, col].set_yscale("log")
        axes[0, col].set_xlabel("weight layer (1 = input, last = output)")
        axes[1, col].set_xlabel("hidden layer")
        axes[2, col].set_xlabel("hidden layer")
        axes[2, col].set_ylim(-0.03, 1.03)
        what = (
            "saturated fraction (a<0.02 or a>0.98)"
            if r["activation"] == "sigmoid"
            else "dead fraction (units 0 on every probe image)"
        )
        axes[2, col].set_ylabel(what, fontsize=8)
        for ax in axes[:, col]:
            ax.grid(alpha=0.3, which="both")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


# ----------------------------------------------------------------------------------------------- dropout


def dropout_figures(summary: dict[str, Any], fig_dir: Path) -> list[Path]:
    """Train (solid) and test (dashed) loss and accuracy per epoch for each arm, without and with dropout;
    probes."""
    fig_dir = Path(fig_dir)
    runs = summary["runs"]
    per_arm = by_arm(runs)
    colors = {False: "tab:red", True: "tab:blue"}
    fig, axes = plt.subplots(2, len(per_arm), figsize=(4.6 * len(per_arm), 7.2), squeeze=False)
    for col, rs in enumerate(per_arm.values()):
        for use in (False, True):
            sel = [r for r in rs if r["dropout"] == use]
            if not sel:
                continue
            tag = "dropout" if use else "no dropout"
            for row, metric in enumerate(("loss", "accuracy")):
                band(
                    axes[row, col],
                    sel,
                    f"train_{metric}",
                    colors[use],
                    f"{tag}, train",
                    "-",
                    with_initial=False,
                )
                band(
                    axes[row, col],
                    sel,
                    f"test_{metric}",
                    colors[use],
                    f"{tag}, test",
                    "--",
                    with_initial=False,
                )
        axes[0, col].set(
            title=f"{arm_title(rs[0])} ({seed_note([r for r in rs if not r['dropout']])})",
            yscale="log",
            ylabel="cross-entropy loss (log scale)",
        )
        axes[1, col].set(xlabel="epoch", ylabel="accuracy (fraction)")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8)
        integer_epochs(*axes[:, col])
    rates = summary.get("dropout_rates") or []
    fig.suptitle(
        f"Study 4 — 5x{width_of(summary)} MLP, Adam, {summary['train_size']} training images: "
        f"train (solid) vs test (dashed), dropout rates {', '.join(f'{p:g}' for p in rates)} "
        f"(measured with dropout off)"
    )
    fig.tight_layout()
    paths = [save_figure(fig, fig_dir / "dropout_curves.png")]
    first = [
        min(rs, key=lambda r: r["seed"]) for rs in group_runs(runs, "activation", "init", "dropout").values()
    ]
    paths.append(
        probe_figure(
            first,
            fig_dir / "dropout_probes.png",
            f"Study 4 — per-layer gradient norms and activations (seed {first[0]['seed']}; "
            f"activations measured with dropout off)",
        )
    )
    return paths
