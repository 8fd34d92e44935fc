"""Speech-quality measures beside the assignment's SNR, and mixing speech with noise at a chosen SNR.

SI-SDR: scale-invariant SDR (Le Roux et al., 2019, "SDR - half-baked or well done?"); STOI: short-time
objective intelligibility (Taal et al., 2011) from `pystoi`; PESQ: ITU-T P.862.2 wideband from `pesq`, an
optional extra (`pip install 'denselab[pesq]'`, which needs a C compiler): without it there is no PESQ."""

from __future__ import annotations

import numpy as np

from denselab.data.audio import resample, snr_db

PESQ_RATE = 16000  # wideband PESQ is defined at 16 kHz
PESQ_HINT = "pip install 'denselab[pesq]' (it builds a C extension: needs a C compiler)"


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


def pesq_available() -> bool:
    """Whether the optional `pesq` package can be imported."""
    try:
        import pesq  # noqa: F401
    except ImportError:
        return False
    return True


def pesq_wb(clean: np.ndarray, estimate: np.ndarray, sr: int) -> float | None:
    """Wideband PESQ (MOS-LQO, about 1.0-4.64) of `estimate` against `clean`, both resampled to 16 kHz first
    when `sr` is another rate. None only when the `pesq` package is not installed; its own errors (e.g.
    `NoUtterancesError` for silence, `BufferTooShortError` for a clip under ~1/4 s) are raised."""
    try:
        from pesq import pesq
    except ImportError:
        return None
    n = min(len(clean), len(estimate))
    ref, deg = np.asarray(clean[:n], np.float64), np.asarray(estimate[:n], np.float64)
    if sr != PESQ_RATE:
        ref, deg = (resample(y, sr, PESQ_RATE).astype(np.float64) for y in (ref, deg))
    return float(pesq(PESQ_RATE, ref, deg, "wb"))


def noise_excerpt(noise: np.ndarray, length: int, offset: int) -> np.ndarray:
    """`length` samples of `noise` from `offset` on, wrapping around its end."""
    idx = (offset + np.arange(length)) % len(noise)
    return np.asarray(noise, dtype=np.float32)[idx]


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr: float) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, scaled noise): `noise` scaled so that Σs²/Σn² over the utterance is `snr` dB, added to
    `speech`."""
    s = np.asarray(speech, dtype=np.float64)
    n = np.asarray(noise[: len(s)], dtype=np.float64)
    n = n * np.sqrt(np.sum(s**2) / (np.sum(n**2) + 1e-20) * 10.0 ** (-snr / 10.0))
    return (s + n).astype(np.float32), n.astype(np.float32)


def quality(clean: np.ndarray, estimate: np.ndarray, sr: int) -> dict[str, float | str | None]:
    """{"snr_db", "si_sdr_db", "stoi"} of `estimate` against `clean`, plus "pesq" when the package is
    installed (null with the reason in "pesq_error" when PESQ refuses the signals)."""
    out: dict[str, float | str | None] = {
        "snr_db": snr_db(clean, estimate),
        "si_sdr_db": si_sdr_db(clean, estimate),
        "stoi": stoi(clean, estimate, sr),
    }
    if pesq_available():
        try:
            out["pesq"] = pesq_wb(clean, estimate, sr)
        except Exception as e:  # the pesq package's errors (no utterance, too short): recorded, not hidden
            out["pesq"] = None
            out["pesq_error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")
    return out
