"""`denselab.data.speech_metrics`: SI-SDR by its definition, STOI and PESQ against direct calls of `pystoi`
and `pesq` (on a pair whose order matters), PESQ's absence and its errors, mixing at an SNR."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from denselab.data import speech_metrics
from denselab.data.audio import load_wav, snr_db
from denselab.data.speech_metrics import mix_at_snr, noise_excerpt, pesq_wb, quality, si_sdr_db, stoi

SR = 16000


@pytest.fixture(scope="module")
def pair(speech_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Three seconds of the course's clean speech and the same seconds of its noisy recording (float64)."""
    clean = load_wav(speech_dir / "train_clean_male.wav")[0][SR * 20 : SR * 23]
    noisy = load_wav(speech_dir / "train_dirty_male.wav")[0][SR * 20 : SR * 23]
    return clean.astype(np.float64), noisy.astype(np.float64)


def test_si_sdr_matches_its_definition() -> None:
    rng = np.random.default_rng(0)
    s = rng.standard_normal(8000)
    s -= s.mean()
    e = rng.standard_normal(8000)
    e -= e.mean()
    e -= np.dot(e, s) / np.dot(s, s) * s  # orthogonal to s: the projection of s + e onto s is s itself
    e *= np.sqrt(np.sum(s**2) / np.sum(e**2) / 10.0)  # ‖s‖²/‖e‖² = 10 -> 10 dB
    assert si_sdr_db(s, s + e) == pytest.approx(10.0, abs=1e-6)
    assert si_sdr_db(s, 0.3 * (s + e)) == pytest.approx(10.0, abs=1e-6)  # scale-invariant; SNR is not
    assert snr_db(s, 0.3 * (s + e)) < 5.0
    assert si_sdr_db(s, s + 0.5) > 100  # an offset is removed first


def test_stoi_is_pystoi_with_the_reference_first(pair) -> None:
    from pystoi import stoi as direct

    clean, noisy = pair
    ours = stoi(clean, noisy, SR)
    assert ours == pytest.approx(direct(clean, noisy, SR), abs=1e-9)
    assert abs(direct(noisy, clean, SR) - ours) > 1e-3  # the pair is asymmetric: swapped arguments differ
    assert stoi(clean, clean, SR) == pytest.approx(1.0, abs=1e-6)


def test_pesq_is_the_wideband_pesq_with_the_reference_first(pair) -> None:
    pesq = pytest.importorskip("pesq")
    clean, noisy = pair
    ours = pesq_wb(clean, noisy, SR)
    assert ours == pytest.approx(pesq.pesq(SR, clean, noisy, "wb"), abs=1e-6)
    assert abs(pesq.pesq(SR, noisy, clean, "wb") - ours) > 0.05  # swapped arguments give another score
    assert pesq_wb(clean, clean, SR) > 4.5  # identical signals: near the scale's ceiling (4.64)
    # another rate: both signals resampled to 16 kHz first, the same score up to the resampling
    from denselab.data.audio import resample

    at_32k = pesq_wb(resample(clean, SR, 32000), resample(noisy, SR, 32000), 32000)
    assert at_32k == pytest.approx(ours, abs=0.05)


def test_pesq_errors_are_raised_and_recorded_not_hidden(pair) -> None:
    pytest.importorskip("pesq")
    clean, _ = pair
    with pytest.raises(Exception):  # noqa: B017 - whatever the pesq package raises for a silent output
        pesq_wb(clean, np.zeros_like(clean), SR)
    q = quality(clean[: SR // 10], clean[: SR // 10], SR)  # 0.1 s: too short for PESQ
    assert q["pesq"] is None and q["pesq_error"].startswith("BufferTooShortError")
    assert q["snr_db"] > 100


def test_without_the_pesq_package_there_is_no_pesq(pair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pesq", None)  # `import pesq` now raises ImportError
    clean, noisy = pair
    assert not speech_metrics.pesq_available()
    assert pesq_wb(clean, noisy, SR) is None
    assert set(quality(clean, noisy, SR)) == {"snr_db", "si_sdr_db", "stoi"}


@pytest.mark.parametrize("snr", [0.0, 5.0, 10.0, -3.0])
def test_mix_at_snr_gives_that_snr(snr: float) -> None:
    rng = np.random.default_rng(1)
    speech, noise = (
        rng.standard_normal(12000).astype(np.float32),
        rng.standard_normal(5000).astype(np.float32),
    )
    x, n = mix_at_snr(speech, noise_excerpt(noise, len(speech), offset=4321), snr)
    assert len(x) == len(speech)
    assert snr_db(speech, x) == pytest.approx(snr, abs=1e-3)
    assert np.allclose(x - speech, n, atol=1e-6)


def test_noise_excerpt_wraps() -> None:
    noise = np.arange(10, dtype=np.float32)
    assert noise_excerpt(noise, 6, 7).tolist() == [7, 8, 9, 0, 1, 2]
