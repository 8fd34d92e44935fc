"""Scoring a denoiser: the check on voices it never heard, the classic baselines, SNR/SI-SDR/STOI/PESQ of a part.

The unseen-voice check: clean speech from a folder mixed with the training pair's noise.

Every clean file is mixed at each input SNR (speech power / noise power over the utterance) with an excerpt
of the noise track that starts at a seeded offset (np.random.default_rng([seed, file, snr])), denoised, and
scored against the clean file: output SNR, gain, SI-SDR, STOI (and wideband PESQ when the package is there),
with the oracle beside it (the true |S| with the noisy phase: the ceiling of any magnitude-only method). The
clean file itself is also denoised (`passthrough`: SNR of the output against its input, how much clean speech
the model leaves alone)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from denselab.data.audio import inverse_spectrum, load_wav, resample, snr_db, spectrum
from denselab.data.speech_metrics import mix_at_snr, noise_excerpt, quality
from denselab.errors import DenselabError
from denselab.studies.denoise_model import (
    Denoiser,
    denoise_signal,
    load_denoiser,
    load_pair,
    with_noisy_phase,
)

INPUT_SNRS_DB = (0.0, 5.0, 10.0)


def speaker_of(stem: str) -> str:
    """Speaker name of a file: the part before the first '_' (spk1_snt3 -> spk1), else the leading letters
    (LJ050-0131 -> LJ, the LJ Speech reader)."""
    if "_" in stem:
        return stem.split("_")[0]
    m = re.match(r"[A-Za-z]+", stem)
    return m.group(0) if m else stem


def oracle(noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """The true clean magnitude with the noisy phase, back to a signal."""
    X = spectrum(noisy)
    return inverse_spectrum(with_noisy_phase(X, spectrum(clean).abs()), len(noisy)).numpy()


def clean_files(folder: str | Path) -> list[Path]:
    """The audio files of a folder of clean speech, sorted by name."""
    if not Path(folder).is_dir():
        raise DenselabError(f"folder of clean speech not found: {folder}")
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".wav", ".flac", ".ogg"))
    if not files:
        raise DenselabError(f"no audio files (.wav, .flac, .ogg) in {folder}")
    return files


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def summarise(rows: list[dict], keys: tuple[str, ...]) -> dict[str, float | None]:
    return {k: _mean(rows, k) for k in keys}


SUMMARY_KEYS = (
    "input_snr_db",
    "snr_db",
    "gain_db",
    "input_si_sdr_db",
    "si_sdr_db",
    "input_stoi",
    "stoi",
    "input_pesq",
    "pesq",
    "oracle_gain_db",
)


def check_mixture(
    clean: np.ndarray, noise: np.ndarray, seed: int, file_index: int, snr_index: int, snr: float
) -> tuple[np.ndarray, int]:
    """The check's mixture of file `file_index` at its `snr_index`-th input SNR `snr` (dB): `clean` plus the noise
    excerpt from a seeded offset, scaled to that SNR; returns (noisy, offset in samples)."""
    offset = int(np.random.default_rng([seed, file_index, snr_index]).integers(len(noise)))
    return mix_at_snr(clean, noise_excerpt(noise, len(clean), offset), snr)[0], offset


def unseen_check(
    den: Denoiser,
    folder: str | Path,
    noise: np.ndarray,
    seed: int = 0,
    snrs: tuple[float, ...] = INPUT_SNRS_DB,
    metrics: bool = True,
    files: list[Path] | None = None,
) -> dict:
    """Rows per (file, input SNR) plus means per speaker, per input SNR and overall, and the passthrough check.

    `noise` is at the model's sample rate; clean files are resampled to it. `metrics=False` skips STOI/PESQ
    (faster, for tuning loops)."""
    sr = den.sample_rate
    files = files if files is not None else clean_files(folder)
    rows, passthrough = [], []
    for i, path in enumerate(files):
        clean, _ = load_wav(path, sr=sr)
        spk = speaker_of(path.stem)
        out = denoise_signal(den, clean)
        passthrough.append({"file": path.name, "speaker": spk, "snr_db": snr_db(clean, out)})
        for j, snr in enumerate(snrs):
            noisy, offset = check_mixture(clean, noise, seed, i, j, snr)
            est = denoise_signal(den, noisy)
            row = {
                "file": path.name,
                "speaker": spk,
                "target_snr_db": snr,
                "noise_offset": offset,
                "input_snr_db": snr_db(clean, noisy),
                "oracle_snr_db": snr_db(clean, oracle(noisy, clean)),
            }
            if metrics:
                q_in, q_out = quality(clean, noisy, sr), quality(clean, est, sr)
                row.update(
                    {
                        "input_si_sdr_db": q_in["si_sdr_db"],
                        "input_stoi": q_in["stoi"],
                        "input_pesq": q_in["pesq"],
                        **q_out,
                    }
                )
            else:
                row["snr_db"] = snr_db(clean, est)
            row["gain_db"] = row["snr_db"] - row["input_snr_db"]
            row["oracle_gain_db"] = row["oracle_snr_db"] - row["input_snr_db"]
            rows.append(row)
    speakers = sorted({r["speaker"] for r in rows})
    keys = tuple(k for k in SUMMARY_KEYS if any(k in r for r in rows))
    return {
        "input_snrs_db": list(snrs),
        "seed": seed,
        "files": [p.name for p in files],
        "mean": summarise(rows, keys),
        "per_speaker": {s: summarise([r for r in rows if r["speaker"] == s], keys) for s in speakers},
        "per_snr": {
            f"{snr:g}": summarise([r for r in rows if r["target_snr_db"] == snr], keys) for snr in snrs
        },
        "passthrough": {
            "mean_snr_db": _mean(passthrough, "snr_db"),
            "worst_snr_db": float(min(r["snr_db"] for r in passthrough)),
            "worst_file": min(passthrough, key=lambda r: r["snr_db"])["file"],
            "files": passthrough,
        },
        "rows": rows,
    }


def baselines(s: np.ndarray, x: np.ndarray, noise_psd: np.ndarray) -> dict[str, float]:
    """SNR of noisy `x` against clean `s`, of two classic noise-PSD methods and of the magnitude oracle (dB).

    `noise_psd` (513,) is the mean |N|² per bin over the training part (the true noise there, a generous estimate).
    spectral_subtraction: |Ŝ|² = max(|X|² − P_N, 0.01·|X|²); wiener: |Ŝ| = ξ/(1+ξ)·|X| with the a-posteriori
    SNR estimate ξ = max(|X|²/P_N − 1, 0); oracle: the true |S| with the noisy phase."""
    X = spectrum(x)
    power, psd = X.abs() ** 2, torch.from_numpy(noise_psd)
    xi = (power / psd.clamp_min(1e-20) - 1.0).clamp_min(0.0)
    estimates = {
        "spectral_subtraction": torch.sqrt(torch.maximum(power - psd, 0.01 * power)),
        "wiener": xi / (1.0 + xi) * X.abs(),
        "oracle": spectrum(s).abs(),
    }
    out = {"noisy": snr_db(s, x)}
    for name, mag in estimates.items():
        out[name] = snr_db(s, inverse_spectrum(with_noisy_phase(X, mag), len(x)).numpy())
    return out


def scores(
    prefix: str, clean: np.ndarray, noisy: np.ndarray, out: np.ndarray, sr: int
) -> dict[str, float | None]:
    """{prefix_snr_db, prefix_input_snr_db, prefix_gain_db, prefix_si_sdr_db, ..._stoi, ..._pesq} of a part."""
    q_in, q_out = quality(clean, noisy, sr), quality(clean, out, sr)
    res = {f"{prefix}_{k}": v for k, v in q_out.items()}
    res.update({f"{prefix}_input_{k}": v for k, v in q_in.items()})
    res[f"{prefix}_gain_db"] = q_out["snr_db"] - q_in["snr_db"]
    return res


def evaluate_folder(
    model_path: str,
    speech_dir: str | Path,
    noise: str | Path | None,
    data_dir: str | Path,
    seed: int = 0,
    snrs: tuple[float, ...] = INPUT_SNRS_DB,
    device: str = "cpu",
) -> dict:
    """`denoise eval` without --noisy/--clean: the unseen check of a saved model on a folder of clean speech.

    `noise` is a noise-only recording; None = the training pair's noise (noisy − clean of
    <data_dir>/speech/train_dirty_male.wav and train_clean_male.wav)."""
    den = load_denoiser(model_path, device)
    files = clean_files(speech_dir)  # the user's folder first: its error is the one to see
    if noise is None:
        speech = Path(data_dir) / "speech"
        clean_path, noisy_path = speech / "train_clean_male.wav", speech / "train_dirty_male.wav"
        clean, noisy, sr, _ = load_pair(clean_path, noisy_path)
        noise_y, source = resample(noisy - clean, sr, den.sample_rate), f"{noisy_path} - {clean_path}"
    else:
        noise_y, source = load_wav(noise, sr=den.sample_rate)[0], str(noise)
    if not np.any(noise_y):
        raise DenselabError(f"the noise source ({source}) is silent")
    result = unseen_check(den, speech_dir, noise_y, seed=seed, snrs=snrs, files=files)
    return {"model": str(model_path), "folder": str(Path(speech_dir).resolve()), "noise": source, **result}
