"""Validation SNR (the product's validation part) of trained mask models used with mask powers 1, 0.9, 0.8, 0.7.

usage: power_val.py MODEL.pt ..."""
import os
import sys
from pathlib import Path

import torch
from denselab.data.audio import snr_db
from denselab.studies import denoise, denoise_data
from denselab.studies.denoise_model import denoise_signal, load_denoiser, load_pair

torch.set_num_threads(1)
DATA = Path(os.environ.get("DENSELAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "speech"
cfg = denoise.Config()
clean, noisy, sr, tr = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
split = denoise_data.split_pair(clean, noisy, sr, cfg.validation_fraction, tr, cfg.speed_factors, (),
                           heldout=cfg.heldout_fraction)
for path in sys.argv[1:]:
    den = load_denoiser(path)
    out = []
    for power in (1.0, 0.9, 0.8, 0.7):
        den.mask_power = power
        out.append((power, round(snr_db(split.val_clean, denoise_signal(den, split.val_noisy)), 2)))
    print(Path(path).stem, out)
