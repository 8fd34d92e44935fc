"""What Studies 3 (optim) and 4 (dropout) share: a study is a list of *jobs* (one training run each: an arm
of the study at one seed), every job writes its own atomic result file `OUT/runs/<name>.json`, and a job whose
file holds the same spec is not trained again. So a study killed at any moment resumes where it stopped, and
its jobs could be fanned out to other machines unchanged.

A job also records *why* an arm trains or not: per-layer gradient norms and activation statistics at a few
probe points (first steps, middle, end), and a per-step trace of the loss and gradient norms over the first
steps, where sigmoid + N(0, 0.01) shows vanishing gradients and ReLU under lr 1.0 shows the blow-up.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from denselab.config import Runtime
from denselab.data.mnist import load_mnist, normalize
from denselab.errors import DenselabError
from denselab.io import read_json, to_jsonable, write_json
from denselab.models.mlp import build_mlp, layer_outputs, linear_layers
from denselab.training import evaluate, fit, make_optimizer, seed_everything

# Bump when the meaning of a job's numbers changes, so old run files are not reused.
JOB_FORMAT = "denselab-arm-job/1"

# Sigmoid unit counted as saturated when its output is this close to 0 or 1 (there sigma' < 0.02).
SATURATION_MARGIN = 0.02

Data = tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


# ------------------------------------------------------------------------------------------- config checks

def check_choices(option: str, given: Sequence[str], allowed: Sequence[str]) -> None:
    """DenselabError unless `given` is a non-empty selection from `allowed`."""
    bad = [g for g in given if g not in allowed]
    if bad or not given:
        raise DenselabError(f"unknown --{option} {' '.join(bad) or '(none given)'} (choose from {' '.join(allowed)})")


def check_positive(config: Any, names: Sequence[str]) -> None:
    """DenselabError unless every named integer field of `config` is at least 1."""
    for name in names:
        value = getattr(config, name)
        if value is not None and value < 1:
            raise DenselabError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def check_subsets(config: Any) -> None:
    """DenselabError when `train_subset` or `test_subset` is negative (0 and None mean every image)."""
    for name in ("train_subset", "test_subset"):
        value = getattr(config, name)
        if value is not None and value < 0:
            raise DenselabError(f"--{name.replace('_', '-')} must be 0 (all images) or more, got {value}")


# --------------------------------------------------------------------------------------------------- data

def load_data(runtime: Runtime, train_subset: int | None, test_subset: int | None, seed: int) -> Data:
    """MNIST as normalised float tensors on `runtime.device`: ((x_train, y_train), (x_test, y_test)).

    A subset is a seeded random choice of images (the same for every arm and every run seed of a study)."""
    mnist = load_mnist(Path(runtime.data_dir) / "mnist")
    gen = torch.Generator().manual_seed(seed)

    def pick(images: torch.Tensor, labels: torch.Tensor, n: int | None):
        if n is not None and 0 < n < len(images):
            idx = torch.randperm(len(images), generator=gen)[:n].sort().values
            images, labels = images[idx], labels[idx]
        return normalize(images).to(runtime.device), labels.to(runtime.device)

    return pick(mnist.train_images, mnist.train_labels, train_subset), pick(mnist.test_images,
                                                                            mnist.test_labels, test_subset)


# ------------------------------------------------------------------------------------------------- probes

def grad_norms(model: nn.Sequential) -> list[float]:
    """L2 norm of each Linear layer's weight gradient (input layer first); NaN where there is none."""
    grads = [l.weight.grad for l in linear_layers(model)]
    if any(g is None for g in grads):
        return [float(g.norm()) if g is not None else math.nan for g in grads]
    return torch.stack([g.norm() for g in grads]).tolist()  # one device sync for all layers


@torch.no_grad()
def activation_stats(model: nn.Sequential, x: torch.Tensor, activation: str) -> dict[str, list[float]]:
    """Statistics of every hidden layer's output on the probe batch `x` (N, 784), model in eval mode.

    `mean`, `std` over units and images; sigmoid nets add `saturated` (fraction of outputs within
    SATURATION_MARGIN of 0 or 1), ReLU nets add `dead` (fraction of units that are zero for every probe image)
    and `zero` (fraction of outputs that are exactly zero)."""
    was_training = model.training
    model.eval()
    hidden = layer_outputs(model, x)[:-1]  # each (N, width); the last block's output is the logits
    model.train(was_training)
    stats: dict[str, list[float]] = {"mean": [float(a.mean()) for a in hidden],
                                     "std": [float(a.std()) for a in hidden]}
    if activation == "sigmoid":
        stats["saturated"] = [float(((a < SATURATION_MARGIN) | (a > 1 - SATURATION_MARGIN)).float().mean())
                              for a in hidden]
    if activation == "relu":
        stats["dead"] = [float((a <= 0).all(dim=0).float().mean()) for a in hidden]
        stats["zero"] = [float((a <= 0).float().mean()) for a in hidden]
    return stats


def probe_steps(total_steps: int) -> dict[int, str]:
    """0-based global steps to probe -> label: the first step, step 10, the middle and the last step."""
    points = {0: "step 1", min(9, total_steps - 1): "step 10", total_steps // 2: "middle",
              total_steps - 1: "end"}
    return dict(sorted(points.items()))


# --------------------------------------------------------------------------------------------------- jobs

def job_name(spec: dict[str, Any]) -> str:
    """File-name-safe name of a job: optimiser[-lr], activation-init, [-dropout], seed."""
    parts = [spec["optimizer"]]
    if spec.get("lr") is not None:
        parts.append(f"lr{spec['lr']:g}")
    parts += [spec["activation"], spec["init"]]
    if spec.get("dropout"):
        parts.append("dropout")
    parts.append(f"s{spec['seed']}")
    return "-".join(parts)


def _canonical(obj: Any) -> Any:
    """`obj` as it reads back from JSON (tuples -> lists, NaN -> None), for comparing specs."""
    return json.loads(json.dumps(to_jsonable(obj)))


def build_model(spec: dict[str, Any]) -> nn.Sequential:
    """The job's network: widths, activation, init (N(0, init_std) for `normal`) and per-layer input dropout."""
    return build_mlp(spec["widths"], spec["activation"], spec["init"], spec["dropout"], init_std=spec["init_std"])


def build_optimizer(spec: dict[str, Any], model: nn.Module) -> torch.optim.Optimizer:
    """The job's optimiser: `sgd` is plain SGD (no momentum, no weight decay); lr None = the torch default."""
    kwargs = {} if spec["lr"] is None else {"lr": spec["lr"]}
    return make_optimizer(spec["optimizer"], model.parameters(), **kwargs)


def train_job(spec: dict[str, Any], data: Data, runtime: Runtime, desc: str = "train") -> dict[str, Any]:
    """Train one arm at one seed as `spec` says and return its result (curves, probes, trace, divergence).

    spec keys: widths, activation, init, init_std, dropout (rate per weight layer), optimizer, lr (None =
    the optimiser's default), epochs, batch_size, seed, eval_train, probe_size, trace_steps."""
    (x_tr, y_tr), test = data
    gen = seed_everything(spec["seed"])  # init and dropout masks from the global RNG, data order from gen
    model = build_model(spec).to(runtime.device)
    optimizer = build_optimizer(spec, model)
    loss_fn = nn.functional.cross_entropy

    init_train = evaluate(model, x_tr, y_tr, loss_fn)
    init_test = evaluate(model, *test, loss_fn)
    steps_per_epoch = math.ceil(len(x_tr) / spec["batch_size"])
    points = probe_steps(spec["epochs"] * steps_per_epoch)
    probe_x = x_tr[: spec["probe_size"]]
    probes: list[dict[str, Any]] = []
    trace: dict[str, list] = {"loss": [], "grad_norm": []}
    # per-layer gradient norms of the latest step, and of the latest step where all of them were finite
    last: dict[str, Any] = {"grad_norm": [], "finite_step": None, "finite_grad_norm": []}

    def on_step(epoch: int, step: int, loss: torch.Tensor) -> None:
        # called after optimizer.step(): .grad still holds this step's gradients. Six norms per step cost
        # little next to the step itself, and the last ones are what a diverging run reports.
        g = (epoch - 1) * steps_per_epoch + step
        norms = grad_norms(model)
        last["grad_norm"] = norms
        if all(math.isfinite(n) for n in norms):
            last.update(finite_step=g + 1, finite_grad_norm=norms)
        if g < spec["trace_steps"]:
            trace["loss"].append(float(loss))
            trace["grad_norm"].append(norms)
        if g in points:
            probes.append({"label": points[g], "step": g + 1, "epoch": epoch, "loss": float(loss),
                           "grad_norm": norms,
                           "activation": activation_stats(model, probe_x, spec["activation"])})

    t0, cpu0 = time.perf_counter(), time.process_time()
    hist = fit(model, optimizer, (x_tr, y_tr), test, epochs=spec["epochs"], batch_size=spec["batch_size"],
               loss_fn=loss_fn, generator=gen, eval_train=spec["eval_train"], on_step=on_step,
               quiet=runtime.quiet, desc=desc)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
    diverged_at = None
    if hist.diverged and hist.diverged_at is not None:
        d = hist.diverged_at
        diverged_at = {**d, "global_step": (d["epoch"] - 1) * steps_per_epoch + d["step"] + 1,
                       "fractional_epoch": d["epoch"] - 1 + d["step"] / steps_per_epoch,
                       # per-layer weight-gradient norms of the step before the blow-up (null: overflowed to
                       # inf), and of the last step whose gradients were all finite
                       "last_grad_norm": last["grad_norm"], "last_finite_grad_step": last["finite_step"],
                       "last_finite_grad_norm": last["finite_grad_norm"]}
    return {
        "train_loss": hist.train_loss, "train_accuracy": hist.train_accuracy,
        "test_loss": hist.test_loss, "test_accuracy": hist.test_accuracy,
        "initial": {"train_loss": init_train[0], "train_accuracy": init_train[1],
                    "test_loss": init_test[0], "test_accuracy": init_test[1]},
        "diverged": hist.diverged, "diverged_at": diverged_at,
        "epochs_completed": hist.epochs - (1 if hist.diverged else 0),
        "steps_per_epoch": steps_per_epoch, "train_size": len(x_tr), "test_size": len(test[0]),
        "probes": probes, "trace": trace,
        # wall and CPU (all threads) seconds of the training loop; CPU time is the fairer number on a busy machine
        "epoch_seconds": hist.epoch_seconds, "train_seconds": seconds, "train_cpu_seconds": cpu_seconds,
    }


def run_jobs(specs: Sequence[dict[str, Any]], runs_dir: Path, data_fn: Callable[[], Data],
             runtime: Runtime) -> list[dict[str, Any]]:
    """Run every job not already finished in `runs_dir`; return `{"name", "spec", "result", "reused"}` per job.

    A run file is reused only when its stored spec equals the job's spec; anything else (missing, unreadable,
    another spec) is trained again. Data is loaded only if some job needs training."""
    runs_dir = Path(runs_dir)
    data: list[Data] = []
    done = []
    for i, spec in enumerate(specs, start=1):
        name = job_name(spec)
        path = runs_dir / f"{name}.json"
        stored = _read_run(path)
        if stored is not None and stored.get("spec") == _canonical(spec):
            done.append({**stored, "reused": True})
            if not runtime.quiet:
                print(f"  [{i}/{len(specs)}] {name}: finished earlier, reusing {path}", file=sys.stderr)
            continue
        if not data:
            data.append(data_fn())
        if not runtime.quiet:
            print(f"  [{i}/{len(specs)}] {name}", file=sys.stderr, flush=True)
        result = train_job(spec, data[0], runtime, desc=f"[{i}/{len(specs)}] {name}")
        record = {"format": JOB_FORMAT, "name": name, "spec": spec, "result": result}
        write_json(path, record)
        done.append({**_canonical(record), "reused": False})
    return done


def _read_run(path: Path) -> dict[str, Any] | None:
    try:
        stored = read_json(path)
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("format") != JOB_FORMAT or "result" not in stored:
        return None
    return stored


# ------------------------------------------------------------------------------------------------ summary

def last_finite(values: Sequence[float | None]) -> float | None:
    """The last entry that is a finite number (None when there is none)."""
    for v in reversed(values):
        if v is not None and math.isfinite(v):
            return float(v)
    return None


def seed_stats(values: Sequence[float | None]) -> dict[str, float | None]:
    """mean / min / max over the finite values (None when there are none)."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return {"mean": None, "min": None, "max": None, "n": 0}
    return {"mean": sum(vals) / len(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def run_entry(job: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """One `runs` item of a summary: the spec fields in `keys`, the per-epoch curves, divergence, probes and
    the traced loss of the first steps (not the traced per-step gradient norms: those stay in the run file)."""
    spec, res = job["spec"], job["result"]
    entry = {k: spec[k] for k in keys}
    entry.update({k: res.get(k) for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "diverged",
                                       "diverged_at", "initial", "epochs_completed", "steps_per_epoch",
                                       "train_size", "test_size",
                                       "train_seconds", "train_cpu_seconds", "probes")})
    entry["first_steps_loss"] = res["trace"]["loss"]
    entry["run_file"] = f"runs/{job['name']}.json"
    return entry


def grad_ratio(probe: dict[str, Any]) -> float | None:
    """Gradient norm of the first weight layer over that of the last one at one probe (None if undefined)."""
    g = probe["grad_norm"]
    if not g or g[0] is None or g[-1] is None or not g[-1]:
        return None
    return g[0] / g[-1]
