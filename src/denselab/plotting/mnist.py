"""Study 1 figures, drawn only from `OUT/arrays.npz` and the study's summary dict (never trains).

`draw_figures(out_dir, summary)` writes into OUT/figures/: curves, the two top-activation grids, one
scatter per (method, representation), an overview per method (`overview_tsne`, `overview_pca`: every layer),
and k-NN separability against depth. The maps are drawn at their print size (8.5 cm wide).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.patheffects as pe
import matplotlib.pyplot as plt
import numpy as np

from denselab.io import save_figure

METHODS = {"tsne": "t-SNE", "pca": "PCA"}
ASSIGNMENT_ACCURACY = 0.98


def class_means(points: np.ndarray, labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Where each class's label is drawn: the 2-D mean of its points, shape (n_classes, 2); NaN for an
    absent class."""
    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    means = np.full((n_classes, points.shape[1]), np.nan)
    for c in range(n_classes):
        mask = labels == c
        if mask.any():
            means[c] = points[mask].mean(axis=0)
    return means


def _pretty(name: str) -> str:
    return {"raw": "raw pixels", "output": "output (logits)", "softmax": "softmax output"}.get(
        name, name.replace("hidden", "hidden layer ")
    )


def _colors(n_classes: int) -> np.ndarray:
    return plt.get_cmap("tab10" if n_classes <= 10 else "tab20")(np.arange(n_classes) % 20)


def plot_curves(curves: dict, path: Path) -> Path:
    """Per-epoch loss and accuracy, train (dropout/augmentation on, smoothed loss) and test."""
    epochs = np.arange(1, len(curves["train_loss"]) + 1)
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_l.plot(epochs, curves["train_loss"], "o-", label="train (label-smoothed, while training)")
    ax_l.plot(epochs, curves["test_loss"], "s-", label="test (cross-entropy)")
    ax_l.set(xlabel="epoch", ylabel="loss (nats per image)", title="Loss")
    ax_a.plot(
        epochs, 100 * np.asarray(curves["train_accuracy"], dtype=float), "o-", label="train (while training)"
    )
    ax_a.plot(epochs, 100 * np.asarray(curves["test_accuracy"], dtype=float), "s-", label="test")
    ax_a.axhline(
        100 * ASSIGNMENT_ACCURACY,
        color="black",
        ls=":",
        lw=1,
        label=f"assignment's bar {100 * ASSIGNMENT_ACCURACY:.0f} %",
    )
    final = curves["test_accuracy"][-1] if curves["test_accuracy"] else None
    if final is not None:
        ax_a.annotate(
            f"test {100 * final:.2f} %",
            (epochs[-1], 100 * final),
            textcoords="offset points",
            xytext=(-4, -14),
            ha="right",
            fontsize=8,
        )
    ax_a.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_l, ax_a):
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Training the 5 x 1024 classifier")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_grid(
    images: np.ndarray,
    grid: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    row_titles: list[str],
    title: str,
    score_name: str,
    path: Path,
    unit_is_class: bool = False,
) -> Path:
    """A units x top grid of images; cell (r, c) shows probe image grid[r, c] (-1: blank), annotated with its
    score at unit r and its true class (in red when `unit_is_class` and the class is not r). Drawn as one
    mosaic image (one axes, fast for 100 cells)."""
    n_rows, n_cols = grid.shape
    h, w = images.shape[1:]
    gap_y, gap_x = max(4, h // 3), max(2, w // 7)  # room for the caption above each cell, pixels
    cell_h, cell_w = h + gap_y, w + gap_x
    mosaic = np.full((n_rows * cell_h, n_cols * cell_w), np.nan)  # NaN = blank (drawn white)
    fig, ax = plt.subplots(figsize=(0.95 * n_cols + 1.7, 1.1 * n_rows + 0.7))
    for r in range(n_rows):
        y0 = r * cell_h + gap_y
        ax.text(-gap_x, y0 + h / 2, row_titles[r], ha="right", va="center", fontsize=8)
        if r:
            ax.axhline(r * cell_h - 0.5, color="0.85", lw=0.6)
        if (grid[r] < 0).all():
            ax.text(
                n_cols * cell_w / 2,
                y0 + h / 2,
                "(no image won this unit)",
                ha="center",
                va="center",
                fontsize=9,
                color="0.5",
                style="italic",
            )
        for c in range(n_cols):
            i = grid[r, c]
            if i < 0:
                continue
            x0 = c * cell_w + gap_x // 2
            mosaic[y0 : y0 + h, x0 : x0 + w] = images[i] / 255.0
            fmt = f"{scores[i, r]:.3f}" if score_name == "p" else f"{scores[i, r]:.1f}"
            wrong = unit_is_class and labels[i] != r
            ax.text(
                x0 + w / 2,
                y0 - 1,
                f"{score_name}={fmt} y={labels[i]}",
                ha="center",
                va="bottom",
                fontsize=6.5,
                color="red" if wrong else "black",
                fontweight="bold" if wrong else "normal",
            )
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    ax.imshow(
        np.ma.masked_invalid(mosaic), cmap=cmap, vmin=0, vmax=1, interpolation="nearest", aspect="equal"
    )
    ax.set_xlim(-0.5, mosaic.shape[1] - 0.5)
    ax.set_ylim(mosaic.shape[0] - 0.5, -0.5)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


# Scatter figures are drawn at their print size: 8.5 cm wide, so two fit side by side on an A4 page, fonts
# 7-9 pt as printed; saved at PRINT_DPI so the PNG stays sharp at that size.
PRINT_WIDTH = 3.35  # inches
PRINT_DPI = 220
PRINT_STYLE = {"font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "figure.titlesize": 9}


def _scatter(
    ax, points: np.ndarray, labels: np.ndarray, n_classes: int, size: float, fontsize: float
) -> None:
    """Points coloured by true class; each class named once, in its colour, at its 2-D mean (the legend)."""
    colors = _colors(n_classes)
    for c in range(n_classes):
        mask = labels == c
        if mask.any():
            ax.scatter(points[mask, 0], points[mask, 1], s=size, color=colors[c], alpha=0.7, linewidths=0)
    for c, (mx, my) in enumerate(class_means(points, labels, n_classes)):
        if np.isfinite(mx):
            ax.text(
                mx,
                my,
                str(c),
                fontsize=fontsize,
                fontweight="bold",
                ha="center",
                va="center",
                color=colors[c],
                path_effects=[pe.withStroke(linewidth=2.5, foreground="white"), pe.Normal()],
            )
    ax.set_xticks([])
    ax.set_yticks([])


def plot_scatter(
    points: np.ndarray, labels: np.ndarray, n_classes: int, title: str, path: Path, axis_name: str
) -> Path:
    """One 2-D embedding coloured by true class, each class's label at its 2-D mean, at print size."""
    with plt.rc_context(PRINT_STYLE):
        fig, ax = plt.subplots(figsize=(PRINT_WIDTH, PRINT_WIDTH * 0.95), layout="constrained")
        _scatter(ax, points, labels, n_classes, size=4, fontsize=10)
        axis = {"PCA": "principal component"}.get(axis_name, f"{axis_name} dimension")
        ax.set(xlabel=f"{axis} 1", ylabel=f"{axis} 2", title=title)
        return save_figure(fig, path, dpi=PRINT_DPI)


def plot_overview(
    arrays, method: str, names: list[str], layers: list[dict], labels: np.ndarray, n_classes: int, path: Path
) -> Path:
    """Every representation's `method` map (tsne or pca), two per row in order of depth, at print size; each
    panel's title gives its k-NN accuracy."""
    cols = 2
    rows = -(-len(names) // cols)
    with plt.rc_context(PRINT_STYLE):
        fig, axes = plt.subplots(
            rows, cols, figsize=(PRINT_WIDTH, 1.55 * rows + 0.3), squeeze=False, layout="constrained"
        )
        for ax, name, layer in zip(axes.flat, names, layers):
            _scatter(ax, arrays[f"{method}_{name}"], labels, n_classes, size=1.5, fontsize=7.5)
            ax.set_title(f"{_pretty(name)}\n{k_nn_text(layer[f'knn_accuracy_2d_{method}'])}", fontsize=7.5)
        for ax in axes.flat[len(names) :]:
            ax.axis("off")
        fig.suptitle(f"{METHODS[method]} of every layer ({len(labels)} test images)")
        return save_figure(fig, path, dpi=PRINT_DPI)


def k_nn_text(acc) -> str:
    return "k-NN n/a" if acc is None or not np.isfinite(acc) else f"k-NN {100 * acc:.1f} %"


def plot_separability(layers: list[dict], path: Path, k: int = 5) -> Path:
    """Cross-validated k-NN accuracy of each 2-D embedding against depth."""
    names = [layer["name"] for layer in layers]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7, 4))
    for method, label in METHODS.items():
        acc = np.array(
            [
                np.nan if layer[f"knn_accuracy_2d_{method}"] is None else layer[f"knn_accuracy_2d_{method}"]
                for layer in layers
            ],
            dtype=float,
        )
        ax.plot(x, 100 * acc, "o-", label=f"2-D {label}")
        for xi, a in zip(x, acc):
            if np.isfinite(a):
                ax.annotate(
                    f"{100 * a:.1f}",
                    (xi, 100 * a),
                    textcoords="offset points",
                    xytext=(0, 6),
                    ha="center",
                    fontsize=7,
                )
    ax.set_xticks(
        x,
        [
            _pretty(n)
            .replace(" (logits)", "\n(logits)")
            .replace(" output", "\noutput")
            .replace("hidden layer ", "hidden ")
            for n in names
        ],
    )
    ax.set(
        xlabel="representation (depth →)",
        ylabel=f"{k}-NN accuracy, cross-validated (%)",
        title="How separable the classes are in 2-D, layer by layer",
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def grid_row_title(name: str, row: dict, shown_labels: np.ndarray) -> str:
    """The label left of a grid row: the unit, how many images it won, what the images *shown* are (read off
    the same labels the cells show: `7 of 10 are 2s`) and, when that differs, the most common class among
    all it won (`row` is one `row_purity` entry)."""
    lines = [name, f"{row['count']} won"]
    shown = np.asarray(shown_labels)
    if len(shown):
        values, freq = np.unique(shown, return_counts=True)
        top = int(values[freq.argmax()])
        lines.append(f"shown: {freq.max()} of {len(shown)} are {top}s")
        if row.get("majority_class") is not None and (
            row["majority_class"] != top or row["count"] > len(shown)
        ):
            lines.append(f"all {row['count']}: {100 * row['purity']:.0f} % are {row['majority_class']}s")
    return "\n".join(lines)


def _grid_figures(arrays: dict, summary: dict, fig_dir: Path) -> list[Path]:
    labels, images = arrays["labels"], arrays["images"]
    pen = summary["penultimate_grid"]
    paths = []
    for key, names, scores, title, score_name in (
        (
            "output_grid",
            [f"unit {k}" for k in range(arrays["output_grid"].shape[0])],
            arrays["probs"],
            f"Output layer: each of {len(labels)} test images goes to its most probable unit; top "
            f"{arrays['output_grid'].shape[1]} per unit (p = softmax probability, y = true class)",
            "p",
        ),
        (
            "penultimate_grid",
            [f"unit #{u}" for u in pen["units"]],
            arrays["penultimate"],
            f"Penultimate layer, {len(pen['units'])} random units as if they were the output "
            f"(a = ReLU activation, y = true class; {pen['unassigned']} images "
            f"with all of them silent go nowhere)",
            "a",
        ),
    ):
        grid = arrays[key]
        titles = [
            grid_row_title(name, row, labels[cells[cells >= 0]])
            for name, row, cells in zip(names, summary[key]["rows"], grid)
        ]
        paths.append(
            plot_grid(
                images,
                grid,
                scores,
                labels,
                titles,
                title,
                score_name,
                fig_dir / f"{key}.png",
                unit_is_class=key == "output_grid",
            )
        )
    return paths


def _map_figures(arrays: dict, summary: dict, fig_dir: Path) -> list[Path]:
    labels = arrays["labels"]
    names = [str(n) for n in arrays["layer_names"]]
    n_classes = arrays["probs"].shape[1]
    paths = []
    for method, label in METHODS.items():
        for name, layer in zip(names, summary["layers"]):
            acc = layer[f"knn_accuracy_2d_{method}"]
            paths.append(
                plot_scatter(
                    arrays[f"{method}_{name}"],
                    labels,
                    n_classes,
                    f"{label} of {_pretty(name)}\n{len(labels)} test images, {k_nn_text(acc)}",
                    fig_dir / f"{method}_{name}.png",
                    label,
                )
            )
    for method in METHODS:
        paths.append(
            plot_overview(
                arrays,
                method,
                names,
                summary["layers"],
                labels,
                n_classes,
                fig_dir / f"overview_{method}.png",
            )
        )
    return paths


def draw_figures(out_dir: str | Path, summary: dict) -> list[Path]:
    """Every Study 1 figure from OUT/arrays.npz and `summary`; returns the paths written."""
    out = Path(out_dir)
    fig_dir = out / "figures"
    with np.load(out / "arrays.npz") as f:
        arrays = {k: f[k] for k in f.files}
    paths = [plot_curves(summary["curves"], fig_dir / "curves.png")]
    paths += _grid_figures(arrays, summary, fig_dir)
    paths += _map_figures(arrays, summary, fig_dir)
    paths.append(plot_separability(summary["layers"], fig_dir / "separability.png", summary["knn"]["k"]))
    return paths
