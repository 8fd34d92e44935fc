"""Explanations written from the measured numbers.

Every function takes a study's `summary.json` (and its `config.json` record) and returns Markdown whose
numbers are inserted from those files and whose conclusions are chosen by them: the same code says "meets
the 98.5 % bar" for one run and "is 3.1 points short" for another. Missing optional keys drop the sentence
that needs them; nothing here trains or loads a model.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

# Thresholds the text uses to name what it sees; each one is quoted in the sentence that applies it.
SEPARATED = 0.90      # k-NN accuracy in a 2-D embedding from which we call the classes "separated"
# Study 3's verdicts (the optim study writes its own into summary["thresholds"], which win): final test
# accuracy below STUCK = stuck near chance (0.1), from LEARNED on = learns, in between = learns slowly.
STUCK = 0.2
LEARNED = 0.9
MNIST_TARGET = 0.985  # the assignment's bar for Problem 1
GENERALISATION_TARGET_DB = 8.0  # average gain on speech the denoiser never heard
SNR_TARGET_DB = 12.0  # issue 4's validation target for the full preset

ACTIVATION_NAMES = {"sigmoid": "sigmoid", "relu": "ReLU", "tanh": "tanh"}
INIT_NAMES = {"normal": "N(0, 0.01²)", "xavier": "Xavier", "he": "He"}
OPTIMIZER_NAMES = {"sgd": "plain SGD", "adam": "Adam"}
BASELINE_NAMES = {"spectral_subtraction": "spectral subtraction", "wiener": "the Wiener filter"}


# ----------------------------------------------------------------------------------------------- numbers

def finite(x: Any) -> bool:
    """A real, finite number (JSON null, strings and NaN are not)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def pct(x: Any, digits: int = 1) -> str:
    """0.9731 -> '97.3 %'; missing -> 'n/a'."""
    return f"{100 * x:.{digits}f} %" if finite(x) else "n/a"


def points(x: float) -> str:
    """A difference of two fractions in percentage points: 0.031 -> '3.1 points'."""
    return f"{100 * abs(x):.1f} points"


def db(x: Any) -> str:
    return f"{x:.1f} dB" if finite(x) else "n/a"


def last_finite(values: Any) -> float | None:
    """The last finite entry of a per-epoch list (entries after a divergence are null)."""
    if not isinstance(values, list):
        return values if finite(values) else None
    good = [v for v in values if finite(v)]
    return good[-1] if good else None


def mean(values: Iterable[Any]) -> float | None:
    good = [v for v in values if finite(v)]
    return statistics.fmean(good) if good else None


def names(items: Sequence[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def arm_name(run: Mapping[str, Any]) -> str:
    act = ACTIVATION_NAMES.get(run.get("activation"), str(run.get("activation")))
    init = INIT_NAMES.get(run.get("init"), str(run.get("init")))
    return f"{act} + {init}"


def first_key(mapping: Mapping[str, Any] | None, *keys: str) -> Any:
    """The value of the first of `keys` present (and not null) in `mapping`."""
    for key in keys:
        if isinstance(mapping, Mapping) and mapping.get(key) is not None:
            return mapping[key]
    return None


def preset_of(record: Mapping[str, Any] | None) -> str | None:
    return record.get("preset") if isinstance(record, Mapping) else None


def quick_note(record: Mapping[str, Any] | None) -> str:
    if preset_of(record) == "quick":
        return (" These numbers come from the **quick** preset (a subset of the data, one or two epochs): a smoke "
                "run of the same code, not the assignment's settings; `--preset full` gives the real ones.")
    return ""


# ----------------------------------------------------------------------------------------------- Problem 1

def mnist_classifier(summary: Mapping[str, Any], record: Mapping[str, Any] | None = None) -> str:
    acc = summary.get("test_accuracy")
    if not finite(acc):
        return "The summary holds no test accuracy."
    config = (record or {}).get("config") or {}
    shape = f"{config.get('hidden_layers', 5)} × {config.get('hidden_width', 1024)}"
    out = [f"The {shape} network reached **{pct(acc, 2)}** test accuracy"]
    if summary.get("epochs") is not None:
        out.append(f" after {summary['epochs']} epoch{'s' if summary['epochs'] != 1 else ''}")
    if finite(summary.get("train_seconds")):
        device = (record or {}).get("device")
        out.append(f" ({summary['train_seconds']:.0f} s of training{' on ' + device if device else ''})")
    out.append(". ")
    if acc >= MNIST_TARGET:
        out.append(f"That meets the assignment's {pct(MNIST_TARGET)} bar with "
                   f"{points(acc - MNIST_TARGET)} to spare.")
    else:
        out.append(f"That is {points(MNIST_TARGET - acc)} short of the assignment's {pct(MNIST_TARGET)} bar.")
    out.append(quick_note(record))
    return "".join(out)


def _separated_from(layer_names: list[str], acc: list[Any], threshold: float) -> str | None:
    """The first representation from which every deeper one reaches `threshold`."""
    start = None
    for i in range(len(acc) - 1, -1, -1):
        if finite(acc[i]) and acc[i] >= threshold:
            start = i
        else:
            break
    return layer_names[start] if start is not None else None


def mnist_embeddings(summary: Mapping[str, Any], n_classes: int = 10) -> str:
    layers = [l for l in summary.get("layers") or [] if isinstance(l, Mapping)]
    if not layers:
        return "The summary holds no per-layer k-NN accuracies."
    names_ = [str(l.get("name")) for l in layers]
    tsne = [l.get("knn_accuracy_2d_tsne") for l in layers]
    pca = [l.get("knn_accuracy_2d_pca") for l in layers]
    chance = 1 / n_classes
    out = [f"A 5-nearest-neighbour classifier, cross-validated inside each 2-D embedding, measures how well the "
           f"classes separate there (chance is {pct(chance, 0)}). "]
    if finite(tsne[0]) and finite(pca[0]):
        out.append(f"In the raw pixels it scores {pct(tsne[0])} in the t-SNE map and {pct(pca[0])} in the PCA "
                   f"plane")
        if tsne[0] - pca[0] > 0.15:
            out.append(": t-SNE, which keeps local neighbourhoods, already finds most class clusters, while the "
                       "two directions of largest pixel variance mix them. ")
        else:
            out.append(". ")
    for label, acc in (("t-SNE", tsne), ("PCA", pca)):
        good = [(a, n) for a, n in zip(acc, names_) if finite(a)]
        if not good:
            continue
        best_acc, best_name = max(good)
        start = _separated_from(names_, acc, SEPARATED)
        if start is None:
            out.append(f"In the {label} maps no representation reaches {pct(SEPARATED, 0)} k-NN accuracy "
                       f"(best {pct(best_acc)} at `{best_name}`). ")
        elif start == names_[0]:
            out.append(f"In the {label} maps every representation, raw pixels included, stays at or above "
                       f"{pct(SEPARATED, 0)}. ")
        else:
            out.append(f"In the {label} maps the classes are separated (k-NN ≥ {pct(SEPARATED, 0)}) from "
                       f"**`{start}`** on, and the best is {pct(best_acc)} at `{best_name}`. ")
        # (change, from, to) between consecutive representations
        steps = [(b - a, names_[i], names_[i + 1]) for i, (a, b) in enumerate(zip(acc, acc[1:]))
                 if finite(a) and finite(b)]
        if steps and max(steps)[0] > 0.02:
            gain, frm, to = max(steps)
            out.append(f"The largest step up in the {label} accuracy is from `{frm}` to `{to}` (+{points(gain)}). ")
        if steps and min(steps)[0] < -0.02:
            drop, frm, to = min(steps)
            out.append(f"The {label} accuracy falls by {points(drop)} from `{frm}` to `{to}`. ")
    if finite(tsne[0]) and finite(tsne[-1]):
        if tsne[-1] < tsne[0] - 0.02:
            out.append(f"Depth does not help here: the output layer separates the classes less well than the raw "
                       f"pixels ({pct(tsne[-1])} against {pct(tsne[0])} by t-SNE), so this network has not yet "
                       f"learned a representation that sorts the classes")
            acc = summary.get("test_accuracy")
            out.append(f" — consistent with its test accuracy of {pct(acc)}. " if finite(acc) else ". ")
        elif tsne[-1] > tsne[0] + 0.02:
            out.append(f"Depth helps: by t-SNE the classes go from {pct(tsne[0])} separable in the raw pixels to "
                       f"{pct(tsne[-1])} at the output. ")
    if finite(pca[0]) and finite(pca[-1]) and pca[-1] - pca[0] > 0.1:
        out.append(f"PCA is linear, so its rise from {pct(pca[0])} to {pct(pca[-1])} says that the network "
                   f"makes the classes more separable along a few straight directions — what the linear softmax "
                   f"layer at the end needs. ")
    return "".join(out).strip()


def grid_rows(grid: Any) -> list[dict[str, Any]]:
    """One dict per grid row — {"unit", "count", "purity", "majority_class", "shown_purity"} — from a grid
    summary {"units" (optional), "counts", "rows": [per-row dicts]}; "unit" is the unit's index in its layer."""
    if not isinstance(grid, Mapping):
        return []
    counts = grid.get("counts") if isinstance(grid.get("counts"), list) else []
    rows = [dict(r) for r in grid.get("rows") or [] if isinstance(r, Mapping)] or [{"count": c} for c in counts]
    units = grid.get("units") if isinstance(grid.get("units"), list) else []
    for i, row in enumerate(rows):
        row["unit"] = units[i] if i < len(units) else row.get("unit", i)
        if row.get("count") is None and i < len(counts):
            row["count"] = counts[i]
    return rows


def find_grid(summary: Mapping[str, Any], which: str) -> Any:
    """The summary entry describing the output or penultimate grid, whatever its exact key."""
    for key, value in summary.items():
        if which in key.lower() and "grid" in key.lower() and isinstance(value, (Mapping, list)):
            return value
    return None


def _purities(rows: list[dict[str, Any]]) -> list[float]:
    return [r["purity"] for r in rows if finite(r.get("purity")) and (r.get("count") or 0) > 0]


def mnist_output_grid(summary: Mapping[str, Any]) -> str:
    grid = find_grid(summary, "output")
    rows = grid_rows(grid)
    if not rows:
        return "The summary holds no per-row counts for the output grid."
    counts = [int(r.get("count") or 0) for r in rows]
    n = sum(counts) + int((grid or {}).get("unassigned") or 0 if isinstance(grid, Mapping) else 0)
    lo, hi = min(range(len(rows)), key=counts.__getitem__), max(range(len(rows)), key=counts.__getitem__)
    out = [f"Each of the {n} probe images goes to its most probable output unit. The units win between "
           f"{counts[lo]} (unit {rows[lo]['unit']}) and {counts[hi]} (unit {rows[hi]['unit']}) images"]
    short = [str(r["unit"]) for r, c in zip(rows, counts) if 0 < c < 10]
    empty = [str(r["unit"]) for r, c in zip(rows, counts) if c == 0]
    if short or empty:
        out.append("; " + "; ".join(
            part for part in (f"unit{'s' if len(short) != 1 else ''} {names(short)} win{'s' if len(short) == 1 else ''} "
                              f"fewer than ten (short row{'s' if len(short) != 1 else ''})" if short else "",
                              f"unit{'s' if len(empty) != 1 else ''} {names(empty)} win{'s' if len(empty) == 1 else ''} "
                              f"none (empty row{'s' if len(empty) != 1 else ''}): the net never predicts "
                              f"{'those classes' if len(empty) != 1 else 'that class'} for these images"
                              if empty else "") if part) + ". ")
    else:
        out.append(", so every row is full. ")
    wrong = [f"unit {r['unit']} (mostly class {r['majority_class']})" for r in rows
             if (r.get("count") or 0) > 0 and r.get("majority_class") is not None and r["majority_class"] != r["unit"]]
    if wrong:
        out.append(f"Output unit k stands for class k, yet {names(wrong)} {'wins' if len(wrong) == 1 else 'win'} "
                   f"mostly images of another class: a systematic confusion. ")
    pur = _purities(rows)
    if pur:
        worst = min((r for r in rows if finite(r.get("purity"))), key=lambda r: r["purity"])
        out.append(f"On average {pct(statistics.fmean(pur))} of a unit's images belong to its most common class "
                   f"(lowest: unit {worst['unit']}, {pct(worst['purity'])})")
        probe = summary.get("probe")
        if isinstance(probe, Mapping) and finite(probe.get("accuracy")):
            out.append(f"; the net classifies {pct(probe['accuracy'])} of these images correctly")
        out.append(". ")
        shown = [r for r in rows if finite(r.get("shown_purity")) and (r.get("count") or 0) > 0]
        bad = [r for r in shown if r["shown_purity"] < 0.5]
        if shown and not bad:
            out.append(f"The ten images shown per row are the ones the net is surest about, and "
                       f"{pct(statistics.fmean(r['shown_purity'] for r in shown), 0)} of them (on average) belong "
                       f"to the row's most common class: clean, typical examples; the mistakes sit lower in each "
                       f"row.")
        elif bad:
            units = names([f"unit {r['unit']}" for r in bad])
            out.append(f"Even among the ten most confident images, {units} "
                       f"show{'s' if len(bad) == 1 else ''} mostly other classes (fewer than half of them belong to the "
                       f"row's most common class): the net is confidently wrong there.")
    return "".join(out)


def mnist_penultimate(summary: Mapping[str, Any]) -> str:
    grid = find_grid(summary, "penult")
    rows = grid_rows(grid)
    if not rows:
        return "The summary holds no per-row counts for the penultimate grid."
    k = len(rows)
    counts = [int(r.get("count") or 0) for r in rows]
    unassigned = int(grid.get("unassigned") or 0) if isinstance(grid, Mapping) else 0
    n = sum(counts) + unassigned
    full = sum(c >= 10 for c in counts)
    empty = sum(c == 0 for c in counts)
    short = k - full - empty
    top = max(range(k), key=counts.__getitem__)
    units = [str(r["unit"]) for r in rows]
    out = [f"The {k} randomly chosen units of the last hidden layer (#{', #'.join(units)}) split the {n} probe "
           f"images {', '.join(map(str, counts))}"]
    if unassigned:
        out.append(f", and {unassigned} images ({pct(unassigned / n, 0)}) go to no row because all {k} units "
                   f"are silent (zero after the ReLU) for them")
    out.append(f": {full} row{'s' if full != 1 else ''} full, {short} short (1–9 images) and {empty} empty. "
               f"Unit #{units[top]} is the largest for {counts[top]} images ({pct(counts[top] / n if n else None, 0)}). ")
    pur = _purities(rows)
    out_pur = _purities(grid_rows(find_grid(summary, "output")))
    if pur:
        out.append(f"The share of a row's images in its most common class averages {pct(statistics.fmean(pur), 0)} "
                   f"over the non-empty rows (range {pct(min(pur), 0)}–{pct(max(pur), 0)})")
        if out_pur:
            out.append(f", against {pct(statistics.fmean(out_pur), 0)} for the output layer's rows")
        out.append(". ")
    majors = [r.get("majority_class") for r in rows if (r.get("count") or 0) > 0 and r.get("majority_class") is not None]
    if majors:
        distinct = sorted(set(majors))
        out.append(f"The non-empty rows' most common classes are {', '.join(map(str, majors))}: "
                   f"{len(distinct)} distinct class{'es' if len(distinct) != 1 else ''} of 10. ")
    if short or empty or unassigned:
        out.append("Short and empty rows mean those units are rarely the largest of the ten: hidden units were "
                   "never trained to compete one-per-class, their scales differ, and a few of them win the "
                   "argmax for most images. ")
    else:
        out.append("Every row is full here, but a full row is not a class detector: look at how mixed the "
                   "labels in a row are. ")
    close = bool(out_pur) and statistics.fmean(out_pur) >= 0.9
    out.append(f"The ideal — {'what the output layer, trained exactly for this, comes close to' if close else 'what a well-trained output layer approaches'} — would be ten full "
               f"rows of about {n // k if k else 0} images each, every row pure in one class and every class in "
               f"one row. A single hidden unit is one feature among the 1 024 that the last layer combines, so "
               f"it need not stand for a class by itself.")
    return "".join(out)


# ----------------------------------------------------------------------------------------------- Problem 2

def find_baselines(summary: Mapping[str, Any]) -> dict[str, float]:
    """{'oracle': dB, 'wiener': dB, ...}: the validation SNRs in the summary's `baselines` (numbers or
    {"snr_db": ..} objects)."""
    found: dict[str, float] = {}
    base = summary.get("baselines")
    for name, value in (base.items() if isinstance(base, Mapping) else ()):
        if isinstance(value, Mapping):
            value = first_key(value, "snr_db", "validation_snr_db")
        if finite(value):
            found[str(name)] = float(value)
    return found


def denoise_validation(summary: Mapping[str, Any], record: Mapping[str, Any] | None = None) -> str:
    snr, inp = summary.get("validation_snr_db"), summary.get("validation_input_snr_db")
    if not finite(snr):
        return "The summary holds no validation SNR."
    model = summary.get("model")
    out = [f"On the held-out validation audio (the last part of the training recording, never trained on) the "
           f"{'`' + str(model) + '` ' if model else ''}denoiser's reconstruction scores **{db(snr)}**"]
    if finite(inp):
        out.append(f", against {db(inp)} for the noisy input: a gain of {db(snr - inp)}")
    out.append(". ")
    found = find_baselines(summary)
    oracle = next(((k, v) for k, v in found.items() if "oracle" in k.lower()), None)
    classic = {k: v for k, v in found.items() if any(w in k.lower() for w in ("wiener", "spectral", "subtract"))}
    if classic:
        best = max(classic, key=classic.get)
        diff = snr - classic[best]
        out.append("The classic baselines, with the noise spectrum estimated from the training part, score "
                   + ", ".join(f"{BASELINE_NAMES.get(k, k.replace('_', ' '))} {db(v)}" for k, v in classic.items())
                   + f"; the network is {db(abs(diff))} {'better' if diff >= 0 else 'worse'} than the best of "
                     f"them. ")
    if oracle:
        out.append(f"The oracle — the true clean magnitude |S| with the noisy phase — scores {db(oracle[1])}, "
                   f"the ceiling for any method that only changes magnitudes")
        if finite(inp) and oracle[1] > inp:
            share = (snr - inp) / (oracle[1] - inp)
            out.append(f"; the network closes {pct(share, 0)} of the distance from the input to that ceiling")
        out.append(". ")
    if snr >= SNR_TARGET_DB:
        out.append(f"That meets the project's {db(SNR_TARGET_DB)} validation target.")
    else:
        out.append(f"That is {db(SNR_TARGET_DB - snr)} below the project's {db(SNR_TARGET_DB)} target for the "
                   f"full preset.")
    variants = summary.get("variants")
    if isinstance(variants, Mapping) and len(variants) > 1:
        scores = {k: first_key(v, "validation_snr_db", "snr_db") if isinstance(v, Mapping) else v
                  for k, v in variants.items()}
        scores = {k: v for k, v in scores.items() if finite(v)}
        if scores:
            best = max(scores, key=scores.get)
            out.append(" Both variants were trained: " + ", ".join(f"`{k}` {db(v)}" for k, v in scores.items())
                       + f"; `{best}` wins on validation and is the one used.")
        restarts = {k: v.get("collapse_restarts") for k, v in variants.items() if isinstance(v, Mapping)}
        restarts = {k: v for k, v in restarts.items() if finite(v) and v > 0}
        if restarts:
            out.append(" " + "; ".join(f"`{k}` collapsed to an all-zero output and was restarted {int(v)} "
                                       f"time{'s' if v != 1 else ''}" for k, v in restarts.items()) + ".")
    out.append(quick_note(record))
    return "".join(out)


def denoise_generalisation(gen: Mapping[str, Any]) -> str:
    """From `denoise/generalisation.json` (written by benchmarks/denoise_generalisation.py): the gain on
    speech the model never heard, by input SNR, against the project's 8 dB target."""
    rows = [r for r in gen.get("rows") or [] if isinstance(r, Mapping) and finite(r.get("gain_db"))]
    avg = gen.get("average_gain_db")
    if not rows or not finite(avg):
        return "The generalisation check holds no results."
    voices = sorted({str(r.get("voice")) for r in rows})
    levels = sorted({r.get("level_rms") for r in rows if finite(r.get("level_rms"))})
    first = [r for r in rows if not levels or r.get("level_rms") == levels[0]]
    by_snr: dict[float, list[float]] = {}
    for r in first:
        by_snr.setdefault(round(float(r["input_snr_db"]), 1), []).append(float(r["gain_db"]))
    out = [f"Speech the model never heard — {len(voices)} synthetic espeak-ng voices, mixed with the noise of the "
           f"held-out validation part at {', '.join(f'{k:g}' for k in sorted(by_snr))} dB input SNR — gains "
           f"**{db(avg)}** on average. By input SNR: "
           + ", ".join(f"{db(mean(v))} at {k:g} dB" for k, v in sorted(by_snr.items())) + ". "]
    if len(levels) > 1:
        per_level = [mean(r["gain_db"] for r in rows if r.get("level_rms") == lv) for lv in levels]
        out.append("The same mixtures recorded at different levels gain "
                   + ", ".join(f"{db(g)} at speech RMS {lv:g}" for lv, g in zip(levels, per_level)) + ". ")
    wiener = mean(r.get("wiener_gain_db") for r in rows)
    if finite(wiener):
        out.append(f"A Wiener filter that knows the exact noise spectrum gains {db(wiener)}. ")
    out.append(f"That {'meets' if avg >= GENERALISATION_TARGET_DB else 'misses'} the project's "
               f"{db(GENERALISATION_TARGET_DB)} target.")
    return "".join(out)


# ----------------------------------------------------------------------------------------------- Problem 3

def group_runs(runs: Iterable[Mapping[str, Any]], keys: Sequence[str]) -> dict[tuple, list[Mapping[str, Any]]]:
    """Runs of the same arm (every key but the seed equal), in first-seen order."""
    groups: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for run in runs:
        if isinstance(run, Mapping):
            groups[tuple(run.get(k) for k in keys)].append(run)
    return dict(groups)


def diverged_when(run: Mapping[str, Any]) -> str:
    """'at step 37, epoch 1' / 'in epoch 2' when the run says; '' otherwise."""
    at = run.get("diverged_at")
    if isinstance(at, Mapping):
        step = at.get("global_step")
        if not finite(step) and finite(at.get("step")):
            step = at["step"] + 1  # `step` counts from 0 within the epoch
        if finite(step) and finite(at.get("epoch")):
            return f"at step {int(step)}, epoch {int(at['epoch'])}"
        at = at.get("epoch")
    if finite(at):
        return f"in epoch {int(at)}"
    losses = run.get("train_loss")
    if isinstance(losses, list) and any(v is None for v in losses):
        return f"in epoch {[v is None for v in losses].index(True) + 1}"
    return ""


def thresholds(summary: Mapping[str, Any]) -> tuple[float, float]:
    t = summary.get("thresholds") if isinstance(summary.get("thresholds"), Mapping) else {}
    stuck, learned = t.get("stuck_below_test_accuracy"), t.get("learns_from_test_accuracy")
    return (stuck if finite(stuck) else STUCK), (learned if finite(learned) else LEARNED)


def arm_outcome(runs: Sequence[Mapping[str, Any]], stuck: float = STUCK, learned: float = LEARNED) -> dict[str, Any]:
    """What the seeds of one arm did: final test accuracy of the seeds that did not diverge (mean, min, max),
    how many diverged and when, and the verdict: learns / learns slowly / stuck / diverged."""
    alive = [r for r in runs if not r.get("diverged")]
    finals = [v for v in (last_finite(r.get("test_accuracy")) for r in alive) if v is not None]
    diverged = [r for r in runs if r.get("diverged")]
    acc = mean(finals)
    if len(diverged) == len(runs):
        verdict = "diverged"
    elif acc is None or acc < stuck:
        verdict = "stuck"
    else:
        verdict = "learns" if acc >= learned else "learns slowly"
    return {"accuracy": acc, "min": min(finals, default=None), "max": max(finals, default=None),
            "verdict": verdict, "diverged": len(diverged), "seeds": len(runs),
            "when": sorted({diverged_when(r) for r in diverged} - {""})}


def _arm_phrase(name: str, o: Mapping[str, Any]) -> str:
    if o["verdict"] == "diverged":
        when = f" ({', '.join(o['when'])})" if o["when"] else ""
        return f"{name}{when}"
    text_ = f"{name} {pct(o['accuracy'])}"
    if o["seeds"] - o["diverged"] > 1 and finite(o["min"]) and o["max"] - o["min"] >= 0.001:
        text_ += f" ({pct(o['min'])}–{pct(o['max'])} over seeds)"
    if o["diverged"]:
        text_ += f" ({o['diverged']} of {o['seeds']} seeds diverged)"
    return text_


def optimizer_name(opt: Any, lr: Any) -> str:
    name = OPTIMIZER_NAMES.get(opt, str(opt))
    return f"{name}, lr {lr:g}" if opt == "sgd" and finite(lr) else name


VERDICT_LABELS = {"learns": "learns", "learns slowly": "learns slowly", "stuck": "stuck near chance",
                  "diverged": "diverged (non-finite loss)"}


def optim_arms(summary: Mapping[str, Any], record: Mapping[str, Any] | None = None) -> str:
    runs = [r for r in summary.get("runs") or [] if isinstance(r, Mapping)]
    if not runs:
        return "The summary holds no runs."
    stuck, learned = thresholds(summary)
    epochs = max((len(r.get("test_accuracy") or []) for r in runs), default=0)
    seeds = len({r.get("seed") for r in runs})
    out = [f"Each arm was trained for {epochs} epoch{'s' if epochs != 1 else ''} with {seeds} "
           f"seed{'s' if seeds != 1 else ''}. Verdicts from the final test accuracy (mean over the seeds that did "
           f"not diverge): *learns* from {pct(learned, 0)}, *stuck near chance* below {pct(stuck, 0)} (chance is "
           f"10 %), *learns slowly* in between.\n"]
    outcomes: dict[tuple, dict[str, dict[str, Any]]] = defaultdict(dict)
    for (opt, lr, _, _), rs in group_runs(runs, ("optimizer", "lr", "activation", "init")).items():
        outcomes[(opt, lr)][arm_name(rs[0])] = arm_outcome(rs, stuck, learned)
    for (opt, lr), arms in outcomes.items():
        by_verdict: dict[str, list[str]] = defaultdict(list)
        for name, o in arms.items():
            by_verdict[o["verdict"]].append(_arm_phrase(name, o))
        out.append(f"- **{optimizer_name(opt, lr)}** — " + "; ".join(
            f"{VERDICT_LABELS.get(k, k)}: {names(v)}" for k, v in by_verdict.items()) + ".")
    # the study's reading of the lecture trend, set against what was measured
    expected = {(a.get("optimizer"), a.get("lr"), arm_name(a)): a.get("expected")
                for a in summary.get("arms") or [] if isinstance(a, Mapping) and a.get("expected")}
    if expected:
        differ = []
        for (opt, lr), arms in outcomes.items():
            for name, o in arms.items():
                want = expected.get((opt, lr, name))
                got = "learns" if o["verdict"] == "learns slowly" else o["verdict"]
                if want and got != want:
                    differ.append(f"{name} under {optimizer_name(opt, lr)} {VERDICT_LABELS.get(o['verdict'])} "
                                  f"where the lecture trend expects it to {'learn' if want == 'learns' else want}")
        n = sum(len(a) for a in outcomes.values())
        out.append(f"\nAgainst the trend the lectures show, {n - len(differ)} of {n} arms behave as expected"
                   + (f"; they differ here: {'; '.join(differ)}." if differ else "."))
    sgd_key = next((key for key in outcomes if key[0] == "sgd"), None)
    sgd = outcomes.get(sgd_key, {})
    adam = next((a for (opt, _), a in outcomes.items() if opt == "adam"), {})
    rescued = [n for n, o in sgd.items() if o["verdict"] in ("stuck", "diverged")
               and adam.get(n, {}).get("verdict") in ("learns", "learns slowly")]
    if rescued:
        out.append(f"\nAdam trains {names(rescued)}, which {'does' if len(rescued) == 1 else 'do'} not learn under "
                   f"{optimizer_name(*sgd_key)}: Adam's step for each weight "
                   f"is its gradient divided by the running RMS of that gradient, so it neither vanishes with tiny "
                   f"gradients nor explodes with large ones.")
    out.append(quick_note(record))
    return "\n".join(out)


def sci(x: Any) -> str:
    return f"{x:.2g}" if finite(x) else "n/a"


def _probe(run: Mapping[str, Any], *labels: str) -> Mapping[str, Any] | None:
    """The run's probe with the first of `labels` found ('step 1', 'end', …); `last` = the latest probe."""
    probes = [p for p in run.get("probes") or [] if isinstance(p, Mapping)]
    for label in labels:
        if label == "last" and probes:
            return probes[-1]
        for p in probes:
            if p.get("label") == label:
                return p
    return None


def _layer_mean(runs: Sequence[Mapping[str, Any]], labels: Sequence[str], getter) -> list[float | None]:
    """Mean over seeds, per layer, of `getter(probe)` (a per-layer list) at the probe named by `labels`."""
    lists = [getter(p) for p in (_probe(r, *labels) for r in runs) if p is not None]
    lists = [l for l in lists if isinstance(l, list) and l]
    if not lists:
        return []
    return [mean(l[i] for l in lists if i < len(l)) for i in range(max(map(len, lists)))]


def _worst_layer(values: list[float | None]) -> tuple[int, float] | None:
    good = [(v, i) for i, v in enumerate(values) if finite(v)]
    return (max(good)[1] + 1, max(good)[0]) if good else None


def run_trace(run: Mapping[str, Any], folder: Path | None) -> list[float | None]:
    """Largest per-layer weight-gradient norm at each of the first traced steps, from the run's own result
    file (`run_file`, relative to the study folder); [] when there is none."""
    if folder is None or not run.get("run_file"):
        return []
    try:
        stored = json.loads((Path(folder) / run["run_file"]).read_text())
        steps = stored["result"]["trace"]["grad_norm"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [max((v for v in step if finite(v)), default=None) if isinstance(step, list) else None for step in steps]


def _at(probe_: Mapping[str, Any] | None) -> str:
    label = (probe_ or {}).get("label")
    return "by the end" if label == "end" else f"at {label}" if label else "at the last probe"


def arm_diagnosis(runs: Sequence[Mapping[str, Any]], folder: Path | None = None) -> str:
    """Why one arm trains or not, from its recorded gradient norms, activation statistics and loss trace."""
    act = runs[0].get("activation")
    out = []
    g1 = _layer_mean(runs, ("step 1", "last"), lambda p: p.get("grad_norm"))
    if len(g1) >= 2 and finite(g1[0]) and finite(g1[-1]) and g1[-1] > 0:
        ratio = g1[0] / g1[-1]
        out.append(f"at step 1 the weight-gradient norm is {sci(g1[0])} at the first layer and {sci(g1[-1])} at "
                   f"the output layer (ratio {sci(ratio)})")
        if ratio < 1e-2:
            out.append(" — the gradient **vanishes** on its way back to the input")
        elif ratio > 1e2:
            out.append(" — the gradient **grows** on its way back to the input")
        elif max(g1) < 1e-2:
            out.append(f" — every layer's gradient is tiny (at most {sci(max(g1))})")
    std1 = _layer_mean(runs, ("step 1", "last"), lambda p: (p.get("activation") or {}).get("std"))
    if std1 and finite(std1[-1]) and std1[-1] < 1e-2:
        out.append(f"; the last hidden layer's outputs hardly vary (std {sci(std1[-1])} over units and images), "
                   f"so the output barely depends on the input")
    late = ("end", "middle", "last")
    when = _at(_probe(runs[0], *late))
    key, what = {"sigmoid": ("saturated", "of the sigmoid outputs of hidden layer {} are saturated (slope below "
                                          "0.02)"),
                 "relu": ("dead", "of the units of hidden layer {} are **dead** (zero for every probe image)")
                 }.get(act, (None, ""))
    worst = _worst_layer(_layer_mean(runs, late, lambda p: (p.get("activation") or {}).get(key))) if key else None
    if worst and worst[1] > 0.05:
        out.append(f"; {when} {pct(worst[1], 0)} " + what.format(worst[0]))
    diverged = [r for r in runs if r.get("diverged")]
    if diverged:
        r = diverged[0]
        losses = [v for v in r.get("first_steps_loss") or [] if finite(v)]
        out.append(f"; the loss became non-finite {diverged_when(r)}".rstrip())
        if len(losses) >= 2 and losses[-1] > 10 * losses[0]:
            out.append(f" after climbing {' → '.join(sci(v) for v in losses[:8])} over the first steps")
        grads = [g for g in run_trace(r, folder) if finite(g)]
        if len(grads) >= 2 and grads[-1] > 10 * grads[0]:
            out.append(f", while the largest layer-gradient norm grew from {sci(grads[0])} to {sci(max(grads))}")
        if r.get("optimizer") == "sgd" and finite(r.get("lr")):
            out.append(f" — plain SGD moves the weights by {r['lr']:g} × the gradient, so a large step makes the "
                       f"next gradient larger still and the steps **explode**")
    text_ = "".join(out).strip("; ")
    return text_[0].upper() + text_[1:] + "." if text_ else "No gradient statistics were recorded."


def optim_why(summary: Mapping[str, Any], folder: Path | None = None) -> str:
    """Why each arm trains or not; `folder` (the study's results folder) adds the per-step gradient traces."""
    groups = group_runs(summary.get("runs") or [], ("optimizer", "lr", "activation", "init"))
    if not groups:
        return "The summary holds no runs."
    stuck, learned = thresholds(summary)
    if not any(r.get("probes") for runs in groups.values() for r in runs):
        return "The runs hold no gradient or activation statistics (`probes`)."
    out = ["Per arm (means over seeds), from the gradient norms and activation statistics recorded during "
           "training:\n"]
    for (opt, lr, _, _), runs in groups.items():
        out.append(f"- **{arm_name(runs[0])}, {optimizer_name(opt, lr)}** "
                   f"({arm_outcome(runs, stuck, learned)['verdict']}): {arm_diagnosis(runs, folder)}")
    return "\n".join(out)


def optim_sweep(summary: Mapping[str, Any]) -> str:
    """Beyond the assignment: which arms train under SGD at which learning rate (the sweep plus the main runs)."""
    sweep = summary.get("lr_sweep")
    runs = sweep.get("runs") if isinstance(sweep, Mapping) else None
    if not isinstance(runs, list) or not runs:
        return "The summary holds no learning-rate sweep."
    stuck, learned = thresholds(summary)
    runs = runs + [r for r in summary.get("runs") or [] if r.get("optimizer") == "sgd"]
    by_lr: dict[Any, list[str]] = defaultdict(list)
    best: dict[str, tuple[float, Any]] = {}
    for (lr, _, _), rs in sorted(group_runs(runs, ("lr", "activation", "init")).items(),
                                 key=lambda kv: (kv[0][0] if finite(kv[0][0]) else 0)):
        o = arm_outcome(rs, stuck, learned)
        name = arm_name(rs[0])
        by_lr[lr].append(f"{name} diverged" if o["verdict"] == "diverged" else f"{name} {pct(o['accuracy'])}")
        if o["verdict"] in ("learns", "learns slowly") and o["accuracy"] > best.get(name, (-1, None))[0]:
            best[name] = (o["accuracy"], lr)
    out = [f"- **SGD, lr {lr:g}**: " + "; ".join(v) + "." for lr, v in by_lr.items()]
    if best:
        out.append("\nBest learning rate of each arm that learns at all: "
                   + "; ".join(f"{n} at lr {lr:g} ({pct(a)})" for n, (a, lr) in best.items()) + ".")
    stuck_all = sorted({arm_name(rs[0]) for rs in group_runs(runs, ("activation", "init")).values()} - set(best))
    if stuck_all:
        out.append(f"{names(stuck_all)} {'learns' if len(stuck_all) == 1 else 'learn'} at none of these rates.")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------- Problem 4

OVERFIT_RISE = 0.05  # default: a run overfits when its final test loss is 5 % above its lowest (the study's rule)


def _curve_stats(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean over seeds of the last epoch's numbers, of the epoch where the test loss bottomed out, and of how far
    (as a fraction of that minimum) it climbed back up by the last epoch."""
    def final(key: str) -> float | None:
        return mean(last_finite(r.get(key)) for r in runs)

    mins, rises = [], []
    for r in runs:
        good = [(v, i) for i, v in enumerate(r.get("test_loss") or []) if finite(v)]
        if good:
            best, at = min(good)
            mins.append(at + 1)
            rises.append((good[-1][0] - best) / best if best > 0 else 0.0)
    return {"train_acc": final("train_accuracy"), "test_acc": final("test_accuracy"),
            "train_loss": final("train_loss"), "test_loss": final("test_loss"),
            "min_epoch": mean(mins), "rise": mean(rises),
            "epochs": max((len(r.get("test_loss") or []) for r in runs), default=0)}


def dropout_gap(summary: Mapping[str, Any], record: Mapping[str, Any] | None = None) -> str:
    groups = group_runs(summary.get("runs") or [], ("activation", "init", "dropout"))
    if not groups:
        return "The summary holds no runs."
    limit = summary.get("overfit_threshold") if finite(summary.get("overfit_threshold")) else OVERFIT_RISE
    pairs: dict[tuple, dict[bool, dict[str, Any]]] = defaultdict(dict)
    for (act, init, drop), runs in groups.items():
        pairs[(act, init)][bool(drop)] = _curve_stats(runs)
    out = []
    if finite(summary.get("train_size")):
        out.append(f"Every run trains on the same {int(summary['train_size'])} images, so a net that memorises "
                   f"them shows it. Train numbers are measured after each epoch with dropout switched off, like "
                   f"the test numbers. A run *overfits* here when its final test loss ends more than "
                   f"{pct(limit, 0)} above its lowest value.\n")
    for (act, init), arms in pairs.items():
        line = [f"- **{arm_name({'activation': act, 'init': init})}**: "]
        for drop in (False, True):
            s_ = arms.get(drop)
            if s_ is None:
                line.append(f"no run {'with' if drop else 'without'} dropout. ")
                continue
            line.append(f"{'with' if drop else 'without'} dropout, train {pct(s_['train_acc'])} vs test "
                        f"{pct(s_['test_acc'])}")
            if finite(s_["train_acc"]) and finite(s_["test_acc"]):
                gap = s_["train_acc"] - s_["test_acc"]
                line.append(f" (gap {'+' if gap >= 0 else '−'}{points(gap)})")
            if finite(s_["rise"]) and s_["min_epoch"] is not None:
                if round(s_["min_epoch"]) >= s_["epochs"]:
                    line.append(", test loss still falling at the last epoch")
                else:
                    line.append(f", test loss lowest at epoch {s_['min_epoch']:.0f} of {s_['epochs']} and "
                                f"{pct(s_['rise'], 0)} above that minimum at the end")
            line.append("; " if not drop else ". ")
        off, on = arms.get(False), arms.get(True)
        if off and on and all(finite(x) for x in (off["train_acc"], off["test_acc"], on["train_acc"],
                                                   on["test_acc"])):
            gap_off, gap_on = off["train_acc"] - off["test_acc"], on["train_acc"] - on["test_acc"]
            overfits = finite(off["rise"]) and off["rise"] > limit
            if overfits:
                line.append(f"Without dropout the net **overfits**: its test loss climbs {pct(off['rise'], 0)} "
                            f"back up from its minimum. ")
            else:
                line.append(f"Without dropout the net does not overfit visibly in {off['epochs']} epochs. ")
            if abs(gap_on - gap_off) < 0.01:
                line.append(f"Dropout leaves the train–test accuracy gap about the same ({points(gap_off)} without, "
                            f"{points(gap_on)} with)")
            elif gap_on < gap_off:
                line.append(f"Dropout shrinks the train–test accuracy gap by {points(gap_off - gap_on)}")
            else:
                line.append(f"Dropout does not shrink the train–test accuracy gap here ({points(gap_on - gap_off)} "
                            f"wider)")
            if overfits and finite(on["rise"]):
                line.append(f" and {'holds' if on['rise'] <= limit else 'does not hold'} the test loss near its "
                            f"minimum ({pct(on['rise'], 0)} above it)")
            diff = on["test_acc"] - off["test_acc"]
            line.append(f"; test accuracy is {points(diff)} {'higher' if diff >= 0 else 'lower'} with dropout.")
            if on["train_acc"] < off["test_acc"]:
                line.append(f" With dropout the net is still underfitting after {on['epochs']} epochs (its train "
                            f"accuracy, {pct(on['train_acc'])}, is below the test accuracy without dropout), so a "
                            f"smaller gap here comes from learning less, not from generalising better.")
        out.append("".join(line).strip())
    return "\n".join(out) + quick_note(record)
