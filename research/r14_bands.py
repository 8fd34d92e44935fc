"""Issue 14 diagnostic: per frequency band, the energy shares of the pair's noise and of the training voice, and
for clean unseen files (no noise added) each band's share of the file's energy / the share of that band's
energy the denoiser removes.

usage: DENSELAB_DATA=../shared/data python research/r14_bands.py MODEL.pt spk1_snt5.wav [more files of speech/unseen/]"""
import os
import sys
from pathlib import Path

import numpy as np
import torch

from denselab.data.audio import load_wav, spectrum
from denselab.studies.denoise_model import estimate_magnitude, load_denoiser, load_pair, signal_gain

D = Path(os.environ.get("DENSELAB_DATA", "../shared/data")) / "speech"
EDGES = [0, 4, 8, 16, 32, 64, 128, 256, 513]  # STFT bins (15.6 Hz each at 16 kHz, n_fft 1024)
torch.set_num_threads(2)
den = load_denoiser(sys.argv[1])
den.net.eval()
clean, noisy, sr, _ = load_pair(D / "train_clean_male.wav", D / "train_dirty_male.wav")
power = {name: spectrum(torch.tensor(y, dtype=torch.float32)).abs().pow(2).mean(0)
         for name, y in (("noise share", noisy - clean), ("training voice", clean))}
bands = list(zip(EDGES, EDGES[1:]))
print(f"{'band (Hz)':16s}", " ".join(f"{int(a * sr / 1024):>5}-{int(b * sr / 1024):<5}" for a, b in bands))
for name, p in power.items():
    print(f"{name:16s}", " ".join(f"{float(p[a:b].sum() / p.sum()):11.3f}" for a, b in bands))
for f in sys.argv[2:]:
    s, _ = load_wav(D / "unseen" / f, sr=sr)
    S = spectrum(torch.tensor(s * signal_gain(s, den.ref_rms), dtype=torch.float32))
    with torch.no_grad():
        mask = estimate_magnitude(den, S.abs()) / S.abs().clamp_min(1e-12)
    P = S.abs().pow(2)
    lost = ((1 - mask) ** 2 * P).sum(0)  # energy of the speech the mask takes away, per bin
    print(f"{f:16s}", " ".join(f"{float(P[:, a:b].sum() / P.sum()):5.3f}/{float(lost[a:b].sum() / P[:, a:b].sum()):5.3f}"
                               for a, b in bands),
          f" passthrough SNR {float(10 * np.log10(P.sum() / lost.sum())):.2f} dB")
