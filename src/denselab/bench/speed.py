"""The denoiser's speed (`denoise apply`, x real time) and, with --suite, each study's wall time."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

from denselab.bench import studies
from denselab.bench.machine import log, sync
from denselab.config import Runtime
from denselab.errors import DenselabError
from denselab.pipeline import run_study
from denselab.registry import REGISTRY
from denselab.reporting import build_report


def _train_denoiser(out: Path, preset: str, runtime: Runtime, seed: int) -> tuple[Path | None, str]:
    """(model.pt, where it came from) of a denoiser trained for one epoch on the quick preset's data, with
    `preset`'s widths; (None, why not) when it cannot be trained."""
    model_dir = out / "denoise-model"
    overrides: dict[str, Any] = {"seed": seed, "epochs": 1, "model_type": "mask"}
    if preset == "full":
        overrides["hidden"] = REGISTRY["denoise"].config_class().hidden
    log(runtime, f"training a denoiser to time (1 epoch) into {model_dir}")
    try:
        run_study("denoise", "quick", overrides, model_dir, runtime, force=True)
    except DenselabError as e:
        return None, f"could not train a denoiser: {e}"
    return model_dir / "model.pt", f"trained by bench for 1 epoch, {preset}-preset widths"


def denoise_speed(
    out: Path, preset: str, runtime: Runtime, seed: int, model_path: Path | None = None, reps: int = 3
) -> dict[str, Any]:
    """Seconds of audio denoised per second by `denoise apply` (model loading and WAV reading/writing
    included) on the test WAVs. Without `model_path`, a model of the `preset`'s widths is trained for
    one short epoch first: the speed of applying it does not depend on how well it was trained."""
    from denselab.data.audio import load_wav

    speech = Path(runtime.data_dir) / "speech"
    names = studies.speech_files(REGISTRY["denoise"].module)["test"]
    inputs = [speech / name for name in names if (speech / name).is_file()]
    if not inputs:
        return {"denoise_realtime_factor": None, "denoise": {"note": f"no test WAVs in {speech}"}}
    source = "given"
    if model_path is None or not Path(model_path).is_file():
        model_path, source = _train_denoiser(out, preset, runtime, seed)
        if model_path is None:
            return {"denoise_realtime_factor": None, "denoise": {"note": source}}
    audio_seconds = 0.0
    for path in inputs:
        y, sr = load_wav(path)
        audio_seconds += len(y) / sr
    best = math.inf
    for _ in range(reps):
        sync(runtime.device)
        t0 = time.perf_counter()
        studies.apply_files(str(model_path), [str(p) for p in inputs], str(out / "denoised"), runtime.device)
        sync(runtime.device)
        best = min(best, time.perf_counter() - t0)
    return {
        "denoise_realtime_factor": audio_seconds / best,
        "denoise": {
            "model": str(model_path),
            "model_source": source,
            "inputs": [str(p) for p in inputs],
            "audio_seconds": audio_seconds,
            "apply_seconds": best,
            "repetitions": reps,
        },
    }


def suite_times(out: Path, runtime: Runtime, seed: int) -> dict[str, Any]:
    """Wall seconds of each study's full preset run from scratch into OUT/suite/<study>, then of the report
    (what `denselab all --preset full` does). OUT/suite is the bench's own folder and is emptied first."""
    suite = out / "suite"
    if suite.exists():
        shutil.rmtree(suite)
    seconds: dict[str, float | None] = {}
    notes = []
    for name in REGISTRY:
        log(runtime, f"suite: {name} --preset full")
        t0 = time.perf_counter()
        try:
            run_study(name, "full", {"seed": seed}, suite / name, runtime, force=True)
            seconds[name] = time.perf_counter() - t0
        except DenselabError as e:
            seconds[name] = None
            notes.append(f"{name}: {e}")
    t0 = time.perf_counter()
    build_report(suite, quiet=runtime.quiet)
    seconds["report"] = time.perf_counter() - t0
    seconds["total"] = sum(s for s in seconds.values() if s is not None)
    return {"suite_seconds": seconds, "suite_notes": notes}
