"""The denoiser on voices it never heard: clean speech from a folder mixed with the training pair's noise.

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

from denselab.data.audio import load_wav, snr_db
from denselab.data.speech_metrics import mix_at_snr, noise_excerpt, quality
from denselab.errors import DenselabError
from denselab.studies.denoise_model import Denoiser, denoise_signal, inverse_spectrum, spectrum, with_noisy_phase

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
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".wav", ".flac", ".ogg"))
    if not files:
        raise DenselabError(f"no audio files (.wav, .flac, .ogg) in {folder}")
    return files


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def summarise(rows: list[dict], keys: tuple[str, ...]) -> dict[str, float | None]:
    return {k: _mean(rows, k) for k in keys}


SUMMARY_KEYS = ("input_snr_db", "snr_db", "gain_db", "input_si_sdr_db", "si_sdr_db", "input_stoi", "stoi",
                "input_pesq", "pesq", "oracle_gain_db")


def unseen_check(den: Denoiser, folder: str | Path, noise: np.ndarray, seed: int = 0,
                 snrs: tuple[float, ...] = INPUT_SNRS_DB, metrics: bool = True,
                 files: list[Path] | None = None) -> dict:
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
            offset = int(np.random.default_rng([seed, i, j]).integers(len(noise)))
            noisy, _ = mix_at_snr(clean, noise_excerpt(noise, len(clean), offset), snr)
            est = denoise_signal(den, noisy)
            row = {"file": path.name, "speaker": spk, "target_snr_db": snr, "noise_offset": offset,
                   "input_snr_db": snr_db(clean, noisy), "oracle_snr_db": snr_db(clean, oracle(noisy, clean))}
            if metrics:
                q_in, q_out = quality(clean, noisy, sr), quality(clean, est, sr)
                row.update({"input_si_sdr_db": q_in["si_sdr_db"], "input_stoi": q_in["stoi"],
                            "input_pesq": q_in["pesq"], **q_out})
            else:
                row["snr_db"] = snr_db(clean, est)
            row["gain_db"] = row["snr_db"] - row["input_snr_db"]
            row["oracle_gain_db"] = row["oracle_snr_db"] - row["input_snr_db"]
            rows.append(row)
    speakers = sorted({r["speaker"] for r in rows})
    keys = tuple(k for k in SUMMARY_KEYS if any(k in r for r in rows))
    return {
        "input_snrs_db": list(snrs), "seed": seed, "files": [p.name for p in files],
        "mean": summarise(rows, keys),
        "per_speaker": {s: summarise([r for r in rows if r["speaker"] == s], keys) for s in speakers},
        "per_snr": {f"{snr:g}": summarise([r for r in rows if r["target_snr_db"] == snr], keys) for snr in snrs},
        "passthrough": {"mean_snr_db": _mean(passthrough, "snr_db"),
                        "worst_snr_db": float(min(r["snr_db"] for r in passthrough)),
                        "worst_file": min(passthrough, key=lambda r: r["snr_db"])["file"], "files": passthrough},
        "rows": rows,
    }
