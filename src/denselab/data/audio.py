"""Audio I/O, resampling, SNR, the one STFT/iSTFT (torch; n_fft 1024, hop 512 -> 513 frequency bins) and
voice perturbation (other pitches and vocal-tract lengths from one recorded voice)."""

from __future__ import annotations

import math
import os
from pathlib import Path

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
        raise DenselabError(
            f"cannot read {path} as audio: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
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


def spectrum(
    y: np.ndarray | torch.Tensor, n_fft: int = N_FFT, hop: int = HOP, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Complex STFT frames (frames, n_fft/2 + 1): exactly `librosa.stft(y, n_fft=1024, hop_length=512).T`
    (periodic Hann window, centred frames, zero padding; tests check the match), computed by torch because
    it is fast, runs on the GPU and avoids librosa's seconds-long first-call imports. A tensor `y` stays on
    its device; a NumPy array goes to `device`."""
    y = torch.as_tensor(np.asarray(y, dtype=np.float32) if isinstance(y, np.ndarray) else y, device=device)
    window = torch.hann_window(n_fft, periodic=True, device=y.device)
    return torch.stft(y, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True).T


def inverse_spectrum(spec: torch.Tensor, length: int, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Inverse of `spectrum` (`librosa.istft` with its parameters): `length` samples from (frames, bins)."""
    window = torch.hann_window(n_fft, periodic=True, device=spec.device)
    return torch.istft(spec.T, n_fft, hop, window=window, center=True, length=length)


def snr_db(clean: np.ndarray, estimate: np.ndarray) -> float:
    """The assignment's SNR, 10·log10(Σs² / Σ(s−ŝ)²), with a 1e-20 guard on both sums."""
    s = np.asarray(clean, dtype=np.float64)
    e = np.asarray(estimate, dtype=np.float64)
    n = min(len(s), len(e))
    s, e = s[:n], e[:n]
    return float(10.0 * np.log10((np.sum(s**2) + 1e-20) / (np.sum((s - e) ** 2) + 1e-20)))


WORLD_FRAME_MS = 5.0  # the vocoder's analysis/synthesis frame period (its default)


def voice_copies(s: np.ndarray, sr: int, voices: tuple[tuple[float, float], ...]) -> list[torch.Tensor]:
    """STFT frames (frames, 513) of `s` re-synthesised as other voices by the WORLD vocoder (`pyworld`), one
    tensor per (pitch, formant) in `voices`: f0 × pitch, the spectral envelope and aperiodicity stretched in
    frequency by `formant` (vocal-tract length: > 1 moves the formants up), the duration kept, the power that
    of `s`. `s` is analysed once (f0 by DIO + StoneMask, envelope by CheapTrick, aperiodicity by D4C); the
    copies are synthesised two at a time (the vocoder releases the GIL). Deterministic: WORLD seeds its noise
    source."""
    if not voices:
        return []
    from concurrent.futures import ThreadPoolExecutor

    import pyworld  # imported here: only the denoiser's training needs it, and importing it takes time

    x = np.ascontiguousarray(s, dtype=np.float64)
    f0, times = pyworld.dio(x, sr, frame_period=WORLD_FRAME_MS)
    f0 = pyworld.stonemask(x, f0, times, sr)
    envelope = pyworld.cheaptrick(x, f0, times, sr)  # (frames, fft/2 + 1) power spectral envelope
    aperiodicity = pyworld.d4c(x, f0, times, sr)
    ref = float((spectrum(s).abs() ** 2).mean())

    def stretch(a: np.ndarray, factor: float) -> np.ndarray:  # bin k takes the value at bin k / factor
        pos = np.minimum(np.arange(a.shape[1]) / factor, a.shape[1] - 1)
        lo = np.floor(pos).astype(int)
        hi, w = np.minimum(lo + 1, a.shape[1] - 1), pos - lo
        return np.ascontiguousarray(a[:, lo] * (1 - w) + a[:, hi] * w)

    def one(voice: tuple[float, float]) -> torch.Tensor:
        pitch, formant = voice
        y = pyworld.synthesize(
            f0 * pitch,
            stretch(envelope, formant),
            np.clip(stretch(aperiodicity, formant), 0.0, 1.0),
            sr,
            WORLD_FRAME_MS,
        )
        out = spectrum(y[: len(s)].astype(np.float32))
        return out * math.sqrt(ref / max(float((out.abs() ** 2).mean()), 1e-30))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, voices))
