"""The one STFT/iSTFT (`denselab.data.audio`, torch) against librosa's, and its round trip."""

from __future__ import annotations

import numpy as np
import pytest

from denselab.data.audio import HOP, N_BINS, N_FFT, inverse_spectrum, snr_db, spectrum

SR = 16000


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    """Harmonic bursts plus a little noise: enough structure for STFT tests without reading files."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    y = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 1100), start=1))
    return (0.05 * envelope * y + 0.005 * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("n", [12345, 20480])  # a ragged length and a whole number of hops
def test_spectrum_is_librosa_stft(n: int) -> None:
    import librosa

    y = _speechlike(n)
    ref = librosa.stft(y, n_fft=N_FFT, hop_length=HOP)
    ours = spectrum(y).numpy().T
    assert ours.shape == ref.shape == (N_BINS, 1 + n // HOP)
    assert np.abs(ours - ref).max() < 1e-4 * np.abs(ref).max()


def test_inverse_spectrum_is_librosa_istft() -> None:
    import librosa

    y = _speechlike(12345, seed=1)
    spec = librosa.stft(y, n_fft=N_FFT, hop_length=HOP)
    ref = librosa.istft(spec, n_fft=N_FFT, hop_length=HOP, length=len(y))
    ours = inverse_spectrum(spectrum(y), len(y)).numpy()
    assert ours.shape == ref.shape == y.shape
    assert np.abs(ours - ref).max() < 1e-5


def test_round_trip_returns_the_input() -> None:
    y = _speechlike(20000)
    rec = inverse_spectrum(spectrum(y), len(y)).numpy()
    assert rec.shape == y.shape
    assert np.abs(rec - y).max() < 1e-5
    assert snr_db(y, rec) > 80
