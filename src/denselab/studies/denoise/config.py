"""Study 2's settings: what a user chooses (`Config`), the presets, the default input files and the check of
option values. The modules of the study import their settings from here (the package's `__init__` imports
them, so they cannot import it back)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from denselab.errors import DenselabError


@dataclass(frozen=True)
class Config:
    """Speech denoising with a fully connected net on STFT magnitude frames."""

    seed: int = 0
    """One seed drives every random choice (init, remixing, batch order, the unseen check's noise offsets)."""
    clean: str | None = None
    """Clean training WAV [default: <data-dir>/speech/train_clean_male.wav]."""
    noisy: str | None = None
    """Noisy training WAV, the same speech plus noise [default: <data-dir>/speech/train_dirty_male.wav]."""
    test: tuple[str, ...] | None = None
    """Noisy WAVs to denoise into audio/<stem>_recons.wav [default: test_x_01.wav, test_x_02.wav when
    present]."""
    model_type: Literal["auto", "mask", "magnitude"] = "auto"
    """Which net: mask (bounded mask on |X|), magnitude (regress |S|), auto = train both, keep the better on
    validation."""
    hidden: tuple[int, ...] = (1024, 1024)
    """Hidden layer widths of the mask net (at least two)."""
    magnitude_hidden: tuple[int, ...] = (512, 512)
    """Hidden layer widths of the literal magnitude net (at least two)."""
    epochs: int = 20
    """Maximum epochs (an epoch is `frames_per_epoch` remixed frames)."""
    frames_per_epoch: int = 32768
    """Training frames drawn per epoch (remixing makes new ones from the training part's frames)."""
    batch_size: int = 256
    """Frames per mini-batch."""
    lr: float = 1e-3
    """Adam learning rate (cosine-decayed to 5 % over `epochs`)."""
    patience: int = 3
    """Early stopping: stop after this many epochs without a better validation SNR (best weights are kept)."""
    min_epochs: int = 6
    """Early stopping never stops before this epoch (the validation SNR can stall for a while and then climb
    again)."""
    validation_fraction: float = 0.1
    """Fraction at the end of the training pair held out for validation: early stopping and the choice of
    variant (contiguous)."""
    heldout_fraction: float = 0.05
    """Fraction at the start of the training pair held out as a test part, scored once at the end
    (contiguous; 0 = none)."""
    frame_shifts: int = 4
    """Training frames are taken on this many STFT frame grids, each shifted by hop/frame_shifts samples (1 =
    the one grid of the test-time STFT): more distinct frames of the same speech and noise."""
    remix_fraction: float = 0.8
    """Fraction of training frames that pair speech with a random noise frame at a random SNR (rest: as
    recorded)."""
    snr_low_db: float = -5.0
    """Lowest SNR of a remixed frame's recording (speech power / noise power over the training part)."""
    snr_high_db: float = 20.0
    """Highest SNR of a remixed frame's recording."""
    speed_factors: tuple[float, ...] = (0.85, 0.92, 1.08, 1.17, 1.3, 1.45, 1.6, 1.8)
    """Speed-perturbed copies of the clean training speech for remixing (other pitches: voices never heard; 1
    = none)."""
    pitch_factors: tuple[float, ...] = (0.85, 1.3, 1.7, 2.1)
    """Voice copies: the clean training speech re-synthesised by the WORLD vocoder with f0 x each factor, the
    duration kept (other voices; 1 with formant factor 1 = none)."""
    formant_factors: tuple[float, ...] = (1.0, 1.15)
    """Formant (vocal-tract length) factors of the voice copies: each pitch factor is combined with each (> 1
    moves the spectral envelope up)."""
    speed_share: float = 0.7
    """Share of remixed frames whose speech comes from the perturbed copies (speed and voice copies, drawn
    alike by frame)."""
    ema_decay: float = 0.99
    """Validate and keep an exponential moving average of the weights with this decay per step (0 = off)."""
    features: Literal["log", "linear"] = "linear"
    """Input of the magnitude variant: standardised log(|X| + eps), or |X| itself scaled to unit mean (the
    mask always uses log)."""
    loss: Literal["mse", "seglog"] = "seglog"
    """Training loss of the mask: mse = squared error over all bins and frames; seglog = mean over frames of
    log10 of each frame's error energy (segmental SNR: quiet and loud frames weigh alike). The magnitude
    variant always uses the assignment's MSE."""
    hf_boost_db: float = 12.0
    """Remixed speech gets a random high-shelf gain of 0..this many dB above `hf_boost_hz` (the training
    voice is dull up there; other voices' fricatives are not)."""
    hf_boost_hz: float = 3000.0
    """Corner frequency of that high shelf (Hz; the gain rises over about +-1 kHz around it)."""
    mask_power: float = 0.9
    """The mask variant denoises with mask**mask_power (trained with power 1; < 1 removes less where the net
    is unsure: more of unseen voices kept)."""
    denoise_grids: int = 4
    """Denoising averages the outputs on this many STFT frame grids, each hop/denoise_grids samples later
    (cycle spinning; the per-epoch validation curve uses one grid; 1 = one STFT)."""
    unseen: str | None = None
    """Folder of clean speech for the check on voices never heard, run after training [default: <data-
    dir>/speech/unseen when present; 'none' = skip]."""


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

PRESET_HELP: dict[str, str] = {
    "full": "up to 20 epochs, plus what the assignment does not ask for: both variants (mask, magnitude), "
    "the better one kept, noise remixed at random SNRs, speed and WORLD voice copies of the training voice, "
    "a high-shelf EQ, 4 frame grids, the segmental log loss for the mask, weight averaging (EMA) with early "
    "stopping, cycle spinning over 4 grids and mask power 0.9 when denoising",
    "quick": "the full recipe on 256-wide nets for 3 epochs of 4096 frames: minutes, numbers below full's",
}

SPEECH_FILES = {
    "clean": "train_clean_male.wav",
    "noisy": "train_dirty_male.wav",
    "test": ("test_x_01.wav", "test_x_02.wav"),
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def validate(config: Config) -> None:
    """Reject option values that cannot work, with a one-line DenselabError (before anything is written;
    input files are `check_inputs`'s)."""
    for name, widths in (("hidden", config.hidden), ("magnitude_hidden", config.magnitude_hidden)):
        if len(widths) < 2 or min(widths) < 1:
            raise DenselabError(
                f"{_flag(name)} needs at least two positive widths, got {' '.join(map(str, widths))}"
            )
    for name in ("epochs", "frames_per_epoch", "batch_size", "min_epochs"):
        if getattr(config, name) < 1:
            raise DenselabError(f"{_flag(name)} must be at least 1")
    if not config.lr > 0 or config.snr_low_db > config.snr_high_db:
        raise DenselabError("--lr must be positive and --snr-low-db at most --snr-high-db")
    for name, top in (("ema_decay", "1)"), ("remix_fraction", "1]"), ("speed_share", "1]")):
        value = getattr(config, name)
        if not (0.0 <= value < 1.0 or (top == "1]" and value == 1.0)):
            raise DenselabError(f"{_flag(name)} must be in [0, {top}, got {value}")
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
            raise DenselabError(f"{_flag(name)} must be between 1 and 64, got {getattr(config, name)}")
    if any(f <= 0 for f in (*config.speed_factors, *config.pitch_factors, *config.formant_factors)):
        raise DenselabError("--speed-factors, --pitch-factors and --formant-factors must be positive")
