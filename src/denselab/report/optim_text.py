"""Problem 3's prose: the method from config.json; which arm trains, diverges or stays stuck (the study's
verdicts, `arms[*].outcome`, with its thresholds), set against what theory predicts, and why (the probes)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from denselab.report.fmt import (
    GLOROT,
    HE,
    arm_name,
    finite,
    mean,
    names,
    num,
    optimizer_name,
    pct,
    plural,
    quick_note,
    sci,
    stat,
)

VERDICT_LABELS = {
    "learns": "learns",
    "learns slowly": "learns slowly",
    "stuck": "stuck near chance",
    "diverged": "diverged (non-finite loss)",
}
# the activation's effect on the variance a layer passes on: ReLU zeroes half of a symmetric input; the
# sigmoid's slope is at most 1/4, so it scales the variance of a small signal by at most 1/16
ACT_FACTOR = {"relu": 0.5, "sigmoid": 1 / 16}

INIT_FORMULAS = (
    r"""Every weight matrix $W \in \mathbb{R}^{n_\text{out} \times n_\text{in}}$ starts from a zero-mean
Gaussian, biases from zero; the initialisers differ only in the variance:
$$\text{N}(0, \sigma^2):\ \mathrm{Var}(W_{ij}) = \sigma^2, \qquad
\text{Xavier:}\ \mathrm{Var}(W_{ij}) = \frac{2}{n_\text{in} + n_\text{out}}, \qquad
\text{He:}\ \mathrm{Var}(W_{ij}) = \frac{2}{n_\text{in}}.$$
A layer multiplies the variance of its input by about $g = n_\text{in} \mathrm{Var}(W_{ij}) \cdot c$, with
$c = \tfrac12$ for ReLU and $c \le \tfrac1{16}$ for the sigmoid's slope; the same factor applies to the gradients
on the way back. Xavier makes $n_\text{in}\mathrm{Var}(W_{ij}) \approx 1$, keeping the variance of a linear or
tanh-like layer constant ("""
    + GLOROT
    + r"""); He makes $g = 1$ for ReLU ("""
    + HE
    + ")."
)

DESCRIBED = {
    "seed",
    "seeds",
    "arms",
    "optimizers",
    "hidden_layers",
    "hidden_width",
    "init_std",
    "sgd_lr",
    "epochs",
    "batch_size",
    "train_subset",
    "test_subset",
    "lr_sweep",
    "sweep_lrs",
    "sweep_seeds",
    "probe_size",
    "trace_steps",
    "input_scaling",
    "scaling_check",
}


def method(cfg: Mapping[str, Any], summary: Mapping[str, Any] | None = None) -> str:
    s = summary or {}
    arms = [a.split("-") for a in cfg.get("arms") or []]
    arm_words = names([arm_name({"activation": a, "init": i}, cfg.get("init_std", 0.01)) for a, i in arms])
    opts = []
    for o in cfg.get("optimizers") or []:
        opts.append(
            f"plain SGD at learning rate {num(cfg.get('sgd_lr'))} (no momentum, no weight decay, no schedule)"
            if o == "sgd"
            else "Adam at torch's defaults (learning rate 0.001, β = (0.9, 0.999))"
            if o == "adam"
            else o
        )
    train = s.get("train_size") or cfg.get("train_subset")
    test = s.get("test_size") or cfg.get("test_subset")
    train_words = (
        f"a fixed random {num(train)} of the 60 000 training images (the same for every run)"
        if cfg.get("train_subset")
        else "all 60 000 training images"
    )
    test_words = (
        f"a fixed random {num(test)} test images" if cfg.get("test_subset") else "all 10 000 test images"
    )
    scaling = cfg.get("input_scaling")
    pixels = (
        "pixels in [0, 1]"
        if scaling == "unit"
        else "pixels scaled to [0, 1] and standardised with the MNIST training set's mean 0.1307 and standard "
        "deviation 0.3081 (the assignment's `Normalize((0.1307,), (0.3081,))`)"
    )
    seeds = cfg.get("seeds", 1)
    out = (
        f"*Recipe (from `config.json`).* The net is $784 \\to {cfg.get('hidden_layers')} \\times "
        f"{cfg.get('hidden_width')} \\to 10$ with the arms {arm_words} (N(0, σ²) with σ = "
        f"{num(cfg.get('init_std'))}), each trained with {names(opts)}. Every run uses the cross-entropy loss, "
        f"{plural(cfg.get('epochs'), 'epoch')}, mini-batches of {num(cfg.get('batch_size'))} in an order set "
        f"by the run's seed (the same for every arm at that seed), {train_words}, tested on {test_words}, {pixels}, and "
        f"{plural(seeds, 'seed')} ({', '.join(str(cfg.get('seed', 0) + i) for i in range(seeds or 1))}). "
        f"A run whose loss becomes non-finite is stopped and marked *diverged*. Per-layer gradient norms and "
        f"activation statistics (the sigmoid's saturated fraction, the ReLU's dead fraction) are measured on "
        f"{num(cfg.get('probe_size'))} training images at a few steps, and the loss and gradient norms of each of "
        f"the first {num(cfg.get('trace_steps'))} steps are kept."
    )
    if cfg.get("lr_sweep"):
        out += (
            f" Beyond the assignment, every arm is also trained under plain SGD at learning rates "
            f"{num(cfg.get('sweep_lrs'))} ({plural(cfg.get('sweep_seeds'), 'seed')})."
        )
    else:
        out += " No learning-rate sweep was run."
    if cfg.get("scaling_check") and "sgd" in (cfg.get("optimizers") or []):
        other = "pixels in [0, 1]" if scaling not in ("unit",) else "standardised pixels"
        out += (
            f" Also beyond the assignment, every arm is trained under plain SGD at learning rate "
            f"{num(cfg.get('sgd_lr'))} with {other} ({plural(cfg.get('sweep_seeds'), 'seed')}), to see which "
            f"verdict depends on the input scaling, which the assignment leaves open."
        )
    else:
        out += " The input-scaling check was not run."
    return out


def gain(init: str, activation: str, width: int, init_std: float) -> float:
    """Theory's per-layer variance factor g = n Var(W) c for a square layer of `width` units."""
    var = {"normal": init_std**2, "xavier": 2 / (2 * width), "he": 2 / width}.get(init, float("nan"))
    return width * var * ACT_FACTOR.get(activation, 1.0)


# why theory expects what it expects, per (activation, init); {g} and {gd} are filled in from the config
REASONS = {
    (
        "sigmoid",
        "normal",
    ): "g ≈ {g} per layer, {gd} through the net: the part of each layer's output that depends "
    "on the input, and the gradient, vanish",
    ("sigmoid", "xavier"): "Xavier keeps n Var(W) = 1, but the sigmoid's slope (at most ¼) still shrinks the "
    "gradient at every layer (g ≈ {g}); Glorot & Bengio (2010) saw such nets learn, slowly, "
    "after their top layer's saturation wears off",
    ("relu", "normal"): "g ≈ {g} per layer, {gd} through the net: signals and gradients vanish",
    (
        "relu",
        "xavier",
    ): "g = ½ per layer, {gd} through the net: the signal shrinks but survives at this depth "
    "(He et al. (2015) show Xavier stalling ReLU nets only at about 30 layers)",
    ("relu", "he"): "g = 1: the variance is kept layer after layer, the design goal of He et al. (2015)",
}


def prediction(arm: Mapping[str, Any], width: int, depth: int, init_std: float) -> str:
    """Theory's reason for an arm's expected behaviour, with g computed for this width, depth and σ."""
    g = gain(arm.get("init"), arm.get("activation"), width, init_std)
    reason = REASONS.get((arm.get("activation"), arm.get("init")), "g ≈ {g} per layer")
    return reason.format(g=sci(g), gd=sci(g**depth))


def arm_rows(summary: Mapping[str, Any], key: str = "arms") -> list[Mapping[str, Any]]:
    rows = summary.get(key) if key == "arms" else (summary.get("lr_sweep") or {}).get("arms")
    return [a for a in rows or [] if isinstance(a, Mapping)]


def thresholds(summary: Mapping[str, Any]) -> str:
    t = summary.get("thresholds") if isinstance(summary.get("thresholds"), Mapping) else {}
    stuck, learned = t.get("stuck_below_test_accuracy"), t.get("learns_from_test_accuracy")
    if not (finite(stuck) and finite(learned)):
        return "The study's verdicts (its thresholds are not in this summary):"
    return (
        f"The study's verdicts, from the final test accuracy (mean over the seeds that did not diverge): "
        f"*learns* from {pct(learned, 0)}, *stuck near chance* below {pct(stuck, 0)} (chance is 10 %), "
        f"*learns slowly* in between, *diverged* when every seed's loss became non-finite."
    )


def _phrase(a: Mapping[str, Any], std: float) -> str:
    name = arm_name(a, std)
    if a.get("outcome") == "diverged":
        at = (a.get("diverged_at") or [None])[0]
        return f"{name}" + (
            f" (step {at['global_step']}, epoch {at['epoch']})"
            if isinstance(at, Mapping) and at.get("global_step") is not None
            else ""
        )
    acc = a.get("final_test_accuracy") or {}
    text = f"{name} {pct(stat(acc))}"
    if finite(acc.get("min")) and finite(acc.get("max")) and acc["max"] - acc["min"] >= 0.001:
        text += f" ({pct(acc['min'])}–{pct(acc['max'])} over seeds)"
    if a.get("diverged_seeds"):
        text += f" ({a['diverged_seeds']} of {len(a.get('seeds') or [])} seeds diverged)"
    return text


def outcomes(summary: Mapping[str, Any], record: Mapping[str, Any] | None = None) -> str:
    """Which arm trains, which diverges, which stays stuck, per optimiser; against theory's prediction."""
    arms = arm_rows(summary)
    if not arms:
        return "The summary holds no per-arm verdicts (`arms`)."
    std = summary.get("init_std", 0.01)
    widths = summary.get("widths") or [784, 512, 512, 512, 512, 512, 10]
    width, depth = widths[1], len(widths) - 2
    out = [thresholds(summary), ""]
    by_opt: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for a in arms:
        by_opt[(a.get("optimizer"), a.get("lr"))].append(a)
    for (opt, lr), group in by_opt.items():
        verdicts: dict[str, list[str]] = defaultdict(list)
        for a in group:
            verdicts[a.get("outcome")].append(_phrase(a, std))
        out.append(
            f"- **{optimizer_name(opt, lr)}** — "
            + "; ".join(f"{VERDICT_LABELS.get(k, k)}: {names(v)}" for k, v in verdicts.items())
            + "."
        )
    out.append(
        f"\n**What theory predicts.** With {width} units per layer and {depth} hidden layers, the "
        f"per-layer variance factor $g$ of the formula above gives, per arm:"
    )
    seen = {}
    for a in arms:
        seen.setdefault((a.get("activation"), a.get("init")), a)
    for a in seen.values():
        out.append(f"- {arm_name(a, std)}: {prediction(a, width, depth, std)}.")
    out.append(
        "\nTheory speaks about whether gradients reach the first layers; it says nothing about whether a "
        "step of lr × gradient is *stable*: that depends on the curvature of the loss, which the learning "
        "rate, the batch size and the scale of the input set. Adam divides each weight's step by the "
        "running RMS of its gradient (Kingma & Ba 2015), so its steps are about its learning rate whatever "
        "the gradient's scale: it should train every arm whose gradient has not vanished entirely."
    )
    agree, differ = [], []
    for a in arms:
        want, got = a.get("expected"), a.get("outcome")
        if want is None:
            continue
        if got == want or (want == "learns" and got == "learns slowly"):
            agree.append(a)
        else:
            differ.append(a)
    if agree or differ:
        text = [
            f"\n**Measured against that.** The study records, per arm, what this argument expects "
            f"(`expected`: stuck for the N(0, σ²) arms under plain SGD, learns otherwise). "
            f"{len(agree)} of {len(agree) + len(differ)} arms behave as expected"
        ]
        slow = [a for a in agree if a.get("outcome") == "learns slowly" and a.get("expected") == "learns"]
        if slow:
            text.append(
                " (counting as learning "
                + "; ".join(
                    f"{arm_name(a, std)} under {optimizer_name(a.get('optimizer'), a.get('lr'))}, which learns slowly: "
                    f"{pct((a.get('final_test_accuracy') or {}).get('mean'))} after the last epoch"
                    for a in slow
                )
                + ")"
            )
        if differ:
            text.append(
                "; these do not: "
                + "; ".join(
                    f"{arm_name(a, std)} under {optimizer_name(a.get('optimizer'), a.get('lr'))} "
                    f"{VERDICT_LABELS.get(a.get('outcome'), a.get('outcome'))} where it is expected to "
                    f"{'learn' if a.get('expected') == 'learns' else 'stay ' + str(a.get('expected'))}"
                    for a in differ
                )
            )
            if any(a.get("outcome") == "diverged" for a in differ):
                text.append(
                    ". A divergence is the learning rate's doing, not the initialisation's: the gradients "
                    "were large enough to learn from, and the step was too long (see the sweep and the "
                    "input-scaling check below)"
                )
        out.append("".join(text) + ".")
    sgd = {(a.get("activation"), a.get("init")): a for a in arms if a.get("optimizer") == "sgd"}
    rescued = [
        arm_name(a, std)
        for a in arms
        if a.get("optimizer") == "adam"
        and a.get("outcome") in ("learns", "learns slowly")
        and sgd.get((a.get("activation"), a.get("init")), {}).get("outcome") in ("stuck", "diverged")
    ]
    if rescued:
        out.append(
            f"\nAdam trains {names(rescued)}, which {'does' if len(rescued) == 1 else 'do'} not learn under "
            f"plain SGD."
        )
    out.append(quick_note(record))
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------- why: probes


def _probe(run: Mapping[str, Any], *labels: str) -> Mapping[str, Any] | None:
    probes = [p for p in run.get("probes") or [] if isinstance(p, Mapping)]
    for label in labels:
        if label == "last" and probes:
            return probes[-1]
        for p in probes:
            if p.get("label") == label:
                return p
    return None


def _layer_mean(runs: Sequence[Mapping[str, Any]], labels: Sequence[str], getter) -> list[float | None]:
    lists = [getter(p) for p in (_probe(r, *labels) for r in runs) if p is not None]
    lists = [l for l in lists if isinstance(l, list) and l]
    if not lists:
        return []
    return [mean(l[i] for l in lists if i < len(l)) for i in range(max(map(len, lists)))]


def run_trace(run: Mapping[str, Any], folder: Path | None) -> list[float | None]:
    """Largest per-layer weight-gradient norm at each traced step, from the run's own file (`run_file`)."""
    if folder is None or not run.get("run_file"):
        return []
    try:
        steps = json.loads((Path(folder) / run["run_file"]).read_text())["result"]["trace"]["grad_norm"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [
        max((v for v in step if finite(v)), default=None) if isinstance(step, list) else None
        for step in steps
    ]


def diagnosis(runs: Sequence[Mapping[str, Any]], folder: Path | None = None) -> str:
    """Why one arm trains or not, from its recorded gradient norms, activation statistics and loss trace."""
    act = runs[0].get("activation")
    out = []
    g1 = _layer_mean(runs, ("step 1", "last"), lambda p: p.get("grad_norm"))
    if len(g1) >= 2 and finite(g1[0]) and finite(g1[-1]) and g1[-1] > 0:
        ratio = g1[0] / g1[-1]
        out.append(
            f"at step 1 the weight-gradient norm is {sci(g1[0])} at the first layer and {sci(g1[-1])} at "
            f"the output layer (ratio {sci(ratio)})"
        )
        if ratio < 1e-2:
            out.append(" — the gradient **vanishes** on its way back to the input")
        elif ratio > 1e2:
            out.append(" — the gradient **grows** on its way back to the input")
    std1 = _layer_mean(runs, ("step 1", "last"), lambda p: (p.get("activation") or {}).get("std"))
    if std1 and finite(std1[-1]) and std1[-1] < 1e-2:
        out.append(
            f"; the last hidden layer's outputs hardly vary (std {sci(std1[-1])}), so the output barely "
            f"depends on the input"
        )
    key, what = {
        "sigmoid": ("saturated", "of the sigmoid outputs of hidden layer {} are saturated"),
        "relu": ("dead", "of the units of hidden layer {} are **dead** (zero for every probe image)"),
    }.get(act, (None, ""))
    late = (
        _layer_mean(runs, ("end", "middle", "last"), lambda p: (p.get("activation") or {}).get(key))
        if key
        else []
    )
    good = [(v, i) for i, v in enumerate(late) if finite(v)]
    if good and max(good)[0] > 0.05:
        out.append(f"; by the end {pct(max(good)[0], 0)} " + what.format(max(good)[1] + 1))
    diverged = [r for r in runs if r.get("diverged")]
    if diverged:
        r = diverged[0]
        at = r.get("diverged_at") or {}
        out.append(
            f"; the loss became non-finite at step {at.get('global_step', '?')} (epoch {at.get('epoch', '?')})"
        )
        grads = [g for g in run_trace(r, folder) if finite(g)]
        if len(grads) >= 2 and max(grads) > 10 * grads[0]:
            out.append(
                f" after the largest layer-gradient norm grew from {sci(grads[0])} to {sci(max(grads))}"
            )
        if r.get("optimizer") == "sgd" and finite(r.get("lr")):
            out.append(
                f" — plain SGD moves the weights by {r['lr']:g} × the gradient, so one large step makes the "
                f"next gradient larger still and the steps **explode**"
            )
    text = "".join(out).strip("; ")
    return text[0].upper() + text[1:] + "." if text else "No gradient statistics were recorded."


def why(summary: Mapping[str, Any], folder: Path | None = None) -> str:
    """Per arm: why it trains or not (the study's verdict beside the probes' evidence)."""
    runs = [r for r in summary.get("runs") or [] if isinstance(r, Mapping)]
    if not any(r.get("probes") for r in runs):
        return "The runs hold no gradient or activation statistics (`probes`)."
    verdict = {
        (a.get("optimizer"), a.get("lr"), a.get("activation"), a.get("init")): a.get("outcome")
        for a in arm_rows(summary)
    }
    groups: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for r in runs:
        groups[(r.get("optimizer"), r.get("lr"), r.get("activation"), r.get("init"))].append(r)
    std = summary.get("init_std", 0.01)
    out = [
        "Per arm (means over seeds), from the gradient norms and activation statistics recorded during "
        "training:\n"
    ]
    for key, rs in groups.items():
        out.append(
            f"- **{arm_name(rs[0], std)}, {optimizer_name(key[0], key[1])}** "
            f"({VERDICT_LABELS.get(verdict.get(key), verdict.get(key) or 'no verdict')}): "
            f"{diagnosis(rs, folder)}"
        )
    return "\n".join(out)


def sweep(summary: Mapping[str, Any]) -> str:
    """Beyond the assignment: which arms learn under SGD at which learning rate (the study's verdicts)."""
    rows = arm_rows(summary, "sweep") + [a for a in arm_rows(summary) if a.get("optimizer") == "sgd"]
    if not arm_rows(summary, "sweep"):
        return "The summary holds no learning-rate sweep."
    std = summary.get("init_std", 0.01)
    by_lr: dict[Any, list[str]] = defaultdict(list)
    best: dict[str, tuple[float, Any]] = {}
    for a in sorted(rows, key=lambda a: a.get("lr") or 0):
        name = arm_name(a, std)
        acc = stat(a.get("final_test_accuracy"))
        by_lr[a.get("lr")].append(
            f"{name} {VERDICT_LABELS.get(a.get('outcome'), a.get('outcome'))}"
            + (f" ({pct(acc)})" if acc is not None and a.get("outcome") != "diverged" else "")
        )
        if a.get("outcome") in ("learns", "learns slowly") and (acc or 0) > best.get(name, (-1, None))[0]:
            best[name] = (acc or 0, a.get("lr"))
    out = [f"- **SGD, lr {lr:g}**: " + "; ".join(v) + "." for lr, v in by_lr.items()]
    if best:
        out.append(
            "\nBest learning rate of each arm that learns at all: "
            + "; ".join(f"{n} at lr {lr:g} ({pct(a)})" for n, (a, lr) in best.items())
            + "."
        )
    never = sorted({arm_name(a, std) for a in rows} - set(best))
    if never:
        out.append(f"{names(never)} {'learns' if len(never) == 1 else 'learn'} at none of these rates.")
    return "\n".join(out)


SCALING_WORDS = {"standardise": "standardised pixels", "unit": "pixels in [0, 1]"}


def scaling(summary: Mapping[str, Any]) -> str:
    """Beyond the assignment: the SGD arms under both input scalings; which conclusion depends on the choice."""
    block = summary.get("scaling") if isinstance(summary.get("scaling"), Mapping) else {}
    rows = [a for a in block.get("arms") or [] if isinstance(a, Mapping)]
    if not rows:
        return "The summary holds no input-scaling check."
    std = summary.get("init_std", 0.01)
    by_arm: dict[tuple, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for a in rows:
        by_arm[(a.get("activation"), a.get("init"), a.get("lr"))][str(a.get("input_scaling"))] = a
    out, depends, holds = [], [], []
    for (act, init, lr), per in by_arm.items():
        name = arm_name({"activation": act, "init": init}, std)
        parts = [
            f"{SCALING_WORDS.get(k, k)}: {VERDICT_LABELS.get(a.get('outcome'), a.get('outcome'))}"
            + (f" ({pct(stat(a.get('final_test_accuracy')))})" if a.get("outcome") != "diverged" else "")
            for k, a in per.items()
        ]
        out.append(f"- **{name}, SGD lr {num(lr)}** — " + "; ".join(parts) + ".")
        verdicts = {
            ("learns" if a.get("outcome") == "learns slowly" else a.get("outcome")) for a in per.values()
        }
        (depends if len(verdicts) > 1 else holds).append(name)
    default = SCALING_WORDS.get(block.get("default"), block.get("default") or "standardised pixels")
    out.append(
        f"\nThe assignment leaves the input scaling open; the main runs above use {default}. "
        + (
            f"The verdict of {names(depends)} depends on that choice: it is a statement about lr "
            f"{num(rows[0].get('lr'))} *with this input scale*, not about the initialisation alone. "
            if depends
            else "No verdict changes with the scaling. "
        )
        + (
            f"The verdict{'s' if len(holds) > 1 else ''} of {names(holds)} "
            f"hold{'' if len(holds) > 1 else 's'} under both."
            if holds
            else ""
        )
    )
    return "\n".join(out)
