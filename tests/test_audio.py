"""`denselab.data.audio`: the STFT and its inverse against librosa, the SNR formula, the voice copies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from denselab.data.audio import HOP, N_BINS, N_FFT, inverse_spectrum, snr_db, spectrum, voice_copies

SR = 16000


def speechlike(n: int, seed: int = 0) -> np.ndarray:
    """Harmonic bursts plus a little noise: enough structure for STFT tests without reading files."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    y = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 1100), start=1))
    return (0.05 * envelope * y + 0.005 * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("n", [12345, 20480])  # a ragged length and a whole number of hops
def test_spectrum_is_librosa_stft(n: int) -> None:
    import librosa

    y = speechlike(n)
    ref = librosa.stft(y, n_fft=N_FFT, hop_length=HOP)
    ours = spectrum(y).numpy().T
    assert ours.shape == ref.shape == (N_BINS, 1 + n // HOP)
    assert np.abs(ours - ref).max() < 1e-4 * np.abs(ref).max()


def test_inverse_spectrum_is_librosa_istft_and_round_trips() -> None:
    import librosa

    y = speechlike(12345, seed=1)
    ref = librosa.istft(
        librosa.stft(y, n_fft=N_FFT, hop_length=HOP), n_fft=N_FFT, hop_length=HOP, length=len(y)
    )
    ours = inverse_spectrum(spectrum(y), len(y)).numpy()
    assert ours.shape == ref.shape == y.shape
    assert np.abs(ours - ref).max() < 1e-5
    assert np.abs(ours - y).max() < 1e-5 and snr_db(y, ours) > 80  # the round trip returns the input


def test_snr_against_hand_computed_values() -> None:
    s = np.array([1.0, 2.0, 3.0])
    assert snr_db(s, np.array([1.0, 2.0, 2.0])) == pytest.approx(10 * np.log10(14.0))  # 11.46 dB
    assert snr_db(np.array([3.0, 4.0]), np.array([3.0, 3.0])) == pytest.approx(10 * np.log10(25.0))
    assert snr_db(s, np.zeros(3)) == pytest.approx(0.0)
    assert snr_db(s, 2 * s) == pytest.approx(0.0)
    assert snr_db(s, s) == pytest.approx(10 * np.log10((14.0 + 1e-20) / 1e-20))  # the 1e-20 guard
    assert snr_db(np.zeros(3), np.zeros(3)) == pytest.approx(0.0)
    assert snr_db(s, np.array([1.0, 2.0, 2.0, 99.0])) == pytest.approx(10 * np.log10(14.0))  # shorter wins


def test_voice_copies_move_pitch_and_formants_and_keep_power_and_length() -> None:
    import pyworld

    # a 120 Hz pulse train through one resonance at 800 Hz: a vowel with a known f0 and formant
    n = SR
    x = np.zeros(n)
    x[:: SR // 120] = 1.0
    r, w = 0.97, 2 * np.pi * 800 / SR
    y = np.zeros(n)
    for i in range(2, n):  # two-pole resonator (a few thousand samples: fine in a test)
        y[i] = x[i] + 2 * r * np.cos(w) * y[i - 1] - r * r * y[i - 2]
    y = (0.1 * y / np.sqrt(np.mean(y**2))).astype(np.float32)
    copies = voice_copies(y, SR, ((1.5, 1.0), (1.0, 1.25)))
    ref = spectrum(y)
    assert [c.shape for c in copies] == [ref.shape] * 2
    for c in copies:  # each copy at the input's power
        assert float((c.abs() ** 2).mean()) == pytest.approx(float((ref.abs() ** 2).mean()), rel=1e-4)
    again = voice_copies(y, SR, ((1.5, 1.0), (1.0, 1.25)))
    assert all(torch.equal(a, b) for a, b in zip(copies, again))  # deterministic

    def f0_and_formant(z: torch.Tensor) -> tuple[float, float]:
        sig = inverse_spectrum(z, n).numpy().astype(np.float64)
        f0, t = pyworld.dio(sig, SR)
        env = pyworld.cheaptrick(sig, f0, t, SR).mean(0)
        freqs = np.arange(len(env)) * SR / (2 * (len(env) - 1))
        band = (freqs > 300) & (freqs < 2000)  # the envelope's centroid around the formant
        return float(np.median(f0[f0 > 0])), float(np.sum(freqs[band] * env[band]) / np.sum(env[band]))

    f0, formant = f0_and_formant(ref)
    assert f0 == pytest.approx(120, rel=0.03) and formant == pytest.approx(800, rel=0.1)
    f0_a, formant_a = f0_and_formant(copies[0])  # pitch × 1.5, envelope kept
    assert f0_a == pytest.approx(1.5 * f0, rel=0.03) and formant_a == pytest.approx(formant, rel=0.05)
    f0_b, formant_b = f0_and_formant(copies[1])  # pitch kept, envelope × 1.25
    assert f0_b == pytest.approx(f0, rel=0.03) and formant_b == pytest.approx(1.25 * formant, rel=0.05)
    assert voice_copies(y, SR, ()) == []
