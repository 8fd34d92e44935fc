"""Issue 14 diagnostic: where the model's error lies by frame level and band, unseen voices against its own voice.

The unseen check's mixtures (`check_mixture`, --mix-seed) of the unseen files, and of the training voice's own
unheard speech (the held-out and validation parts, as `own_voice.py`), one STFT grid, the mask as the model
denoises. Each frame is put in a group by its clean energy relative to its file's mean frame energy (dB); per group:
the share of frames, the speech removed Σ|(m − 1)S|² and the noise let through Σ|mN|² (both relative to the file's
clean energy Σ|S|², mean over mixtures), the ideal phase-sensitive mask's error, and the group's share of the clean
energy. Then, for the frames between −10 and 0 dB, the same two errors per octave band.

usage: DENSELAB_DATA=../shared/data python research/levels.py MODEL.pt [--mix-seed 0]"""
import argparse
import os
from pathlib import Path

import numpy as np
import torch

from denselab.data.audio import load_wav, spectrum
from denselab.studies import denoise
from denselab.studies.denoise_data import split_pair
from denselab.studies.denoise_eval import INPUT_SNRS_DB, check_mixture, clean_files
from denselab.studies.denoise_model import load_denoiser, load_pair, net_input, signal_gain

torch.set_num_threads(1)
DATA = Path(os.environ.get("DENSELAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "speech"
EDGES = [-np.inf, -40, -30, -20, -10, 0, np.inf]  # dB, a frame's clean energy relative to its file's mean frame
BANDS = [(0, 16), (16, 32), (32, 64), (64, 128), (128, 256), (256, 513)]  # bins of 15.6 Hz: 0-250-500-1k-2k-4k-8k Hz
ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("--mix-seed", type=int, default=0)
a = ap.parse_args()
den = load_denoiser(a.model)
clean, noisy, sr, _ = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
cfg = denoise.Config()
split = split_pair(clean, noisy, sr, cfg.validation_fraction, heldout=cfg.heldout_fraction)  # the product's cut


def analyse(signals: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(groups, 5): frames, speech removed, noise kept, ideal's error, clean energy; (2, bands): the middle group's
    speech removed and noise kept per band. Means over the mixtures."""
    groups, bands = np.zeros((len(EDGES) - 1, 5)), np.zeros((2, len(BANDS)))
    for i, s in enumerate(signals):
        for j, level in enumerate(INPUT_SNRS_DB):
            x, _ = check_mixture(s, noisy - clean, a.mix_seed, i, j, level)
            g = signal_gain(x, den.ref_rms)
            X, S = spectrum(x * g), spectrum(s * g)
            N, power = X - S, float((S.abs() ** 2).sum())
            with torch.no_grad():
                m = den.net(net_input(X.abs(), den)) ** den.mask_power
            ideal = ((S * X.conj()).real / X.abs().clamp_min(1e-12) ** 2).clamp(0, 1)
            removed, kept = ((m - 1) ** 2) * S.abs() ** 2 / power, (m ** 2) * N.abs() ** 2 / power  # (frames, 513)
            energy = (S.abs() ** 2).sum(1).numpy()
            rel = 10 * np.log10(energy / energy.mean() + 1e-12)
            ideal_err = ((ideal * X - S).abs() ** 2).sum(1).numpy() / power
            for b in range(len(EDGES) - 1):
                sel = (rel >= EDGES[b]) & (rel < EDGES[b + 1])
                groups[b] += [sel.mean(), removed[sel].sum(), kept[sel].sum(), ideal_err[sel].sum(),
                              energy[sel].sum() / energy.sum()]
            mid = torch.from_numpy((rel >= -10) & (rel < 0))
            for k, (lo, hi) in enumerate(BANDS):
                bands[:, k] += [float(removed[mid, lo:hi].sum()), float(kept[mid, lo:hi].sum())]
    n = len(signals) * len(INPUT_SNRS_DB)
    return groups / n, bands / n


for name, signals in (("unseen voices", [load_wav(p, sr=sr)[0] for p in clean_files(DATA / "unseen")]),
                      ("own voice, unheard", [split.held_clean, split.val_clean])):
    groups, bands = analyse(signals)
    print(f"{name} (mixture seed {a.mix_seed}): model error {groups[:, 1:3].sum():.4f}, ideal mask {groups[:, 3].sum():.4f}")
    print("  frame level (dB)  frames  speech removed  noise kept  ideal's error  clean energy")
    for b in range(len(EDGES) - 1):
        print(f"  {EDGES[b]:>5} … {EDGES[b + 1]:>4}   {groups[b, 0]:6.3f}  {groups[b, 1]:14.4f}  {groups[b, 2]:10.4f}"
              f"  {groups[b, 3]:13.4f}  {groups[b, 4]:12.4f}")
    print("  −10 … 0 dB frames by band (0-250-500-1k-2k-4k-8k Hz): speech removed",
          " ".join(f"{v:.4f}" for v in bands[0]), "| noise kept", " ".join(f"{v:.4f}" for v in bands[1]))
