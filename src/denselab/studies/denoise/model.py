"""The speech denoiser itself: features, the two network variants, chunked level-invariant inference and the
`model.pt` file. No training code here: this is what `denoise apply`, `denoise eval` and the Python API
(`Denoiser.load(path).apply(samples, sample_rate)`) need.

Shapes: a magnitude spectrogram is (frames, 513) here (one example per row), the transpose of librosa's
(513, frames). Levels: every signal is scaled to `ref_rms` before the STFT and scaled back afterwards, so the
same recording at any level denoises to the same result up to that gain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from denselab.data.audio import HOP, N_FFT, inverse_spectrum, resample, spectrum
from denselab.errors import DenselabError
from denselab.io import check_model_header, model_header, save_torch
from denselab.models.mlp import build_mlp
from denselab.version import __version__

MODEL_KIND = "denoiser"  # model.pt header: {"format": "denselab-denoiser", "version": MODEL_VERSION}
# The one model.pt layout this code reads; bump it when the layout or meaning changes (older and newer files
# are refused with a one-line error). 4: `training_pair` (where the held-out and validation parts lie, for
# `denoise eval`'s unseen noise), no `dropout`.
MODEL_VERSION = 4
REF_RMS = 0.1  # every signal is scaled to this RMS before features (and back after)
EPS = 1e-4  # added to |X| before the log (at REF_RMS level, typical |X| is ~1)
CHUNK_FRAMES = 4096  # STFT frames per chunk in `denoise_signal` (~2 M samples: ~2 min at 16 kHz)
VARIANTS = ("mask", "magnitude")
OUTPUT_ACTIVATION = {"mask": "sigmoid", "magnitude": "softplus"}  # nonnegative by construction


@dataclass
class Denoiser:
    """A trained (or training) denoiser: the net plus everything needed to turn audio into its input.

    For users: `Denoiser.load("model.pt")` reads a model written by `denselab denoise train`, and
    `.apply(samples, sample_rate)` denoises a recording (what `denselab denoise apply` does to a file)."""

    net: nn.Sequential
    variant: str  # "mask": |S| = sigmoid(net) * |X|; "magnitude": |S| = softplus(net) * mag_scale
    widths: tuple[int, ...]
    feat_mean: torch.Tensor  # (513,) mean of log(|X| + EPS) over the training frames, at REF_RMS level
    feat_std: torch.Tensor  # (513,)
    mag_scale: float  # unit of the magnitude variant's output: mean |S| of the training part at REF_RMS level
    sample_rate: int
    n_fft: int = N_FFT
    hop: int = HOP
    ref_rms: float = REF_RMS
    eps: float = EPS
    features: str = "log"  # "log": standardised log(|X| + eps); "linear": |X| / mag_scale
    mask_power: float = 1.0  # mask variant: |Ŝ| = sigmoid(net)^mask_power · |X| when denoising (training: 1)
    grids: int = 1  # `denoise_signal` averages its outputs on this many STFT frame grids (cycle spinning)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> Denoiser:
        """The denoiser saved in a model.pt by `denselab denoise train`; a one-line DenselabError for a
        missing, damaged, older or foreign file."""
        return load_denoiser(path, device)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Denoise a recording: `samples` mono (n,) or (n, channels) (down-mixed by averaging, like
        `denoise apply`), any sample rate (resampled to the model's and back); returns (n,) float32 at
        `sample_rate`."""
        y = np.asarray(samples)
        if y.ndim == 2:
            y = y.mean(axis=1)
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.number) or np.iscomplexobj(y):
            raise DenselabError(
                f"Denoiser.apply takes real samples of shape (n,) or (n, channels), got {y.dtype} {y.shape}"
            )
        if not np.all(np.isfinite(y)):
            raise DenselabError("Denoiser.apply: the samples hold NaN or infinite values")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1:
            raise DenselabError(f"Denoiser.apply: sample_rate must be a positive int, got {sample_rate!r}")
        if len(y) == 0:
            return np.zeros(0, dtype=np.float32)
        return denoise_any_rate(self, y.astype(np.float32), int(sample_rate))

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: str | torch.device) -> Denoiser:
        self.net.to(device)
        self.feat_mean = self.feat_mean.to(device)
        self.feat_std = self.feat_std.to(device)
        return self


def new_denoiser(
    variant: str,
    hidden: tuple[int, ...],
    feat_mean: np.ndarray,
    feat_std: np.ndarray,
    mag_scale: float,
    sample_rate: int,
    bin_means: np.ndarray | None = None,
    features: str = "log",
    mask_power: float = 1.0,
    grids: int = 1,
) -> Denoiser:
    """An untrained denoiser. `bin_means` (513,) = mean target |S| per bin: the magnitude variant starts
    from softplus(bias) = that mean, so it begins at a sensible output, not near zero (collapse guard)."""
    if variant not in VARIANTS:
        raise DenselabError(f"unknown model type {variant!r} (choose from {', '.join(VARIANTS)})")
    n_bins = len(feat_mean)
    widths = (n_bins, *map(int, hidden), n_bins)
    net = build_mlp(widths, activation="relu", init="he", output_activation=OUTPUT_ACTIVATION[variant])
    last = net[-1][-2]  # the Linear before the output activation
    if variant == "magnitude" and bin_means is not None:
        target = torch.as_tensor(np.maximum(bin_means / mag_scale, 1e-3), dtype=torch.float32)
        with torch.no_grad():
            last.bias.copy_(target + torch.log(-torch.expm1(-target)))  # softplus^-1
            last.weight.mul_(0.1)  # start near the per-bin mean, not at a random guess
    return Denoiser(
        net,
        variant,
        widths,
        torch.as_tensor(feat_mean, dtype=torch.float32),
        torch.as_tensor(feat_std, dtype=torch.float32),
        float(mag_scale),
        int(sample_rate),
        features=features,
        mask_power=float(mask_power),
        grids=int(grids),
    )


def net_input(mag: torch.Tensor, den: Denoiser) -> torch.Tensor:
    """Network input for magnitudes `mag` (N, 513) at REF_RMS level: standardised log(|X| + eps), or
    |X| / mag_scale for the magnitude variant's "linear" features."""
    if den.features == "linear":
        return mag / den.mag_scale
    return (torch.log(mag + den.eps) - den.feat_mean) / den.feat_std


def estimate_magnitude(den: Denoiser, mag: torch.Tensor, training: bool = False) -> torch.Tensor:
    """|Ŝ| (N, 513) from noisy |X| (N, 513), both at REF_RMS level. The mask variant raises its mask to
    `den.mask_power` when denoising; `training=True` gives the mask as trained (power 1; the loss uses it)."""
    out = den.net(net_input(mag, den))
    if den.variant == "magnitude":
        return out * den.mag_scale
    if den.mask_power != 1.0 and not training:
        out = out**den.mask_power  # < 1: a milder mask (less speech lost where the net is unsure)
    return out * mag


def with_noisy_phase(spec: torch.Tensor, est_mag: torch.Tensor) -> torch.Tensor:
    """Ŝ = X/|X| ⊙ |Ŝ|; where |X| = 0 the phase is undefined and Ŝ is 0."""
    mag = spec.abs()
    return torch.where(mag > 0, spec / mag.clamp_min(1e-30), torch.zeros_like(spec)) * est_mag


def grid_offsets(hop: int, grids: int) -> list[int]:
    """Where each of `grids` STFT frame grids starts, in samples: 0, hop/grids, 2·hop/grids, ... (training
    takes its frames on these grids, `frame_shifts`; denoising averages over them, `denoise_grids`)."""
    return [k * hop // grids for k in range(max(1, grids))]


def signal_gain(y: np.ndarray, ref_rms: float) -> float:
    """The factor that brings `y` to `ref_rms`; 0 for silence (the output is then silence too)."""
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0
    return ref_rms / rms if rms > 1e-9 else 0.0


@torch.no_grad()
def denoise_signal(den: Denoiser, y: np.ndarray, chunk_frames: int = CHUNK_FRAMES) -> np.ndarray:
    """Denoise mono `y` (at the model's sample rate); the output has `y`'s length and level.

    With `den.grids` = K > 1 (cycle spinning), `y` is denoised on K STFT frame grids — delayed by k·hop/K
    samples, denoised, advanced back — and the K outputs are averaged: each grid's errors (noise let through,
    speech removed) differ, so they partly cancel. Long signals go through in chunks of `chunk_frames` STFT
    frames. Each chunk's STFT is taken over the chunk plus `n_fft` real samples of context on either side
    (zeros at the file's ends, as librosa's centred STFT pads), so every frame that touches a kept sample sees
    real data and the result equals one whole-file STFT."""
    den.net.eval()
    gain = signal_gain(y, den.ref_rms)  # of `y` itself, so every grid sees the same level
    if gain == 0.0:
        return np.zeros(len(y), dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    delays = grid_offsets(den.hop, den.grids)
    out = sum(
        _denoise_one_grid(den, np.concatenate([np.zeros(d, np.float32), y]), gain, chunk_frames)[d:]
        for d in delays
    )
    return out / np.float32(gain * len(delays))


@torch.no_grad()
def _denoise_one_grid(den: Denoiser, y: np.ndarray, gain: float, chunk_frames: int) -> np.ndarray:
    """`gain` · y denoised on the STFT's own frame grid (frames at sample 0, every hop), not rescaled."""
    n = len(y)
    pad = den.n_fft  # a multiple of hop: chunk frames stay on the whole-file frame grid
    chunk = max(1, chunk_frames) * den.hop
    z = torch.zeros(n + 2 * pad, device=den.device)
    z[pad : pad + n] = torch.from_numpy(y).to(den.device) * gain
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        seg = z[start : stop + 2 * pad]  # original samples [start - pad, stop + pad)
        spec = spectrum(seg, den.n_fft, den.hop)
        est = estimate_magnitude(den, spec.abs())
        rec = inverse_spectrum(with_noisy_phase(spec, est), len(seg), den.n_fft, den.hop)
        out[start:stop] = rec[pad : pad + stop - start].cpu().numpy()
    return out


def denoise_any_rate(den: Denoiser, y: np.ndarray, sr: int) -> np.ndarray:
    """Denoise mono `y` at any sample rate: resampled to the model's rate and back, same length out."""
    if sr == den.sample_rate:
        return denoise_signal(den, y)
    out = resample(denoise_signal(den, resample(y, sr, den.sample_rate)), den.sample_rate, sr)
    return fit_length(out, len(y))


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """`y` trimmed or zero-padded to `n` samples."""
    return y[:n] if len(y) >= n else np.concatenate([y, np.zeros(n - len(y), dtype=y.dtype)])


# ---------------------------------------------------------------------------------------------- model.pt


def save_denoiser(
    path: str | os.PathLike, den: Denoiser, training_pair: dict, extra: dict | None = None
) -> Path:
    """Write model.pt (atomic): weights, everything `load_denoiser` needs to rebuild the pipeline, and
    `training_pair` ({"clean", "noisy": paths, "samples", "heldout_end", "validation_start": sample
    indices}): where the parts of the training recording lie that the model never trained on."""
    return save_torch(
        path,
        {
            **model_header(MODEL_KIND, MODEL_VERSION),
            "denselab_version": __version__,
            "variant": den.variant,
            "widths": list(den.widths),
            "activation": "relu",
            "output_activation": OUTPUT_ACTIVATION[den.variant],
            "state_dict": {k: v.detach().cpu() for k, v in den.net.state_dict().items()},
            "feat_mean": den.feat_mean.cpu(),
            "feat_std": den.feat_std.cpu(),
            "mag_scale": den.mag_scale,
            "sample_rate": den.sample_rate,
            "n_fft": den.n_fft,
            "hop": den.hop,
            "ref_rms": den.ref_rms,
            "eps": den.eps,
            "features": den.features,
            "mask_power": den.mask_power,
            "grids": den.grids,
            "training_pair": dict(training_pair),
            **(extra or {}),
        },
    )


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The dict in a model.pt of the current version; a one-line DenselabError for anything else (an older
    version names the one this denselab reads and says to retrain)."""
    path = Path(path)
    if not path.is_file():
        raise DenselabError(f"model file not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise DenselabError(
            f"{path} is not a denselab model file (train one with `denselab denoise train`)"
        ) from None
    check_model_header(ckpt, MODEL_KIND, MODEL_VERSION, path, command="denoise train")
    return ckpt


def load_denoiser(path: str | os.PathLike, device: str = "cpu") -> Denoiser:
    """Read a model.pt written by `save_denoiser`; anything else is a one-line DenselabError."""
    ckpt = read_checkpoint(path)
    try:
        den = Denoiser(
            build_mlp(
                ckpt["widths"],
                activation=ckpt["activation"],
                init="he",
                output_activation=ckpt["output_activation"],
            ),
            ckpt["variant"],
            tuple(ckpt["widths"]),
            ckpt["feat_mean"].float(),
            ckpt["feat_std"].float(),
            float(ckpt["mag_scale"]),
            int(ckpt["sample_rate"]),
            int(ckpt["n_fft"]),
            int(ckpt["hop"]),
            float(ckpt["ref_rms"]),
            float(ckpt["eps"]),
            str(ckpt["features"]),
            float(ckpt["mask_power"]),
            int(ckpt["grids"]),
        )
        den.net.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise DenselabError(
            f"{path} is a damaged denselab model file ({type(e).__name__}); retrain it"
        ) from None
    return den.to(device)
