"""Study 2: speech denoising with a fully connected net on STFT magnitude frames.

Input |X| and target |S| are frames of `librosa.stft(y, n_fft=1024, hop_length=512)` (513 bins, one frame per
example; computed with the identical `torch.stft`). The net is `build_mlp` with ReLU hidden layers and a
nonnegative output, in two variants:

- `magnitude`: the assignment's literal regression, |Ŝ| = softplus(net(|X| / scale)) · scale, MSE against |S|
  (scale = mean clean magnitude; the output bias starts at each bin's mean |S|, so the net cannot start in
  softplus's flat zero region, and an all-zero output is detected and restarts training);
- `mask`: a bounded mask from log-compressed |X|, |Ŝ| = sigmoid(net(standardised log(|X| + eps))) ⊙ |X|,
  trained against the phase-sensitive target |S|·cos(∠S − ∠X), whose squared error equals the complex STFT
  error of the reconstruction with the noisy phase (what the time-domain SNR measures).

Every signal is scaled to one RMS before the STFT and back afterwards (level invariance). The last 10 % of
the training pair (contiguous) is the validation part, never trained on; validation SNR (the assignment's, on
the reconstructed time signal) is measured after every epoch on an exponential moving average of the weights,
training stops early on it and keeps the best. With `refit`, the kept variant is then trained again from
scratch on training + validation for its best epoch count, and validation stays scored with the first fit. The
first 5 % is a held-out test part, scored once at the end.
Training examples are remixes: clean frames plus noise frames
(noise = noisy − clean, training part only; the STFT is linear, so this equals mixing time-shifted signals) at
random SNRs and levels, so the net sees far more noise/speech combinations than the one recording holds. The
remixed speech also gets a random high-shelf boost above ~3 kHz: the training voice has little energy there,
and without it the net learned to remove other voices' fricatives along with the noise (docs/BENCHMARKS.md).
Other voices are made from the one training voice: speed-perturbed copies (pitch and formants moved together)
and copies re-synthesised by the WORLD vocoder with f0 and the spectral envelope moved apart (`voice_copies`).
The training part's frames are taken on `frame_shifts` STFT frame grids (more distinct frames of the one
recording), and denoising averages the outputs on `denoise_grids` grids (cycle spinning, `denoise_signal`).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from denselab.config import Runtime
from denselab.data.audio import load_wav, snr_db, spectrum
from denselab.errors import DenselabError, MissingInput
from denselab.io import save_wav, write_json
from denselab.studies.denoise_data import Split, feature_stats, split_pair
from denselab.studies.denoise_eval import baselines, clean_files, scores, unseen_check
from denselab.studies.denoise_model import (
    REF_RMS,
    VARIANTS,
    Denoiser,
    denoise_any_rate,
    denoise_signal,
    estimate_magnitude,
    load_pair,
    new_denoiser,
    save_denoiser,
    signal_gain,
)
from denselab.training import make_optimizer, seed_everything


@dataclass(frozen=True)
class Config:
    """Speech denoising with a fully connected net on STFT magnitude frames."""

    seed: int = 0
    """One seed drives every random choice (init, remixing, batch order)."""
    clean: str | None = None
    """Clean training WAV [default: <data-dir>/speech/train_clean_male.wav]."""
    noisy: str | None = None
    """Noisy training WAV, the same speech plus noise [default: <data-dir>/speech/train_dirty_male.wav]."""
    test: tuple[str, ...] | None = None
    """Noisy WAVs to denoise into audio/<stem>_recons.wav [default: test_x_01.wav, test_x_02.wav when present]."""
    model_type: Literal["auto", "mask", "magnitude"] = "auto"
    """Which net: mask (bounded mask on |X|), magnitude (regress |S|), auto = train both, keep the better on validation."""
    hidden: tuple[int, ...] = (1024, 1024)
    """Hidden layer widths of the mask net (at least two)."""
    magnitude_hidden: tuple[int, ...] = (512, 512)
    """Hidden layer widths of the literal magnitude net (at least two; as wide as the mask's, its validation SNR moves by ~0.1 dB for twice the time)."""
    epochs: int = 20
    """Maximum epochs (an epoch is `frames_per_epoch` remixed frames)."""
    frames_per_epoch: int = 32768
    """Training frames drawn per epoch (the training part has ~2000 frames; remixing makes new ones)."""
    batch_size: int = 256
    """Frames per mini-batch."""
    lr: float = 1e-3
    """Adam learning rate (cosine-decayed to 5 % over `epochs`)."""
    patience: int = 3
    """Early stopping: stop after this many epochs without a better validation SNR (best weights are kept)."""
    min_epochs: int = 6
    """Early stopping never stops before this epoch (the validation SNR can stall for a few epochs after the first jump, then climb for ten more)."""
    validation_fraction: float = 0.1
    """Fraction at the end of the training pair held out for validation: early stopping and the choice of variant (contiguous)."""
    heldout_fraction: float = 0.05
    """Fraction at the start of the training pair held out as a test part, scored once at the end (contiguous; 0 = none; with the voice copies, 0 %, 2 % and 5 % score alike on unseen voices, docs/BENCHMARKS.md)."""
    frame_shifts: int = 4
    """Training frames are taken on this many STFT frame grids, each shifted by hop/frame_shifts samples (1 = the one grid of the test-time STFT): more distinct frames of the same speech and noise."""
    refit: bool = False
    """After early stopping, train the kept variant again from scratch on training + validation for its best epoch count and keep that model (validation is scored with the first fit; off by default: with one frame grid it gained ~0.05 dB on unseen voices for ~50 s more, docs/BENCHMARKS.md)."""
    remix_fraction: float = 0.8
    """Fraction of training frames that pair speech with a random noise frame at a random SNR (rest: as recorded)."""
    snr_low_db: float = -5.0
    """Lowest SNR of a remixed frame's recording (speech power / noise power over the training part)."""
    snr_high_db: float = 20.0
    """Highest SNR of a remixed frame's recording."""
    level_jitter_db: float = 0.0
    """Random gain of +- this many dB on every training frame (0 = off: the RMS normaliser sets the level, remixing varies it)."""
    speed_factors: tuple[float, ...] = (0.85, 0.92, 1.08, 1.17, 1.3, 1.45, 1.6, 1.8)
    """Speed-perturbed copies of the clean training speech for remixing (other pitches: voices never heard; 1 = none)."""
    pitch_factors: tuple[float, ...] = (0.85, 1.3, 1.7, 2.1)
    """Voice copies: the clean training speech re-synthesised by the WORLD vocoder with f0 x each factor, the duration kept (other voices; 1 with formant factor 1 = none)."""
    formant_factors: tuple[float, ...] = (1.0, 1.15)
    """Formant (vocal-tract length) factors of the voice copies: each pitch factor is combined with each (> 1 moves the spectral envelope up)."""
    speed_share: float = 0.7
    """Share of remixed frames whose speech comes from the perturbed copies (speed and voice copies, drawn alike by frame)."""
    dropout: float = 0.0
    """Dropout rate on every hidden layer's input while training (0 = off)."""
    ema_decay: float = 0.99
    """Validate and keep an exponential moving average of the weights with this decay per step (0 = off)."""
    features: Literal["log", "linear"] = "linear"
    """Input of the magnitude variant: standardised log(|X| + eps), or |X| itself scaled to unit mean (the mask always uses log)."""
    loss: Literal["mse", "seglog"] = "seglog"
    """Training loss of the mask: mse = squared error over all bins and frames; seglog = mean over frames of log10 of each frame's error energy (segmental SNR: quiet and loud frames weigh alike). The magnitude variant always uses the assignment's MSE."""
    hf_boost_db: float = 12.0
    """Remixed speech gets a random high-shelf gain of 0..this many dB above `hf_boost_hz` (the training voice is dull up there; other voices' fricatives are not)."""
    hf_boost_hz: float = 3000.0
    """Corner frequency of that high shelf (Hz; the gain rises over about +-1 kHz around it)."""
    mask_power: float = 0.9
    """The mask variant denoises with mask**mask_power (trained with power 1; < 1 removes less where the net is unsure: more of unseen voices kept)."""
    denoise_grids: int = 4
    """Denoising averages the outputs on this many STFT frame grids, each hop/denoise_grids samples later (cycle spinning; the per-epoch validation curve uses one grid; 1 = one STFT)."""
    unseen: str | None = None
    """Folder of clean speech for the check on voices never heard, run after training [default: <data-dir>/speech/unseen when present; 'none' = skip]."""


PRESETS: dict[str, dict] = {
    "full": {},
    "quick": {
        "hidden": (256, 256),
        "magnitude_hidden": (256, 256),
        "epochs": 3,
        "frames_per_epoch": 4096,
        "patience": 3,
    },
}

SPEECH_FILES = {
    "clean": "train_clean_male.wav",
    "noisy": "train_dirty_male.wav",
    "test": ("test_x_01.wav", "test_x_02.wav"),
}


# --------------------------------------------------------------------------------------- training data


def remix_draw(split: Split, cfg: Config, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """A batch's random draws, (remix, i_s, i_n, a, b), each (B,): random speech frames `i_s` plus random noise
    frames `i_n` at gains `a`, `b` for random recording SNRs at REF_RMS level (times a random level within
    ±`level_jitter_db`); a `1 - remix_fraction` share (`remix` False) keeps the recorded pairing (i_n = i_s)."""
    B, T = cfg.batch_size, len(split.clean_frames)
    remix = torch.rand(B, generator=gen) < cfg.remix_fraction
    # remixed frames draw from all speech (perturbed copies too); recorded pairs only from the recording
    perturbed = remix & (torch.rand(B, generator=gen) < cfg.speed_share) & (len(split.speech_frames) > T)
    i_s = torch.where(
        perturbed,
        T + torch.randint(max(1, len(split.speech_frames) - T), (B,), generator=gen),
        torch.randint(T, (B,), generator=gen),
    )
    i_n = torch.where(remix, torch.randint(T, (B,), generator=gen), i_s)
    snr = 10.0 ** (
        (cfg.snr_low_db + (cfg.snr_high_db - cfg.snr_low_db) * torch.rand(B, generator=gen)) / 10.0
    )
    # gains that give the recording this SNR and a mean square of REF_RMS²: a²Ps + b²Pn = REF², a²Ps = snr·b²Pn
    a = torch.where(
        remix,
        REF_RMS * torch.sqrt(snr / ((1 + snr) * split.speech_power)),
        torch.full((B,), REF_RMS / math.sqrt(split.noisy_power)),
    )
    b = torch.where(remix, REF_RMS / torch.sqrt((1 + snr) * split.noise_power), a)
    jitter = 10.0 ** ((2 * torch.rand(B, generator=gen) - 1) * cfg.level_jitter_db / 20.0)
    return remix, i_s, i_n, a * jitter, b * jitter


def remix_batch(
    split: Split, cfg: Config, gen: torch.Generator, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy X, clean S) complex frames (B, 513) at REF_RMS level, made of `remix_draw`'s frames and gains."""
    remix, i_s, i_n, a, b = remix_draw(split, cfg, gen)
    s = a[:, None].to(device) * split.speech_frames[i_s.to(split.speech_frames.device)]
    if (
        cfg.hf_boost_db > 0
    ):  # off draws nothing, so runs without the boost reproduce the numbers from before it
        s = s * speech_eq(remix, cfg, s.shape[1], split.sample_rate, gen).to(device)
    return s + b[:, None].to(device) * split.noise_frames[i_n.to(split.noise_frames.device)], s


def speech_eq(remix: torch.Tensor, cfg: Config, n_bins: int, sr: int, gen: torch.Generator) -> torch.Tensor:
    """(B, n_bins) amplitude gains for the remixed speech frames (`remix` (B,) bool; 1 elsewhere): a high shelf
    rising over ~±1 kHz around `hf_boost_hz` to a gain drawn per frame, uniform in 0..`hf_boost_db` dB."""
    f = torch.linspace(0.0, sr / 2, n_bins)
    db = torch.where(remix, torch.rand(len(remix), generator=gen), 0.0) * cfg.hf_boost_db
    return 10.0 ** (db[:, None] * torch.sigmoid((f - cfg.hf_boost_hz) / 500.0) / 20.0)


def loss_fn(
    den: Denoiser, x: torch.Tensor, s: torch.Tensor, kind: str = "mse", floor: float = 1e-3
) -> torch.Tensor:
    """The training loss of a batch of frames (B, 513).

    Targets: mask: |S|·cos(∠S − ∠X), so the squared error is |S − Ŝ|² up to a constant (the complex error with
    the noisy phase, which is what the time-domain SNR sees); magnitude: |S| (the assignment's regression).
    `mse`: squared error, mean over bins and frames, in units of REF_RMS-level power. `seglog`: mean over frames
    of log10(‖E_f‖² + δ), E_f a frame's complex error, δ = `floor` · the batch's mean ‖S_f‖²: a segmental SNR
    (up to the target's own log-energy, a constant), so quiet and loud frames weigh alike."""
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
        delta = floor * (s.abs() ** 2).sum(1).mean()  # 1e-4: silent frames dominate; 1e-2 ties (BENCHMARKS)
        return torch.log10(err + delta).mean()
    return torch.mean((est - target) ** 2) / (den.mag_scale**2)


# --------------------------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    den: Denoiser
    validation_snr_db: float  # of the kept weights as they denoise (`mask_power`, `grids`)
    best_epoch: int
    train_loss: list[float]
    validation_snr_curve: list[
        float
    ]  # per epoch, of the net as trained (power 1, one grid): what early stopping follows
    seconds: float
    collapse_restarts: int
    stopped_early: bool
    validation_output: np.ndarray | None = (
        None  # the kept weights' denoised validation audio (None for the refit)
    )


def output_energy_ratio(den: Denoiser, val_mag: torch.Tensor) -> float:
    """Σ|Ŝ|² / Σ|X|² on the validation frames: ~0 means the net has collapsed to an all-zero output."""
    with torch.no_grad():
        den.net.eval()
        est = estimate_magnitude(den, val_mag)
    return float((est**2).sum() / (val_mag**2).sum().clamp_min(1e-20))


def train_variant(
    variant: str,
    split: Split,
    cfg: Config,
    device: str,
    quiet: bool,
    max_restarts: int = 2,
    fixed_epochs: int | None = None,
) -> TrainResult:
    """Train one variant with early stopping on validation SNR. An all-zero output (collapse) or a non-finite
    loss restarts from a fresh initialisation at half the learning rate, at most `max_restarts` times.

    `fixed_epochs` (the refit, on a split whose training part includes validation): train exactly that many
    epochs on the same learning-rate schedule and keep the averaged weights at the end; no validation SNR is
    measured (`validation_snr_db` is nan), since that part has been trained on."""
    feat_mean, feat_std, mag_scale, bin_means = feature_stats(split)
    val_mag = spectrum(split.val_noisy * signal_gain(split.val_noisy, REF_RMS), device=device).abs()
    on_device = dataclasses.replace(
        split,
        clean_frames=split.clean_frames.to(device),
        speech_frames=split.speech_frames.to(device),
        noise_frames=split.noise_frames.to(device),
    )
    t0 = time.perf_counter()
    restarts = 0
    while True:
        gen = seed_everything(cfg.seed + 1000 * restarts)
        lr = cfg.lr / 2**restarts
        hidden = cfg.magnitude_hidden if variant == "magnitude" else cfg.hidden
        den = new_denoiser(
            variant,
            hidden,
            feat_mean,
            feat_std,
            mag_scale,
            split.sample_rate,
            bin_means,
            features=cfg.features if variant == "magnitude" else "log",
            dropout=cfg.dropout,
            mask_power=cfg.mask_power if variant == "mask" else 1.0,
            grids=cfg.denoise_grids,
        ).to(device)
        opt = make_optimizer("adam", den.net.parameters(), lr=lr)  # fused kernel where torch has one
        # validation (and the saved model) use an exponential moving average of the weights: steadier than
        # the last step's weights, whose validation SNR jumps by ~1 dB from epoch to epoch
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
        losses, curve = [], []
        best, best_epoch, best_state, failed = -math.inf, 0, None, False
        bar = tqdm(
            range(1, (fixed_epochs or cfg.epochs) + 1),
            desc=f"denoise {variant}{' refit' if fixed_epochs else ''}",
            unit="epoch",
            disable=quiet,
            leave=False,
        )
        for epoch in bar:
            den.net.train()
            total = torch.zeros((), device=device)
            for _ in range(steps):
                x, s = remix_batch(on_device, cfg, gen, device)
                loss = loss_fn(den, x, s, cfg.loss if variant == "mask" else "mse")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                if averaged is not None:
                    averaged.update_parameters(den.net)
                total += loss.detach()
            losses.append(float(total) / steps)
            if not math.isfinite(losses[-1]) or output_energy_ratio(ema, val_mag) < 1e-3:
                failed = True
                break
            if fixed_epochs:  # no early stopping: the weights after the last epoch are kept
                best, best_epoch, best_state = math.nan, epoch, ema.net.state_dict()
                continue
            curve.append(snr_db(split.val_clean, denoise_signal(ema, split.val_noisy)))
            if curve[-1] > best:
                best, best_epoch = curve[-1], epoch
                best_state = copy.deepcopy(ema.net.state_dict())
            bar.set_postfix(val_snr=f"{curve[-1]:.2f} dB")
            if epoch - best_epoch >= cfg.patience and epoch >= cfg.min_epochs:
                break
        bar.close()
        if not failed or restarts >= max_restarts:
            break
        restarts += 1
        if not quiet:
            print(
                f"denselab: {variant} net collapsed or diverged in epoch {len(losses)}; restarting at lr {cfg.lr / 2**restarts:g}"
            )
    if best_state is None:
        raise DenselabError(
            f"the {variant} denoiser collapsed to an all-zero output {restarts + 1} times; try a lower --lr"
        )
    den.net.load_state_dict(best_state)
    val_out = None
    if (
        not fixed_epochs
    ):  # the kept weights' validation SNR as they denoise (mask_power, grids); `run` reuses the audio
        val_out = denoise_signal(den, split.val_noisy)
        best = snr_db(split.val_clean, val_out)
    return TrainResult(
        den,
        best,
        best_epoch,
        losses,
        curve,
        time.perf_counter() - t0,
        restarts,
        not fixed_epochs and len(curve) < cfg.epochs,
        val_out,
    )


# ------------------------------------------------------------------------------------------------- run


def validate(config: Config) -> None:
    """Reject bad settings before anything is written (the runner calls it before --out is touched; `run`
    calls it again). Input files are checked by `run` before training."""
    for name, widths in (("hidden", config.hidden), ("magnitude_hidden", config.magnitude_hidden)):
        if len(widths) < 2 or min(widths) < 1:
            raise DenselabError(
                f"--{name.replace('_', '-')} needs at least two positive widths, got "
                f"{' '.join(map(str, widths))}"
            )
    for name in ("epochs", "frames_per_epoch", "batch_size", "min_epochs"):
        if getattr(config, name) < 1:
            raise DenselabError(f"--{name.replace('_', '-')} must be at least 1")
    if not config.lr > 0 or config.snr_low_db > config.snr_high_db:
        raise DenselabError("--lr must be positive and --snr-low-db at most --snr-high-db")
    for name, top in (
        ("ema_decay", "1)"),
        ("dropout", "1)"),
        ("remix_fraction", "1]"),
        ("speed_share", "1]"),
    ):
        value = getattr(config, name)
        if not (0.0 <= value < 1.0 or (top == "1]" and value == 1.0)):
            raise DenselabError(f"--{name.replace('_', '-')} must be in [0, {top}, got {value}")
    if not 0.0 < config.validation_fraction < 1.0:
        raise DenselabError(
            f"--validation-fraction must be between 0 and 1, got {config.validation_fraction}"
        )
    if not 0.0 <= config.heldout_fraction < 1.0 - config.validation_fraction:
        raise DenselabError(
            f"--heldout-fraction must be in [0, 1 - validation fraction), got {config.heldout_fraction}"
        )
    if config.hf_boost_db < 0 or not config.hf_boost_hz > 0:
        raise DenselabError(
            f"--hf-boost-db must be at least 0 and --hf-boost-hz positive, got "
            f"{config.hf_boost_db} and {config.hf_boost_hz}"
        )
    if not 0.0 < config.mask_power <= 2.0:
        raise DenselabError(f"--mask-power must be in (0, 2], got {config.mask_power}")
    for name in ("frame_shifts", "denoise_grids"):
        if not 1 <= getattr(config, name) <= 64:
            raise DenselabError(
                f"--{name.replace('_', '-')} must be between 1 and 64, got {getattr(config, name)}"
            )
    if any(f <= 0 for f in (*config.speed_factors, *config.pitch_factors, *config.formant_factors)):
        raise DenselabError("--speed-factors, --pitch-factors and --formant-factors must be positive")


def _resolve_inputs(cfg: Config, runtime: Runtime) -> tuple[Path, Path, list[Path], Path | None]:
    speech = Path(runtime.data_dir) / "speech"
    clean = Path(cfg.clean) if cfg.clean else speech / SPEECH_FILES["clean"]
    noisy = Path(cfg.noisy) if cfg.noisy else speech / SPEECH_FILES["noisy"]
    if cfg.test is not None:
        tests = [Path(t) for t in cfg.test]
    else:
        tests = [speech / f for f in SPEECH_FILES["test"] if (speech / f).is_file()]
    if cfg.unseen is None:
        unseen = speech / "unseen" if (speech / "unseen").is_dir() else None
    elif cfg.unseen.lower() == "none":
        unseen = None
    else:
        unseen = Path(cfg.unseen)
        clean_files(unseen)  # fail before training, not after
    return clean, noisy, tests, unseen


def split_for(
    cfg: Config, clean: np.ndarray, noisy: np.ndarray, sr: int, truncated: int = 0, refit: bool = False
) -> Split:
    """`split_pair` with the config's fractions, speed factors, voice copies and frame grids."""
    return split_pair(
        clean,
        noisy,
        sr,
        cfg.validation_fraction,
        truncated,
        cfg.speed_factors,
        tuple((p, v) for p in cfg.pitch_factors for v in cfg.formant_factors),
        cfg.heldout_fraction,
        refit=refit,
        shifts=cfg.frame_shifts,
    )


def assignment_name(stem: str) -> str | None:
    """The assignment's name for a test file's reconstruction: test_x_01 -> test_s_01_recons.wav."""
    m = re.fullmatch(r"test_x_(\w+)", stem)
    return f"test_s_{m.group(1)}_recons.wav" if m else None


def run(config: Config, out_dir: Path, runtime: Runtime | None = None) -> dict:
    """Train (both variants with `auto`), validate, score the held-out part, compare with baselines, denoise
    the test files, run the unseen-voice check, plot."""
    from denselab.io import save_figure
    from denselab.plotting.denoise import spectrogram_figure, validation_curves_figure

    runtime = runtime or Runtime()
    out = Path(out_dir)
    validate(config)
    clean_path, noisy_path, test_paths, unseen_dir = _resolve_inputs(config, runtime)
    tests_in = [(path, *load_wav(path)) for path in test_paths]  # fail before training, not after
    clean, noisy, sr, truncated = load_pair(clean_path, noisy_path)
    t0 = time.perf_counter()
    split = split_for(config, clean, noisy, sr, truncated)
    data_seconds = (
        time.perf_counter() - t0
    )  # STFT frame grids, speed and voice copies (the vocoder: most of it)

    variants = VARIANTS if config.model_type == "auto" else (config.model_type,)
    results = {v: train_variant(v, split, config, runtime.device, runtime.quiet) for v in variants}
    chosen = max(results, key=lambda v: results[v].validation_snr_db)
    best = results[chosen]
    # `final`: the model each variant denoises with from here on. The refit has seen the validation part, so
    # validation is scored with the first fit (`results`) and everything after it with `final`.
    final = {v: r.den.to("cpu") for v, r in results.items()}
    refit = None
    if config.refit:
        whole = split_for(config, clean, noisy, sr, truncated, refit=True)
        refit = train_variant(
            chosen, whole, config, runtime.device, runtime.quiet, fixed_epochs=best.best_epoch
        )
        final[chosen] = refit.den.to("cpu")
    save_denoiser(
        out / "model.pt",
        final[chosen],
        extra={"validation_snr_db": best.validation_snr_db, "refit": refit is not None},
    )
    base = baselines(split.val_clean, split.val_noisy, split.noise_psd)

    figures, audio, per_variant = {}, {}, {}
    val_out = {v: r.validation_output for v, r in results.items()}
    held_out = (
        {v: denoise_signal(den, split.held_noisy) for v, den in final.items()}
        if len(split.held_noisy)
        else {}
    )
    for v, r in results.items():
        per_variant[v] = {
            "validation_snr_db": r.validation_snr_db,
            "widths": list(r.den.widths),
            "best_epoch": r.best_epoch,
            "epochs_run": len(r.train_loss),
            "stopped_early": r.stopped_early,
            "train_seconds": r.seconds,
            "collapse_restarts": r.collapse_restarts,
            **scores("validation", split.val_clean, split.val_noisy, val_out[v], sr),
        }
        per_variant[v]["validation_snr_db"] = r.validation_snr_db  # the EMA weights' own measurement
        if v in held_out:
            per_variant[v].update(scores("heldout", split.held_clean, split.held_noisy, held_out[v], sr))
        per_variant[v].update(train_loss=r.train_loss, validation_snr_curve=r.validation_snr_curve)
    val_audio = {"noisy": split.val_noisy, "denoised": val_out[chosen], "clean": split.val_clean}
    for name, y in val_audio.items():
        save_wav(out / f"audio/validation_{name}.wav", y, sr)
    figures["validation_spectrogram"] = "figures/validation_spectrogram.png"
    figures["validation_curves"] = "figures/validation_curves.png"
    save_figure(
        spectrogram_figure(
            [
                ("noisy input", split.val_noisy),
                (f"denoised ({chosen})", val_out[chosen]),
                ("clean reference", split.val_clean),
            ],
            sr,
            f"Validation part ({config.validation_fraction:.0%} of the training pair)",
        ),
        out / figures["validation_spectrogram"],
    )
    save_figure(
        validation_curves_figure({v: r.validation_snr_curve for v, r in results.items()}, base),
        out / figures["validation_curves"],
    )

    tests = []
    for path, y, file_sr in tests_in:
        stem = path.stem
        outs = {v: denoise_any_rate(den, y, file_sr) for v, den in final.items()}
        rel = {
            "output": f"audio/{stem}_recons.wav",
            "noisy": f"audio/{stem}_noisy.wav",
            "figure": f"figures/{stem}_spectrogram.png",
        }
        rel.update({f"output_{v}": f"audio/{stem}_recons_{v}.wav" for v in outs if len(outs) > 1})
        if assignment_name(stem):
            rel["assignment_output"] = f"audio/{assignment_name(stem)}"
        for key, y_out in (
            ("output", outs[chosen]),
            ("noisy", y),
            ("assignment_output", outs[chosen]),
            *((f"output_{v}", o) for v, o in outs.items()),
        ):
            if key in rel:
                save_wav(out / rel[key], y_out, file_sr)
        # `audio`: the clips worth a player that no other key lists, i.e. the variants not kept; the kept output's
        # copies (the assignment's file name, the per-variant name) are the same audio, listed in `tests` only
        audio.update(
            {f"{stem}_output_{v}": rel[f"output_{v}"] for v in outs if f"output_{v}" in rel and v != chosen}
        )
        save_figure(
            spectrogram_figure(
                [("noisy input", y)]
                + [(f"denoised ({v}{', kept' if v == chosen else ''})", o) for v, o in outs.items()],
                file_sr,
                f"{path.name} (no clean reference)",
            ),
            out / rel["figure"],
        )
        figures[f"{stem}_spectrogram"] = rel["figure"]
        tests.append(
            {
                "input": os.path.relpath(path.resolve(), out.resolve()),
                "source": str(path.resolve()),
                **rel,
                "seconds": len(y) / file_sr,
                "sample_rate": file_sr,
            }
        )

    unseen = None
    if unseen_dir is not None:
        for v, den in final.items():
            per_variant[v]["unseen"] = unseen_check(den, unseen_dir, noisy - clean, seed=config.seed)
        unseen = {
            "folder": str(unseen_dir.resolve()),
            "noise": f"{noisy_path.name} - {clean_path.name}",
            **per_variant[chosen]["unseen"],
        }
    summary = {
        "validation_snr_db": best.validation_snr_db,
        "validation_input_snr_db": base["noisy"],
        "validation_gain_db": best.validation_snr_db - base["noisy"],
        **{
            k: v
            for k, v in per_variant[chosen].items()
            if k.startswith(("validation_", "heldout_"))
            and k not in ("validation_snr_db", "validation_snr_curve")
        },
        "model": chosen,
        "train_seconds": sum(r.seconds for r in results.values()) + (refit.seconds if refit else 0.0),
        "data_seconds": data_seconds,
        "epochs": best.best_epoch,
        "refit": None
        if refit is None
        else {
            "variant": chosen,
            "epochs": refit.best_epoch,
            "train_seconds": refit.seconds,
            "train_frames": len(whole.clean_frames),
            "speech_frames": len(whole.speech_frames),
            "collapse_restarts": refit.collapse_restarts,
        },
        "baselines": base,
        "variants": per_variant,
        "tests": tests,
        "unseen": unseen,
        "validation_audio": {k: f"audio/validation_{k}.wav" for k in val_audio},
        "figures": figures,
        "audio": audio,
        "sample_rate": sr,
        "train_frames": len(split.clean_frames),
        "speech_frames": len(split.speech_frames),
        "validation_seconds": len(split.val_noisy) / sr,
        "heldout_seconds": len(split.held_noisy) / sr,
        "parts_seconds": {
            "heldout": [0.0, len(split.held_noisy) / sr],
            "train": [len(split.held_noisy) / sr, (len(clean) - len(split.val_noisy)) / sr],
            "validation": [(len(clean) - len(split.val_noisy)) / sr, len(clean) / sr],
        },
        "truncated_samples": truncated,
        "widths": list(best.den.widths),
        "clean": str(clean_path),
        "noisy": str(noisy_path),
    }
    summary.setdefault("heldout_snr_db", None)
    summary.setdefault("heldout_input_snr_db", None)
    write_json(out / "summary.json", summary)
    return summary


def check_inputs(config: Config, data_dir: Path) -> None:
    """DenselabError naming the first input WAV or folder that is missing; writes nothing."""
    clean, noisy, tests, unseen = _resolve_inputs(config, Runtime(data_dir=str(data_dir)))
    for path in (clean, noisy, *tests):
        if not path.is_file():
            raise MissingInput(
                f"speech recording not found: {path} (Study 2 needs {SPEECH_FILES['clean']} and "
                f"{SPEECH_FILES['noisy']} in <data-dir>/speech/, or --clean/--noisy)"
            )
