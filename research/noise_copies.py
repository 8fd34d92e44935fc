"""Issue 14 probe: speed-perturbed copies of the training noise.

The unseen check draws its noise from the whole noise track; rows whose excerpt starts in the last 10 s (the
validation part, never trained on) lose 1.4 dB more to the oracle than the rest (research/offsets.py,
BENCHMARKS "sixth session"), so the net knows the training noise better than the noise as such. Here the training
part's noise is also played at each factor in `factors` (resampled: its spectrum and its crunches' timing scaled),
each copy at the noise's own power, and a remixed frame takes its noise from a copy with probability `share`.
Swapped into `denoise` by `install()` after `split_for`; the saved model is an ordinary model."""
import dataclasses
import math

import numpy as np
import torch
from denselab.data.audio import resample, spectrum
from denselab.studies import denoise


def install(split, clean: np.ndarray, noisy: np.ndarray, factors: tuple[float, ...], share: float):
    T = len(split.clean_frames)
    n = (noisy - clean)[len(split.held_clean):len(clean) - len(split.val_clean)].astype(np.float32)  # training part
    sr = split.sample_rate
    copies = []
    for f in factors:
        y = resample(n, sr, int(round(sr / f)))
        c = spectrum(y)
        copies.append(c * math.sqrt(split.noise_power / float(np.mean(np.square(y, dtype=np.float64)))))
    plain_stats, plain_draw = denoise.feature_stats, denoise.remix_draw
    denoise.feature_stats = lambda sp: plain_stats(dataclasses.replace(sp, noise_frames=sp.noise_frames[:T]))

    def draw(sp, cfg_, gen):
        remix, i_s, i_n, a, b = plain_draw(sp, cfg_, gen)
        extra = len(sp.noise_frames) - T
        use = remix & (torch.rand(len(remix), generator=gen) < share)
        return remix, i_s, torch.where(use, T + torch.randint(extra, (len(remix),), generator=gen), i_n), a, b

    denoise.remix_draw = draw
    return dataclasses.replace(split, noise_frames=torch.cat([split.noise_frames, *copies]).contiguous())
