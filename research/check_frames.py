"""Shared by the issue-14 diagnostics `gap.py` and `levels.py`: a model, the training pair, and the unseen check's
mixtures of any clean signals as STFT frames (one grid) with the model's mask and the ideal one."""
import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from denselab.data.audio import spectrum
from denselab.studies.denoise_eval import INPUT_SNRS_DB, check_mixture
from denselab.studies.denoise_model import Denoiser, load_denoiser, load_pair, net_input, signal_gain

torch.set_num_threads(1)
DATA = Path(os.environ.get("DENSELAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "speech"
BANDS = [(0, 16), (16, 32), (32, 64), (64, 128), (128, 256), (256, 513)]  # bins of 15.6 Hz: 0-250-500-1k-2k-4k-8k Hz


def setup(doc: str) -> tuple[argparse.Namespace, Denoiser, np.ndarray, np.ndarray, int]:
    """Parse `MODEL.pt [--mix-seed N]`; (args, model, clean, noisy, sample rate) of the training pair."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("model"); ap.add_argument("--mix-seed", type=int, default=0)
    a = ap.parse_args()
    clean, noisy, sr, _ = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
    return a, load_denoiser(a.model), clean, noisy, sr


@dataclass
class Mixture:
    s: np.ndarray  # clean signal, native level
    x: np.ndarray  # the check's mixture of it, native level
    g: float  # the gain that brings x to the model's REF_RMS level (S, X, N are at that level)
    S: torch.Tensor  # (frames, 513) complex
    X: torch.Tensor
    N: torch.Tensor  # X − S
    power: float  # Σ|S|²
    m: torch.Tensor  # (frames, 513) the model's mask as it denoises (mask_power)
    ideal: torch.Tensor  # the phase-sensitive mask clipped to [0, 1]


def mixtures(den: Denoiser, signals: list[np.ndarray], noise: np.ndarray, mix_seed: int) -> Iterator[Mixture]:
    """Every signal (index i in `signals`, as the check indexes its files) at every input SNR of the check."""
    for i, s in enumerate(signals):
        for j, level in enumerate(INPUT_SNRS_DB):
            x, _ = check_mixture(s, noise, mix_seed, i, j, level)
            g = signal_gain(x, den.ref_rms)
            X, S = spectrum(x * g), spectrum(s * g)
            with torch.no_grad():
                m = den.net(net_input(X.abs(), den)) ** den.mask_power
            ideal = ((S * X.conj()).real / X.abs().clamp_min(1e-12) ** 2).clamp(0, 1)
            yield Mixture(s, x, g, S, X, X - S, float((S.abs() ** 2).sum()), m, ideal)
