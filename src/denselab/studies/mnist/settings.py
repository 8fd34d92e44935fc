"""Study 1's options: `Config` (defaults = the full preset), `PRESETS`, `PRESET_HELP` and `validate`.

A leaf of the package: `train` and `introspect` read the config from here, `__init__` re-exports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from denselab.errors import DenselabError


@dataclass(frozen=True)
class Config:
    """Study 1: 5x1024 MNIST classifier, top-activation grids, t-SNE/PCA of every layer."""

    seed: int = 0
    """One seed drives every random choice (init, data order, shifts, subsets, chosen units, t-SNE)."""
    mnist_dir: str | None = None
    """Folder with the four IDX files (raw or .gz); default <data-dir>/mnist, downloaded when absent."""
    hidden_layers: int = 5
    """Number of hidden layers."""
    hidden_width: int = 1024
    """Units per hidden layer."""
    epochs: int = 5
    """Training epochs (one-cycle schedule spans all of them)."""
    batch_size: int = 512
    """Images per optimiser step."""
    optimizer: Literal["adam", "adamw"] = "adamw"
    """Optimiser."""
    lr: float = 1e-3
    """Peak learning rate of the one-cycle schedule."""
    weight_decay: float = 1e-4
    """Decoupled weight decay (adamw only)."""
    warmup_fraction: float = 0.25
    """Fraction of the steps spent warming the learning rate up (cosine ramp) before the cosine decay."""
    label_smoothing: float = 0.1
    """Label smoothing of the training loss (test loss is plain cross-entropy)."""
    input_dropout: float = 0.1
    """Dropout on the pixels."""
    hidden_dropout: float = 0.0
    """Dropout on every hidden representation."""
    shift_pixels: int = 1
    """Random translation of each training image by up to this many pixels per axis (0 = off)."""
    train_subset: int | None = None
    """Train on this many randomly chosen training images (none = all)."""
    test_subset: int | None = None
    """Test on this many randomly chosen test images (none = all)."""
    probe_images: int = 1000
    """Test images fed to the grids and embeddings."""
    probe_choice: Literal["first", "random"] = "first"
    """Which test images are probed: the first ones, or a seeded random choice."""
    grid_top: int = 10
    """Images shown per grid row (the highest-scoring ones assigned to that unit)."""
    penultimate_units: int = 10
    """Randomly chosen penultimate units that act as the 'output' of the second grid."""
    tsne_perplexity: float = 30.0
    """t-SNE perplexity."""
    tsne_iterations: int = 1000
    """t-SNE optimisation iterations (the first 250 are early exaggeration; at least 500 for a usable map)."""
    knn_k: int = 5
    """Neighbours of the k-NN classifier that scores each 2-D embedding."""
    knn_folds: int = 5
    """Cross-validation folds of that k-NN score."""


PRESETS: dict[str, dict] = {
    "full": {},
    # batch 128 gives a few thousand images enough steps to learn something in one epoch; t-SNE's first 250
    # iterations are its early-exaggeration phase, so 500 is about the fewest that give a usable map
    "quick": {"train_subset": 4000, "epochs": 1, "batch_size": 128, "tsne_iterations": 500},
}

PRESET_HELP: dict[str, str] = {
    "full": "the assignment's 5x1024 ReLU classifier (He init) on all 60000 training images, tested on all "
    "10000; beyond it, a recipe that passes 98.5 % in 5 epochs (AdamW, one-cycle schedule, label smoothing, "
    "pixel dropout, 1-pixel shifts); grids and t-SNE (1000 iterations)/PCA of 1000 test images",
    "quick": "a smoke run of every step and figure: 4000 training images, 1 epoch at batch 128, t-SNE of "
    "500 iterations; about a minute on a CPU, numbers not comparable with full",
}


def validate(config: Config) -> None:
    """Raise a one-line DenselabError naming the first option whose value cannot work."""
    rules = [
        ("hidden_layers", config.hidden_layers >= 1, "at least 1"),
        ("hidden_width", config.hidden_width >= 1, "at least 1"),
        ("epochs", config.epochs >= 1, "at least 1"),
        ("batch_size", config.batch_size >= 1, "at least 1"),
        ("lr", config.lr > 0, "positive"),
        ("weight_decay", config.weight_decay >= 0, "0 or more"),
        ("warmup_fraction", 0 <= config.warmup_fraction < 1, "in [0, 1)"),
        ("label_smoothing", 0 <= config.label_smoothing < 1, "in [0, 1)"),
        ("input_dropout", 0 <= config.input_dropout < 1, "in [0, 1)"),
        ("hidden_dropout", 0 <= config.hidden_dropout < 1, "in [0, 1)"),
        ("shift_pixels", config.shift_pixels >= 0, "0 or more"),
        ("train_subset", config.train_subset is None or config.train_subset >= 1, "at least 1"),
        ("test_subset", config.test_subset is None or config.test_subset >= 2, "at least 2"),
        ("probe_images", config.probe_images >= 2, "at least 2"),
        ("grid_top", config.grid_top >= 1, "at least 1"),
        (
            "penultimate_units",
            1 <= config.penultimate_units <= config.hidden_width,
            f"in 1..{config.hidden_width} (the hidden width)",
        ),
        ("tsne_perplexity", config.tsne_perplexity > 0, "positive"),
        ("tsne_iterations", config.tsne_iterations >= 250, "at least 250"),
        ("knn_k", config.knn_k >= 1, "at least 1"),
        ("knn_folds", config.knn_folds >= 2, "at least 2"),
    ]
    for name, ok, want in rules:
        if not ok:
            raise DenselabError(f"--{name.replace('_', '-')} must be {want}, got {getattr(config, name)}")
