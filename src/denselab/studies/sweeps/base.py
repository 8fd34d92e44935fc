"""What Studies 3 (optim) and 4 (dropout) share before any job exists: the config base `ArmConfig`, the checks
of its values, and the MNIST data as the jobs train on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from denselab.config import Runtime
from denselab.data.mnist import MEAN, STD, load_mnist, normalize
from denselab.errors import DenselabError
from denselab.training.batched import Data

# ----------------------------------------------------------------------------------------- shared config


@dataclass(frozen=True)
class ArmConfig:
    """The settings Studies 3 and 4 share; each study subclasses it (its own defaults, arms and extras)."""

    seed: int = 0
    """One seed drives every random choice (subset, init, data order); run seeds are seed..seed+seeds-1."""
    seeds: int = 3
    """Number of seeds every run is repeated for (figures show the mean and the min-max band)."""
    arms: tuple[str, ...] = ()
    """Activation-init arms to train."""
    hidden_layers: int = 5
    """Number of hidden layers."""
    hidden_width: int = 512
    """Units per hidden layer."""
    epochs: int = 8
    """Training epochs (the same for every run)."""
    batch_size: int = 64
    """Images per optimiser step."""
    train_subset: int | None = 10000
    """Train on this many random MNIST training images, the same for every run (0 or none: all 60000)."""
    test_subset: int | None = 5000
    """Test on this many randomly chosen test images (0 or none = all 10000)."""
    probe_size: int = 512
    """Training images the activation statistics are measured on."""
    trace_steps: int = 100
    """Steps at the start of each run whose loss and per-layer gradient norms are recorded one by one."""
    group_size: int = 0
    """Runs trained together as one batched computation, at most (0: every run of a shape, up to 32 MiB per
    stacked layer); each run's results do not depend on it, a group's run files are written when it ends."""


def widths(config: ArmConfig) -> list[int]:
    """Layer widths of the study's nets: 784 pixels, `hidden_layers` x `hidden_width`, 10 classes."""
    return [784] + [config.hidden_width] * config.hidden_layers + [10]


def run_seeds(config: ArmConfig) -> list[int]:
    """The run seeds seed..seed+seeds-1."""
    return list(range(config.seed, config.seed + config.seeds))


def validate_common(config: ArmConfig, allowed_arms: Sequence[str], positive: Sequence[str] = ()) -> None:
    """The checks every arm study makes: known arms, positive sizes (plus `positive`), sane subsets."""
    check_choices("arms", config.arms, allowed_arms)
    check_positive(
        config, ("seeds", "epochs", "batch_size", "hidden_layers", "hidden_width", "probe_size", *positive)
    )
    check_subsets(config)
    if config.group_size < 0:
        raise DenselabError(f"--group-size must be 0 (as large as fits) or more, got {config.group_size}")


# ------------------------------------------------------------------------------------------- config checks


def check_choices(option: str, given: Sequence[str], allowed: Sequence[str]) -> None:
    """DenselabError unless `given` is a non-empty selection from `allowed`."""
    bad = [g for g in given if g not in allowed]
    if bad or not given:
        raise DenselabError(
            f"unknown --{option} {' '.join(bad) or '(none given)'} (choose from {' '.join(allowed)})"
        )


def check_positive(config: Any, names: Sequence[str]) -> None:
    """DenselabError unless every named integer field of `config` is at least 1."""
    for name in names:
        value = getattr(config, name)
        if value is not None and value < 1:
            raise DenselabError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def check_subsets(config: Any) -> None:
    """DenselabError when `train_subset` or `test_subset` is negative (0 and None mean every image)."""
    for name in ("train_subset", "test_subset"):
        value = getattr(config, name)
        if value is not None and value < 0:
            raise DenselabError(f"--{name.replace('_', '-')} must be 0 (all images) or more, got {value}")


# --------------------------------------------------------------------------------------------------- data

# Pixel scalings a study may use: "standardise" = [0, 1] then (x - 0.1307) / 0.3081, the assignment's
# `Normalize((0.1307,), (0.3081,))`; "unit" = [0, 1] only.
SCALINGS = {"standardise": (MEAN, STD), "unit": (0.0, 1.0)}


def other_scaling(scaling: str) -> str:
    """The pixel scaling that is not `scaling`."""
    return next(s for s in SCALINGS if s != scaling)


def load_data(runtime: Runtime, config: ArmConfig, scaling: str = "standardise") -> Data:
    """MNIST as normalised float tensors on `runtime.device`: ((x_train, y_train), (x_test, y_test)), pixels
    scaled as `SCALINGS[scaling]` says.

    A subset (`train_subset`, `test_subset`) is a random choice of images seeded by `config.seed`: the same
    for every arm and every run seed of a study."""
    mean, std = SCALINGS[scaling]
    mnist = load_mnist(Path(runtime.data_dir) / "mnist")
    gen = torch.Generator().manual_seed(config.seed)

    def pick(images: torch.Tensor, labels: torch.Tensor, n: int | None):
        if n is not None and 0 < n < len(images):
            idx = torch.randperm(len(images), generator=gen)[:n].sort().values
            images, labels = images[idx], labels[idx]
        return normalize(images, mean, std).to(runtime.device), labels.to(runtime.device)

    return (
        pick(mnist.train_images, mnist.train_labels, config.train_subset),
        pick(mnist.test_images, mnist.test_labels, config.test_subset),
    )
