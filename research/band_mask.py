"""Issue 14 diagnostic: how much of a clean file's energy the mask keeps, per band, with and without the pair's noise.

For each file: the speech-energy-weighted mean of mask ** mask_power per band (0-125-250-500-1000-2000-4000-8000 Hz),
on the clean file alone and mixed with a random excerpt of `train_dirty - train_clean` at 10 dB (rng seed 0).

usage: DENSELAB_DATA=../shared/data python research/band_mask.py MODEL.pt FILE.wav ..."""
import os
import sys
from pathlib import Path

import numpy as np
import torch

from denselab.data.audio import load_wav, spectrum
from denselab.data.speech_metrics import mix_at_snr, noise_excerpt
from denselab.studies.denoise_model import load_denoiser, load_pair, net_input, signal_gain

torch.set_num_threads(1)
DATA = Path(os.environ.get("DENSELAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "speech"
BANDS = [(0, 8), (8, 16), (16, 32), (32, 64), (64, 128), (128, 256), (256, 513)]  # bins of 15.6 Hz
den = load_denoiser(sys.argv[1])
clean, noisy, sr, _ = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
noise = noisy - clean
rng = np.random.default_rng(0)
print("file            input  " + " ".join(f"{a * 15.625:>5.0f}-{b * 15.625:<5.0f}" for a, b in BANDS))
for f in sys.argv[2:]:
    y, _ = load_wav(f)
    mixed, _ = mix_at_snr(y, noise_excerpt(noise, len(y), rng.integers(0, len(noise) - len(y))), 10.0)
    for label, x in (("clean", y), ("10 dB", mixed)):
        g = signal_gain(x, den.ref_rms)
        X, S = spectrum(x * g), spectrum(y * g)
        with torch.no_grad():
            m = den.net(net_input(X.abs(), den)) ** den.mask_power
        w = S.abs() ** 2
        print(f"{Path(f).name:15s} {label:6s} " + " ".join(f"{float((m[:, a:b] * w[:, a:b]).sum() / w[:, a:b].sum()):>11.2f}" for a, b in BANDS))
