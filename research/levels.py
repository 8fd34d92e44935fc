"""Issue 14 diagnostic: where the model's error lies by frame level and band, unseen voices against its own voice.

The unseen check's mixtures (`check_mixture`, --mix-seed) of the unseen files, and of the training voice's own
unheard speech (the held-out and validation parts, as `own_voice.py`), one STFT grid, the mask as the model
denoises. Each frame is put in a group by its clean energy relative to its file's mean frame energy (dB); per group:
the share of frames, the speech removed Σ|(m − 1)S|² and the noise let through Σ|mN|² (both relative to the file's
clean energy Σ|S|², mean over mixtures), the ideal phase-sensitive mask's error, and the group's share of the clean
energy. Then, for the frames between −10 and 0 dB, the same two errors per octave band.

usage: DENSELAB_DATA=../shared/data python research/levels.py MODEL.pt [--mix-seed 0]"""
import numpy as np
import torch

from check_frames import BANDS, DATA, mixtures, setup
from denselab.data.audio import load_wav
from denselab.studies import denoise
from denselab.studies.denoise_data import split_pair
from denselab.studies.denoise_eval import INPUT_SNRS_DB, clean_files

EDGES = [-np.inf, -40, -30, -20, -10, 0, np.inf]  # dB, a frame's clean energy relative to its file's mean frame
a, den, clean, noisy, sr = setup(__doc__)
cfg = denoise.Config()
split = split_pair(clean, noisy, sr, cfg.validation_fraction, heldout=cfg.heldout_fraction)  # the product's cut


def analyse(signals: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(groups, 5): frames, speech removed, noise kept, ideal's error, clean energy; (2, bands): the middle group's
    speech removed and noise kept per band. Means over the mixtures."""
    groups, bands = np.zeros((len(EDGES) - 1, 5)), np.zeros((2, len(BANDS)))
    for mix in mixtures(den, signals, noisy - clean, a.mix_seed):
        S, m = mix.S, mix.m
        removed, kept = ((m - 1) ** 2) * S.abs() ** 2 / mix.power, (m ** 2) * mix.N.abs() ** 2 / mix.power  # (frames, 513)
        energy = (S.abs() ** 2).sum(1).numpy()
        rel = 10 * np.log10(energy / energy.mean() + 1e-12)
        ideal_err = ((mix.ideal * mix.X - S).abs() ** 2).sum(1).numpy() / mix.power
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
