"""Problem 1's values for `templates/mnist.md.j2`: the grids' rows and the per-layer k-NN scores, arranged
(differences, extremes) so the prose can compare them; the numbers themselves are the study's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from denselab.reporting.fmt import dicts, finite, mean
from denselab.reporting.results import StudyResults

TITLE = "Problem 1 — A detailed view to MNIST classification"
NUMBER = 1
BAR = 0.98  # Problem 1.1: "You should be able to get the test accuracy above 98%"
SEPARATED = 0.90  # when the summary does not say from which k-NN accuracy it calls the classes separated

CAPTIONS = {
    "curves": "Training curves: loss and accuracy per epoch",
    "output_grid": "1.3 — each output unit's most confident images (p = softmax probability, y = true class)",
    "penultimate_grid": "1.4 — ten random units of the last hidden layer, as if they were the output",
    "overview": "t-SNE (top) and PCA (bottom) of every representation, side by side",
    "overview_tsne": "t-SNE of every representation, from the raw pixels to the softmax output",
    "overview_pca": "PCA of every representation, from the raw pixels to the softmax output",
    "separability": "k-NN accuracy in the 2-D maps against depth",
}
LAYER_WORDS = {"raw": "the raw pixels", "output": "the output logits", "softmax": "the softmax output"}
for _m, _label in (("tsne", "t-SNE"), ("pca", "PCA")):
    for _n in ("raw", "output", "softmax", *(f"hidden{i}" for i in range(1, 10))):
        CAPTIONS[f"{_m}_{_n}"] = f"{_label} of {LAYER_WORDS.get(_n, 'hidden layer ' + _n[6:])}"


def grid(summary: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """A grid's rows (unit, count, class, shares) and what the prose says about them."""
    g = summary.get(key)
    if not isinstance(g, Mapping):
        return None
    rows = [dict(r) for r in dicts(g.get("rows"))]
    if not rows:
        return None
    units = g.get("units") if isinstance(g.get("units"), list) else []
    for i, row in enumerate(rows):
        row.setdefault("unit", units[i] if i < len(units) else i)
        row["count"] = int(row.get("count") or 0)
    won = [r for r in rows if r["count"] > 0]
    purity = [r["purity"] for r in won if finite(r.get("purity"))]
    shown = [r["shown_purity"] for r in won if finite(r.get("shown_purity"))]
    unassigned = int(g.get("unassigned") or 0)
    return {
        "rows": rows,
        "n": sum(r["count"] for r in rows) + unassigned,
        "unassigned": unassigned,
        "fewest": min(rows, key=lambda r: r["count"]),
        "most": max(rows, key=lambda r: r["count"]),
        "full": [r["unit"] for r in rows if r["count"] >= 10],
        "short": [r["unit"] for r in rows if 0 < r["count"] < 10],
        "empty": [r["unit"] for r in rows if r["count"] == 0],
        "mean_purity": mean(purity),
        "min_purity": min(purity, default=None),
        "max_purity": max(purity, default=None),
        "purest_least": min(won, key=lambda r: r.get("purity") or 0, default=None),
        "mean_shown": mean(shown),
        "confused": [r for r in won if r.get("majority_class") not in (None, r["unit"])],
        "mixed_shown": [r["unit"] for r in won if finite(r.get("shown_purity")) and r["shown_purity"] < 0.5],
        "classes": sorted({r["majority_class"] for r in won if r.get("majority_class") is not None}),
    }


def trend(layers: list[Mapping[str, Any]], key: str, sep: float) -> dict[str, Any] | None:
    """First and last score of one map kind over the layers, the largest change between neighbours, and
    from which layer on every score stays separated (>= sep)."""
    good = [(str(layer.get("name")), layer[key]) for layer in layers if finite(layer.get(key))]
    if len(good) < 2:
        return None
    steps = [(b - a, n0, n1) for (n0, a), (n1, b) in zip(good, good[1:])]
    from_on = None
    for name, value in reversed(good):
        if value < sep:
            break
        from_on = name
    return {
        "first": good[0],
        "last": good[-1],
        "change": good[-1][1] - good[0][1],
        "step": max(steps, key=lambda s: abs(s[0])),
        "separated_from": from_on,
    }


def context(st: StudyResults) -> dict[str, Any]:
    s = st.summary or {}
    layers = dicts(s.get("layers"))
    by_name = {str(layer.get("name")): layer for layer in layers}
    knn = s.get("knn") if isinstance(s.get("knn"), Mapping) else {}
    sep = knn.get("separated_threshold") if finite(knn.get("separated_threshold")) else SEPARATED
    maps = {"tsne": "knn_accuracy_2d_tsne", "pca": "knn_accuracy_2d_pca"}
    gain = {}
    if "raw" in by_name and "hidden1" in by_name:
        gain = {
            m: by_name["hidden1"].get(k) - by_name["raw"].get(k)
            for m, k in maps.items()
            if finite(by_name["hidden1"].get(k)) and finite(by_name["raw"].get(k))
        }
    names = [str(layer.get("name")) for layer in layers] or [
        "raw",
        *(f"hidden{i}" for i in range(1, 6)),
        "output",
    ]
    later = [n for n in names + ["softmax"] if n not in ("raw", "hidden1")]
    return {
        "bar": BAR,
        "sep": sep,
        "knn": knn,
        "layers": layers,
        "layer": by_name,
        "gain": gain,
        "trend": {m: trend(layers, k, sep) for m, k in maps.items()},
        "out": grid(s, "output_grid"),
        "pen": grid(s, "penultimate_grid"),
        "pairs": [(f"tsne_{n}", f"pca_{n}") for n in dict.fromkeys(later)],
    }
