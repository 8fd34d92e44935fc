"""Which code the report shows, by dotted name, in ONE table: when a function moves or is renamed, this is
the one edit (and `tests/test_report.py` fails on a name that no longer resolves, instead of the report
silently dropping it).

Every study writes the source of the functions shown for it to its folder when it starts (`snapshot`,
`<study>/sources.json`), and the report shows that text: a report rebuilt after an edit or an upgrade still shows
the code that produced its results (and its cells say whether the installed code still is that code). Only a
folder written before this file existed falls back to the installed package's source.
"""

from __future__ import annotations

import importlib
from itertools import groupby
from typing import Any

from denselab.provenance import source_text
from denselab.registry import REGISTRY

# Per study, per report section: (the sentence that introduces the code, the functions it shows).
# Functions of one module share a cell; keep an entry to one or two functions so a cell stays readable.
SOURCES: dict[str, dict[str, list[tuple[str, tuple[str, ...]]]]] = {
    "mnist": {
        "1.1": [
            (
                "The network: `build_classifier` sets the widths and dropout rates, `build_mlp` (shared by every "
                "study) builds the layers and initialises them.",
                ("denselab.studies.mnist.build_classifier", "denselab.models.mlp.build_mlp"),
            ),
            (
                "The recipe: optimiser, one-cycle schedule, label-smoothed loss and the random shifts, handed to the "
                "shared training loop.",
                ("denselab.studies.mnist.train_classifier", "denselab.studies.mnist.random_shift"),
            ),
            (
                "The training loop every MNIST study uses: one epoch of mini-batches, then an evaluation pass.",
                ("denselab.training.loop.train_epoch",),
            ),
        ],
        "1.2": [
            (
                "Loading: the four IDX files, a seeded subset when asked, and standardisation with the training "
                "images' own mean and standard deviation.",
                ("denselab.studies.mnist.prepare_data",),
            ),
        ],
        "1.3": [
            (
                "The grid: every probe image goes to its highest-scoring unit; each row keeps that unit's images "
                "in order of score (here the score is the softmax probability).",
                ("denselab.studies.mnist.top_activation_grid",),
            ),
        ],
        "1.5": [
            (
                "The 2-D maps and the score of how well the classes separate in them.",
                ("denselab.studies.mnist.embed_2d", "denselab.studies.mnist.knn_accuracy"),
            ),
            (
                "Every layer's output for the probe images, read off the trained net.",
                ("denselab.models.mlp.layer_outputs",),
            ),
        ],
    },
    "denoise": {
        "2.6": [
            (
                "The STFT: `torch.stft` with librosa's settings (n_fft 1024, hop 512, centred, Hann window) and its "
                "inverse.",
                ("denselab.data.audio.spectrum", "denselab.data.audio.inverse_spectrum"),
            ),
        ],
        "2.8": [
            (
                "The network and what it outputs: `magnitude` regresses |S| (the assignment's literal setup), "
                "`mask` multiplies |X| by a mask in (0, 1); both end in a nonnegative activation.",
                (
                    "denselab.studies.denoise_model.new_denoiser",
                    "denselab.studies.denoise_model.estimate_magnitude",
                ),
            ),
            (
                "Other voices from the one training voice: copies re-synthesised by the WORLD vocoder with the pitch "
                "and the spectral envelope moved apart; they join the speed copies that remixing draws from.",
                ("denselab.data.audio.voice_copies",),
            ),
            (
                "Training examples: clean frames remixed with noise frames at random SNRs; the loss.",
                (
                    "denselab.studies.denoise.remix_draw",
                    "denselab.studies.denoise.remix_batch",
                    "denselab.studies.denoise.loss_fn",
                ),
            ),
            (
                "The training loop of one variant: Adam with a cosine schedule, a moving average of the weights, "
                "validation SNR after every epoch and early stopping on it; the refit on training + validation runs "
                "the same loop for a fixed number of epochs.",
                ("denselab.studies.denoise.train_variant",),
            ),
        ],
        "2.10": [
            (
                "Denoising a recording: STFT, the net's magnitude, the noisy phase (equation 1), inverse STFT — on "
                "each of the frame grids, whose outputs are averaged (cycle spinning).",
                (
                    "denselab.studies.denoise_model.with_noisy_phase",
                    "denselab.studies.denoise_model.grid_offsets",
                    "denselab.studies.denoise_model.denoise_signal",
                    "denselab.studies.denoise_model._denoise_one_grid",
                ),
            ),
        ],
        "2.13": [
            ("The SNR of equation 2.", ("denselab.data.audio.snr_db",)),
        ],
    },
    "optim": {
        "3.1": [
            (
                "One job = one arm under one optimiser at one seed. Jobs that share a shape are grouped and trained "
                "together, each keeping its own initialisation, data order, dropout masks and optimiser state.",
                ("denselab.studies.arms.group_jobs", "denselab.studies.arms.train_group"),
            ),
            ("The initialisers.", ("denselab.models.mlp.init_variance",)),
            (
                "The jobs of the study: every arm under every optimiser and seed, plus the learning-rate sweep.",
                ("denselab.studies.optim.jobs",),
            ),
        ],
        "3.4": [
            (
                "Training a group: one batched step per batch for every run in it, each run's own divergence check, "
                "and the gradient norms and activation statistics recorded on the way.",
                ("denselab.training.batched.fit_group",),
            ),
        ],
    },
    "dropout": {
        "4.2": [
            (
                "Where dropout goes: the rate on each weight layer's input.",
                ("denselab.models.mlp.dropout_rates",),
            ),
            (
                "The jobs: each arm without and with dropout, every seed. They are trained by the same grouped code "
                "as Problem 3 (`fit_group`), whose forward pass applies each run's own dropout mask in training mode "
                "only, kept units scaled by 1/(1 − p).",
                ("denselab.studies.dropout.jobs",),
            ),
        ],
        "4.3": [
            (
                "Every epoch's train and test numbers come from `evaluate_group`, which runs the nets without "
                "dropout, so both curves measure the same network.",
                ("denselab.training.batched.evaluate_group",),
            ),
        ],
    },
}


def resolve(dotted: str) -> Any:
    """The object a dotted name refers to: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            raise LookupError(f"{dotted} does not exist (no `{attr}` in {'.'.join(parts[:i])})") from None
        return obj
    raise LookupError(f"{dotted} does not exist (no such module)")


def source_of(dotted: str) -> str:
    """The source text of a function or class, as installed."""
    text = source_text(resolve(dotted))
    if text is None:
        raise LookupError(f"the source of {dotted} cannot be read")
    return text


def by_module(dotted: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """[(module, [names])] in order, consecutive names of one module together."""
    pairs = [(d.rsplit(".", 1)[0], d.rsplit(".", 1)[1]) for d in dotted]
    return [(m, [n for _, n in group]) for m, group in groupby(pairs, key=lambda p: p[0])]


def study_names(study: str) -> list[str]:
    """Every dotted name the report shows for `study`, in order."""
    return [d for entries in SOURCES.get(study, {}).values() for _, names in entries for d in names]


def all_names() -> list[str]:
    return [d for study in SOURCES for d in study_names(study)]


def preset_values(study: str, preset: str) -> dict[str, Any]:
    """Every config field's value under `preset` ({} when the study or preset is unknown)."""
    try:
        return REGISTRY[study].preset_values(preset)
    except KeyError:
        return {}


def field_docs(study: str) -> dict[str, str]:
    """The one-line docstring of each config field."""
    return REGISTRY[study].field_docs() if study in REGISTRY else {}
