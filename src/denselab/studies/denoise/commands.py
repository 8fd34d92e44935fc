"""What `denselab denoise apply` and `denselab denoise eval` run: a saved model.pt applied to files, scored
against a clean reference, or put through the check on voices it never heard. No training code is imported
here (these commands start fast)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from denselab.data.audio import load_wav, resample
from denselab.data.speech_metrics import PESQ_HINT, pesq_available, quality
from denselab.errors import DenselabError
from denselab.io import save_wav
from denselab.studies.denoise.data import clean_files, load_pair
from denselab.studies.denoise.evaluate import INPUT_SNRS_DB, longest_utterance, unseen_check, unseen_noise
from denselab.studies.denoise.model import denoise_any_rate, load_denoiser, read_checkpoint


def _targets(inputs: list[str], output: str | None, out_dir: str | None) -> list[Path]:
    """The file each input is written to; a DenselabError before anything is written when one cannot be."""
    if output is not None and len(inputs) != 1:
        raise DenselabError("-o OUT.wav takes one input file; use --out-dir DIR for several")
    if output is None and out_dir is not None and Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise DenselabError(f"--out-dir {out_dir} is a file, not a folder")
    targets = (
        [Path(output)]
        if output is not None
        else [Path(out_dir or ".") / f"{Path(p).stem}_denoised.wav" for p in inputs]
    )
    seen: dict[Path, str] = {}
    for path, target in zip(inputs, targets):
        if target.is_dir():
            raise DenselabError(f"output {target} is a folder")
        if target in seen:
            raise DenselabError(f"{seen[target]} and {path} would both be written to {target}")
        seen[target] = path
    return targets


def apply_files(
    model_path: str,
    inputs: list[str],
    output: str | None = None,
    out_dir: str | None = None,
    device: str = "cpu",
    quiet: bool = False,
) -> list[str]:
    """Denoise each input WAV with a trained model.pt; returns the paths written (16-bit WAVs at the input's
    sample rate and length). `output` names the file for one input; else `out_dir/<stem>_denoised.wav`. The
    model, every input and every output path are checked before anything is written."""
    den = load_denoiser(model_path, device)
    targets = _targets(inputs, output, out_dir)
    loaded = [load_wav(p) for p in inputs]
    written = []
    jobs = list(zip(targets, loaded))
    for target, (y, sr) in tqdm(
        jobs, desc="denoise", unit="file", disable=quiet or len(jobs) < 2, leave=False
    ):
        save_wav(target, denoise_any_rate(den, y, sr), sr)
        written.append(str(target))
    return written


def evaluate_files(
    model_path: str, noisy_path: str, clean_path: str, device: str = "cpu"
) -> dict[str, float | str | None]:
    """SNR, SI-SDR, STOI and wideband PESQ (when the `pesq` package is installed; else one line on stderr
    saying how to add it) of the model's denoising of `noisy_path` against `clean_path`, with the noisy
    input's own values beside them."""
    den = load_denoiser(model_path, device)
    clean, noisy, sr, _ = load_pair(clean_path, noisy_path)
    q_in, q_out = quality(clean, noisy, sr), quality(clean, denoise_any_rate(den, noisy, sr), sr)
    if not pesq_available():
        print(
            f"denselab: PESQ not computed: the pesq package is not installed ({PESQ_HINT})", file=sys.stderr
        )
    result = {
        "snr_db": q_out["snr_db"],
        "input_snr_db": q_in["snr_db"],
        "gain_db": q_out["snr_db"] - q_in["snr_db"],
        "si_sdr_db": q_out["si_sdr_db"],
        "input_si_sdr_db": q_in["si_sdr_db"],
        "stoi": q_out["stoi"],
        "input_stoi": q_in["stoi"],
    }
    for key in ("pesq", "pesq_error"):
        if key in q_out:
            result[key] = q_out[key]
        if key in q_in:
            result[f"input_{key}"] = q_in[key]
    return result


def _training_pair_files(pair: dict, model_path: str, data_dir: str | Path) -> tuple[Path, Path]:
    """The training pair model.pt names: where it was, else the same file names under <data_dir>/speech/."""
    recorded = Path(pair["clean"]), Path(pair["noisy"])
    if all(p.is_file() for p in recorded):
        return recorded
    speech = Path(data_dir) / "speech"
    moved = speech / recorded[0].name, speech / recorded[1].name
    if all(p.is_file() for p in moved):
        return moved
    raise DenselabError(
        f"the training pair of {model_path} ({recorded[0].name}, {recorded[1].name}) is neither at "
        f"{recorded[0].parent} nor in {speech}: give --data-dir, or a noise recording with --noise WAV"
    )


def _pair_noise(
    model_path: str, data_dir: str | Path, sr: int, longest: int
) -> tuple[np.ndarray, str, bool, str]:
    """(noise, name, seen in training, sentence) from the parts of the model's training pair that it never
    trained on (`unseen_noise`)."""
    pair = read_checkpoint(model_path)["training_pair"]
    clean_path, noisy_path = _training_pair_files(pair, model_path, data_dir)
    clean, noisy, pair_sr, _ = load_pair(clean_path, noisy_path)
    if len(clean) != pair["samples"]:
        raise DenselabError(
            f"{noisy_path} has {len(clean)} samples but {model_path} was trained on a pair of "
            f"{pair['samples']}: it is not the training pair; give a noise recording with --noise WAV"
        )
    longest_at_pair_rate = int(np.ceil(longest * pair_sr / sr))
    names = f"{noisy_path.name} - {clean_path.name}"  # as `denoise train` words it
    track, seen, source = unseen_noise(
        noisy - clean, pair["heldout_end"], pair["validation_start"], longest_at_pair_rate, pair_sr, names
    )
    return resample(track, pair_sr, sr), f"{noisy_path} - {clean_path}", seen, source


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

    `noise` is a noise-only recording; None = the parts of the training pair's noise (noisy − clean) that the
    model never trained on, found where model.pt says the pair was or under <data_dir>/speech/."""
    den = load_denoiser(model_path, device)
    files = clean_files(speech_dir)  # the user's folder first: its error is the one to see
    if noise is None:
        longest = longest_utterance(files, den.sample_rate)
        noise_y, source, seen, sentence = _pair_noise(model_path, data_dir, den.sample_rate, longest)
    else:
        noise_y, source, seen = load_wav(noise, sr=den.sample_rate)[0], str(noise), None
        sentence = (
            f"The noise comes from {noise} ({len(noise_y) / den.sample_rate:.1f} s), given with --noise."
        )
    if not np.any(noise_y):
        raise DenselabError(f"the noise source ({source}) is silent")
    result = unseen_check(den, speech_dir, noise_y, seed=seed, snrs=snrs)
    return {
        "model": str(model_path),
        "folder": str(Path(speech_dir).resolve()),
        "noise": source,
        "noise_seen_in_training": seen,
        "noise_source": sentence,
        **result,
    }
