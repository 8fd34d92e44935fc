"""Audio I/O, resampling, SNR, the one STFT/iSTFT (torch; n_fft 1024, hop 512 -> 513 frequency bins) and
voice perturbation (other pitches and vocal-tract lengths from one recorded voice)."""

from __future__ import annotations

import os
from pathlib import Path

import math

import numpy as np
import torch

from denselab.errors import DenselabError

N_FFT = 1024
HOP = 512
N_BINS = N_FFT // 2 + 1  # 513


def load_wav(path: str | os.PathLike, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Any file soundfile reads -> (mono float32 samples in [-1, 1], sample rate).

    Stereo is down-mixed by averaging channels; with `sr` the signal is resampled to it. Missing,
    unreadable, empty or non-finite audio is a `DenselabError` naming the file."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise DenselabError(f"audio file not found: {path}")
    try:
        y, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError / TypeError for non-audio
        raise DenselabError(f"cannot read {path} as audio: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if y.size == 0:
        raise DenselabError(f"{path} holds no audio samples")
    y = y.mean(axis=1)
    if not np.all(np.isfinite(y)):
        raise DenselabError(f"{path} holds NaN or infinite samples")
    if sr is not None and sr != file_sr:
        y = resample(y, file_sr, sr)
        file_sr = sr
    return np.ascontiguousarray(y, dtype=np.float32), int(file_sr)


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling: what `librosa.resample` does by default (soxr 'HQ', ceil(n·ratio) samples),
    called directly because librosa's first use costs seconds of lazy imports."""
    import soxr

    if orig_sr == target_sr:
        return y
    out = soxr.resample(np.asarray(y, dtype=np.float32), orig_sr, target_sr, quality="soxr_hq")
    n = int(np.ceil(len(y) * float(target_sr) / orig_sr))
    out = out[:n] if len(out) >= n else np.pad(out, (0, n - len(out)))
    return np.ascontiguousarray(out, dtype=np.float32)


def spectrum(y: np.ndarray | torch.Tensor, n_fft: int = N_FFT, hop: int = HOP,
             device: str | torch.device = "cpu") -> torch.Tensor:
    """Complex STFT frames (frames, n_fft/2 + 1): exactly `librosa.stft(y, n_fft=1024, hop_length=512).T`
    (periodic Hann window, centred frames, zero padding; tests check the match), computed by torch because
    it is fast, runs on the GPU and avoids librosa's seconds-long first-call imports. A tensor `y` stays on
    its device; a NumPy array goes to `device`."""
    y = torch.as_tensor(np.asarray(y, dtype=np.float32) if isinstance(y, np.ndarray) else y, device=device)
    window = torch.hann_window(n_fft, periodic=True, device=y.device)
    return torch.stft(y, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True).T


def inverse_spectrum(spec: torch.Tensor, length: int, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Inverse of `spectrum` (`librosa.istft` with the same parameters): `length` samples from (frames, bins)."""
    window = torch.hann_window(n_fft, periodic=True, device=spec.device)
    return torch.istft(spec.T, n_fft, hop, window=window, center=True, length=length)


def snr_db(clean: np.ndarray, estimate: np.ndarray) -> float:
    """The assignment's SNR, 10·log10(Σs² / Σ(s−ŝ)²), with a 1e-20 guard on both sums."""
    s = np.asarray(clean, dtype=np.float64)
    e = np.asarray(estimate, dtype=np.float64)
    n = min(len(s), len(e))
    s, e = s[:n], e[:n]
    return float(10.0 * np.log10((np.sum(s ** 2) + 1e-20) / (np.sum((s - e) ** 2) + 1e-20)))


def log_envelope(mag: torch.Tensor, lifter: int = 30) -> torch.Tensor:
    """Cepstrally smoothed log magnitude (frames, bins): the spectral envelope without the harmonics
    (quefrencies below `lifter` samples: formant detail down to ~fs/lifter Hz, above any voice's f0)."""
    n = 2 * (mag.shape[1] - 1)
    cep = torch.fft.irfft(torch.log(mag + 1e-6), n=n)
    cep[:, lifter:n - lifter + 1] = 0
    return torch.fft.rfft(cep, n=n).real


def voice_copy(s: np.ndarray, sr: int, pitch: float, formant: float) -> torch.Tensor:
    """STFT frames of `s` as another voice: played `pitch` times faster (pitch and formants x pitch), then each
    frame's envelope replaced by the original envelope stretched by `formant` (a real gain per bin: the phase
    and the harmonics stay), and the power brought back to that of `s`."""
    S = spectrum(resample(s, sr, int(round(sr / pitch))))  # (frames, 513)
    env = log_envelope(S.abs())
    bins = torch.arange(S.shape[1], dtype=torch.float32) * pitch / formant  # where the target envelope reads
    lo = bins.floor().long().clamp(max=S.shape[1] - 1)
    hi = (lo + 1).clamp(max=S.shape[1] - 1)
    w = (bins - lo).clamp(0, 1)
    target = env[:, lo] * (1 - w) + env[:, hi] * w
    out = S * torch.exp((target - env).clamp(-7, 7))
    ref = float((spectrum(s).abs() ** 2).mean())
    return out * math.sqrt(ref / max(float((out.abs() ** 2).mean()), 1e-30))
