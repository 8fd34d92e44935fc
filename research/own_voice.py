"""Issue 14 diagnostic: the unseen check on the training voice's own unheard speech, beside the unseen voices.

The training pair's held-out test part (the first `heldout_fraction`) and validation part (the last
`validation_fraction`) hold speech of the training voice that no training step saw. Their clean audio is mixed
with the pair's noise at 0, 5 and 10 dB exactly as the unseen check mixes its files (`unseen_check`, offsets
from np.random.default_rng([seed, file, snr])), so the model's gap to the oracle on its own voice can be set
beside its gap on voices it never heard: what would be left if it generalised across voices perfectly.

`--trained` adds a third row: the training part's own clean speech (every training step saw it, paired with
other noise frames), cut into 8 s files and mixed the same way. A gap there as large as on unheard speech says the
gap is not over-fitting to the speech trained on but what one frame of input can tell.

usage: DENSELAB_DATA=../shared/data python research/own_voice.py MODEL.pt [--mix-seeds 0 1 2] [--trained]"""
import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from denselab.studies import denoise
from denselab.studies.denoise_data import split_pair
from denselab.studies.denoise_eval import clean_files, unseen_check
from denselab.studies.denoise_model import load_denoiser, load_pair

torch.set_num_threads(1)
DATA = Path(os.environ.get("DENSELAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "speech"
ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("--mix-seeds", type=int, nargs="+", default=[0, 1, 2])
ap.add_argument("--trained", action="store_true", help="also the training part's own speech, in 8 s files")
a = ap.parse_args()
den = load_denoiser(a.model)
cfg = denoise.Config()
clean, noisy, sr, _ = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
split = split_pair(clean, noisy, sr, cfg.validation_fraction, heldout=cfg.heldout_fraction)  # the product's cut, no copies
with tempfile.TemporaryDirectory() as tmp:
    own = [Path(tmp) / "own_heldout.wav", Path(tmp) / "own_validation.wav"]
    sf.write(own[0], split.held_clean, sr)
    sf.write(own[1], split.val_clean, sr)
    groups = [("own voice", own)]
    if a.trained:  # the training part lies between the held-out part and the validation part
        part, step = clean[len(split.held_clean):len(clean) - len(split.val_clean)], 8 * sr
        trained = [Path(tmp) / f"own_trained_{k:02d}.wav" for k in range(len(part) // step)]
        for k, f in enumerate(trained):
            sf.write(f, part[k * step:(k + 1) * step], sr)
        groups.append(("trained on", trained))
    groups.append(("unseen", clean_files(DATA / "unseen")))
    print("files        mixture seed  gain   oracle  gap")
    for seed in a.mix_seeds:
        for label, files in groups:
            m = unseen_check(den, DATA / "unseen", noisy - clean, seed=seed, metrics=False, files=files)["mean"]
            print(f"{label:12s} {seed:12d}  {m['gain_db']:5.2f}  {m['oracle_gain_db']:6.2f}  "
                  f"{m['oracle_gain_db'] - m['gain_db']:4.2f}")
