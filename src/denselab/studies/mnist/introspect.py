"""Looking inside Study 1's trained classifier: every layer's output for the probe images, the two
top-activation grids (output units; random units of the last hidden layer), and the 2-D t-SNE/PCA maps of
every layer with a k-NN score of how well the classes separate in them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from denselab.models.mlp import layer_outputs
from denselab.studies.mnist.settings import Config
from denselab.studies.mnist.train import Data

# k-NN accuracy in a 2-D map from which the classes count as "separated" there (the report quotes it)
SEPARATED_KNN = 0.90


def top_activation_grid(scores: np.ndarray, top: int = 10, floor: float | None = None) -> dict:
    """Assign each image (row of `scores`, shape (N, K)) to its highest-scoring unit; rank each unit's images.

    Returns {"members": K lists of every image index assigned to that unit, highest score at that unit first
    (ties: lower index first); "rows": the first `top` of each (what a grid row shows); "counts": images
    assigned to each unit; "unassigned": images whose best score is <= `floor` (e.g. every chosen ReLU unit
    silent), which go to no unit}. Rows may be short or empty."""
    scores = np.asarray(scores, dtype=np.float64)
    n, k = scores.shape
    best = scores.argmax(axis=1) if n else np.zeros(0, dtype=int)
    assigned = np.ones(n, dtype=bool) if floor is None else scores.max(axis=1, initial=-np.inf) > floor
    members = []
    for unit in range(k):
        mine = np.flatnonzero((best == unit) & assigned)
        members.append(mine[np.argsort(-scores[mine, unit], kind="stable")].tolist())
    return {
        "members": members,
        "rows": [m[:top] for m in members],
        "counts": [len(m) for m in members],
        "unassigned": int(n - assigned.sum()),
    }


def row_purity(grid: dict, labels: np.ndarray) -> list[dict]:
    """Per unit of a `top_activation_grid`, what its row holds, from the images' true `labels`:

    `count` images it won; `majority_class`, the most common class among them, and `purity`, their share in
    it; `shown_purity`, the share of that same class among the images shown (the first `top`); `shown_class`,
    the most common class among the images shown, and `shown_class_count`, how many of them are of it
    (what a reader counts in the row). Classes and shares are null for an empty row; ties go to the lower
    class."""
    labels = np.asarray(labels)
    out = []
    for unit, (members, row) in enumerate(zip(grid["members"], grid["rows"])):
        entry = {"unit": unit, "count": len(members), "majority_class": None, "purity": None}
        entry.update(shown=len(row), shown_purity=None, shown_class=None, shown_class_count=0)
        if members:
            values, freq = np.unique(labels[members], return_counts=True)
            major = int(values[freq.argmax()])
            shown_values, shown_freq = np.unique(labels[row], return_counts=True)
            entry.update(
                majority_class=major,
                purity=float(freq.max() / freq.sum()),
                shown_purity=float(np.mean(labels[row] == major)),
                shown_class=int(shown_values[shown_freq.argmax()]),
                shown_class_count=int(shown_freq.max()),
            )
        out.append(entry)
    return out


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 5, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated accuracy of a k-NN classifier on 2-D points: how separable the classes are there."""
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    n = len(labels)
    folds = min(folds, n)
    if folds < 2:
        return math.nan
    k = max(1, min(k, n - math.ceil(n / folds)))
    cv = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return round(float(cross_val_score(KNeighborsClassifier(n_neighbors=k), points, labels, cv=cv).mean()), 6)


def embed_2d(features: np.ndarray, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """(t-SNE, PCA) 2-D embeddings of `features` (N, D), float32. Single-threaded: `embed_layers` runs
    several at once, which uses the cores better than OpenMP inside one small t-SNE (and never
    oversubscribes)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = np.asarray(features, dtype=np.float32)
    with threadpool_limits(1):
        pca = PCA(n_components=2, random_state=config.seed).fit_transform(x)
        perplexity = min(config.tsne_perplexity, max(1.0, (len(x) - 1) / 3.0))
        tsne = TSNE(
            n_components=2,
            perplexity=perplexity,
            max_iter=max(250, config.tsne_iterations),
            init="pca",
            learning_rate="auto",
            method="barnes_hut",
            random_state=config.seed,
            n_jobs=1,
        ).fit_transform(x)
    return tsne.astype(np.float32), pca.astype(np.float32)


def embed_layers(reps: Sequence[np.ndarray], config: Config) -> list[tuple[np.ndarray, np.ndarray]]:
    """`embed_2d` of every representation, one per CPU core at a time, each in its own process.

    Processes, not threads: `threadpool_limits` changes process-wide BLAS/OpenMP settings, so in threads one
    embedding's limit could be lifted while another still ran, and a t-SNE computed with 2 BLAS threads
    differs in the last bits from one with 1 (amplified over its iterations). In its own process each
    embedding always runs single-threaded, so the result never depends on the scheduling."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    workers = max(1, min(len(reps), os.cpu_count() or 1))
    if workers == 1:
        return [embed_2d(feats, config) for feats in reps]
    # spawn: a fresh interpreter, never a fork of a process whose torch/OpenMP threads are running
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(embed_2d, reps, [config] * len(reps)))


def layer_names(hidden_layers: int) -> list[str]:
    """raw, hidden1..hiddenN, output (the logits), softmax (the probabilities: the assignment's last
    layer)."""
    return ["raw"] + [f"hidden{i}" for i in range(1, hidden_layers + 1)] + ["output", "softmax"]


def probe_indices(config: Config, n_test: int) -> np.ndarray:
    """Indices (into the test set in use) of the images fed to the grids and the embeddings."""
    n = min(config.probe_images, n_test)
    if config.probe_choice == "first":
        return np.arange(n)
    g = torch.Generator().manual_seed(config.seed + 2)
    return torch.randperm(n_test, generator=g)[:n].sort().values.numpy()


@dataclass(frozen=True)
class Probe:
    """Every representation of the probe images: `reps[i]` (P, D_i) is layer `names[i]`'s output."""

    indices: np.ndarray  # (P,) into the test set in use
    labels: np.ndarray  # (P,) true classes
    images: np.ndarray  # uint8 (P, H, W), for drawing
    names: list[str]  # raw, hidden1..N, output, softmax
    reps: list[np.ndarray]  # float32, raw = the normalised pixels the net sees; softmax = `probs`

    @property
    def probs(self) -> np.ndarray:
        return self.reps[-1]

    @property
    def penultimate(self) -> np.ndarray:
        """The last hidden layer's ReLU outputs (P, hidden_width)."""
        return self.reps[-3]


def probe(model: nn.Module, data: Data, config: Config) -> Probe:
    """Run the probe images through `model` (in eval mode). Raises nothing: the caller checks that every
    value is finite (a diverged net has nothing to look inside)."""
    idx = probe_indices(config, len(data.x_test))
    labels = data.y_test[torch.as_tensor(idx, device=data.y_test.device)].cpu().numpy()
    with torch.no_grad():
        x = data.x_test[torch.as_tensor(idx, device=data.x_test.device)]
        outs = [o.float().cpu().numpy() for o in layer_outputs(model, x)]
    probs = torch.softmax(torch.from_numpy(outs[-1]), dim=1).numpy()
    return Probe(
        indices=idx,
        labels=labels,
        images=data.test_images[torch.as_tensor(idx)].numpy(),
        names=layer_names(config.hidden_layers),
        reps=[x.cpu().numpy(), *outs, probs],
    )


def padded(rows: list[list[int]], width: int) -> np.ndarray:
    """Grid rows as one (rows, width) int64 array, short rows filled with -1 (blank cells)."""
    grid = np.full((len(rows), width), -1, dtype=np.int64)
    for r, row in enumerate(rows):
        grid[r, : len(row)] = row
    return grid


def grids(p: Probe, config: Config) -> tuple[dict, dict]:
    """(summary entries, arrays for arrays.npz) of the two grids: the output grid ranks images by softmax
    probability, the penultimate grid by the ReLU output of `penultimate_units` randomly chosen (seeded)
    units of the last hidden layer, an image with all of them silent going to no row."""
    g = np.random.default_rng(config.seed)
    units = np.sort(g.choice(config.hidden_width, size=config.penultimate_units, replace=False))
    penult = p.penultimate[:, units]
    out_grid = top_activation_grid(p.probs, config.grid_top)
    pen_grid = top_activation_grid(penult, config.grid_top, floor=0.0)
    # penultimate rows name the unit by its index in the layer (row r is units[r]), output rows by class
    pen_rows = [{**row, "unit": int(units[row["unit"]])} for row in row_purity(pen_grid, p.labels)]
    entries = {
        "output_grid": {
            "counts": out_grid["counts"],
            "unassigned": out_grid["unassigned"],
            "rows": row_purity(out_grid, p.labels),
        },
        "penultimate_grid": {
            "units": units.tolist(),
            "counts": pen_grid["counts"],
            "unassigned": pen_grid["unassigned"],
            "rows": pen_rows,
        },
    }
    arrays = {
        "penultimate": penult.astype(np.float32),
        "penultimate_units": units,
        "output_grid": padded(out_grid["rows"], config.grid_top),
        "penultimate_grid": padded(pen_grid["rows"], config.grid_top),
    }
    return entries, arrays


def embed_and_score(
    p: Probe, config: Config, log: Callable[[str], None] = lambda msg: None
) -> tuple[dict[str, np.ndarray], list[dict], float]:
    """t-SNE and PCA of every representation and the k-NN accuracy in each map: (arrays `tsne_<layer>`,
    `pca_<layer>` (P, 2), one summary entry per layer, wall seconds)."""
    arrays: dict[str, np.ndarray] = {}
    layers = []
    t0 = time.perf_counter()
    log(f"t-SNE and PCA of {len(p.reps)} representations of {len(p.indices)} images")
    for name, feats, (tsne, pca) in zip(p.names, p.reps, embed_layers(p.reps, config)):
        arrays[f"tsne_{name}"], arrays[f"pca_{name}"] = tsne, pca
        layers.append(
            {
                "name": name,
                "dims": int(feats.shape[1]),
                "knn_accuracy_2d_tsne": knn_accuracy(
                    tsne, p.labels, config.knn_k, config.knn_folds, config.seed
                ),
                "knn_accuracy_2d_pca": knn_accuracy(
                    pca, p.labels, config.knn_k, config.knn_folds, config.seed
                ),
            }
        )
    return arrays, layers, time.perf_counter() - t0
