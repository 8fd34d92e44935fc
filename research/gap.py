"""Issue 14 diagnostic: where the gap between the model and the ideal mask lies, per band.

On the unseen check's mixtures (`unseen_check`'s files, offsets and levels for --mix-seed), one STFT grid, the
mask as the model denoises (`mask_power`): the gain of the model's mask, of the ideal phase-sensitive mask clipped
to [0, 1], and of the model's mask with one band's bins replaced by the ideal's; then per band, relative to the
clean file's total energy Σ|S|², the speech removed Σ|(m − 1)S|² and the noise let through Σ|mN|², and each
band's share of the speech's and the noise's energy. Means over all rows.

usage: DENSELAB_DATA=../shared/data python research/gap.py MODEL.pt [--mix-seed 0]"""
import argparse
import os
from pathlib import Path

import numpy as np
import torch

from denselab.data.audio import inverse_spectrum, load_wav, snr_db, spectrum
from denselab.studies.denoise_eval import INPUT_SNRS_DB, check_mixture, clean_files
from denselab.studies.denoise_model import load_denoiser, load_pair, net_input, signal_gain, with_noisy_phase

torch.set_num_threads(1)
DATA = Path(os.environ.get("DENSELAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "speech"
BANDS = [(0, 16), (16, 32), (32, 64), (64, 128), (128, 256), (256, 513)]  # bins of 15.6 Hz: 0-250-500-1k-2k-4k-8k Hz
ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("--mix-seed", type=int, default=0)
a = ap.parse_args()
den = load_denoiser(a.model)
clean, noisy, sr, _ = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
noise = noisy - clean
rows = []
for i, path in enumerate(clean_files(DATA / "unseen")):
    s, _ = load_wav(path, sr=sr)
    for j, level in enumerate(INPUT_SNRS_DB):
        x, _ = check_mixture(s, noise, a.mix_seed, i, j, level)
        g = signal_gain(x, den.ref_rms)
        X, S = spectrum(x * g), spectrum(s * g)
        N, power = X - S, (S.abs() ** 2).sum()
        with torch.no_grad():
            m = den.net(net_input(X.abs(), den)) ** den.mask_power
        ideal = ((S * X.conj()).real / X.abs().clamp_min(1e-12) ** 2).clamp(0, 1)

        def gain(mask: torch.Tensor) -> float:
            out = inverse_spectrum(with_noisy_phase(X, mask * X.abs()), len(x)).numpy() / g
            return snr_db(s, out) - snr_db(s, x)

        row = {"model": gain(m), "ideal": gain(ideal)}
        for b, (lo, hi) in enumerate(BANDS):
            swapped = m.clone()
            swapped[:, lo:hi] = ideal[:, lo:hi]
            row[f"ideal in band {b}"] = gain(swapped)
            row[f"speech removed {b}"] = float(((m[:, lo:hi] - 1) ** 2 * S[:, lo:hi].abs() ** 2).sum() / power)
            row[f"noise kept {b}"] = float((m[:, lo:hi] ** 2 * N[:, lo:hi].abs() ** 2).sum() / power)
            row[f"speech share {b}"] = float((S[:, lo:hi].abs() ** 2).sum() / power)
            row[f"noise share {b}"] = float((N[:, lo:hi].abs() ** 2).sum() / (N.abs() ** 2).sum())
        rows.append(row)
print(f"mixture seed {a.mix_seed}, {len(rows)} mixtures; bands (Hz): "
      + ", ".join(f"{b}: {lo * sr / 1024:.0f}-{hi * sr / 1024:.0f}" for b, (lo, hi) in enumerate(BANDS)))
for key in rows[0]:
    print(f"{key:18s} {np.mean([r[key] for r in rows]):8.3f}")
