"""What Studies 3 (optim) and 4 (dropout) share: the config base `ArmConfig`, and the *jobs* a study is a
list of (`Job`: one training run, an arm of the study at one seed). Every job writes its own atomic result
file `OUT/runs/<name>.json`, and a job whose file holds the same spec is not trained again. So a study
killed at any moment resumes where it stopped, and its jobs could be fanned out to other machines unchanged.

A job also records *why* an arm trains or not: per-layer gradient norms and activation statistics at a few
probe points (first steps, middle, end), and a per-step trace of the loss and gradient norms over the first
steps, where sigmoid + N(0, 0.01²) shows vanishing gradients and ReLU under lr 1.0 shows the blow-up.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from denselab.config import Runtime
from denselab.data.mnist import MEAN, STD, load_mnist, normalize
from denselab.errors import DenselabError
from denselab.io import finite, json_roundtrip, read_json, write_json
from denselab.models.mlp import build_mlp, layer_outputs, linear_layers
from denselab.training import evaluate, fit, make_optimizer, seed_everything

# Bump when the meaning of a job's numbers changes, so old run files are not reused.
JOB_FORMAT = "denselab-arm-job/1"

# Sigmoid unit counted as saturated when its output is this close to 0 or 1 (there sigma' < 0.02).
SATURATION_MARGIN = 0.02

Data = tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


# ----------------------------------------------------------------------------------------- shared config

@dataclass(frozen=True)
class ArmConfig:
    """The settings Studies 3 and 4 share; each study subclasses it (its own defaults, arms and extras)."""

    seed: int = 0
    """One seed drives every random choice (subset, init, data order); run seeds are seed..seed+seeds-1."""
    seeds: int = 3
    """Number of seeds every run is repeated for (figures show the mean and the min-max band)."""
    arms: tuple[str, ...] = ()
    """Activation-init arms to train."""
    hidden_layers: int = 5
    """Number of hidden layers."""
    hidden_width: int = 512
    """Units per hidden layer."""
    epochs: int = 8
    """Training epochs (the same for every run)."""
    batch_size: int = 64
    """Images per optimiser step."""
    train_subset: int | None = 10000
    """Train on this many randomly chosen MNIST training images, the same ones for every run (0 or none = all 60000)."""
    test_subset: int | None = 5000
    """Test on this many randomly chosen test images (0 or none = all 10000)."""
    probe_size: int = 512
    """Training images the activation statistics are measured on."""
    trace_steps: int = 100
    """Steps at the start of each run whose loss and per-layer gradient norms are recorded one by one."""


def widths(config: ArmConfig) -> list[int]:
    """Layer widths of the study's nets: 784 pixels, `hidden_layers` x `hidden_width`, 10 classes."""
    return [784] + [config.hidden_width] * config.hidden_layers + [10]


def run_seeds(config: ArmConfig) -> list[int]:
    """The run seeds seed..seed+seeds-1."""
    return list(range(config.seed, config.seed + config.seeds))


def validate_common(config: ArmConfig, allowed_arms: Sequence[str], positive: Sequence[str] = ()) -> None:
    """The checks every arm study makes: known arms, positive sizes (plus `positive`), sane subsets."""
    check_choices("arms", config.arms, allowed_arms)
    check_positive(config, ("seeds", "epochs", "batch_size", "hidden_layers", "hidden_width", "probe_size",
                            *positive))
    check_subsets(config)


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

# Pixel scalings a study may use: "standardise" = [0, 1] then (x - 0.1307) / 0.3081, the assignment's
# `Normalize((0.1307,), (0.3081,))`; "unit" = [0, 1] only.
SCALINGS = {"standardise": (MEAN, STD), "unit": (0.0, 1.0)}


def load_data(runtime: Runtime, config: ArmConfig, scaling: str = "standardise") -> Data:
    """MNIST as normalised float tensors on `runtime.device`: ((x_train, y_train), (x_test, y_test)), pixels
    scaled as `SCALINGS[scaling]` says.

    A subset (`train_subset`, `test_subset`) is a random choice of images seeded by `config.seed`: the same
    for every arm and every run seed of a study."""
    mean, std = SCALINGS[scaling]
    mnist = load_mnist(Path(runtime.data_dir) / "mnist")
    gen = torch.Generator().manual_seed(config.seed)

    def pick(images: torch.Tensor, labels: torch.Tensor, n: int | None):
        if n is not None and 0 < n < len(images):
            idx = torch.randperm(len(images), generator=gen)[:n].sort().values
            images, labels = images[idx], labels[idx]
        return normalize(images, mean, std).to(runtime.device), labels.to(runtime.device)

    return (pick(mnist.train_images, mnist.train_labels, config.train_subset),
            pick(mnist.test_images, mnist.test_labels, config.test_subset))


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

@dataclass(frozen=True)
class Job:
    """One training run: an arm of a study at one seed. Its fields, as JSON, are the `spec` stored in the run
    file; a finished file whose spec equals the job's is reused."""

    study: str
    arm: str  # "<activation>-<init>"
    activation: str
    init: str
    init_std: float  # std of the `normal` init
    widths: tuple[int, ...]
    dropout: float | tuple[float, ...]  # input dropout rate per weight layer (0.0 = none)
    optimizer: str
    lr: float | None  # None = the optimiser's torch default
    epochs: int
    batch_size: int
    train_subset: int | None
    test_subset: int | None
    data_seed: int  # picks the image subsets (the same for every run of a study)
    seed: int  # init, data order and dropout masks
    eval_train: bool  # re-measure the training curves in eval mode after every epoch
    probe_size: int
    trace_steps: int
    input_scaling: str = "standardise"  # a key of SCALINGS

    @property
    def name(self) -> str:
        """File-name-safe name: optimiser[-lr], activation-init, [-dropout], seed."""
        parts = [self.optimizer]
        if self.lr is not None:
            parts.append(f"lr{self.lr:g}")
        parts += [self.activation, self.init]
        if self.dropout:
            parts.append("dropout")
        if self.input_scaling != "standardise":
            parts.append(self.input_scaling)
        parts.append(f"s{self.seed}")
        return "-".join(parts)

    def spec(self) -> dict[str, Any]:
        """The job as it is stored in (and read back from) its run file; the default scaling is left out, so run
        files written before the field existed are still reused."""
        spec = dataclasses.asdict(self)
        if spec["input_scaling"] == "standardise":
            del spec["input_scaling"]
        return json_roundtrip(spec)


def make_job(config: ArmConfig, study: str, arm: str, seed: int, *, optimizer: str, lr: float | None = None,
             dropout: float | tuple[float, ...] = 0.0, init_std: float = 0.01, eval_train: bool = False,
             input_scaling: str = "standardise") -> Job:
    """A job of `study` at `seed` with the shared settings (widths, epochs, batch, subsets, probes) of `config`."""
    activation, init = arm.split("-")
    return Job(study=study, arm=arm, activation=activation, init=init, init_std=init_std,
               widths=tuple(widths(config)), dropout=dropout, optimizer=optimizer, lr=lr, epochs=config.epochs,
               batch_size=config.batch_size, train_subset=config.train_subset, test_subset=config.test_subset,
               data_seed=config.seed, seed=seed, eval_train=eval_train, probe_size=config.probe_size,
               trace_steps=config.trace_steps, input_scaling=input_scaling)


def build_model(job: Job) -> nn.Sequential:
    """The job's network: widths, activation, init (N(0, init_std²) for `normal`) and per-layer input dropout."""
    return build_mlp(job.widths, job.activation, job.init, job.dropout, init_std=job.init_std)


def build_optimizer(job: Job, model: nn.Module) -> torch.optim.Optimizer:
    """The job's optimiser: `sgd` is plain SGD (no momentum, no weight decay); lr None = the torch default."""
    kwargs = {} if job.lr is None else {"lr": job.lr}
    return make_optimizer(job.optimizer, model.parameters(), **kwargs)


def train_job(job: Job, data: Data, runtime: Runtime, desc: str = "train") -> dict[str, Any]:
    """Train one arm at one seed as `job` says and return its result (curves, probes, trace, divergence)."""
    (x_tr, y_tr), test = data
    gen = seed_everything(job.seed)  # init and dropout masks from the global RNG, data order from gen
    model = build_model(job).to(runtime.device)
    optimizer = build_optimizer(job, model)
    loss_fn = nn.functional.cross_entropy

    init_train = evaluate(model, x_tr, y_tr, loss_fn)
    init_test = evaluate(model, *test, loss_fn)
    steps_per_epoch = math.ceil(len(x_tr) / job.batch_size)
    points = probe_steps(job.epochs * steps_per_epoch)
    probe_x = x_tr[: job.probe_size]
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
        if g < job.trace_steps:
            trace["loss"].append(float(loss))
            trace["grad_norm"].append(norms)
        if g in points:
            probes.append({"label": points[g], "step": g + 1, "epoch": epoch, "loss": float(loss),
                           "grad_norm": norms,
                           "activation": activation_stats(model, probe_x, job.activation)})

    t0, cpu0 = time.perf_counter(), time.process_time()
    hist = fit(model, optimizer, (x_tr, y_tr), test, epochs=job.epochs, batch_size=job.batch_size,
               loss_fn=loss_fn, generator=gen, eval_train=job.eval_train, on_step=on_step,
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


def run_jobs(jobs: Sequence[Job], runs_dir: Path, data_fn: Callable[[], Data],
             runtime: Runtime) -> list[dict[str, Any]]:
    """Run every job not already finished in `runs_dir`; return `{"name", "spec", "result", "reused"}` per job
    (the run file's record as JSON reads it back).

    A run file is reused only when its stored spec equals the job's spec; anything else (missing, unreadable,
    another spec) is trained again. Data is loaded only if some job needs training."""
    runs_dir = Path(runs_dir)
    data: list[Data] = []
    done = []
    for i, job in enumerate(jobs, start=1):
        name, spec = job.name, job.spec()
        path = runs_dir / f"{name}.json"
        stored = _read_run(path)
        if stored is not None and stored.get("spec") == spec:
            done.append({**stored, "reused": True})
            if not runtime.quiet:
                print(f"  [{i}/{len(jobs)}] {name}: finished earlier, reusing {path}", file=sys.stderr)
            continue
        if not data:
            data.append(data_fn())
        if not runtime.quiet:
            print(f"  [{i}/{len(jobs)}] {name}", file=sys.stderr, flush=True)
        result = train_job(job, data[0], runtime, desc=f"[{i}/{len(jobs)}] {name}")
        record = {"format": JOB_FORMAT, "name": name, "spec": spec, "result": result}
        write_json(path, record)
        done.append({**json_roundtrip(record), "reused": False})
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

def seed_stats(values: Sequence[float | None]) -> dict[str, float | None]:
    """mean / min / max over the finite values (None when there are none)."""
    vals = [float(v) for v in values if finite(v)]
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
