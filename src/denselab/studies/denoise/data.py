"""Study 2's data: which files a run reads (and the cheap check that they are there), the training pair
loaded and cut in time into a held-out test part, a training part (as STFT frames) and a validation part, and
the feature statistics of the training part. No training here; `augment.py` adds the voice copies.

Shapes: STFT frames are rows, (frames, 513) complex64.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from denselab.data.audio import HOP, N_FFT, load_wav, spectrum
from denselab.errors import DenselabError, MissingInput
from denselab.studies.denoise.config import SPEECH_FILES, Config
from denselab.studies.denoise.model import EPS, REF_RMS, grid_offsets

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass(frozen=True)
class Inputs:
    """The files a training run reads."""

    clean: Path
    noisy: Path
    tests: list[Path]
    unseen: Path | None  # folder of clean speech for the unseen-voice check; None = no check


def resolve_inputs(cfg: Config, data_dir: Path) -> Inputs:
    """The config's files, with the defaults under `<data_dir>/speech/` (the test files and the unseen
    folder only when present)."""
    speech = Path(data_dir) / "speech"
    clean = Path(cfg.clean) if cfg.clean else speech / SPEECH_FILES["clean"]
    noisy = Path(cfg.noisy) if cfg.noisy else speech / SPEECH_FILES["noisy"]
    if cfg.test is not None:
        tests = [Path(t) for t in cfg.test]
    else:
        tests = [speech / f for f in SPEECH_FILES["test"] if (speech / f).is_file()]
    if cfg.unseen is None:
        unseen = speech / "unseen" if (speech / "unseen").is_dir() else None
    elif cfg.unseen.lower() == "none":
        unseen = None
    else:
        unseen = Path(cfg.unseen)
    return Inputs(clean, noisy, tests, unseen)


def audio_info(path: Path, where: str = "") -> tuple[int, int]:
    """(sample rate, frames) of an audio file from its header only; a one-line DenselabError naming the
    file (and `where` it belongs) when it is missing or not audio."""
    import soundfile as sf

    if not path.is_file():  # not there yet: `denselab all` skips the study and says so
        raise MissingInput(f"audio file not found: {path}{where}")
    try:
        info = sf.info(str(path))
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError for non-audio
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DenselabError(f"cannot read {path} as audio: {first}") from None
    if info.frames == 0:
        raise DenselabError(f"{path} holds no audio samples")
    return int(info.samplerate), int(info.frames)


def clean_files(folder: str | Path) -> list[Path]:
    """The audio files of a folder of clean speech, sorted by name."""
    if not Path(folder).is_dir():
        raise DenselabError(f"folder of clean speech not found: {folder}")
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DenselabError(f"no audio files (.wav, .flac, .ogg) in {folder}")
    return files


def check_files(cfg: Config, inputs: Inputs) -> None:
    """Every file `inputs` names is readable audio (headers only) and the pair shares a rate and a length
    (to within a hop); a one-line DenselabError otherwise. Writes nothing."""
    defaults = {"clean": cfg.clean is None, "noisy": cfg.noisy is None, "test": cfg.test is None}
    where = " (Study 2's default files go in <data-dir>/speech/; or give --clean/--noisy/--test)"
    rates = {}
    for key, path in (("clean", inputs.clean), ("noisy", inputs.noisy)):
        rates[key] = audio_info(path, where if defaults[key] else "")
    for path in inputs.tests:
        audio_info(path, where if defaults["test"] else "")
    (sr_c, n_c), (sr_n, n_n) = rates["clean"], rates["noisy"]
    if sr_c != sr_n:
        raise DenselabError(pair_rate_message(inputs.clean, sr_c, inputs.noisy, sr_n))
    if abs(n_c - n_n) > HOP:
        raise DenselabError(pair_length_message(inputs.clean, n_c, inputs.noisy, n_n))
    if inputs.unseen is not None:
        for path in clean_files(inputs.unseen):
            audio_info(path)


def pair_rate_message(clean: Path, sr_c: int, noisy: Path, sr_n: int) -> str:
    return f"{clean} is {sr_c} Hz but {noisy} is {sr_n} Hz; a clean/noisy pair must share one sample rate"


def pair_length_message(clean: Path, n_c: int, noisy: Path, n_n: int) -> str:
    return (
        f"{clean} has {n_c} samples but {noisy} has {n_n}: a clean/noisy pair may differ by at most one "
        f"hop ({HOP} samples)"
    )


def load_pair(
    clean_path: str | os.PathLike, noisy_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(clean, noisy, sample rate, samples dropped) of a clean/noisy recording pair.

    Different sample rates, or lengths that differ by more than one hop, are errors; a smaller length
    difference is trimmed off the longer file, with a warning on stderr."""
    clean, sr_c = load_wav(clean_path)
    noisy, sr_n = load_wav(noisy_path)
    if sr_c != sr_n:
        raise DenselabError(pair_rate_message(Path(clean_path), sr_c, Path(noisy_path), sr_n))
    diff = abs(len(clean) - len(noisy))
    if diff > HOP:
        raise DenselabError(pair_length_message(Path(clean_path), len(clean), Path(noisy_path), len(noisy)))
    if diff:
        n = min(len(clean), len(noisy))
        print(
            f"denselab: warning: {clean_path} and {noisy_path} differ by {diff} samples; "
            f"both truncated to {n}",
            file=sys.stderr,
        )
        clean, noisy = clean[:n], noisy[:n]
    return clean, noisy, sr_c, diff


def part_bounds(n: int, validation_fraction: float, heldout_fraction: float) -> tuple[int, int]:
    """(heldout_end, validation_start) in samples, both on hop boundaries: the pair of `n` samples is held-out
    [0, heldout_end) | training [heldout_end, validation_start) | validation [validation_start, n)."""
    start = int(n * heldout_fraction) // HOP * HOP
    cut = int(n * (1.0 - validation_fraction)) // HOP * HOP
    if cut - start < 8 * N_FFT or n - cut < 2 * N_FFT or (heldout_fraction > 0 and start < 2 * N_FFT):
        raise DenselabError(
            f"the training pair is too short ({n} samples) to hold out {validation_fraction:.0%} for "
            f"validation and {heldout_fraction:.0%} for testing; give at least a few seconds of audio"
        )
    return start, cut


@dataclass
class Split:
    """The training pair cut into a training part (as STFT frames), a validation and a held-out test part."""

    clean_frames: torch.Tensor  # (T, 513) complex64 STFT of the clean training part, native level (all grids)
    speech_frames: (
        torch.Tensor
    )  # (T + T', 513): clean_frames, then those of the perturbed copies (augment.py)
    noise_frames: torch.Tensor  # (T, 513) complex64 STFT of noisy − clean over the training part, same frames
    speech_power: float  # mean square of the clean training part
    noise_power: float  # mean square of the noise over the training part
    noisy_power: float  # mean square of the noisy training part
    noise_psd: np.ndarray  # (513,) mean |N|² per bin over the training part (for the classic baselines)
    train_clean: np.ndarray  # the clean training part itself (the voice copies are made from it)
    val_clean: np.ndarray
    val_noisy: np.ndarray
    held_clean: np.ndarray  # empty without a held-out part
    held_noisy: np.ndarray
    sample_rate: int
    truncated_samples: int
    heldout_end: int  # samples: held-out [0, heldout_end) | training | validation [validation_start, end)
    validation_start: int


def split_pair(
    clean: np.ndarray,
    noisy: np.ndarray,
    sr: int,
    fraction: float,
    truncated: int = 0,
    heldout: float = 0.0,
    shifts: int = 1,
) -> Split:
    """Cut the pair at hop boundaries into held-out test (the first `heldout`) | training | validation (the
    last `fraction`). `shifts` > 1 takes the training part's frames on that many grids, each started
    HOP/shifts samples after the last: more distinct frames of the same speech and noise (the pairs stay
    aligned). The speech frames that remixing draws from are the training part's own (`augment.with_copies`
    adds the copies)."""
    start, cut = part_bounds(len(clean), fraction, heldout)
    s, n = clean[start:cut], noisy[start:cut] - clean[start:cut]

    def frames(y: np.ndarray) -> torch.Tensor:  # (≈ shifts · len(y) / HOP, 513): y's frames on every grid
        return torch.cat([spectrum(y[k:]) for k in grid_offsets(HOP, shifts)]).contiguous()

    S, N = frames(s), frames(n)
    return Split(
        S,
        S,
        N,
        float(np.mean(np.square(s, dtype=np.float64))),
        float(np.mean(np.square(n, dtype=np.float64))),
        float(np.mean(np.square(noisy[start:cut], dtype=np.float64))),
        (N.abs() ** 2).mean(0).numpy(),
        s,
        clean[cut:],
        noisy[cut:],
        clean[:start],
        noisy[:start],
        sr,
        truncated,
        start,
        cut,
    )


def feature_stats(split: Split) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Per-bin mean/std of log(|X| + eps) and the clean magnitude scale, over the recorded training part at
    REF_RMS level: (feat_mean, feat_std, mag_scale, per-bin mean |S|)."""
    g = REF_RMS / math.sqrt(split.noisy_power)
    mag_x = (g * (split.clean_frames + split.noise_frames)).abs().double()
    mag_s = (g * split.clean_frames).abs().double()
    logx = torch.log(mag_x + EPS)
    std = logx.std(0).clamp_min(1e-3)
    return logx.mean(0).numpy(), std.numpy(), float(mag_s.mean()), mag_s.mean(0).numpy()
