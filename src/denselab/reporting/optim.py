"""Problem 3's values for `templates/optim.md.j2`: the study's verdicts grouped for the prose, theory's
variance factor per setting, the seed means of the recorded gradient and activation statistics, and the
SGD map arranged as a table. Verdicts (`outcome`, `expected`) are the study's; nothing here re-judges."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from denselab.reporting.fmt import dicts, finite, mean
from denselab.reporting.results import StudyResults

TITLE = "Problem 3 — Adult optimization: initialisation × activation × optimiser"
NUMBER = 3
ACT_FACTOR = {"relu": 0.5, "sigmoid": 1 / 16}  # the activation's effect on a small signal's variance

CAPTIONS = {
    "optim_sgd": "Plain SGD, learning rate 1.0: training loss and test accuracy per epoch (mean over seeds, "
    "band: min–max)",
    "optim_adam": "Adam: training loss and test accuracy per epoch",
    "sgd_first_epoch": "Plain SGD: training loss at every step of the first epoch (log scale)",
    "sgd_map": "Plain SGD, learning rate 1.0, over input scaling × batch size × training-set size: "
    "the study's verdict per network",
    "sgd_trend": "Plain SGD in the first setting where the slide's trend appears",
    "optim_probes_sgd": "Plain SGD: per-layer gradient norms and activation statistics at a few steps",
    "optim_probes_adam": "Adam: per-layer gradient norms and activation statistics at a few steps",
    "optim_first_steps": "Loss at each of the first steps (a cross marks the first non-finite loss)",
    "optim_lr_sweep": "Beyond the assignment: every network under plain SGD at several learning rates",
    "optim_scaling": "Beyond the assignment: the SGD networks with standardised pixels and with pixels in "
    "[0, 1]",
}


def gain(activation: str, init: str, width: int, std: float) -> float:
    """Theory's per-layer variance factor g = n Var(W) c of a square layer of `width` units."""
    var = {"normal": std**2, "xavier": 1 / width, "he": 2 / width}.get(init, float("nan"))
    return width * var * ACT_FACTOR.get(activation, 1.0)


def probe_mean(runs: Sequence[Mapping[str, Any]], label: str, pick: Any) -> list[float | None]:
    """Per layer, the mean over `runs` of the list `pick(probe)` at the probe called `label` (or the last)."""
    lists = []
    for r in runs:
        probes = dicts(r.get("probes"))
        p = next((p for p in probes if p.get("label") == label), probes[-1] if probes else None)
        values = pick(p) if p else None
        if isinstance(values, list) and values:
            lists.append(values)
    return [mean(v[i] for v in lists if i < len(v)) for i in range(max(map(len, lists), default=0))]


def evidence(runs: list[Mapping[str, Any]]) -> dict[str, Any]:
    """What the recorded statistics of one network (all its seeds) say, as means over seeds; divergences
    per seed; a gradient's growth quoted for one named seed."""
    grads = probe_mean(runs, "step 1", lambda p: p.get("grad_norm"))
    stds = probe_mean(runs, "step 1", lambda p: (p.get("activation") or {}).get("std"))
    kind = "saturated" if runs[0].get("activation") == "sigmoid" else "dead"
    late = probe_mean(runs, "end", lambda p: (p.get("activation") or {}).get(kind))
    worst = max(((v, i + 1) for i, v in enumerate(late) if finite(v)), default=None)
    diverged = [
        (r.get("seed"), (r.get("diverged_at") or {}).get("global_step")) for r in runs if r.get("diverged")
    ]
    first = next((r for r in runs if r.get("diverged")), None)
    losses = [v for v in (first or {}).get("step_loss") or [] if finite(v)]
    return {
        "seeds": len(runs),
        "grad_first": grads[0] if grads and finite(grads[0]) else None,
        "grad_last": grads[-1] if grads and finite(grads[-1]) else None,
        "last_std": stds[-1] if stds and finite(stds[-1]) else None,
        "late_kind": kind,
        "late": worst,
        "diverged": diverged,
        "growth": (first.get("seed"), losses[0], max(losses)) if len(losses) > 1 else None,
    }


def sgd_map(s: Mapping[str, Any]) -> dict[str, Any]:
    """The map's cells as rows (one per setting) and columns (one per network)."""
    cells = dicts(s.get("sgd_map"))
    arms = list(dict.fromkeys(str(c.get("arm")) for c in cells))
    rows: dict[tuple, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for c in cells:
        rows[(c.get("scaling"), c.get("batch_size"), c.get("train_size"))][str(c.get("arm"))] = c
    trend = [
        (t.get("scaling"), t.get("batch_size"), t.get("train_size")) for t in dicts(s.get("sgd_map_trend"))
    ]
    return {"arms": arms, "rows": list(rows.items()), "trend": trend, "has_trend_key": "sgd_map_trend" in s}


def context(st: StudyResults) -> dict[str, Any]:
    s = st.summary or {}
    arms = dicts(s.get("arms"))
    widths = s.get("widths") or [784, 512, 512, 512, 512, 512, 10]
    std = s.get("init_std") if finite(s.get("init_std")) else 0.01
    by_outcome: dict[str, list] = defaultdict(list)
    by_opt: dict[tuple, list] = defaultdict(list)
    for a in arms:
        by_outcome[str(a.get("outcome"))].append(a)
        by_opt[(a.get("optimizer"), a.get("lr"))].append(a)
    runs: dict[tuple, list] = defaultdict(list)
    for r in dicts(s.get("runs")):
        runs[(r.get("optimizer"), r.get("lr"), r.get("activation"), r.get("init"))].append(r)
    kinds = list(dict.fromkeys((a.get("activation"), a.get("init")) for a in arms))
    sgd = {(a.get("activation"), a.get("init")): a for a in arms if a.get("optimizer") == "sgd"}
    return {
        "arms": arms,
        "std": std,
        "width": widths[1],
        "depth": len(widths) - 2,
        "by_outcome": dict(by_outcome),
        "by_opt": list(by_opt.items()),
        "thresholds": s.get("outcome_thresholds") or s.get("thresholds") or {},
        "theory": [(act, init, gain(act, init, widths[1], std)) for act, init in kinds],
        "judged": [a for a in arms if a.get("expected") is not None],
        "agree": [a for a in arms if a.get("expected") is not None and a.get("outcome") == a.get("expected")],
        "rescued": [
            a
            for a in arms
            if a.get("optimizer") == "adam"
            and a.get("outcome") == "learns"
            and sgd.get((a.get("activation"), a.get("init")), {}).get("outcome") in ("stuck", "diverged")
        ],
        "why": [(key, evidence(rs)) for key, rs in runs.items()],
        "verdict": {
            (a.get("optimizer"), a.get("lr"), a.get("activation"), a.get("init")): a.get("outcome")
            for a in arms
        },
        "map": sgd_map(s),
        "sweep": dicts((s.get("lr_sweep") or {}).get("arms")),
        "scaling": dicts((s.get("scaling") or {}).get("arms")),
    }
