"""Study 2's data: the training pair cut in time into a held-out test part, a training part (as STFT frames,
with speed-perturbed and voice copies of its clean speech for remixing) and a validation part, and the feature
statistics of the training part. No config and no training here; `denoise.py` trains on what this returns.

Shapes: STFT frames are rows, (frames, 513) complex64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from denselab.data.audio import HOP, N_FFT, resample, spectrum, voice_copies
from denselab.errors import DenselabError
from denselab.studies.denoise_model import EPS, REF_RMS, grid_offsets


@dataclass
class Split:
    """The training pair cut into a training part (as STFT frames), a validation and a held-out test part (audio)."""

    clean_frames: (
        torch.Tensor
    )  # (T, 513) complex64 STFT of the clean training part, native level (every frame grid)
    speech_frames: torch.Tensor  # (T + T', 513): clean_frames, then those of its speed-perturbed copies
    noise_frames: torch.Tensor  # (T, 513) complex64 STFT of noisy − clean over the training part, same frames
    speech_power: float  # mean square of the clean training part
    noise_power: float  # mean square of the noise over the training part
    noisy_power: float  # mean square of the noisy training part
    noise_psd: np.ndarray  # (513,) mean |N|² per bin over the training part (for the classic baselines)
    val_clean: np.ndarray
    val_noisy: np.ndarray
    held_clean: np.ndarray  # empty without a held-out part
    held_noisy: np.ndarray
    sample_rate: int
    truncated_samples: int


def split_pair(
    clean: np.ndarray,
    noisy: np.ndarray,
    sr: int,
    fraction: float,
    truncated: int = 0,
    speed_factors: tuple[float, ...] = (),
    voices: tuple[tuple[float, float], ...] = (),
    heldout: float = 0.0,
    refit: bool = False,
    shifts: int = 1,
) -> Split:
    """Cut the pair at hop boundaries into held-out test (the first `heldout`) | training | validation (the last
    `fraction`). The validation part stays at the end, where it was before there was a test part.

    Each speed factor f adds a copy of the clean training speech played f times faster (pitch and formants
    scaled by f, like another voice) to the speech frames that remixing draws from; each (pitch, formant) pair
    in `voices` adds a copy with that pitch and that formant scaling, re-synthesised by the WORLD vocoder
    (`voice_copies`). `refit=True` lets the training part run on to the end, over the validation part (for the
    refit; the validation audio is still returned). `shifts` > 1 takes the training part's frames on that many
    grids, each started HOP/shifts samples after the last: more distinct frames of the same speech and noise (the
    pairs stay aligned)."""
    start = int(len(clean) * heldout) // HOP * HOP
    cut = int(len(clean) * (1.0 - fraction)) // HOP * HOP
    if cut - start < 8 * N_FFT or len(clean) - cut < 2 * N_FFT or (heldout > 0 and start < 2 * N_FFT):
        raise DenselabError(
            f"the training pair is too short ({len(clean)} samples) to hold out "
            f"{fraction:.0%} for validation and {heldout:.0%} for testing; give at least a few "
            f"seconds of audio"
        )
    end = len(clean) // HOP * HOP if refit else cut
    s, n = clean[start:end], noisy[start:end] - clean[start:end]

    def frames(y: np.ndarray) -> torch.Tensor:  # (≈ shifts · len(y) / HOP, 513): y's frames on every grid
        return torch.cat([spectrum(y[k:]) for k in grid_offsets(HOP, shifts)]).contiguous()

    S, N = frames(s), frames(n)
    # the copies stay on the one grid: on every grid they lost 0.1–0.2 dB on unseen voices (docs/BENCHMARKS.md)
    copies = [spectrum(resample(s, sr, int(round(sr / f)))) for f in speed_factors if f > 0 and f != 1.0]
    copies += voice_copies(
        s, sr, tuple((p, v) for p, v in voices if p > 0 and v > 0 and (p, v) != (1.0, 1.0))
    )
    return Split(
        S,
        torch.cat([S, *copies]),
        N,
        float(np.mean(np.square(s, dtype=np.float64))),
        float(np.mean(np.square(n, dtype=np.float64))),
        float(np.mean(np.square(noisy[start:end], dtype=np.float64))),
        (N.abs() ** 2).mean(0).numpy(),
        clean[cut:],
        noisy[cut:],
        clean[:start],
        noisy[:start],
        sr,
        truncated,
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
