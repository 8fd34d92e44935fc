"""Speech-quality measures beside the assignment's SNR, and mixing speech with noise at a chosen SNR.

SI-SDR: scale-invariant SDR (Le Roux et al., 2019, "SDR - half-baked or well done?"); STOI: short-time
objective intelligibility (Taal et al., 2011) from `pystoi`; PESQ: ITU-T P.862.2 wideband from `pesq`
(optional: None when the package is absent or the signal holds no utterance)."""

from __future__ import annotations

import numpy as np

from denselab.data.audio import snr_db


def si_sdr_db(clean: np.ndarray, estimate: np.ndarray) -> float:
    """10·log10(‖αs‖² / ‖αs − ŝ‖²), α = ⟨ŝ, s⟩/‖s‖², both signals made zero-mean first (dB)."""
    n = min(len(clean), len(estimate))
    s = np.asarray(clean[:n], dtype=np.float64)
    e = np.asarray(estimate[:n], dtype=np.float64)
    s, e = s - s.mean(), e - e.mean()
    target = (np.dot(e, s) / (np.dot(s, s) + 1e-20)) * s
    return float(10.0 * np.log10((np.sum(target**2) + 1e-20) / (np.sum((e - target) ** 2) + 1e-20)))


def stoi(clean: np.ndarray, estimate: np.ndarray, sr: int) -> float:
    """STOI in [0, 1] (pystoi; it resamples to 10 kHz itself)."""
    from pystoi import stoi as _stoi

    n = min(len(clean), len(estimate))
    return float(
        _stoi(np.asarray(clean[:n], np.float64), np.asarray(estimate[:n], np.float64), sr, extended=False)
    )


def pesq_wb(clean: np.ndarray, estimate: np.ndarray, sr: int) -> float | None:
    """Wideband PESQ (MOS-LQO, 1.0-4.6) at 16 kHz; None without the `pesq` package or for other rates."""
    try:
        from pesq import pesq
    except ImportError:
        return None
    if sr != 16000:
        return None
    n = min(len(clean), len(estimate))
    try:
        return float(pesq(sr, np.asarray(clean[:n], np.float64), np.asarray(estimate[:n], np.float64), "wb"))
    except Exception:  # pesq raises NoUtterancesError / BufferTooShortError on silence or very short input
        return None


def noise_excerpt(noise: np.ndarray, length: int, offset: int) -> np.ndarray:
    """`length` samples of `noise` from `offset` on, wrapping around its end."""
    idx = (offset + np.arange(length)) % len(noise)
    return np.asarray(noise, dtype=np.float32)[idx]


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr: float) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, scaled noise): `noise` scaled so that Σs²/Σn² over the utterance is `snr` dB, added to `speech`."""
    s = np.asarray(speech, dtype=np.float64)
    n = np.asarray(noise[: len(s)], dtype=np.float64)
    n = n * np.sqrt(np.sum(s**2) / (np.sum(n**2) + 1e-20) * 10.0 ** (-snr / 10.0))
    return (s + n).astype(np.float32), n.astype(np.float32)


def quality(clean: np.ndarray, estimate: np.ndarray, sr: int, pesq: bool = True) -> dict[str, float | None]:
    """{"snr_db", "si_sdr_db", "stoi"[, "pesq"]} of `estimate` against `clean`."""
    out = {
        "snr_db": snr_db(clean, estimate),
        "si_sdr_db": si_sdr_db(clean, estimate),
        "stoi": stoi(clean, estimate, sr),
    }
    if pesq:
        out["pesq"] = pesq_wb(clean, estimate, sr)
    return out
