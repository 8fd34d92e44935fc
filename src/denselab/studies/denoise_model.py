"""The speech denoiser itself: features, the two network variants, chunked level-invariant inference and the
`model.pt` file. Training lives in `denoise.py`; this module is everything `denoise apply` and `denoise eval` need
(`apply_files`, `evaluate_files`) and imports no training code.

Shapes: a magnitude spectrogram is (frames, 513) here (one example per row), the transpose of librosa's
(513, frames). Levels: every signal is scaled to `ref_rms` before the STFT and scaled back afterwards, so the
same recording at any level denoises to the same result up to that gain.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from denselab import __version__
from denselab.data.audio import HOP, N_FFT, inverse_spectrum, load_wav, resample, spectrum
from denselab.data.speech_metrics import quality
from denselab.errors import DenselabError
from denselab.io import check_model_header, model_header, save_torch, save_wav
from denselab.models.mlp import build_mlp

MODEL_KIND = "denoiser"  # model.pt header: {"format": "denselab-denoiser", "version": MODEL_VERSION}
# bump when model.pt's layout or meaning changes; newer versions are refused with a clear error. 2: `mask_power`
# (an older denselab would denoise a version-2 mask model with power 1: a different output, so it must refuse it).
# 3: `grids` (cycle spinning when denoising; an older denselab would denoise on one grid)
MODEL_VERSION = 3
REF_RMS = 0.1  # every signal is scaled to this RMS before features (and back after)
EPS = 1e-4  # added to |X| before the log (at REF_RMS level, typical |X| is ~1)
CHUNK_FRAMES = 4096  # STFT frames per chunk in `denoise_signal` (~2 M samples: ~2 min at 16 kHz)
VARIANTS = ("mask", "magnitude")
OUTPUT_ACTIVATION = {"mask": "sigmoid", "magnitude": "softplus"}  # nonnegative by construction


@dataclass
class Denoiser:
    """A trained (or training) denoiser: the net plus everything needed to turn audio into its input."""

    net: nn.Sequential
    variant: str  # "mask": |S| = sigmoid(net) * |X|; "magnitude": |S| = softplus(net) * mag_scale
    widths: tuple[int, ...]
    feat_mean: torch.Tensor  # (513,) mean of log(|X| + EPS) over the training frames, at REF_RMS level
    feat_std: torch.Tensor  # (513,)
    mag_scale: (
        float  # unit of the magnitude variant's output (mean |S| of the training part at REF_RMS level)
    )
    sample_rate: int
    n_fft: int = N_FFT
    hop: int = HOP
    ref_rms: float = REF_RMS
    eps: float = EPS
    features: str = "log"  # "log": standardised log(|X| + eps); "linear": |X| / mag_scale
    dropout: tuple[float, ...] = ()  # per weight layer (training only; kept so the saved layout reloads)
    mask_power: float = (
        1.0  # mask variant: |Ŝ| = sigmoid(net)^mask_power · |X| when denoising (training: power 1)
    )
    grids: int = 1  # `denoise_signal` averages its outputs on this many STFT frame grids (cycle spinning)

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
    dropout: float = 0.0,
    mask_power: float = 1.0,
    grids: int = 1,
) -> Denoiser:
    """An untrained denoiser. `bin_means` (513,) = mean target |S| per bin: the magnitude variant starts
    from softplus(bias) = that mean, so it begins at a sensible output instead of near zero (collapse guard)."""
    if variant not in VARIANTS:
        raise DenselabError(f"unknown model type {variant!r} (choose from {', '.join(VARIANTS)})")
    n_bins = len(feat_mean)
    widths = (n_bins, *map(int, hidden), n_bins)
    # dropout (training only) on every hidden representation, never on the input features
    rates = [0.0] + [dropout] * (len(widths) - 2)
    net = build_mlp(
        widths, activation="relu", init="he", dropout=rates, output_activation=OUTPUT_ACTIVATION[variant]
    )
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
        dropout=tuple(rates),
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
    `den.mask_power` when denoising; `training=True` gives the mask as trained (power 1), which the loss uses."""
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
    """Where each of `grids` STFT frame grids starts, in samples: 0, hop/grids, 2·hop/grids, ... (training takes
    its frames on these grids, `frame_shifts`; denoising averages over them, `denoise_grids`)."""
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
    frames. Each chunk's STFT is taken over the chunk plus `n_fft` real samples of context on either side (zeros
    at the file's ends, as librosa's centred STFT pads), so every frame that touches a kept sample sees real
    data and the result equals one whole-file STFT."""
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
    """`gain` · y denoised on the STFT's own frame grid (frames start at sample 0, every hop), not rescaled."""
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


def save_denoiser(path: str | os.PathLike, den: Denoiser, extra: dict | None = None) -> Path:
    """Write model.pt (atomic): weights plus everything `load_denoiser` needs to rebuild the pipeline."""
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
            "dropout": list(den.dropout),
            "mask_power": den.mask_power,
            "grids": den.grids,
            **(extra or {}),
        },
    )


def load_denoiser(path: str | os.PathLike, device: str = "cpu") -> Denoiser:
    """Read a model.pt written by `save_denoiser`; anything else is a one-line DenselabError."""
    path = Path(path)
    if not path.is_file():
        raise DenselabError(f"model file not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise DenselabError(
            f"{path} is not a denselab model file (train one with `denselab denoise train`)"
        ) from None
    # also reads the older header {"kind": "denselab-denoiser", "format": 1} (same layout as version 1); version 1
    # files have no `mask_power` and denoise with power 1, versions 1-2 no `grids` and denoise on one grid
    check_model_header(ckpt, MODEL_KIND, MODEL_VERSION, path, oldest=1, command="denoise train")
    try:
        den = Denoiser(
            build_mlp(
                ckpt["widths"],
                activation=ckpt["activation"],
                init="he",
                dropout=ckpt.get("dropout") or 0.0,
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
            str(ckpt.get("features", "log")),
            tuple(ckpt.get("dropout") or ()),
            float(ckpt.get("mask_power", 1.0)),
            int(ckpt.get("grids", 1)),
        )
        den.net.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise DenselabError(
            f"{path} is a damaged denselab model file ({type(e).__name__}); retrain it"
        ) from None
    return den.to(device)


def load_pair(
    clean_path: str | os.PathLike, noisy_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(clean, noisy, sample rate, samples dropped) of a clean/noisy recording pair.

    Different sample rates, or lengths that differ by more than one hop, are errors; a smaller length
    difference is trimmed off the longer file, with a warning on stderr."""
    clean, sr_c = load_wav(clean_path)
    noisy, sr_n = load_wav(noisy_path)
    if sr_c != sr_n:
        raise DenselabError(
            f"{clean_path} is {sr_c} Hz but {noisy_path} is {sr_n} Hz; "
            f"a clean/noisy pair must share one sample rate"
        )
    diff = abs(len(clean) - len(noisy))
    if diff > HOP:
        raise DenselabError(
            f"{clean_path} has {len(clean)} samples but {noisy_path} has {len(noisy)}: a clean/noisy "
            f"pair may differ by at most one hop ({HOP} samples)"
        )
    if diff:
        n = min(len(clean), len(noisy))
        print(
            f"denselab: warning: {clean_path} and {noisy_path} differ by {diff} samples; "
            f"both truncated to {n}",
            file=sys.stderr,
        )
        clean, noisy = clean[:n], noisy[:n]
    return clean, noisy, sr_c, diff


# ------------------------------------------------------------------------------------ apply and eval


def apply_files(
    model_path: str,
    inputs: list[str],
    output: str | None = None,
    out_dir: str | None = None,
    device: str = "cpu",
    quiet: bool = False,
) -> list[str]:
    """Denoise each input WAV with a trained model.pt; returns the paths written (16-bit WAVs at the
    input's sample rate and length). `output` names the file for one input; else `out_dir/<stem>_denoised.wav`."""
    den = load_denoiser(model_path, device)
    if output is not None and len(inputs) != 1:
        raise DenselabError("-o OUT.wav takes one input file; use --out-dir DIR for several")
    loaded = [load_wav(p) for p in inputs]  # check every input before writing anything
    written = []
    for path, (y, sr) in tqdm(
        list(zip(inputs, loaded)), desc="denoise", unit="file", disable=quiet or len(inputs) < 2, leave=False
    ):
        target = (
            Path(output) if output is not None else Path(out_dir or ".") / f"{Path(path).stem}_denoised.wav"
        )
        if target.exists() and target.is_dir():
            raise DenselabError(f"output {target} is a folder")
        save_wav(target, denoise_any_rate(den, y, sr), sr)
        written.append(str(target))
    return written


def evaluate_files(
    model_path: str, noisy_path: str, clean_path: str, device: str = "cpu"
) -> dict[str, float | None]:
    """SNR, SI-SDR, STOI and wideband PESQ (None without the package or at other rates than 16 kHz) of the
    model's denoising of `noisy_path` against `clean_path`, with the noisy input's own values beside them."""
    den = load_denoiser(model_path, device)
    clean, noisy, sr, _ = load_pair(clean_path, noisy_path)
    q_in, q_out = quality(clean, noisy, sr), quality(clean, denoise_any_rate(den, noisy, sr), sr)
    return {
        "snr_db": q_out["snr_db"],
        "input_snr_db": q_in["snr_db"],
        "gain_db": q_out["snr_db"] - q_in["snr_db"],
        "si_sdr_db": q_out["si_sdr_db"],
        "input_si_sdr_db": q_in["si_sdr_db"],
        "stoi": q_out["stoi"],
        "input_stoi": q_in["stoi"],
        "pesq": q_out["pesq"],
        "input_pesq": q_in["pesq"],
    }
