"""Does the Study 2 denoiser work on speech it never heard? A check for issue 4's generalisation target.

Speech: synthetic voices from espeak-ng (several voices and accents, male and female; none of them is the
training speaker). Noise: the noise of the *held-out* validation part of the training pair
(train_dirty_male − train_clean_male over its last 10 %), so no noise sample was trained on. Each utterance is
mixed with a random stretch of that noise at 0, 2.5, 5, 7.5 and 10 dB input SNR (speech power / noise power
over the utterance) and at two recording levels (speech RMS 0.016 as in the training file, and 0.06, ~4x
louder), denoised with `denoise_any_rate` (the `denoise apply` path) and scored with the assignment's SNR.
Target: an average gain of at least 8 dB. A Wiener filter with the noise PSD measured on the very noise
used (an optimistic classic baseline) is shown for scale.

Needs espeak-ng (`apt-get install -y espeak-ng`). Usage:

    denselab denoise train --data-dir ../shared/data --out runs/d
    python benchmarks/denoise_generalisation.py --model runs/d/model.pt --data-dir ../shared/data [--json out.json]

This is a measurement, not a test: it prints a table and writes the rows as JSON (by default to
generalisation.json next to the model, so `denselab report` of that results folder shows them); it asserts
nothing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from denselab.data.audio import inverse_spectrum, load_wav, snr_db, spectrum
from denselab.io import write_json
from denselab.studies.denoise_model import denoise_any_rate, load_denoiser, load_pair, with_noisy_phase

VOICES = ["en-us", "en-us+f3", "en-gb+m3", "en-gb-scotland+f2", "en-029+m5", "en-gb-x-rp+f4"]
SENTENCES = [
    "The birch canoe slid on the smooth planks, and the boy was there when the sun rose.",
    "A large size in stockings is hard to sell. Open the crate but don't break the glass.",
    "We talked about the weather for an hour, then the rain stopped and everyone went home.",
]
SNRS_DB = (0.0, 2.5, 5.0, 7.5, 10.0)
LEVELS = (0.016, 0.06)  # speech RMS of the recording: the training file's level and ~4x louder


def synthesize(voice: str, text: str, folder: Path, index: int, sr: int) -> np.ndarray:
    path = folder / f"u{index}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text], check=True,
                   capture_output=True)
    y, _ = load_wav(path, sr=sr)
    return y


def held_out_noise(data_dir: Path, fraction: float = 0.1) -> tuple[np.ndarray, int]:
    """noisy − clean over the last `fraction` of the training pair (the validation part: never trained on)."""
    speech = data_dir / "speech"
    clean, noisy, sr, _ = load_pair(speech / "train_clean_male.wav", speech / "train_dirty_male.wav")
    cut = int(len(clean) * (1.0 - fraction)) // 512 * 512  # the same cut as denoise.split_pair
    return (noisy - clean)[cut:], sr


def wiener(noisy: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Wiener gain ξ/(1+ξ), ξ = max(|X|²/P_N − 1, 0), P_N = the exact noise's mean PSD (optimistic)."""
    X = spectrum(noisy)
    psd = (spectrum(noise).abs() ** 2).mean(0)
    xi = (X.abs() ** 2 / psd.clamp_min(1e-20) - 1).clamp_min(0)
    return inverse_spectrum(with_noisy_phase(X, xi / (1 + xi) * X.abs()), len(noisy)).numpy()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="model.pt from `denselab denoise train`")
    ap.add_argument("--data-dir", default="../shared/data", help="folder holding speech/")
    ap.add_argument("--seed", type=int, default=0, help="seed for the noise offsets")
    ap.add_argument("--json", help="write the results here [default: generalisation.json next to the model, "
                                   "where `denselab report` shows them]")
    args = ap.parse_args()
    if shutil.which("espeak-ng") is None:
        print("denoise_generalisation: espeak-ng not found; install it with `apt-get install -y espeak-ng`",
              file=sys.stderr)
        return 2
    torch.set_num_threads(min(2, torch.get_num_threads()))
    den = load_denoiser(args.model)
    noise, sr = held_out_noise(Path(args.data_dir))
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        utterances = [(v, synthesize(v, SENTENCES[i % len(SENTENCES)], Path(tmp), i, sr))
                      for i, v in enumerate(VOICES)]
    for voice, speech in utterances:
        speech = speech / np.sqrt(np.mean(speech.astype(np.float64) ** 2))  # unit RMS
        for snr in SNRS_DB:
            reps = -(-len(speech) // len(noise)) + 1
            start = rng.integers(len(noise))
            n = np.tile(noise, reps)[start:start + len(speech)]
            n = n / np.sqrt(np.mean(n.astype(np.float64) ** 2)) * 10 ** (-snr / 20)
            for level in LEVELS:
                s, x = level * speech, level * (speech + n)
                out = denoise_any_rate(den, x.astype(np.float32), sr)
                rows.append({"voice": voice, "input_snr_db": snr_db(s, x), "level_rms": level,
                             "snr_db": snr_db(s, out), "wiener_snr_db": snr_db(s, wiener(x, level * n)),
                             "seconds": len(s) / sr})
    for r in rows:
        r["gain_db"] = r["snr_db"] - r["input_snr_db"]
        r["wiener_gain_db"] = r["wiener_snr_db"] - r["input_snr_db"]

    def mean(key, pred=lambda r: True):
        vals = [r[key] for r in rows if pred(r)]
        return float(np.mean(vals))

    print(f"model: {args.model} ({den.variant}); {len(utterances)} espeak-ng voices, "
          f"{sum(r['seconds'] for r in rows) / len(SNRS_DB) / len(LEVELS):.1f} s of speech; "
          f"noise: held-out part of the training pair")
    print(f"{'input SNR':>10} {'output SNR':>11} {'gain':>8} {'gain, 4x louder':>16} {'Wiener gain':>12}")
    for snr in SNRS_DB:
        sel = {lv: [r for r in rows if abs(r["input_snr_db"] - snr) < 0.01 and r["level_rms"] == lv] for lv in LEVELS}
        base = sel[LEVELS[0]]
        print(f"{snr:>7.1f} dB {np.mean([r['snr_db'] for r in base]):>8.2f} dB {np.mean([r['gain_db'] for r in base]):>5.2f} dB "
              f"{np.mean([r['gain_db'] for r in sel[LEVELS[1]]]):>13.2f} dB {np.mean([r['wiener_gain_db'] for r in base]):>9.2f} dB")
    print("per voice gain (dB): " + ", ".join(f"{v} {mean('gain_db', lambda r, v=v: r['voice'] == v):.2f}"
                                             for v in VOICES))
    avg = mean("gain_db")
    print(f"average gain: {avg:.2f} dB (target >= 8 dB: {'met' if avg >= 8 else 'NOT met'}); "
          f"Wiener (oracle noise PSD): {mean('wiener_gain_db'):.2f} dB")
    target = Path(args.json) if args.json else Path(args.model).with_name("generalisation.json")
    write_json(target, {"model": args.model, "average_gain_db": avg, "rows": rows})
    print(f"results in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
