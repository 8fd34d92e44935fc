"""Problem 1's prose: the method from config.json, and each question of 1.1-1.8 answered from summary.json."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from denselab.report.fmt import finite, names, num, pct, plural, points, quick_note

ASSIGNMENT_BAR = 0.98  # Problem 1.1: "You should be able to get the test accuracy above 98%"
OUR_TARGET = 0.985  # this project's own target for the full preset
# k-NN accuracy in a 2-D map from which the report calls the classes "separated" when the study does not say
SEPARATED = 0.90
# config fields the method's sentences put in words; any other field is listed after them with its meaning
DESCRIBED = {
    "seed",
    "hidden_layers",
    "hidden_width",
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "weight_decay",
    "warmup_fraction",
    "label_smoothing",
    "input_dropout",
    "hidden_dropout",
    "shift_pixels",
    "train_subset",
    "test_subset",
    "probe_images",
    "probe_choice",
    "grid_top",
    "penultimate_units",
    "tsne_perplexity",
    "tsne_iterations",
    "knn_k",
    "knn_folds",
}


def method(cfg: Mapping[str, Any], summary: Mapping[str, Any] | None = None) -> str:
    """Every setting that trained and probed the classifier, in sentences, from the resolved config."""
    s = summary or {}
    layers, width = cfg.get("hidden_layers", 5), cfg.get("hidden_width", 1024)
    opt = {"adamw": "AdamW", "adam": "Adam"}.get(cfg.get("optimizer"), str(cfg.get("optimizer")))
    wd = (
        f", decoupled weight decay {num(cfg.get('weight_decay'))}"
        if cfg.get("optimizer") == "adamw" and cfg.get("weight_decay")
        else ", no weight decay"
    )
    eps = cfg.get("label_smoothing") or 0.0
    smooth = (
        f"with label smoothing {num(eps)}: the target puts {1 - eps + eps / 10:.3g} on the true class and "
        f"{eps / 10:.3g} on each other one (the test loss we report is the plain cross-entropy)"
        if eps
        else "without label smoothing"
    )
    drop_in, drop_h = cfg.get("input_dropout") or 0.0, cfg.get("hidden_dropout") or 0.0
    drop = (f"dropout {num(drop_in)} on the pixels" if drop_in else "no dropout on the pixels") + (
        f" and {num(drop_h)} on every hidden representation" if drop_h else " and none on the hidden layers"
    )
    shift = cfg.get("shift_pixels") or 0
    aug = (
        f"each training image is shifted by its own random (dy, dx) in {{−{shift}, …, {shift}}}² pixels "
        f"every time it is drawn (blank pixels fill the border)"
        if shift
        else "no data augmentation"
    )
    train_n = s.get("train_images")
    train = (
        f"a random {num(cfg['train_subset'])} of the 60 000 training images"
        if cfg.get("train_subset")
        else f"all {num(train_n) if train_n else '60 000'} training images"
    )
    test = (
        f"a random {num(cfg['test_subset'])} of the test images"
        if cfg.get("test_subset")
        else f"all {num(s.get('test_images') or 10000)} test images"
    )
    warm = cfg.get("warmup_fraction", 0.25)
    probe = (
        f"The first {num(cfg.get('probe_images'))}"
        if cfg.get("probe_choice", "first") == "first"
        else f"a seeded random {num(cfg.get('probe_images'))}"
    )
    return rf"""The net is $784 \to {layers} \times {width} \to 10$: each hidden layer computes
$h_\ell = \mathrm{{ReLU}}(W_\ell h_{{\ell-1}} + b_\ell)$ (He initialisation), the output layer gives the logits
$z = W_{{{layers + 1}}} h_{{{layers}}} + b_{{{layers + 1}}}$ and $p = \mathrm{{softmax}}(z)$. Training minimises
the cross-entropy $-\sum_k q_k \log p_k$ {smooth}.

*Recipe (from `config.json`).* {opt} (peak learning rate {num(cfg.get("lr"))}{wd}) for
{plural(cfg.get("epochs"), "epoch")} in mini-batches of {num(cfg.get("batch_size"))} images, with a one-cycle
schedule stepped every batch: a linear warm-up over the first {pct(warm, 0)} of the steps, then a cosine decay to
about zero. Regularisation: {drop}. Augmentation: {aug}. Data: {train}, tested on {test}; pixels standardised with
the training images' own mean and standard deviation. Seed {cfg.get("seed", 0)} drives the initialisation, the
data order, the shifts and every random choice below.

*Probing (1.3–1.8).* {probe} test images go through the trained net. The grids keep
{plural(cfg.get("grid_top"), "image")} per row; the second-to-last layer's grid uses
{plural(cfg.get("penultimate_units"), "randomly chosen unit")}. t-SNE (perplexity {num(cfg.get("tsne_perplexity"))},
{num(cfg.get("tsne_iterations"))} iterations, PCA initialisation) and PCA map each representation to 2-D; how
well the classes separate in a map is scored by the {cfg.get("knn_folds", 5)}-fold cross-validated accuracy of a
{cfg.get("knn_k", 5)}-nearest-neighbour classifier on the 2-D points (chance is 10 %)."""


# ----------------------------------------------------------------------------------------------- 1.1


def classifier(summary: Mapping[str, Any], record: Mapping[str, Any] | None = None) -> str:
    acc = summary.get("test_accuracy")
    if not finite(acc):
        return "The summary holds no test accuracy."
    cfg = (record or {}).get("config") or {}
    out = [
        f"The {cfg.get('hidden_layers', 5)} × {num(cfg.get('hidden_width', 1024))} network reached "
        f"**{pct(acc, 2)}** test accuracy on {num(summary.get('test_images') or 10000)} test images"
    ]
    if summary.get("epochs") is not None:
        out.append(f" after {plural(summary['epochs'], 'epoch')}")
    if finite(summary.get("train_seconds")):
        device = (record or {}).get("device")
        out.append(f" ({summary['train_seconds']:.0f} s of training{' on ' + device if device else ''})")
    out.append(". ")
    if acc > ASSIGNMENT_BAR:
        out.append(f"That is above the assignment's {pct(ASSIGNMENT_BAR, 0)} bar")
        out.append(
            f" and meets our own {pct(OUR_TARGET)} target."
            if acc >= OUR_TARGET
            else f", {points(OUR_TARGET - acc)} short of our own {pct(OUR_TARGET)} target."
        )
    else:
        out.append(
            f"That is {points(ASSIGNMENT_BAR - acc)} short of the assignment's {pct(ASSIGNMENT_BAR, 0)} bar."
        )
    out.append(quick_note(record))
    return "".join(out)


# ----------------------------------------------------------------------------------------------- grids


def grid_rows(grid: Any) -> list[dict[str, Any]]:
    """One dict per grid row — unit, count, purity, majority_class, shown_purity — from a study's grid entry."""
    if not isinstance(grid, Mapping):
        return []
    counts = grid.get("counts") if isinstance(grid.get("counts"), list) else []
    rows = [dict(r) for r in grid.get("rows") or [] if isinstance(r, Mapping)] or [
        {"count": c} for c in counts
    ]
    units = grid.get("units") if isinstance(grid.get("units"), list) else []
    for i, row in enumerate(rows):
        row["unit"] = units[i] if i < len(units) else row.get("unit", i)
        if row.get("count") is None and i < len(counts):
            row["count"] = counts[i]
    return rows


def _purities(rows: list[dict[str, Any]]) -> list[float]:
    return [r["purity"] for r in rows if finite(r.get("purity")) and (r.get("count") or 0) > 0]


def _s(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def output_grid(summary: Mapping[str, Any]) -> str:
    grid = summary.get("output_grid")
    rows = grid_rows(grid)
    if not rows:
        return "The summary holds no per-row counts for the output grid."
    counts = [int(r.get("count") or 0) for r in rows]
    n = sum(counts) + int(grid.get("unassigned") or 0)
    lo, hi = counts.index(min(counts)), counts.index(max(counts))
    out = [
        f"Each of the {n} probe images goes to the output unit with the highest softmax probability. The "
        f"units win between {counts[lo]} (unit {rows[lo]['unit']}) and {counts[hi]} (unit {rows[hi]['unit']}) "
        f"images"
    ]
    short = [str(r["unit"]) for r, c in zip(rows, counts) if 0 < c < 10]
    empty = [str(r["unit"]) for r, c in zip(rows, counts) if c == 0]
    if short:
        out.append(
            f"; unit{_s(len(short), '', 's')} {names(short)} win{_s(len(short), 's', '')} fewer than ten"
        )
    if empty:
        out.append(
            f"; unit{_s(len(empty), '', 's')} {names(empty)} win{_s(len(empty), 's', '')} none: the net "
            f"never predicts {_s(len(empty), 'that class', 'those classes')} for these images"
        )
    out.append(". " if short or empty else ", so every row is full. ")
    wrong = [
        f"unit {r['unit']} (mostly class {r['majority_class']})"
        for r in rows
        if (r.get("count") or 0) > 0
        and r.get("majority_class") is not None
        and r["majority_class"] != r["unit"]
    ]
    if wrong:
        out.append(
            f"Output unit k stands for class k, yet {names(wrong)} {_s(len(wrong), 'wins', 'win')} mostly "
            f"images of another class: a systematic confusion. "
        )
    pur = _purities(rows)
    if pur:
        worst = min((r for r in rows if finite(r.get("purity"))), key=lambda r: r["purity"])
        out.append(
            f"On average {pct(statistics.fmean(pur))} of a unit's images belong to its most common class "
            f"(lowest: unit {worst['unit']}, {pct(worst['purity'])})"
        )
        probe = summary.get("probe")
        if isinstance(probe, Mapping) and finite(probe.get("accuracy")):
            out.append(f"; the net classifies {pct(probe['accuracy'])} of these images correctly")
        out.append(". ")
        shown = [r for r in rows if finite(r.get("shown_purity")) and (r.get("count") or 0) > 0]
        bad = [r for r in shown if r["shown_purity"] < 0.5]
        if shown and not bad:
            out.append(
                f"The ten images shown per row are the ones the net is surest about, and "
                f"{pct(statistics.fmean(r['shown_purity'] for r in shown), 0)} of them (on average) belong "
                f"to the row's class: clean, typical digits; the mistakes sit lower in each row."
            )
        elif bad:
            units = names([f"unit {r['unit']}" for r in bad])
            out.append(
                f"Even among the ten most confident images, {units} "
                f"show{_s(len(bad), 's', '')} mostly other classes: the net is confidently wrong there."
            )
    return "".join(out)


def penultimate(summary: Mapping[str, Any]) -> str:
    """1.4: what the grid of ten random last-hidden-layer units shows next to 1.3's, and what would be ideal."""
    grid = summary.get("penultimate_grid")
    rows = grid_rows(grid)
    if not rows:
        return "The summary holds no per-row counts for the penultimate grid."
    k = len(rows)
    counts = [int(r.get("count") or 0) for r in rows]
    unassigned = int(grid.get("unassigned") or 0)
    n = sum(counts) + unassigned
    full, empty = sum(c >= 10 for c in counts), sum(c == 0 for c in counts)
    short = k - full - empty
    top = counts.index(max(counts))
    units = [str(r["unit"]) for r in rows]
    out = [
        f"**What we see.** The {k} randomly chosen units (#{', #'.join(units)}) split the {n} probe images "
        f"{', '.join(map(str, counts))}"
    ]
    if unassigned:
        out.append(
            f", and {unassigned} images ({pct(unassigned / n, 0)}) go to no row because all {k} units "
            f"are silent (zero after the ReLU) for them"
        )
    out.append(
        f": {full} row{_s(full, '', 's')} full, {short} short (1–9 images) and {empty} empty. "
        f"Unit #{units[top]} is the largest for {counts[top]} images ({pct(counts[top] / n if n else None, 0)}). "
    )
    pur, out_pur = _purities(rows), _purities(grid_rows(summary.get("output_grid")))
    if pur:
        out.append(
            f"A row's images are on average {pct(statistics.fmean(pur), 0)} one class (range "
            f"{pct(min(pur), 0)}–{pct(max(pur), 0)} over the non-empty rows)"
        )
        out.append(
            f", against {pct(statistics.fmean(out_pur), 0)} for the output layer's rows in 1.3. "
            if out_pur
            else ". "
        )
    majors = [
        r.get("majority_class")
        for r in rows
        if (r.get("count") or 0) > 0 and r.get("majority_class") is not None
    ]
    if majors:
        out.append(
            f"Their most common classes are {', '.join(map(str, majors))}: {len(set(majors))} distinct "
            f"class{_s(len(set(majors)), '', 'es')} of 10. "
        )
    out.append(
        "\n\n**Compared with 1.3.** The output units were trained to compete, one per class, through the "
        "softmax; these hidden units were not. Each is one of the features that the last layer combines "
        "linearly, their scales differ, so a few of "
        "them win the argmax for most images and the rest win few or none; and a unit responds to a part "
        "or stroke shared by several digits, so its row mixes classes."
    )
    close = bool(out_pur) and statistics.fmean(out_pur) >= 0.9
    out.append(
        f"\n\n**The ideal.** Ten full rows of about {n // k if k else 0} images each, every row pure in one "
        f"class and every class in one row — one unit per class. The output layer "
        f"{'comes close to that' if close else 'is trained exactly for that'}; for the second-to-last layer "
        f"the ideal is less strict: its classes only need to be *linearly separable*, so that the last "
        f"layer's weighted sums can pull them apart (1.8 measures how separable they are)."
    )
    return "".join(out)


# ----------------------------------------------------------------------------------------------- 1.6-1.8


def layers_of(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [l for l in summary.get("layers") or [] if isinstance(l, Mapping)]


def separated_threshold(summary: Mapping[str, Any]) -> float:
    knn = summary.get("knn") if isinstance(summary.get("knn"), Mapping) else {}
    value = knn.get("separated_threshold")
    return value if finite(value) else SEPARATED


def _layer(summary: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    return next((l for l in layers_of(summary) if l.get("name") == name), None)


def raw(summary: Mapping[str, Any]) -> str:
    """1.6: are the raw pixels easy to classify?"""
    layer = _layer(summary, "raw")
    if layer is None:
        return "The summary holds no k-NN score for the raw pixels."
    t, p, sep = (
        layer.get("knn_accuracy_2d_tsne"),
        layer.get("knn_accuracy_2d_pca"),
        separated_threshold(summary),
    )
    if not (finite(t) and finite(p)):
        return "The summary's k-NN scores for the raw pixels are missing."
    if t >= sep and p >= sep:
        answer = "**Yes.** Both maps keep the classes apart"
    elif t >= sep:
        answer = (
            "**Only with a nonlinear view.** The t-SNE map, which keeps each image's nearest neighbours "
            "close, separates most digits, but the PCA plane — the two straight directions of largest pixel "
            "variance — piles them on top of each other"
        )
    elif t >= 0.6:
        answer = (
            "**Partly.** Many digits form their own clusters in the t-SNE map, but several overlap, and the "
            "PCA plane mixes most of them"
        )
    else:
        answer = "**No.** Neither map separates the classes well"
    out = (
        f"{answer}: a {summary.get('knn', {}).get('k', 5)}-nearest-neighbour classifier inside the 2-D map "
        f"scores {pct(t)} on t-SNE and {pct(p)} on PCA (chance 10 %; we call classes separated from "
        f"{pct(sep, 0)}). The class labels drawn at each class mean show which digits crowd together."
    )
    if not (t >= sep and p >= sep):
        out += (
            " Similar-looking digits are neighbours in pixel space, but the classes are not apart along a few "
            "straight directions; pulling them apart is the hidden layers' job (1.7, 1.8)."
        )
    return out


def hidden1(summary: Mapping[str, Any]) -> str:
    """1.7: is the first hidden layer a better representation than the raw pixels?"""
    a, b = _layer(summary, "raw"), _layer(summary, "hidden1")
    if a is None or b is None:
        return "The summary holds no k-NN scores for the raw pixels and the first hidden layer."
    out, better = [], []
    for key, label in (("knn_accuracy_2d_tsne", "t-SNE"), ("knn_accuracy_2d_pca", "PCA")):
        x, y = a.get(key), b.get(key)
        if finite(x) and finite(y):
            better.append(y - x)
            out.append(f"{label} {pct(x)} → {pct(y)}")
    if not better:
        return "The summary's k-NN scores are missing."
    gain = max(better)
    verdict = (
        "**Yes, better.**"
        if gain > 0.02 and min(better) > -0.02
        else "**Not clearly.**"
        if abs(gain) <= 0.02
        else "**Mixed.**"
    )
    return f"{verdict} k-NN accuracy in the 2-D maps, raw pixels → hidden layer 1: {'; '.join(out)}. " + (
        "One ReLU layer already pulls same-class images together; the largest change is along "
        "the linear (PCA) view, which is the one the following layers can use directly."
        if verdict.startswith("**Yes")
        else "One layer changes the geometry only a little; the separation grows further down (1.8)."
    )


def all_layers(summary: Mapping[str, Any]) -> str:
    """1.8: what happens layer by layer, and why the last layers look as they do."""
    layers = layers_of(summary)
    if not layers:
        return "The summary holds no per-layer k-NN accuracies."
    sep = separated_threshold(summary)
    names_ = [str(l.get("name")) for l in layers]
    out = []
    for key, label in (("knn_accuracy_2d_tsne", "t-SNE"), ("knn_accuracy_2d_pca", "PCA")):
        acc = [l.get(key) for l in layers]
        out.append(f"- **{label}**: " + ", ".join(f"`{n}` {pct(a)}" for n, a in zip(names_, acc)) + ".")
        start = None
        for i in range(len(acc) - 1, -1, -1):
            if finite(acc[i]) and acc[i] >= sep:
                start = i
            else:
                break
        if start is not None and start > 0:
            out[-1] += f" Separated (≥ {pct(sep, 0)}) from `{names_[start]}` on."
        elif start == 0:
            out[-1] += f" Every representation stays at or above {pct(sep, 0)}."
        else:
            out[-1] += f" No representation reaches {pct(sep, 0)}."
    t = [l.get("knn_accuracy_2d_tsne") for l in layers]
    p = [l.get("knn_accuracy_2d_pca") for l in layers]
    out.append("")
    out.append(_trend("t-SNE", names_, t) + " " + _trend("PCA", names_, p))
    rises = finite(p[0]) and finite(p[-1]) and p[-1] > p[0] + 0.02
    why = (
        "\nWhy: every layer is trained so that the layers after it can separate the classes with weighted sums, "
        "so the *linear* separability (what PCA's two straight directions see) is expected to grow with depth"
        + (
            ", as it does here"
            if rises
            else "; here it does not, which says the net has not yet learned such a representation"
        )
        + "; t-SNE, which is nonlinear, already finds much "
        "of the neighbourhood structure in the raw pixels and has less room to grow."
    )
    if "softmax" in names_ and "output" in names_:
        z, sm = names_.index("output"), names_.index("softmax")
        why += (
            f" The last layer, as logits (`output`) and as softmax probabilities (`softmax`): t-SNE "
            f"{pct(t[z])} → {pct(t[sm])}, PCA {pct(p[z])} → {pct(p[sm])}. The softmax keeps the order of the "
            f"logits but squashes a confident image towards one corner of the probability simplex "
            f"(probability ≈ 1 for its class)"
        )
        why += (
            ", which pulls the classes apart along straight directions: the PCA score rises."
            if finite(p[z]) and finite(p[sm]) and p[sm] > p[z] + 0.02
            else "; here that changes the linear separability little."
        )
    else:
        why += " The last layer is shown as its logits; this run's summary has no map of the softmax probabilities."
    return "\n".join(out + [why])


def _trend(label: str, names_: list[str], acc: list[Any]) -> str:
    """'PCA rises from 41.5 % (`raw`) to 56.5 % (`output`), most between `hidden1` and `hidden2` (+6.6 points).'"""
    good = [(n, a) for n, a in zip(names_, acc) if finite(a)]
    if len(good) < 2:
        return ""
    (n0, a0), (n1, a1) = good[0], good[-1]
    verb = "rises" if a1 > a0 + 0.02 else "falls" if a1 < a0 - 0.02 else "stays about level"
    text = (
        f"{label} {verb} from {pct(a0)} (`{n0}`) to {pct(a1)} (`{n1}`)"
        if verb != "stays about level"
        else f"{label} stays about level ({pct(a0)} at `{n0}`, {pct(a1)} at `{n1}`)"
    )
    steps = [(b - a, good[i][0], good[i + 1][0]) for i, ((_, a), (_, b)) in enumerate(zip(good, good[1:]))]
    big = max(steps, key=lambda s: abs(s[0]))
    if abs(big[0]) > 0.02:
        text += f", most between `{big[1]}` and `{big[2]}` ({'+' if big[0] > 0 else '−'}{points(big[0])})"
    return text + "."
