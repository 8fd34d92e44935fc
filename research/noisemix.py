"""Issue 14 probe: new noise frames for the per-frame mask net. With probability P per training frame, its noise
frame is cos(t)·N_i + sin(t)·g·N_j, N_j a second random noise frame scaled by g to N_i's energy and t
uniform in [0, pi/2] (the energy of two uncorrelated frames is kept on average): the net cannot learn the training part's noise frames by heart.
Swapped into `denoise` by `install(P)`; everything else is `denoise.remix_batch` as it is."""
import math
import torch
from denselab.studies import denoise

P = 0.5


def install(p: float):
    global P
    P = p
    plain = denoise.remix_batch

    def remix(split, cfg, gen, device):
        # the product's batch, then the noise part of the chosen frames replaced (x - s is b · N_i exactly)
        x, s = plain(split, cfg, gen, device)
        B, T = len(x), len(split.noise_frames)
        n = x - s
        j = torch.randint(T, (B,), generator=gen)
        t = torch.rand(B, generator=gen) * (math.pi / 2)
        pick = torch.rand(B, generator=gen) < P  # any frame, recorded pairs too
        # N_j brought to the energy of this frame's noise: the frame's SNR is kept, its noise spectrum is new
        nj = split.noise_frames[j]
        scale = torch.sqrt((n.abs() ** 2).sum(1) / (nj.abs() ** 2).sum(1).clamp_min(1e-20))
        mixed = torch.cos(t)[:, None] * n + torch.sin(t)[:, None] * scale[:, None] * nj
        n = torch.where(pick[:, None], mixed, n)
        return s + n, s
    denoise.remix_batch = remix
