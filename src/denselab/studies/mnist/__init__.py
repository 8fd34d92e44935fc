"""Study 1 (assignment Problem 1): train a 5x1024 fully connected classifier on MNIST and look inside it.

Outputs under OUT: `model.pt` (weights + config + normalisation), `arrays.npz` (everything the figures are
drawn from), `figures/*.png`, and `summary.json` (written last). Nothing assumes digits: any 10-class
dataset in the four-file IDX layout works through `--mnist-dir`; the image size comes from the files.

The package: `settings` (Config, PRESETS, PRESET_HELP, validate), `train` (the data as the net sees it, the
classifier, its recipe, model.pt), `introspect` (layer outputs, top-activation grids, t-SNE/PCA and their
k-NN scores); here the study's entry points, `check_inputs` and `run`.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from torch import nn

from denselab.config import Runtime
from denselab.data.mnist import check_download_folder, check_mnist_folder
from denselab.errors import DenselabError
from denselab.io import read_json, save_npz, write_json
from denselab.studies.mnist.introspect import (
    SEPARATED_KNN,
    Probe,
    embed_2d,
    embed_and_score,
    grids,
    knn_accuracy,
    layer_names,
    probe,
    probe_indices,
    row_purity,
    top_activation_grid,
)
from denselab.studies.mnist.settings import PRESET_HELP, PRESETS, Config, validate
from denselab.studies.mnist.train import (
    MODEL_KIND,
    MODEL_VERSION,
    Data,
    build_classifier,
    load_data,
    load_model,
    mnist_folder,
    prepare_data,
    random_shift,
    reuse_model,
    save_model,
    train_classifier,
)
from denselab.training import History

__all__ = [
    "MODEL_KIND",
    "MODEL_VERSION",
    "PRESETS",
    "PRESET_HELP",
    "SEPARATED_KNN",
    "Config",
    "Data",
    "Probe",
    "build_classifier",
    "check_inputs",
    "embed_2d",
    "knn_accuracy",
    "layer_names",
    "load_data",
    "load_model",
    "prepare_data",
    "probe_indices",
    "random_shift",
    "row_purity",
    "run",
    "top_activation_grid",
    "train_classifier",
    "validate",
]


def check_inputs(config: Config, data_dir: Path) -> None:
    """DenselabError, before anything is written, when the images cannot be read: an explicit --mnist-dir
    must hold the four IDX files (raw or .gz) with readable headers that fit together; the default
    `<data_dir>/mnist` may be absent or incomplete (the missing files are downloaded), but a file present
    there must be readable. Reads headers and label files only."""
    folder, may_download = mnist_folder(config, data_dir)
    if may_download:
        check_download_folder(folder)
        return
    if not folder.is_dir():
        raise DenselabError(f"--mnist-dir {folder} is not a folder")
    check_mnist_folder(folder)


def _logger(runtime: Runtime):
    if runtime.quiet:
        return lambda msg: None
    return lambda msg: print(f"denselab mnist: {msg}", file=sys.stderr)


def _trained(
    config: Config, data: Data, out: Path, runtime: Runtime, log
) -> tuple[nn.Module, History, float]:
    """The classifier of model.pt when it was trained with this config, else a new one (saved there)."""
    model_path = out / "model.pt"
    reused = reuse_model(model_path, config, runtime.device)
    if reused is not None:
        log(f"reusing the trained model in {model_path}")
        return reused
    log(f"training on {len(data.x_train)} images for {config.epochs} epochs")
    model, history, seconds = train_classifier(config, data, runtime.device, runtime.quiet)
    save_model(model_path, model, config, data, history, seconds)
    return model, history, seconds


def _check_finite(p: Probe, history: History, config: Config) -> None:
    if history.diverged or not all(np.isfinite(r).all() for r in p.reps[1:]):
        where = f" at epoch {history.diverged_at['epoch']}" if history.diverged_at else ""
        raise DenselabError(
            f"training diverged{where} (non-finite loss or activations): nothing to look inside; "
            f"try a lower --lr (now {config.lr:g})"
        )


def _summary(data: Data, history: History, seconds: float, p: Probe, config: Config) -> dict:
    """summary.json's keys that describe the training and the probe (the grids and layers are added)."""
    return {
        "test_accuracy": history.test_accuracy[-1] if history.test_accuracy else math.nan,
        "test_images": len(data.x_test),
        "train_images": len(data.x_train),
        "epochs": history.epochs,
        "train_seconds": seconds,
        "diverged": history.diverged,
        "image_shape": list(data.image_shape),
        "curves": {
            "train_loss": history.train_loss,
            "train_accuracy": history.train_accuracy,
            "test_loss": history.test_loss,
            "test_accuracy": history.test_accuracy,
            "epoch_seconds": history.epoch_seconds,
        },
        "probe": {
            "images": len(p.indices),
            "choice": config.probe_choice,
            "accuracy": float(np.mean(p.probs.argmax(1) == p.labels)),
        },
    }


def run(config: Config, out_dir: Path, runtime: Runtime | None = None) -> dict:
    """Train (or reuse model.pt), probe, embed, draw; writes summary.json last and returns it."""
    runtime = runtime or Runtime()
    out = Path(out_dir)
    validate(config)  # also called by pipeline.run_study before --out is touched
    log = _logger(runtime)
    data = load_data(config, runtime.data_dir, runtime.device)
    model, history, seconds = _trained(config, data, out, runtime, log)

    p = probe(model, data, config)
    _check_finite(p, history, config)
    grid_entries, grid_arrays = grids(p, config)
    maps, layers, embed_seconds = embed_and_score(p, config, log)
    save_npz(
        out / "arrays.npz",
        labels=p.labels,
        probe_indices=p.indices,
        images=p.images,
        probs=p.probs.astype(np.float32),
        layer_names=np.array(p.names),
        **grid_arrays,
        **maps,
    )
    summary = {
        **_summary(data, history, seconds, p, config),
        "embed_seconds": embed_seconds,
        **grid_entries,
        "knn": {"k": config.knn_k, "folds": config.knn_folds, "separated_threshold": SEPARATED_KNN},
        "layers": layers,
        "files": {"model": "model.pt", "arrays": "arrays.npz"},
    }
    from denselab.plotting.mnist import draw_figures

    log("drawing figures")
    summary["figures"] = [str(q.relative_to(out)) for q in draw_figures(out, summary)]
    write_json(out / "summary.json", summary)
    return read_json(out / "summary.json")
