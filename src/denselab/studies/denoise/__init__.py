"""Study 2: speech denoising with a fully connected net on STFT magnitude frames.

Input |X| and target |S| are frames of `librosa.stft(y, n_fft=1024, hop_length=512)` (513 bins, one frame per
example; computed with the identical `torch.stft`). The net is `build_mlp` with ReLU hidden layers and a
nonnegative output, in two variants (`model.py`):

- `magnitude`: the assignment's literal regression, |Ŝ| = softplus(net(|X| / scale)) · scale, MSE against |S|
  (scale = mean clean magnitude; the output bias starts at each bin's mean |S|, so the net cannot start in
  softplus's flat zero region, and an all-zero output is detected and restarts training);
- `mask`: a bounded mask from log-compressed |X|, |Ŝ| = sigmoid(net(standardised log(|X| + eps))) ⊙ |X|,
  trained against the phase-sensitive target |S|·cos(∠S − ∠X), whose squared error equals the complex STFT
  error of the reconstruction with the noisy phase (what the time-domain SNR measures).

Every signal is scaled to one RMS before the STFT and back afterwards (level invariance). The training pair
is cut in time (`data.py`): the first `heldout_fraction` is a held-out test part, scored once at the end; the
last `validation_fraction` is the validation part, never trained on, on which early stopping and the choice of
variant are made (`train.py`). Training examples are remixes of the training part's speech and noise, with
speed and WORLD voice copies of the training voice and a high-shelf EQ (`augment.py`). The training part's
frames are taken on `frame_shifts` STFT frame grids, and denoising averages the outputs on `denoise_grids`
grids (cycle spinning, `model.denoise_signal`). After training, the kept model is scored against the classic
baselines and on voices it never heard, mixed with noise it never trained on (`evaluate.py`).

Modules: `config` (settings), `data`, `augment`, `model`, `train`, `evaluate`, `outputs` (files a run writes),
`commands` (`denoise apply` / `denoise eval`).
"""

from __future__ import annotations

import time
from pathlib import Path

from denselab.config import Runtime
from denselab.studies.denoise.config import PRESET_HELP, PRESETS, SPEECH_FILES, Config, validate
from denselab.studies.denoise.data import check_files, resolve_inputs

__all__ = ["PRESETS", "PRESET_HELP", "SPEECH_FILES", "Config", "check_inputs", "run", "validate"]


def check_inputs(config: Config, data_dir: Path) -> None:
    """A one-line DenselabError naming the first input that is missing or not readable audio (the training
    pair, which must share a rate and a length, the test files, the unseen folder's files); writes nothing."""
    check_files(config, resolve_inputs(config, Path(data_dir)))


def run(config: Config, out_dir: Path, runtime: Runtime | None = None) -> dict:
    """Train (both variants with `auto`), keep the better on validation, save model.pt, score the validation
    and held-out parts against the baselines, denoise the test files, run the unseen-voice check, write
    summary.json (returned)."""
    # the training code is imported here, not at the top: `denoise apply` and `denoise eval` import this
    # package too, and start without it
    from denselab.data.audio import load_wav
    from denselab.data.speech_metrics import pesq_available
    from denselab.io import write_json
    from denselab.studies.denoise import evaluate, outputs
    from denselab.studies.denoise.augment import training_split
    from denselab.studies.denoise.data import clean_files, load_pair
    from denselab.studies.denoise.model import save_denoiser
    from denselab.studies.denoise.train import train_variants

    runtime = runtime or Runtime()
    out = Path(out_dir)
    validate(config)
    inputs = resolve_inputs(config, Path(runtime.data_dir))
    if inputs.unseen is not None:
        clean_files(inputs.unseen)  # fail before training, not after
    tests_in = [(path, *load_wav(path)) for path in inputs.tests]
    clean, noisy, sr, truncated = load_pair(inputs.clean, inputs.noisy)
    t0 = time.perf_counter()
    split = training_split(config, clean, noisy, sr, truncated)
    data_seconds = time.perf_counter() - t0  # STFT frame grids, speed and voice copies (mostly the vocoder)

    results = train_variants(split, config, runtime.device, runtime.quiet)
    chosen = max(results, key=lambda v: results[v].validation_snr_db)
    models = {v: r.den.to("cpu") for v, r in results.items()}
    pair = {  # where the parts lie that the model never trained on (`denoise eval` draws noise from them)
        "clean": str(inputs.clean.resolve()),
        "noisy": str(inputs.noisy.resolve()),
        "samples": len(clean),
        "heldout_end": split.heldout_end,
        "validation_start": split.validation_start,
    }
    extra = {"validation_snr_db": results[chosen].validation_snr_db}
    save_denoiser(out / "model.pt", models[chosen], pair, extra=extra)

    base = evaluate.baselines(split.val_clean, split.val_noisy, split.noise_psd)
    per_variant = evaluate.score_variants(results, split)
    validation_audio, figures = outputs.validation_outputs(out, split, results, chosen, base, config)
    tests, audio, test_figures = outputs.denoise_test_files(out, tests_in, models, chosen)
    if inputs.unseen is not None:
        name = f"{inputs.noisy.name} - {inputs.clean.name}"
        checks, shared = evaluate.unseen_for_run(
            models, inputs.unseen, noisy - clean, split, name, config.seed
        )
        for v, result in checks.items():
            per_variant[v]["unseen"] = {**shared, **result}
    summary = {
        **outputs.score_fields(results, chosen, base, per_variant),
        "data_seconds": data_seconds,
        "tests": tests,
        "unseen": per_variant[chosen].get("unseen"),
        "pesq_available": pesq_available(),
        "validation_audio": validation_audio,
        "figures": {**figures, **test_figures},
        "audio": audio,
        "sample_rate": sr,
        "training_pair": outputs.training_pair(out, clean, noisy, sr),
        **outputs.split_fields(split, config, len(clean)),
        "clean": str(inputs.clean),
        "noisy": str(inputs.noisy),
    }
    write_json(out / "summary.json", summary)
    return summary
