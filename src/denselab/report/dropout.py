"""Problem 4's section: sigmoid + Xavier and ReLU + He, each without and with dropout. The verdicts (`overfits`,
with the study's `overfit_threshold`) and the per-arm numbers are the study's (`arms` in summary.json)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from denselab.report.cells import (
    Cell,
    Study,
    code,
    code_that_ran,
    explain,
    failed_runs,
    figures,
    heading,
    md,
    opening,
    other_figures,
)
from denselab.report.fmt import (
    SRIVASTAVA,
    arm_name,
    finite,
    names,
    num,
    pct,
    plural,
    points,
    quick_note,
    stat,
)
from denselab.report.optim_text import INIT_FORMULAS

TITLE = "Problem 4 — Dropout"

Q = {
    "4.1": "For this one you will train four network instances with the same network architecture. Let's use a "
    "larger one this time, to maximize the effect of dropout: 1024 × 5. [...]\n\n(a) sigmoid, Xavier, no "
    "dropout; (b) sigmoid, Xavier, with dropout rate 0.2 for the first layer and 0.5 for the other hidden "
    "layers; (c) ReLU, He, no dropout; (d) ReLU, He, with dropout rate 0.2 for the first layer and 0.5 for "
    "the other hidden layers",
    "4.3": "Note that you apply dropout to the *input* of each layer (i.e. the output of its previous layer). "
    "[...] Let's just use the pre-implemented Adam optimizer with the default setup this time.",
    "4.5": "Don't worry if your graphs are slightly different from mine. We will give a full mark if your graphs "
    "show the same trend.",
}

CAPTIONS = {
    "dropout_curves": "Train (solid) and test (dashed) loss and accuracy per epoch, without and with dropout",
    "dropout_probes": "Per-layer gradient norms and activation statistics, without and with dropout",
}

FORMULAS = (
    r"""Dropout multiplies the input of a layer by a random mask during training,
$$\tilde h = \frac{1}{1 - p}\, m \odot h, \qquad m_j \sim \mathrm{Bernoulli}(1 - p),$$
and leaves it alone at test time ($\tilde h = h$; the $1/(1-p)$ keeps the expected activation the same). Each
step trains a different thinned network, so no unit can rely on particular others; the full net at test time
acts like an average of those thinned networks ("""
    + SRIVASTAVA
    + """). Theory therefore predicts a smaller gap
between training and test performance with dropout, at the price of slower fitting of the training set.
Overfitting shows as a growing gap between the training curve (solid) and the test curve (dashed), and as a test
loss that rises after its minimum."""
)

DESCRIBED = {
    "seed",
    "seeds",
    "arms",
    "hidden_layers",
    "hidden_width",
    "input_dropout",
    "hidden_dropout",
    "epochs",
    "batch_size",
    "train_subset",
    "test_subset",
    "probe_size",
    "trace_steps",
}


def method(cfg: Mapping[str, Any], summary: Mapping[str, Any] | None = None) -> str:
    s = summary or {}
    arms = names(
        [arm_name({"activation": a, "init": i}) for a, i in (x.split("-") for x in cfg.get("arms") or [])]
    )
    seeds = cfg.get("seeds", 1)
    seed_list = ", ".join(str(cfg.get("seed", 0) + i) for i in range(seeds or 1))
    train = s.get("train_size") or cfg.get("train_subset")
    train_words = (
        f"a fixed random {num(train)} of the 60 000 training images (the same for every run: a small "
        f"set lets the nets without dropout overfit within a few epochs)"
        if cfg.get("train_subset")
        else "all 60 000 training images"
    )
    test_words = (
        f"a fixed random {num(s.get('test_size') or cfg.get('test_subset'))} test images"
        if cfg.get("test_subset")
        else "all 10 000 test images"
    )
    return (
        f"*Recipe (from `config.json`).* The net is $784 \\to {cfg.get('hidden_layers')} \\times "
        f"{cfg.get('hidden_width')} \\to 10$, arms {arms}, each without dropout and with dropout rate "
        f"{num(cfg.get('input_dropout'))} on the first layer's input (the pixels) and "
        f"{num(cfg.get('hidden_dropout'))} on the input of every later layer, output layer included. Adam at "
        f"torch's defaults (learning rate 0.001), cross-entropy loss, {plural(cfg.get('epochs'), 'epoch')}, "
        f"mini-batches of {num(cfg.get('batch_size'))}, {train_words}, tested on {test_words}, pixels "
        f"standardised as in Problem 3; "
        f"{plural(seeds, 'seed')} per arm ({seed_list}). Train and test loss and accuracy are both measured "
        f"after every "
        f"epoch with dropout switched off, so the two curves compare the same network. Gradient norms and "
        f"activation statistics are measured on {num(cfg.get('probe_size'))} training images, the first "
        f"{num(cfg.get('trace_steps'))} steps one by one."
    )


def gap(summary: Mapping[str, Any], record: Mapping[str, Any] | None = None) -> str:
    """Which arm overfits (the study's verdict), and what dropout changes; against what theory predicts."""
    rows = [a for a in summary.get("arms") or [] if isinstance(a, Mapping)]
    if not rows:
        return "The summary holds no per-arm results (`arms`)."
    limit = summary.get("overfit_threshold")
    pairs: dict[tuple, dict[bool, Mapping[str, Any]]] = defaultdict(dict)
    for a in rows:
        pairs[(a.get("activation"), a.get("init"))][bool(a.get("dropout"))] = a
    out = []
    if finite(limit):
        out.append(
            f"The study calls a run *overfitting* when its final test loss ends more than {pct(limit, 0)} "
            f"above its lowest value (mean over seeds).\n"
        )
    for (act, init), arms in pairs.items():
        line = [f"- **{arm_name({'activation': act, 'init': init})}**: "]
        for drop in (False, True):
            a = arms.get(drop)
            if a is None:
                line.append(f"no run {'with' if drop else 'without'} dropout. ")
                continue
            tr, te = stat(a.get("final_train_accuracy")), stat(a.get("final_test_accuracy"))
            line.append(f"{'with' if drop else 'without'} dropout train {pct(tr)} vs test {pct(te)}")
            g = stat(a.get("final_gap_accuracy"))
            if g is not None:
                line.append(f" (gap {'+' if g >= 0 else '−'}{points(g)})")
            rise, epochs = stat(a.get("test_loss_rise")), a.get("min_test_loss_epoch") or []
            if rise is not None:
                line.append(
                    f", test loss {pct(rise, 0)} above its minimum at the end"
                    + (
                        f" (lowest at epoch {epochs[0]})"
                        if len(epochs) == 1
                        else f" (lowest at epochs {names([str(e) for e in epochs])}, one per seed)"
                        if epochs
                        else ""
                    )
                )
            line.append(f", **{'overfits' if a.get('overfits') else 'does not overfit'}**")
            line.append("; " if not drop else ". ")
        off, on = arms.get(False), arms.get(True)
        if off and on:
            g_off, g_on = stat(off.get("final_gap_accuracy")), stat(on.get("final_gap_accuracy"))
            if g_off is not None and g_on is not None:
                if abs(g_on - g_off) < 0.01:
                    line.append("Dropout leaves the accuracy gap about the same")
                elif g_on < g_off:
                    line.append(
                        f"Dropout shrinks the accuracy gap by {points(g_off - g_on)}, as theory predicts"
                    )
                else:
                    line.append(
                        f"Dropout does not shrink the accuracy gap here ({points(g_on - g_off)} wider), "
                        f"unlike what theory predicts"
                    )
            t_off, t_on = stat(off.get("final_test_accuracy")), stat(on.get("final_test_accuracy"))
            if t_off is not None and t_on is not None:
                line.append(
                    f"; test accuracy is {points(t_on - t_off)} {'higher' if t_on >= t_off else 'lower'} "
                    f"with dropout."
                )
                tr_on = stat(on.get("final_train_accuracy"))
                if tr_on is not None and tr_on < t_off:
                    line.append(
                        f" With dropout the net still underfits (its train accuracy, {pct(tr_on)}, is "
                        f"below the test accuracy without dropout): a smaller gap here comes partly from "
                        f"learning less, not only from generalising better."
                    )
        out.append("".join(line).strip())
    overfit = [arm_name(a) for a in rows if a.get("overfits") and not a.get("dropout")]
    tamed = [
        arm_name(a)
        for a in rows
        if a.get("dropout")
        and not a.get("overfits")
        and (pairs[(a.get("activation"), a.get("init"))].get(False) or {}).get("overfits")
    ]
    out.append(
        "\n**The trend.** "
        + (
            f"Without dropout {names(overfit)} overfit{'s' if len(overfit) == 1 else ''}; "
            + (
                f"with dropout {names(tamed)} no longer {'does' if len(tamed) == 1 else 'do'}."
                if tamed
                else "dropout does not remove the overfitting within these epochs."
            )
            if overfit
            else "No arm without dropout overfits by the study's rule within these epochs, so this run cannot show "
            "dropout preventing it; compare the gaps above instead."
        )
    )
    return "\n".join(out) + quick_note(record)


RUNS_TABLE = """\
dropout = load("dropout")
table(["arm", "seeds", "train accuracy", "test accuracy", "gap (points)", "test-loss rise", "overfits (the study's)"],
      [[a.get("label"), len(a.get("seeds") or []), pct((a.get("final_train_accuracy") or {}).get("mean")),
        pct((a.get("final_test_accuracy") or {}).get("mean")),
        num(100 * (a.get("final_gap_accuracy") or {}).get("mean"), "", 2)
        if (a.get("final_gap_accuracy") or {}).get("mean") is not None else "—",
        pct((a.get("test_loss_rise") or {}).get("mean")), "yes" if a.get("overfits") else "no"]
       for a in dropout.get("arms") or []])"""


def cells(study: Study) -> list[Cell]:
    out = opening(study, TITLE, FORMULAS + "\n\n" + INIT_FORMULAS, method, DESCRIBED)
    if study.summary is None:
        return out
    s = study.summary
    out += [
        heading("4.1–4.2", "Four networks, without and with dropout", question=Q["4.1"]),
        *code_that_ran(study, "4.2"),
    ]
    out += [
        heading("4.3–4.4", "Dropout on each layer's input, Adam at its defaults", question=Q["4.3"]),
        *code_that_ran(study, "4.3"),
        *figures(study, ["dropout_curves"], CAPTIONS, "training-curve"),
        md("Last epoch of every arm (means over seeds; the verdict is the one the study wrote):"),
        code(RUNS_TABLE),
        *failed_runs(study),
    ]
    out += [
        heading("4.5", "The trend", question=Q["4.5"]),
        explain(gap, s, study.record, label="Answer."),
        *figures(study, ["dropout_probes"], CAPTIONS),
    ]
    return out + other_figures(study, CAPTIONS)
