"""Training core: seeded in-memory batching, `train_epoch`, `evaluate`, `fit`."""

from denselab.training.loop import (
    OPTIMIZERS,
    History,
    batch_indices,
    evaluate,
    fit,
    make_optimizer,
    one_cycle,
    resolve_device,
    seed_everything,
    train_epoch,
)

__all__ = [
    "OPTIMIZERS",
    "History",
    "batch_indices",
    "evaluate",
    "fit",
    "make_optimizer",
    "one_cycle",
    "resolve_device",
    "seed_everything",
    "train_epoch",
]
