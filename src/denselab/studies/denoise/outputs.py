"""What `denoise train` writes besides model.pt: the validation audio and figures, the denoised test files,
excerpts of the training pair (for the report's players), and summary.json's fields about them. Every path in
the returned dicts is relative to the run's folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from denselab.data.audio import HOP, N_BINS
from denselab.io import save_figure, save_wav
from denselab.studies.denoise.config import Config
from denselab.studies.denoise.data import Split
from denselab.studies.denoise.model import Denoiser, denoise_any_rate

CLIP_SECONDS = 10.0  # length of the training pair's excerpts written for the report


def assignment_name(stem: str) -> str | None:
    """The assignment's name for a test file's reconstruction: test_x_01 -> test_s_01_recons.wav."""
    m = re.fullmatch(r"test_x_(\w+)", stem)
    return f"test_s_{m.group(1)}_recons.wav" if m else None


def training_pair(out: Path, clean: np.ndarray, noisy: np.ndarray, sr: int) -> dict:
    """summary["training_pair"]: the pair's rate, length and STFT shape (bins, frames of the whole clean
    recording on one grid), with its first CLIP_SECONDS written to audio/ so the report can play them."""
    n = min(len(clean), int(CLIP_SECONDS * sr))
    clips = {"clean": "audio/train_clean_excerpt.wav", "noisy": "audio/train_noisy_excerpt.wav"}
    for key, y in (("clean", clean), ("noisy", noisy)):
        save_wav(out / clips[key], y[:n], sr)
    return {
        "sample_rate": sr,
        "seconds": len(clean) / sr,
        "stft_shape": [N_BINS, 1 + len(clean) // HOP],  # centred frames: one per hop, plus the last
        "clip_seconds": n / sr,
        "clips": clips,
    }


def score_fields(results: dict, chosen: str, base: dict, per_variant: dict) -> dict:
    """summary.json's headline: the kept variant's validation and held-out scores, the baselines, how long
    training took, and every variant's record (`per_variant`, from `evaluate.score_variants`)."""
    best = results[chosen]
    return {
        "validation_snr_db": best.validation_snr_db,
        "validation_input_snr_db": base["noisy"],
        "validation_gain_db": best.validation_snr_db - base["noisy"],
        "heldout_snr_db": None,  # without a held-out part
        "heldout_input_snr_db": None,
        **{
            k: v
            for k, v in per_variant[chosen].items()
            if k.startswith(("validation_", "heldout_"))
            and k not in ("validation_snr_db", "validation_snr_curve")
        },
        "model": chosen,
        "train_seconds": sum(r.seconds for r in results.values()),
        "epochs": best.best_epoch,
        "widths": list(best.den.widths),
        "baselines": base,
        "variants": per_variant,
    }


def split_fields(split: Split, cfg: Config, n_samples: int) -> dict:
    """summary["split"] and the older fields that describe the parts of the training recording."""
    sr = split.sample_rate
    held, val = len(split.held_noisy) / sr, len(split.val_noisy) / sr
    return {
        "split": {
            "train_seconds": (split.validation_start - split.heldout_end) / sr,
            "validation_seconds": val,
            "heldout_seconds": held,
            "train_frames": 1 + len(split.train_clean) // HOP,  # on one grid (the first of frame_grids)
            "frame_grids": cfg.frame_shifts,
        },
        "train_frames": len(split.clean_frames),
        "speech_frames": len(split.speech_frames),
        "validation_seconds": val,
        "heldout_seconds": held,
        "parts_seconds": {
            "heldout": [0.0, held],
            "train": [held, (n_samples - len(split.val_noisy)) / sr],
            "validation": [(n_samples - len(split.val_noisy)) / sr, n_samples / sr],
        },
        "truncated_samples": split.truncated_samples,
    }


def validation_outputs(
    out: Path, split: Split, results: dict, chosen: str, base: dict, cfg: Config
) -> tuple[dict, dict]:
    """The kept variant's validation audio (noisy, denoised, clean) and the validation figures:
    ({name: wav}, {figure: png})."""
    from denselab.plotting.denoise import spectrogram_figure, validation_curves_figure

    sr = split.sample_rate
    denoised = results[chosen].validation_output
    audio = {"noisy": split.val_noisy, "denoised": denoised, "clean": split.val_clean}
    for name, y in audio.items():
        save_wav(out / f"audio/validation_{name}.wav", y, sr)
    figures = {
        "validation_spectrogram": "figures/validation_spectrogram.png",
        "validation_curves": "figures/validation_curves.png",
    }
    panels = [
        ("noisy input", split.val_noisy),
        (f"denoised ({chosen})", denoised),
        ("clean reference", split.val_clean),
    ]
    title = f"Validation part ({cfg.validation_fraction:.0%} of the training pair)"
    save_figure(spectrogram_figure(panels, sr, title), out / figures["validation_spectrogram"])
    curves = {v: r.validation_snr_curve for v, r in results.items()}
    save_figure(validation_curves_figure(curves, base), out / figures["validation_curves"])
    return {k: f"audio/validation_{k}.wav" for k in audio}, figures


def _test_paths(stem: str, variants: list[str]) -> dict[str, str]:
    rel = {
        "output": f"audio/{stem}_recons.wav",
        "noisy": f"audio/{stem}_noisy.wav",
        "figure": f"figures/{stem}_spectrogram.png",
    }
    rel.update({f"output_{v}": f"audio/{stem}_recons_{v}.wav" for v in variants if len(variants) > 1})
    if assignment_name(stem):
        rel["assignment_output"] = f"audio/{assignment_name(stem)}"
    return rel


def denoise_test_files(
    out: Path, tests_in: list, models: dict[str, Denoiser], chosen: str
) -> tuple[list, dict, dict]:
    """Each test file denoised by every variant: (summary["tests"], extra players, figures). `audio` lists
    the clips worth a player that no other key lists, i.e. the variants not kept; the kept output's copies
    (the assignment's file name, the per-variant name) are the same audio, listed in `tests` only."""
    from denselab.plotting.denoise import spectrogram_figure

    tests, audio, figures = [], {}, {}
    for path, y, sr in tests_in:
        stem = path.stem
        outs = {v: denoise_any_rate(den, y, sr) for v, den in models.items()}
        rel = _test_paths(stem, list(outs))
        for key, y_out in (
            ("output", outs[chosen]),
            ("noisy", y),
            ("assignment_output", outs[chosen]),
            *((f"output_{v}", o) for v, o in outs.items()),
        ):
            if key in rel:
                save_wav(out / rel[key], y_out, sr)
        audio.update(
            {f"{stem}_output_{v}": rel[f"output_{v}"] for v in outs if f"output_{v}" in rel and v != chosen}
        )
        panels = [("noisy input", y)] + [
            (f"denoised ({v}{', kept' if v == chosen else ''})", o) for v, o in outs.items()
        ]
        save_figure(spectrogram_figure(panels, sr, f"{path.name} (no clean reference)"), out / rel["figure"])
        figures[f"{stem}_spectrogram"] = rel["figure"]
        tests.append(
            {
                "input": os.path.relpath(path.resolve(), out.resolve()),
                "source": str(path.resolve()),
                **rel,
                "seconds": len(y) / sr,
                "sample_rate": sr,
            }
        )
    return tests, audio, figures
