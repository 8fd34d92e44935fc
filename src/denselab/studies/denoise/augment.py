"""Study 2's training examples: remixes of the one training recording.

Clean frames plus noise frames (noise = noisy − clean, training part only; the STFT is linear, so this equals
mixing time-shifted signals) at random SNRs, so the net sees far more noise/speech combinations than the one
recording holds. The remixed speech also gets a random high-shelf boost above `hf_boost_hz`: the training
voice has little energy there, and without it the net learns to remove other voices' fricatives along with
the noise. Other voices are made from the one training voice: speed-perturbed copies (pitch and formants moved
together) and copies re-synthesised by the WORLD vocoder with f0 and the spectral envelope moved apart.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from denselab.data.audio import resample, spectrum, voice_copies
from denselab.studies.denoise.config import Config
from denselab.studies.denoise.data import Split, split_pair
from denselab.studies.denoise.model import REF_RMS


def speech_copies(
    s: np.ndarray, sr: int, speed_factors: tuple[float, ...], voices: tuple[tuple[float, float], ...]
) -> list[torch.Tensor]:
    """STFT frames of the perturbed copies of clean speech `s`: one per speed factor f (played f times faster:
    pitch and formants scaled by f), then one per (pitch, formant) voice (WORLD vocoder, `voice_copies`).
    Factors of 1 (no change) make no copy. The copies stay on the one STFT grid."""
    copies = [spectrum(resample(s, sr, int(round(sr / f)))) for f in speed_factors if f > 0 and f != 1.0]
    return copies + voice_copies(
        s, sr, tuple((p, v) for p, v in voices if p > 0 and v > 0 and (p, v) != (1.0, 1.0))
    )


def with_copies(split: Split, copies: list[torch.Tensor]) -> Split:
    """`split` whose speech frames (what remixing draws speech from) also hold `copies`."""
    return dataclasses.replace(split, speech_frames=torch.cat([split.clean_frames, *copies]))


def training_split(cfg: Config, clean: np.ndarray, noisy: np.ndarray, sr: int, truncated: int = 0) -> Split:
    """The pair split with the config's fractions and frame grids, plus the speed and voice copies."""
    split = split_pair(
        clean, noisy, sr, cfg.validation_fraction, truncated, cfg.heldout_fraction, cfg.frame_shifts
    )
    voices = tuple((p, v) for p in cfg.pitch_factors for v in cfg.formant_factors)
    return with_copies(split, speech_copies(split.train_clean, sr, cfg.speed_factors, voices))


def remix_draw(split: Split, cfg: Config, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """A batch's random draws, (remix, i_s, i_n, a, b), each (B,): random speech frames `i_s` plus random
    noise frames `i_n` at gains `a`, `b` for random recording SNRs at REF_RMS level; a `1 - remix_fraction`
    share (`remix` False) keeps the recorded pairing (i_n = i_s) at the recording's own SNR."""
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
    # gains for this recording SNR and a mean square of REF_RMS²: a²Ps + b²Pn = REF², a²Ps = snr·b²Pn
    a = torch.where(
        remix,
        REF_RMS * torch.sqrt(snr / ((1 + snr) * split.speech_power)),
        torch.full((B,), REF_RMS / math.sqrt(split.noisy_power)),
    )
    b = torch.where(remix, REF_RMS / torch.sqrt((1 + snr) * split.noise_power), a)
    # one draw per frame that a removed option (a random level per frame) used: drawn still, so the same
    # seed keeps giving the same batches
    torch.rand(B, generator=gen)
    return remix, i_s, i_n, a, b


def remix_batch(
    split: Split, cfg: Config, gen: torch.Generator, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy X, clean S) complex frames (B, 513) at REF_RMS level, of `remix_draw`'s frames and gains."""
    remix, i_s, i_n, a, b = remix_draw(split, cfg, gen)
    s = a[:, None].to(device) * split.speech_frames[i_s.to(split.speech_frames.device)]
    if cfg.hf_boost_db > 0:  # off draws nothing, so runs without the boost keep their batches
        s = s * speech_eq(remix, cfg, s.shape[1], split.sample_rate, gen).to(device)
    return s + b[:, None].to(device) * split.noise_frames[i_n.to(split.noise_frames.device)], s


def speech_eq(remix: torch.Tensor, cfg: Config, n_bins: int, sr: int, gen: torch.Generator) -> torch.Tensor:
    """(B, n_bins) amplitude gains for the remixed speech frames (`remix` (B,) bool; 1 elsewhere): a high
    shelf rising over ~±1 kHz around `hf_boost_hz` to a gain drawn per frame, uniform in 0..`hf_boost_db`
    dB."""
    f = torch.linspace(0.0, sr / 2, n_bins)
    db = torch.where(remix, torch.rand(len(remix), generator=gen), 0.0) * cfg.hf_boost_db
    return 10.0 ** (db[:, None] * torch.sigmoid((f - cfg.hf_boost_hz) / 500.0) / 20.0)
