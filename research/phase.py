"""Issue 14 probe: the mask net also reads the noisy frame's phase structure across frequency.

Beside the standardised log|X| (513), the net reads u_k = −X[k+1]·conj(X[k]) / |X[k+1]·X[k]| for k = 0..511 as
(cos, sin) pairs (1024 numbers). Why: a steady harmonic under the frame's Hann window gives neighbouring bins a
phase step of π around its peak whatever its pitch, an impulse (a crunch) a step that is linear in its time
offset, noise a random step; so the steps say "harmonic here" without the net having learnt one voice's
harmonic spacing. The −1 takes out the π that the frame's start-referenced phase adds at every bin.
Swapped into `denoise` / `denoise_model` by `install()`; research only: the saved model.pt does not reload."""
import torch
from denselab.models.mlp import build_mlp
from denselab.studies import denoise, denoise_model as dm

COMPLEX = [None]  # the complex frames (N, 513) whose magnitudes `estimate_magnitude` is about to get


def phase_steps(spec: torch.Tensor) -> torch.Tensor:
    """(N, 513) complex → (N, 1024): cos and sin of each neighbouring-bin phase step (0 where a bin is 0)."""
    p = -spec[:, 1:] * spec[:, :-1].conj()
    u = torch.where(p.abs() > 0, p / p.abs().clamp_min(1e-30), torch.zeros_like(p))
    return torch.cat([u.real, u.imag], 1)


def install():
    plain_new = denoise.new_denoiser

    def new(variant, hidden, feat_mean, *a, **k):
        den = plain_new(variant, hidden, feat_mean, *a, **k)
        n = len(feat_mean)
        den.net = build_mlp((n + 2 * (n - 1), *map(int, hidden), n), activation="relu", init="he",
                            dropout=list(den.dropout), output_activation=dm.OUTPUT_ACTIVATION[variant])
        return den

    def est(den, mag, training=False):
        spec = COMPLEX[0]
        if spec is not None and spec.shape == mag.shape:
            steps = phase_steps(spec)
            if not training:
                COMPLEX[0] = None
        else:  # only the collapse check (`output_energy_ratio`) gets magnitudes alone
            steps = torch.zeros(len(mag), 2 * (mag.shape[1] - 1), dtype=mag.dtype, device=mag.device)
        out = den.net(torch.cat([dm.net_input(mag, den), steps], 1))
        if den.mask_power != 1.0 and not training:
            out = out ** den.mask_power
        return out * mag

    plain_spectrum = dm.spectrum

    def spectrum(*a, **k):  # `_denoise_one_grid` takes the STFT, then asks for the mask of its magnitudes
        COMPLEX[0] = plain_spectrum(*a, **k)
        return COMPLEX[0]

    plain_loss = denoise.loss_fn

    def loss(den, x, s, kind="seglog", **kw):
        COMPLEX[0] = x
        try:
            return plain_loss(den, x, s, kind, **kw)
        finally:
            COMPLEX[0] = None

    denoise.new_denoiser = new
    denoise.estimate_magnitude = dm.estimate_magnitude = est
    dm.spectrum = spectrum
    denoise.loss_fn = loss
