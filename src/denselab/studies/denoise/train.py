"""Study 2's training: the loss, and the loop of one variant (Adam on a cosine schedule, an exponential moving
average of the weights, validation SNR after every epoch, early stopping on it, restarts after a collapse).

Validation SNR (the assignment's, on the reconstructed time signal of the validation part) is measured after
every epoch on the averaged weights, as trained (mask power 1, one frame grid); the weights of the best epoch
are kept, then scored once more as they denoise (`mask_power`, `denoise_grids`).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from denselab.data.audio import snr_db, spectrum
from denselab.errors import DenselabError
from denselab.studies.denoise.augment import remix_batch
from denselab.studies.denoise.config import Config
from denselab.studies.denoise.data import Split, feature_stats
from denselab.studies.denoise.model import (
    REF_RMS,
    VARIANTS,
    Denoiser,
    denoise_signal,
    estimate_magnitude,
    new_denoiser,
    signal_gain,
)
from denselab.training import make_optimizer, seed_everything

SEGLOG_FLOOR = 1e-3  # δ of the seglog loss, in units of the batch's mean clean frame energy
COLLAPSE_RATIO = 1e-3  # output/input energy on validation below which the net counts as collapsed to zero
MAX_RESTARTS = 2  # fresh starts at half the learning rate after a collapse or a non-finite loss


def loss_fn(den: Denoiser, x: torch.Tensor, s: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """The training loss of a batch of frames (B, 513).

    Targets: mask: |S|·cos(∠S − ∠X), so the squared error is |S − Ŝ|² up to a constant (the complex error with
    the noisy phase, which is what the time-domain SNR sees); magnitude: |S| (the assignment's regression).
    `mse`: squared error, mean over bins and frames, in units of REF_RMS-level power. `seglog`: mean over
    frames of log10(‖E_f‖² + δ), E_f a frame's complex error, δ = SEGLOG_FLOOR · the batch's mean ‖S_f‖²: a
    segmental SNR (up to the target's own log-energy, a constant), so quiet and loud frames weigh alike."""
    mag = x.abs()
    est = estimate_magnitude(den, mag, training=True)
    if den.variant == "mask":
        target = (s * x.conj()).real / mag.clamp_min(1e-12)
    else:
        target = s.abs()
    if kind == "seglog":
        # each frame's complex error energy (what the frame adds to the reconstruction's noise) over a floor
        err = ((est - target) ** 2).sum(1)
        if den.variant == "mask":
            err = err + (s.abs() ** 2 - target**2).sum(1)  # the part orthogonal to the noisy phase
        delta = SEGLOG_FLOOR * (s.abs() ** 2).sum(1).mean()  # without it, silent frames dominate
        return torch.log10(err + delta).mean()
    return torch.mean((est - target) ** 2) / (den.mag_scale**2)


@dataclass
class TrainResult:
    den: Denoiser
    validation_snr_db: float  # of the kept weights as they denoise (`mask_power`, `grids`)
    best_epoch: int
    train_loss: list[float]
    validation_snr_curve: list[float]  # per epoch, of the net as trained (power 1, one grid): what stops it
    seconds: float
    collapse_restarts: int
    stopped_early: bool
    validation_output: np.ndarray  # the kept weights' denoised validation audio


@dataclass
class _Attempt:
    """One training attempt from a fresh initialisation: the net, its optimiser and its weight average."""

    den: Denoiser
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    averaged: AveragedModel | None
    ema: Denoiser  # the net that is validated and kept: the average (as trained: mask power 1, one grid)
    steps: int  # optimisation steps per epoch


def output_energy_ratio(den: Denoiser, val_mag: torch.Tensor) -> float:
    """Σ|Ŝ|² / Σ|X|² on the validation frames: ~0 means the net has collapsed to an all-zero output."""
    with torch.no_grad():
        den.net.eval()
        est = estimate_magnitude(den, val_mag)
    return float((est**2).sum() / (val_mag**2).sum().clamp_min(1e-20))


def _new_attempt(variant: str, stats: tuple, split: Split, cfg: Config, device: str, lr: float) -> _Attempt:
    """A fresh net (`stats`: `feature_stats` of the training part), Adam, the cosine schedule, the average."""
    feat_mean, feat_std, mag_scale, bin_means = stats
    den = new_denoiser(
        variant,
        cfg.magnitude_hidden if variant == "magnitude" else cfg.hidden,
        feat_mean,
        feat_std,
        mag_scale,
        split.sample_rate,
        bin_means,
        features=cfg.features if variant == "magnitude" else "log",
        mask_power=cfg.mask_power if variant == "mask" else 1.0,
        grids=cfg.denoise_grids,
    ).to(device)
    opt = make_optimizer("adam", den.net.parameters(), lr=lr)  # fused kernel where torch has one
    # validation (and the saved model) use an exponential moving average of the weights: steadier than the
    # last step's weights, whose validation SNR jumps from epoch to epoch
    averaged = None
    if cfg.ema_decay > 0:
        averaged = AveragedModel(den.net, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay))
        averaged.update_parameters(den.net)  # the first update copies: the average starts at the init
    # early stopping follows the mask as trained (power 1, one grid): how it denoises does not move the epoch
    ema = dataclasses.replace(
        den, net=den.net if averaged is None else averaged.module, mask_power=1.0, grids=1
    )
    steps = max(1, cfg.frames_per_epoch // cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps, eta_min=0.05 * lr)
    return _Attempt(den, opt, sched, averaged, ema, steps)


def _train_epoch(run: _Attempt, split: Split, cfg: Config, gen: torch.Generator, device: str) -> float:
    """One epoch of remixed batches; the mean training loss."""
    run.den.net.train()
    total = torch.zeros((), device=device)
    kind = cfg.loss if run.den.variant == "mask" else "mse"
    for _ in range(run.steps):
        x, s = remix_batch(split, cfg, gen, device)
        loss = loss_fn(run.den, x, s, kind)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        run.sched.step()
        if run.averaged is not None:
            run.averaged.update_parameters(run.den.net)
        total += loss.detach()
    return float(total) / run.steps


def _fit(variant: str, stats: tuple, split: Split, cfg: Config, device: str, quiet: bool, restarts: int):
    """One attempt with early stopping: (attempt, losses, curve, best_epoch, best_state, failed); `failed`
    when the loss went non-finite or the output collapsed to zero (best_state: the best epoch before it)."""
    gen = seed_everything(cfg.seed + 1000 * restarts)
    run = _new_attempt(variant, stats, split, cfg, device, cfg.lr / 2**restarts)
    val_mag = spectrum(split.val_noisy * signal_gain(split.val_noisy, REF_RMS), device=device).abs()
    losses, curve = [], []
    best, best_epoch, best_state, failed = -math.inf, 0, None, False
    bar = tqdm(range(1, cfg.epochs + 1), desc=f"denoise {variant}", unit="epoch", disable=quiet, leave=False)
    for epoch in bar:
        losses.append(_train_epoch(run, split, cfg, gen, device))
        if not math.isfinite(losses[-1]) or output_energy_ratio(run.ema, val_mag) < COLLAPSE_RATIO:
            failed = True
            break
        curve.append(snr_db(split.val_clean, denoise_signal(run.ema, split.val_noisy)))
        if curve[-1] > best:
            best, best_epoch = curve[-1], epoch
            best_state = copy.deepcopy(run.ema.net.state_dict())
        bar.set_postfix(val_snr=f"{curve[-1]:.2f} dB")
        if epoch - best_epoch >= cfg.patience and epoch >= cfg.min_epochs:
            break
    bar.close()
    return run, losses, curve, best_epoch, best_state, failed


def train_variant(variant: str, split: Split, cfg: Config, device: str, quiet: bool) -> TrainResult:
    """Train one variant with early stopping on validation SNR. An all-zero output (collapse) or a non-finite
    loss restarts from a fresh initialisation at half the learning rate, at most MAX_RESTARTS times."""
    on_device = dataclasses.replace(
        split,
        clean_frames=split.clean_frames.to(device),
        speech_frames=split.speech_frames.to(device),
        noise_frames=split.noise_frames.to(device),
    )
    stats = feature_stats(split)  # on the CPU copy: NumPy arrays
    t0 = time.perf_counter()
    restarts = 0
    while True:
        run, losses, curve, best_epoch, best_state, failed = _fit(
            variant, stats, on_device, cfg, device, quiet, restarts
        )
        if not failed or restarts >= MAX_RESTARTS:
            break
        restarts += 1
        if not quiet:
            print(
                f"denselab: {variant} net collapsed or diverged in epoch {len(losses)}; "
                f"restarting at lr {cfg.lr / 2**restarts:g}"
            )
    if best_state is None:
        raise DenselabError(
            f"the {variant} denoiser collapsed to an all-zero output {restarts + 1} times; try a lower --lr"
        )
    den = run.den
    den.net.load_state_dict(best_state)
    val_out = denoise_signal(den, split.val_noisy)  # the kept weights as they denoise (mask_power, grids)
    return TrainResult(
        den,
        snr_db(split.val_clean, val_out),
        best_epoch,
        losses,
        curve,
        time.perf_counter() - t0,
        restarts,
        len(curve) < cfg.epochs,
        val_out,
    )


def train_variants(split: Split, cfg: Config, device: str, quiet: bool) -> dict[str, TrainResult]:
    """Every variant `model_type` asks for (both with `auto`), trained in turn."""
    variants = VARIANTS if cfg.model_type == "auto" else (cfg.model_type,)
    return {v: train_variant(v, split, cfg, device, quiet) for v in variants}
