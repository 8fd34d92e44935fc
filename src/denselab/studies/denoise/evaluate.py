"""Scoring a denoiser: the check on voices it never heard, the classic baselines, SNR/SI-SDR/STOI/PESQ of a
part of the training pair.

The unseen-voice check: clean speech from a folder mixed with noise the model never trained on (the held-out
and validation parts of the training pair's noise, `unseen_noise`). Every clean file is mixed at each input
SNR (speech power / noise power over the utterance) with an excerpt of the noise track that starts at a seeded
offset (np.random.default_rng([seed, file, snr])), denoised, and scored against the clean file: output SNR,
gain, SI-SDR, STOI (and wideband PESQ when the package is installed), with the oracle beside it (the true |S|
with the noisy phase: the ceiling of any magnitude-only method). The clean file itself is also denoised
(`passthrough`: SNR of the output against its input, how much clean speech the model leaves alone)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from denselab.data.audio import inverse_spectrum, load_wav, snr_db, spectrum
from denselab.data.speech_metrics import mix_at_snr, noise_excerpt, quality
from denselab.studies.denoise.data import audio_info, clean_files
from denselab.studies.denoise.model import Denoiser, denoise_signal, with_noisy_phase

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
    """The check's mixture of file `file_index` at its `snr_index`-th input SNR `snr` (dB): `clean` plus the
    noise excerpt from a seeded offset, scaled to that SNR; returns (noisy, offset in samples)."""
    offset = int(np.random.default_rng([seed, file_index, snr_index]).integers(len(noise)))
    return mix_at_snr(clean, noise_excerpt(noise, len(clean), offset), snr)[0], offset


def unseen_check(
    den: Denoiser,
    folder: str | Path,
    noise: np.ndarray,
    seed: int = 0,
    snrs: tuple[float, ...] = INPUT_SNRS_DB,
) -> dict:
    """Rows per (file, input SNR), means per speaker, per input SNR and overall, and the passthrough check.

    `noise` is at the model's sample rate; clean files are resampled to it. A mean is over the rows with a
    value (PESQ can fail on a row: its `pesq_error` says why)."""
    sr = den.sample_rate
    files = clean_files(folder)
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
            q_in, q_out = quality(clean, noisy, sr), quality(clean, est, sr)
            row.update({f"input_{k}": v for k, v in q_in.items() if k != "snr_db"})
            row.update(q_out)
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

    `noise_psd` (513,) is the mean |N|² per bin over the training part (the true noise there: a generous
    estimate). spectral_subtraction: |Ŝ|² = max(|X|² − P_N, 0.01·|X|²); wiener: |Ŝ| = ξ/(1+ξ)·|X| with the
    a-posteriori SNR estimate ξ = max(|X|²/P_N − 1, 0); oracle: the true |S| with the noisy phase."""
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
    """{prefix_snr_db, prefix_input_snr_db, prefix_gain_db, prefix_si_sdr_db, ..._stoi[, ..._pesq]}."""
    q_in, q_out = quality(clean, noisy, sr), quality(clean, out, sr)
    res = {f"{prefix}_{k}": v for k, v in q_out.items()}
    res.update({f"{prefix}_input_{k}": v for k, v in q_in.items()})
    res[f"{prefix}_gain_db"] = q_out["snr_db"] - q_in["snr_db"]
    return res


def unseen_noise(
    noise: np.ndarray, heldout_end: int, validation_start: int, longest: int, sr: int, name: str
) -> tuple[np.ndarray, bool, str]:
    """(noise track, seen in training, one sentence saying where it came from) for the unseen check.

    `noise` is the training pair's noise (noisy − clean, at `sr`, named `name`); the model trained on
    [heldout_end, validation_start) of it. The track is the held-out part followed by the validation part.
    When those are shorter than the longest utterance (`longest` samples: an excerpt would repeat itself),
    the whole noise track is used instead, and the result says that the model has seen part of it."""
    track = np.concatenate([noise[:heldout_end], noise[validation_start:]])
    parts, verb = ("held-out and validation parts", "are") if heldout_end > 0 else ("validation part", "is")
    if len(track) >= longest:
        source = (
            f"The noise comes from the {parts} of the training pair's noise ({name}, "
            f"{len(track) / sr:.1f} s)."
        )
        return track, False, source
    source = (
        f"The noise comes from the whole noise track of the training pair ({name}, {len(noise) / sr:.1f} s), "
        f"training part included: its {parts} ({len(track) / sr:.1f} s) {verb} shorter than the longest "
        f"utterance ({longest / sr:.1f} s)."
    )
    return noise, True, source


def score_variants(results: dict, split) -> dict[str, dict]:
    """Per variant: its training record and its scores on the validation and held-out parts (`results`:
    `train.TrainResult` per variant, models on the CPU)."""
    sr = split.sample_rate
    per_variant = {}
    for v, r in results.items():
        per_variant[v] = {
            "validation_snr_db": r.validation_snr_db,
            "widths": list(r.den.widths),
            "best_epoch": r.best_epoch,
            "epochs_run": len(r.train_loss),
            "stopped_early": r.stopped_early,
            "train_seconds": r.seconds,
            "collapse_restarts": r.collapse_restarts,
            **scores("validation", split.val_clean, split.val_noisy, r.validation_output, sr),
        }
        per_variant[v]["validation_snr_db"] = r.validation_snr_db  # the kept weights' own measurement
        if len(split.held_noisy):
            held_out = denoise_signal(r.den, split.held_noisy)
            per_variant[v].update(scores("heldout", split.held_clean, split.held_noisy, held_out, sr))
        per_variant[v].update(train_loss=r.train_loss, validation_snr_curve=r.validation_snr_curve)
    return per_variant


def longest_utterance(files: list[Path], sr: int) -> int:
    """Samples of the longest of `files` once resampled to `sr` (read from the headers)."""
    longest = 0
    for path in files:
        file_sr, frames = audio_info(path)
        longest = max(longest, int(np.ceil(frames * sr / file_sr)))
    return longest


def unseen_for_run(
    models: dict[str, Denoiser], folder: Path, noise: np.ndarray, split, name: str, seed: int
) -> tuple[dict[str, dict], dict]:
    """The unseen check of every trained variant after `denoise train`: ({variant: result}, the summary's
    `unseen` fields shared by all: folder, noise, noise_seen_in_training, noise_source). `noise` is the
    training pair's whole noise track; the check draws from the parts the models never trained on."""
    sr = split.sample_rate
    longest = longest_utterance(clean_files(folder), sr)
    track, seen, sentence = unseen_noise(noise, split.heldout_end, split.validation_start, longest, sr, name)
    results = {v: unseen_check(den, folder, track, seed=seed) for v, den in models.items()}
    shared = {
        "folder": str(folder.resolve()),
        "noise": name,
        "noise_seen_in_training": seen,
        "noise_source": sentence,
    }
    return results, shared
