"""`denselab bench`: how close training runs to this machine's matrix-multiply limit, and how fast the
studies are.

Training a fully connected net is matrix multiplication, so the yardstick is the SGEMM rate on the net's own
shapes, measured in the same process in blocks as long as the training windows and interleaved with them
(a busy machine slows both alike; each side keeps its best repetition). Everything lands in
OUT/bench.json; docs/BENCHMARKS.md explains every key.

- `peak_gflops`: SGEMM GFLOP/s on every GEMM of a Study-1 training step (forward, grad-input, grad-weight)
- `train_gflops`: 6 x parameters x images / second of Study 1's own training code, steady state
- `train_to_peak_ratio`: `train_gflops / peak_gflops`
- `optim_train_to_peak_ratio`, `dropout_train_to_peak_ratio`: the same for Studies 3 and 4 (whole batched
  group)
- `arm_training.<study>.group_gemm_to_peak_ratio`: the batched products of that group alone over the peak:
  the ratio's ceiling
- `mnist_epochs_to_98_5`, `mnist_seconds_to_98_5`: the preset's MNIST run, test accuracy after each epoch
  (null: never)
- `denoise_realtime_factor`: seconds of audio per second of `denoise apply`
- `suite_seconds`: with `--suite`: wall seconds of each study's full preset and of the report
- `preset`: the bench preset that ran

`--preset quick` runs every measurement in minutes on the studies' quick presets (fewer windows, shorter
windows, a smaller MNIST run): a smoke run of the same code whose numbers are not comparable with `full`.
The package: `machine` (facts, logging), `gemm` (the peak), `training` (Study 1), `arm_studies` (Studies 3
and 4), `speed` (denoiser, suite), `studies` (the one place that imports study internals).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from denselab.bench.arm_studies import measure_arm_studies
from denselab.bench.gemm import group_step_gemms, step_gemms, time_gemm_steps, time_gemms
from denselab.bench.machine import log, machine_facts
from denselab.bench.speed import denoise_speed, suite_times
from denselab.bench.training import TARGET_ACCURACY, measure_training, time_to_accuracy
from denselab.config import Runtime
from denselab.errors import DenselabError
from denselab.io import read_json, write_json
from denselab.provenance import run_record
from denselab.registry import REGISTRY

__all__ = [
    "PRESETS",
    "PRESET_HELP",
    "TARGET_ACCURACY",
    "format_table",
    "group_step_gemms",
    "machine_facts",
    "run_bench",
    "step_gemms",
    "time_gemm_steps",
    "time_gemms",
    "time_to_accuracy",
]

# What each preset measures: `windows` x `steps` Study-1 training steps against the GEMM peak, and the
# batches per window epoch of Studies 3 and 4 (their whole group: seconds for each window). Each study runs
# its own preset of the same name.
PRESETS: dict[str, dict[str, Any]] = {
    "full": {"windows": 5, "steps": 8, "arm_steps": {"optim": 24, "dropout": 8}},
    "quick": {"windows": 2, "steps": 4, "arm_steps": {"optim": 2, "dropout": 2}},
}
PRESET_HELP: dict[str, str] = {
    "full": "the numbers bench.json reports: 5 timed windows per study, the full presets' nets and data, "
    "MNIST's full 5-epoch run to 98.5 %",
    "quick": "a minutes-long smoke run of the same measurements on the studies' quick presets (2 short "
    "windows, a 1-epoch MNIST run): numbers not comparable with full",
}


ROWS = [  # (key, label, format)
    ("peak_gflops", "SGEMM peak on the net's shapes (GFLOP/s)", "{:.1f}"),
    ("train_gflops", "training, steady state (GFLOP/s)", "{:.1f}"),
    ("train_to_peak_ratio", "training / peak", "{:.3f}"),
    ("optim_train_to_peak_ratio", "Study 3 training / peak (batched)", "{:.3f}"),
    ("dropout_train_to_peak_ratio", "Study 4 training / peak (batched)", "{:.3f}"),
    ("mnist_epochs_to_98_5", "MNIST epochs to 98.5 %", "{}"),
    ("mnist_seconds_to_98_5", "MNIST seconds to 98.5 %", "{:.1f}"),
    ("denoise_realtime_factor", "denoise apply (x real time)", "{:.0f}"),
]


def format_table(result: dict[str, Any]) -> str:
    """The human-readable summary printed by `denselab bench`."""
    arm = result.get("arm_training") or {}
    rows = []
    for key, label, fmt in ROWS:
        rows.append((label, "null" if result.get(key) is None else fmt.format(result[key])))
        study = key.removesuffix("_train_to_peak_ratio")
        if study in arm and arm[study].get("group_gemm_to_peak_ratio") is not None:
            rows.append(
                ("  its batched products alone / peak", f"{arm[study]['group_gemm_to_peak_ratio']:.3f}")
            )
    for name, s in (result.get("suite_seconds") or {}).items():
        rows.append((f"suite: {name} --preset full (s)", "failed" if s is None else f"{s:.0f}"))
    m = result["machine"]
    rows.append(
        (
            "machine",
            f"{m['cpu_model']}, {m['cores_physical']} cores, {m['torch_threads']} torch threads, "
            f"torch {m['torch_version']}, {m['blas']}, {m['onednn']}, {m['device']}",
        )
    )
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def run_bench(
    out_dir: str | os.PathLike,
    runtime: Runtime,
    suite: bool = False,
    seed: int = 0,
    *,
    preset: str = "full",
    denoise_model: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Measure and write OUT/bench.json; print the table; return the result.

    `preset` ("full" or "quick", see PRESETS) sets how long each measurement runs and which preset each
    study runs; `denoise_model` reuses a trained model.pt for the denoiser timing."""
    if preset not in PRESETS:
        raise DenselabError(f"unknown bench preset {preset!r} (choose from {', '.join(PRESETS)})")
    plan = PRESETS[preset]
    study = REGISTRY["mnist"].module
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DenselabError(f"--out {out} exists and is not a folder")
    config = REGISTRY["mnist"].config(preset, {"seed": seed})
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"machine": machine_facts(runtime.device)}
    log(runtime, "loading MNIST")
    data = study.load_data(config, runtime.data_dir, runtime.device)
    windows = plan["windows"]
    result.update(measure_training(study, config, data, runtime.device, windows, plan["steps"], runtime))
    # as many windows as Study 1: the peak is the best of every block, so fewer windows than blocks would bias
    # the ratios low on a machine whose speed moves from one 3-second window to the next
    result.update(measure_arm_studies(result, preset, runtime, seed, windows, plan["arm_steps"]))
    log(runtime, f"{preset}-preset MNIST run ({config.epochs} epochs) to {TARGET_ACCURACY:.1%}")
    result.update(time_to_accuracy(study, config, data, runtime.device, runtime.quiet))
    del data
    result["suite_seconds"] = None
    if suite:
        result.update(suite_times(out, runtime, seed))
        full_model = out / "suite" / "denoise" / "model.pt"
        denoise_model = denoise_model or (full_model if full_model.is_file() else None)
    model = Path(denoise_model) if denoise_model else None
    result.update(denoise_speed(out, preset, runtime, seed, model))
    result["run"] = run_record("bench", config, runtime, preset)
    result["preset"] = preset
    write_json(out / "bench.json", result)
    result = read_json(out / "bench.json")
    print(format_table(result))
    return result
