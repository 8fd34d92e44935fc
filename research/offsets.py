"""Issue 14 diagnostic: the unseen check's rows grouped by where their noise excerpt starts in the noise track.

For each mixture seed, `unseen_check` (no STOI/PESQ) of each model; then per 10 s of noise start (the last group
runs from 70 s to the track's end, 78.7 s; the validation part is its last 10 %, 70.8 s on), over all seeds' rows: the
number of rows, each model's mean gain, the oracle's, and the last model's gain minus the first's.

usage: DENSELAB_DATA=../shared/data python research/offsets.py MODEL.pt [MODEL2.pt ...] [--mix-seeds 0 1 2]"""
import argparse
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from denselab.studies.denoise_eval import unseen_check
from denselab.studies.denoise_model import load_denoiser, load_pair

torch.set_num_threads(1)
DATA = Path(os.environ.get("DENSELAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "speech"
ap = argparse.ArgumentParser()
ap.add_argument("models", nargs="+"); ap.add_argument("--mix-seeds", type=int, nargs="+", default=[0, 1, 2])
a = ap.parse_args()
clean, noisy, sr, _ = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
noise = noisy - clean
models = [load_denoiser(m) for m in a.models]
groups = defaultdict(list)  # 10 s group -> [(gain per model..., oracle gain)]
for seed in a.mix_seeds:
    checks = [unseen_check(den, DATA / "unseen", noise, seed=seed, metrics=False) for den in models]
    print(f"mixture seed {seed}: mean gain " + " / ".join(f"{c['mean']['gain_db']:.2f}" for c in checks)
          + f", oracle {checks[0]['mean']['oracle_gain_db']:.2f}")
    for rows in zip(*(c["rows"] for c in checks)):
        group = min(int(rows[0]["noise_offset"] / sr // 10), int(len(noise) / sr // 10))
        groups[group].append([r["gain_db"] for r in rows] + [rows[0]["oracle_gain_db"]])
print("noise start  rows  " + "  ".join(f"model {i + 1}" for i in range(len(a.models))) + "   oracle"
      + "".join(f"  {i + 1} - 1" for i in range(1, len(a.models))))
for g in sorted(groups):
    v = np.array(groups[g])
    print(f"{10 * g:5d} s      {len(v):4d}  " + "  ".join(f"{x:7.2f}" for x in v.mean(0))
          + "".join(f"  {v[:, i].mean() - v[:, 0].mean():+5.2f}" for i in range(1, len(a.models))))
