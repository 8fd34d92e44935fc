"""`denselab bench`: how close training runs to this machine's matrix-multiply limit, and how fast the studies are.

Training a fully connected net is matrix multiplication, so the yardstick is the SGEMM rate on the net's own
shapes, measured in the same process in blocks as long as the training windows and interleaved with them
(a busy machine slows both alike; each side keeps its best repetition). Everything lands in
OUT/bench.json; docs/BENCHMARKS.md explains every key.

| key | what |
|---|---|
| `peak_gflops` | SGEMM GFLOP/s on every GEMM of a Study-1 training step (forward, grad-input, grad-weight) |
| `train_gflops` | 6 x parameters x images / second of Study 1's own training code, steady state |
| `train_to_peak_ratio` | `train_gflops / peak_gflops` |
| `optim_train_to_peak_ratio`, `dropout_train_to_peak_ratio` | the same for Studies 3 and 4 (whole batched group) |
| `arm_training.<study>.group_gemm_to_peak_ratio` | the batched products of that group alone over the peak: the ratio's ceiling |
| `mnist_epochs_to_98_5`, `mnist_seconds_to_98_5` | full preset, test accuracy after each epoch (null: never) |
| `denoise_realtime_factor` | seconds of audio per second of `denoise apply` |
| `suite_seconds` | with `--suite`: wall seconds of each study's full preset and of the report |
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from denselab.config import Runtime
from denselab.data.mnist import NUM_CLASSES
from denselab.errors import DenselabError
from denselab.io import read_json, write_json
from denselab.models.mlp import build_mlp, count_parameters
from denselab.pipeline import run_study
from denselab.provenance import run_record
from denselab.registry import REGISTRY
from denselab.report import build_report

TARGET_ACCURACY = 0.985


def _log(runtime: Runtime, message: str) -> None:
    if not runtime.quiet:
        print(f"denselab bench: {message}", file=sys.stderr, flush=True)


def _sync(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


# ------------------------------------------------------------------------------------------- machine


def _cpu_info() -> tuple[str | None, int | None]:
    """(CPU model name, physical cores) from /proc/cpuinfo; (platform.processor(), None) elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or None, None
    models = re.findall(r"^model name\s*:\s*(.+)$", text, flags=re.M)
    cores = set()
    for block in text.split("\n\n"):
        phys = re.search(r"^physical id\s*:\s*(\d+)", block, flags=re.M)
        core = re.search(r"^core id\s*:\s*(\d+)", block, flags=re.M)
        if phys and core:
            cores.add((phys.group(1), core.group(1)))
    return (models[0].strip() if models else platform.processor() or None), (len(cores) or None)


def machine_facts(device: str) -> dict[str, Any]:
    """CPU, cores, threads and the math libraries torch was built with (from `torch.__config__.show()`)."""
    config = torch.__config__.show()

    def find(pattern: str) -> str | None:
        m = re.search(pattern, config)
        return m.group(1).strip() if m else None

    model, physical = _cpu_info()
    return {
        "cpu_model": model,
        "cores_logical": os.cpu_count(),
        "cores_physical": physical,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_version": torch.__version__,
        "blas": find(r"BLAS_INFO=(\w+)"),
        "blas_library": find(r"(Intel\(R\) oneAPI Math Kernel Library Version [^\n]*|OpenBLAS[^\n]*)"),
        "onednn": find(r"(Intel\(R\) MKL-DNN v[\d.]+|oneDNN v[\d.]+)"),
        "cpu_capability": find(r"CPU capability usage: (\w+)"),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if torch.device(device).type == "cuda" else None,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------------------------------- peak


def step_gemms(widths: list[int], batch: int, device: str) -> list[tuple[str, float, Callable[[], None]]]:
    """Every GEMM of one training step of a `widths` MLP at `batch`, in the layouts autograd uses for
    nn.Linear (weight stored (out, in)): forward addmm(b, x, W^T), grad-input g W, grad-weight g^T x.

    Returns (label, FLOPs, run) triples; the operands are random and the results go to preallocated
    tensors, so `run` times the multiplication only."""
    gemms = []
    for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
        x = torch.randn(batch, fan_in, device=device)
        w = torch.randn(fan_out, fan_in, device=device)
        b = torch.randn(fan_out, device=device)
        g = torch.randn(batch, fan_out, device=device)
        y, gx, gw = (
            torch.empty(batch, fan_out, device=device),
            torch.empty(batch, fan_in, device=device),
            torch.empty(fan_out, fan_in, device=device),
        )
        flops = 2.0 * batch * fan_in * fan_out
        gemms += [
            (
                f"layer {layer} forward ({batch}x{fan_in})@({fan_in}x{fan_out})",
                flops,
                lambda b=b, x=x, w=w, y=y: torch.addmm(b, x, w.t(), out=y),
            ),
            (
                f"layer {layer} grad_input ({batch}x{fan_out})@({fan_out}x{fan_in})",
                flops,
                lambda g=g, w=w, gx=gx: torch.mm(g, w, out=gx),
            ),
            (
                f"layer {layer} grad_weight ({fan_out}x{batch})@({batch}x{fan_in})",
                flops,
                lambda g=g, x=x, gw=gw: torch.mm(g.t(), x, out=gw),
            ),
        ]
    return gemms


def group_step_gemms(
    widths: list[int], batch: int, runs: int, device: str
) -> list[tuple[str, float, Callable[[], None]]]:
    """Every GEMM of one training step of `runs` `widths` MLPs trained as one group (`training.batched`: weights
    stacked (runs, in, out)): forward baddbmm(b, x, W), grad-input bmm(g, W^T), grad-weight bmm(x^T, g), none for
    the first layer's input. What the study's products alone reach on its own shapes: the ceiling of its
    training rate. Same (label, FLOPs, run) triples as `step_gemms`."""
    gemms = []
    for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
        x = torch.randn(runs, batch, fan_in, device=device)
        w = torch.randn(runs, fan_in, fan_out, device=device)
        b = torch.randn(runs, 1, fan_out, device=device)
        g = torch.randn(runs, batch, fan_out, device=device)
        y, gx, gw = (
            torch.empty(runs, batch, fan_out, device=device),
            torch.empty(runs, batch, fan_in, device=device),
            torch.empty(runs, fan_in, fan_out, device=device),
        )
        flops = 2.0 * runs * batch * fan_in * fan_out
        gemms.append(
            (f"layer {layer} forward", flops, lambda b=b, x=x, w=w, y=y: torch.baddbmm(b, x, w, out=y))
        )
        if layer > 1:
            gemms.append(
                (
                    f"layer {layer} grad_input",
                    flops,
                    lambda g=g, w=w, gx=gx: torch.bmm(g, w.transpose(1, 2), out=gx),
                )
            )
        gemms.append(
            (
                f"layer {layer} grad_weight",
                flops,
                lambda g=g, x=x, gw=gw: torch.bmm(x.transpose(1, 2), g, out=gw),
            )
        )
    return gemms


def time_gemms(
    gemms: list[tuple[str, float, Callable[[], None]]], best: dict[str, float], device: str
) -> None:
    """Time each GEMM once and keep its best time in `best` (label -> seconds): the per-shape rates."""
    for label, _, run in gemms:
        _sync(device)
        t0 = time.perf_counter()
        run()
        _sync(device)
        best[label] = min(best.get(label, math.inf), time.perf_counter() - t0)


def time_gemm_steps(gemms: list[tuple[str, float, Callable[[], None]]], steps: int, device: str) -> float:
    """Seconds for all GEMMs of `steps` training steps back to back: a block as long as a training window,
    so a busy machine disturbs the peak and the training measurement alike."""
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        for _, _, run in gemms:
            run()
    _sync(device)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------------------- train


def train_window_seconds(study, config, data, device: str, steps: int) -> float:
    """Seconds of `steps` optimiser steps of Study 1's own training code (`train_classifier`: its model,
    dropout, pixel shifts, loss, AdamW and one-cycle schedule) in steady state: a run of two epochs of
    `steps` batches each, timed over the second (the first pays allocator and thread warm-up).
    The test set is cut to 10 images, so the per-epoch test pass costs next to nothing."""
    n = steps * config.batch_size
    sub = dataclasses.replace(
        data,
        x_train=data.x_train[:n],
        y_train=data.y_train[:n],
        x_test=data.x_test[:10],
        y_test=data.y_test[:10],
    )
    _, history, _ = study.train_classifier(dataclasses.replace(config, epochs=2), sub, device, quiet=True)
    if history.diverged or len(history.epoch_seconds) < 2:
        return math.nan
    return history.epoch_seconds[1]


def measure_training(
    study, config, data, device: str, windows: int, steps: int, runtime: Runtime
) -> dict[str, Any]:
    """Interleave GEMM-peak repetitions with training windows; each keeps its best (fastest) repetition."""
    widths = [data.x_train.shape[1]] + [config.hidden_width] * config.hidden_layers + [NUM_CLASSES]
    batch = config.batch_size
    steps = max(4, steps)  # the one-cycle schedule needs a step or more in each of its phases
    if len(data.x_train) < steps * batch:
        raise DenselabError(
            f"the bench needs {steps} batches of {batch} training images; only {len(data.x_train)} are there"
        )
    gemms = step_gemms(widths, batch, device)
    best: dict[str, float] = {}
    time_gemms(gemms, best, device)  # warm-up
    best.clear()
    window_seconds, gemm_seconds = [], []
    for i in range(windows):
        _log(runtime, f"peak and training window {i + 1}/{windows}")
        time_gemms(gemms, best, device)
        gemm_seconds.append(time_gemm_steps(gemms, steps, device))
        window_seconds.append(train_window_seconds(study, config, data, device, steps))
        gemm_seconds.append(time_gemm_steps(gemms, steps, device))
    gemm_flops = sum(f for _, f, _ in gemms)
    peak = gemm_flops * steps / min(gemm_seconds) / 1e9
    params = count_parameters(study.build_classifier(config, widths[0]))
    finite = [s for s in window_seconds if math.isfinite(s)]
    step_seconds = min(finite) / steps if finite else math.nan
    train = 6.0 * params * batch / step_seconds / 1e9
    return {
        "peak_gflops": peak,
        "train_gflops": train,
        "train_to_peak_ratio": train / peak,
        "train": {
            "widths": widths,
            "batch_size": batch,
            "parameters": params,
            "flops_per_step": 6.0 * params * batch,
            "step_seconds": step_seconds,
            "steps_per_window": steps,
            "window_seconds": window_seconds,
            "recipe": {
                k: getattr(config, k)
                for k in (
                    "optimizer",
                    "lr",
                    "weight_decay",
                    "label_smoothing",
                    "input_dropout",
                    "hidden_dropout",
                    "shift_pixels",
                )
            },
        },
        "peak": {
            "gemm_step_seconds": min(gemm_seconds) / steps,
            "gemm_step_flops": gemm_flops,
            "block_seconds": gemm_seconds,
            "gemms": [{"gemm": label, "gflops": f / best[label] / 1e9} for label, f, _ in gemms],
        },
    }


# ----------------------------------------------------------------------------------- Studies 3 and 4

# the tests' tiny settings (to be replaced by a real parameter)
TINY = {
    "mnist": dict(
        hidden_layers=2,
        hidden_width=64,
        lr=1e-2,
        batch_size=64,
        train_subset=1000,
        test_subset=500,
        probe_images=200,
    ),
    "denoise": dict(
        hidden=(32, 32),
        epochs=1,
        frames_per_epoch=512,
        batch_size=64,
        speed_factors=(1.0,),
        pitch_factors=(1.0,),
        formant_factors=(1.0,),
        unseen="none",
    ),
}
ARM_STUDIES = ("optim", "dropout")
ARM_WINDOW_STEPS = {
    "optim": 24,
    "dropout": 8,
}  # batches per window epoch: seconds for the study's whole group
TINY_ARMS = {"hidden_width": 32, "hidden_layers": 2, "seeds": 1, "lr_sweep": False}


def arm_window(name: str, runtime: Runtime, seed: int, steps: int, tiny: bool = False):
    """The group the study's full preset trains together (its largest), cut to a window: 2 epochs of `steps`
    batches, test images and probe images cut in the study's own proportions (test : train images as in the
    preset; probe images per step as over the whole study), and its data. Returns (jobs, data, details)."""
    from denselab.studies import arms

    module = REGISTRY[name].module
    config = REGISTRY[name].config(
        "full",
        {"seed": seed, **({k: v for k, v in TINY_ARMS.items() if hasattr(module.Config, k)} if tiny else {})},
    )
    jobs = module.jobs(config)
    jobs = (
        [j for part in jobs for j in part] if isinstance(jobs, tuple) else jobs
    )  # optim: (main, sweep, check)
    group = max(arms.group_jobs(jobs), key=len)
    j0 = group[0]
    train_size, test_size = j0.train_subset or 60000, j0.test_subset or 10000
    study_steps = j0.epochs * math.ceil(train_size / j0.batch_size)
    n_train = steps * j0.batch_size
    n_test = max(1, round(n_train * test_size / train_size))
    probe = max(1, round(j0.probe_size * 2 * steps / study_steps))
    window = [
        dataclasses.replace(
            j,
            epochs=2,
            train_subset=n_train,
            test_subset=n_test,
            probe_size=probe,
            trace_steps=min(j.trace_steps, 2 * steps),
        )
        for j in group
    ]
    data = arms.load_data(
        runtime, dataclasses.replace(config, train_subset=n_train, test_subset=n_test), j0.input_scaling
    )
    return (
        window,
        data,
        {
            "group_size": len(group),
            "widths": list(j0.widths),
            "batch_size": j0.batch_size,
            "steps_per_window": steps,
            "train_images": n_train,
            "test_images": n_test,
            "eval_train": j0.eval_train,
            "probe_size": probe,
            "parameters": count_parameters(build_mlp(j0.widths)),
        },
    )


def arm_window_run(window, data, runtime: Runtime, parameters: int) -> tuple[float, float]:
    """(seconds, FLOPs) of the window's second epoch, trained by the study's own code (`arms.train_group`):
    6 x parameters x training images + 2 x parameters x images per evaluation pass, for the runs that did not
    diverge (a diverged run stops training in the study too)."""
    from denselab.studies import arms

    results = arms.train_group(window, data, dataclasses.replace(runtime, quiet=True))
    seconds = sum(
        r["epoch_seconds"][1] for r in results if len(r["epoch_seconds"]) > 1
    )  # shares of one epoch
    n_train, n_test = len(data[0][0]), len(data[1][0])
    per_run = parameters * (6 * n_train + 2 * n_test + (2 * n_train if window[0].eval_train else 0))
    return seconds, per_run * sum(not r["diverged"] for r in results)


def measure_arm_studies(
    result: dict[str, Any], runtime: Runtime, seed: int, windows: int, tiny: bool = False
) -> dict[str, Any]:
    """`<study>_train_to_peak_ratio` for Studies 3 and 4: the best of `windows` window runs, each between two
    more blocks of the Study-1 GEMM peak; the peak (and `train_to_peak_ratio`) is then the best of all blocks."""
    steps = result["train"]["steps_per_window"]
    gemms = step_gemms(result["train"]["widths"], result["train"]["batch_size"], runtime.device)
    blocks = result["peak"]["block_seconds"]
    details: dict[str, Any] = {}
    for name in ARM_STUDIES:
        window, data, info = arm_window(name, runtime, seed, 2 if tiny else ARM_WINDOW_STEPS[name], tiny)
        group = group_step_gemms(info["widths"], info["batch_size"], len(window), runtime.device)
        group_flops = sum(f for _, f, _ in group) * info["steps_per_window"]
        seconds, group_blocks, flops = [], [], math.nan
        for i in range(windows):
            _log(runtime, f"{name}: peak and training window {i + 1}/{windows} ({len(window)} runs batched)")
            blocks.append(time_gemm_steps(gemms, steps, runtime.device))
            group_blocks.append(time_gemm_steps(group, info["steps_per_window"], runtime.device))
            s, flops = arm_window_run(window, data, runtime, info["parameters"])
            seconds.append(s)
        blocks.append(time_gemm_steps(gemms, steps, runtime.device))
        details[name] = {
            **info,
            "window_seconds": seconds,
            "window_flops": flops,
            "gflops": flops / min(seconds) / 1e9 if min(seconds) > 0 else math.nan,
            # the group's own batched products alone, every run live: the ceiling of `gflops`
            "group_gemm_block_seconds": group_blocks,
            "group_gemm_gflops": group_flops / min(group_blocks) / 1e9,
        }
    peak = result["peak"]["gemm_step_flops"] * steps / min(blocks) / 1e9
    out = {"peak_gflops": peak, "train_to_peak_ratio": result["train_gflops"] / peak, "arm_training": details}
    out.update({f"{name}_train_to_peak_ratio": d["gflops"] / peak for name, d in details.items()})
    for d in details.values():
        d["group_gemm_to_peak_ratio"] = d["group_gemm_gflops"] / peak
    return out


def time_to_accuracy(
    study, config, data, device: str, quiet: bool, target: float = TARGET_ACCURACY
) -> dict[str, Any]:
    """Train with the full recipe; the first epoch whose test accuracy reaches `target` and the wall
    seconds up to the end of it (training plus the per-epoch test pass)."""
    _, history, seconds = study.train_classifier(config, data, device, quiet)
    reached = next((i for i, a in enumerate(history.test_accuracy) if a >= target), None)
    elapsed = list(itertools.accumulate(history.epoch_seconds))

    params = count_parameters(study.build_classifier(config, data.x_train.shape[1]))
    return {
        "mnist_epochs_to_98_5": None if reached is None else reached + 1,
        "mnist_seconds_to_98_5": None if reached is None else elapsed[reached],
        "mnist": {
            "target_accuracy": target,
            "epochs": config.epochs,
            "train_images": len(data.x_train),
            "test_images": len(data.x_test),
            "test_accuracy": history.test_accuracy,
            "epoch_seconds": history.epoch_seconds,
            "train_seconds": seconds,
            "final_test_accuracy": history.test_accuracy[-1] if history.test_accuracy else None,
            "diverged": history.diverged,
            # cross-checks of train_gflops over whole epochs, each epoch's test pass included
            "run_gflops": 6.0 * params * len(data.x_train) * history.epochs / seconds / 1e9
            if seconds
            else None,
            "best_epoch_gflops": (
                6.0 * params * len(data.x_train) / min(history.epoch_seconds) / 1e9
                if history.epoch_seconds
                else None
            ),
        },
    }


# ------------------------------------------------------------------------------------ denoise, suite


def denoise_speed(
    out: Path, runtime: Runtime, seed: int, model_path: Path | None = None, tiny: bool = False, reps: int = 3
) -> dict[str, Any]:
    """Seconds of audio denoised per second by `denoise apply` (model loading and WAV reading/writing
    included) on the test WAVs. Without `model_path`, a model of the full preset's size is trained for
    one short epoch first: the speed of applying it does not depend on how well it was trained."""
    from denselab.data.audio import load_wav
    from denselab.studies.denoise_model import apply_files

    study = REGISTRY["denoise"].module
    speech = Path(runtime.data_dir) / "speech"
    inputs = [speech / name for name in study.SPEECH_FILES["test"] if (speech / name).is_file()]
    if not inputs:
        return {"denoise_realtime_factor": None, "denoise": {"note": f"no test WAVs in {speech}"}}
    source = "given"
    if model_path is None or not Path(model_path).is_file():
        model_dir = out / "denoise-model"
        overrides = {
            "seed": seed,
            "hidden": study.Config().hidden,
            "epochs": 1,
            "model_type": "mask",
            **(TINY["denoise"] if tiny else {}),
        }
        _log(runtime, f"training a denoiser to time (1 epoch) into {model_dir}")
        try:
            run_study("denoise", "quick", overrides, model_dir, runtime, force=True)
        except DenselabError as e:
            return {"denoise_realtime_factor": None, "denoise": {"note": f"could not train a denoiser: {e}"}}
        model_path, source = model_dir / "model.pt", "trained by bench for 1 epoch, full-preset widths"
    audio_seconds = 0.0
    for path in inputs:
        y, sr = load_wav(path)
        audio_seconds += len(y) / sr
    best = math.inf
    for _ in range(reps):
        _sync(runtime.device)
        t0 = time.perf_counter()
        apply_files(
            str(model_path),
            [str(p) for p in inputs],
            out_dir=str(out / "denoised"),
            device=runtime.device,
            quiet=True,
        )
        _sync(runtime.device)
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
        _log(runtime, f"suite: {name} --preset full")
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


# ----------------------------------------------------------------------------------------------- run


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
    windows: int = 5,
    steps: int = 8,
    denoise_model: str | os.PathLike | None = None,
    _tiny: bool = False,
) -> dict[str, Any]:
    """Measure and write OUT/bench.json; print the table; return the result.

    `windows` x `steps` are the training steps timed against the GEMM peak; `denoise_model` reuses a trained
    model.pt for the denoiser timing; `_tiny` shrinks every stage to seconds with the quick preset and
    `runner.TINY` (tests; numbers meaningless)."""
    study = REGISTRY["mnist"].module
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DenselabError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    preset = "quick" if _tiny else "full"
    config = REGISTRY["mnist"].config(preset, {"seed": seed, **(TINY["mnist"] if _tiny else {})})
    if _tiny:
        windows, steps = min(windows, 2), min(steps, 4)
    result: dict[str, Any] = {"machine": machine_facts(runtime.device)}
    _log(runtime, "loading MNIST")
    data = study.load_data(config, runtime.data_dir, runtime.device)
    result.update(measure_training(study, config, data, runtime.device, windows, steps, runtime))
    # as many windows as Study 1: the peak is the best of every block, so fewer windows than blocks would bias the
    # ratios low on a machine whose speed moves from one 3-second window to the next
    result.update(measure_arm_studies(result, runtime, seed, windows, tiny=_tiny))
    _log(runtime, f"full-preset MNIST run ({config.epochs} epochs) to {TARGET_ACCURACY:.1%}")
    result.update(time_to_accuracy(study, config, data, runtime.device, runtime.quiet))
    del data
    result["suite_seconds"] = None
    if suite:
        result.update(suite_times(out, runtime, seed))
        full_model = out / "suite" / "denoise" / "model.pt"
        denoise_model = denoise_model or (full_model if full_model.is_file() else None)
    result.update(
        denoise_speed(out, runtime, seed, Path(denoise_model) if denoise_model else None, tiny=_tiny)
    )
    result["run"] = run_record("bench", config, runtime, preset)
    result["tiny"] = _tiny
    write_json(out / "bench.json", result)
    result = read_json(out / "bench.json")
    print(format_table(result))
    return result
