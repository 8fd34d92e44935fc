"""Issue 14 diagnostic: where the gap between the model and the ideal mask lies, per band.

On the unseen check's mixtures (`unseen_check`'s files, offsets and levels for --mix-seed), one STFT grid, the
mask as the model denoises (`mask_power`): the gain of the model's mask, of the ideal phase-sensitive mask clipped
to [0, 1], and of the model's mask with one band's bins replaced by the ideal's; then per band, relative to the
clean file's total energy Σ|S|², the speech removed Σ|(m − 1)S|² and the noise let through Σ|mN|², and each
band's share of the speech's and the noise's energy. Means over all rows.

usage: DENSELAB_DATA=../shared/data python research/gap.py MODEL.pt [--mix-seed 0]"""
import numpy as np
import torch

from check_frames import BANDS, DATA, mixtures, setup
from denselab.data.audio import inverse_spectrum, load_wav, snr_db
from denselab.studies.denoise_eval import clean_files
from denselab.studies.denoise_model import with_noisy_phase

a, den, clean, noisy, sr = setup(__doc__)
rows = []
for mix in mixtures(den, [load_wav(p, sr=sr)[0] for p in clean_files(DATA / "unseen")], noisy - clean, a.mix_seed):
    s, x, g, X, S, N, power, m = mix.s, mix.x, mix.g, mix.X, mix.S, mix.N, mix.power, mix.m

    def gain(mask: torch.Tensor) -> float:
        out = inverse_spectrum(with_noisy_phase(X, mask * X.abs()), len(x)).numpy() / g
        return snr_db(s, out) - snr_db(s, x)

    row = {"model": gain(m), "ideal": gain(mix.ideal)}
    for b, (lo, hi) in enumerate(BANDS):
        swapped = m.clone()
        swapped[:, lo:hi] = mix.ideal[:, lo:hi]
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
