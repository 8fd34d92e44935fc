"""Problem 4's values for `templates/dropout.md.j2`: each network without and with dropout side by side,
with the study's verdicts (`overfits`) and its comparison of the two (`comparison`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from denselab.reporting.fmt import dicts
from denselab.reporting.results import StudyResults

TITLE = "Problem 4 — Dropout"
NUMBER = 4

CAPTIONS = {
    "dropout_curves": "Train (solid) and test (dashed) loss and accuracy per epoch, without and with dropout",
    "dropout_probes": "Per-layer gradient norms and activation statistics, without and with dropout",
}


def context(st: StudyResults) -> dict[str, Any]:
    s = st.summary or {}
    arms = dicts(s.get("arms"))
    pairs: dict[tuple, dict[bool, Any]] = defaultdict(dict)
    for a in arms:
        pairs[(a.get("activation"), a.get("init"))][bool(a.get("dropout"))] = a
    comparison = {(c.get("activation"), c.get("init")): c for c in dicts(s.get("comparison"))}
    return {
        "arms": arms,
        "pairs": [(key, pair, comparison.get(key)) for key, pair in pairs.items()],
        "overfit": [a for a in arms if a.get("overfits")],
        # networks that overfit without dropout and not with it
        "tamed": [
            p[False]
            for p in pairs.values()
            if p.get(False, {}).get("overfits") and p.get(True) is not None and not p[True].get("overfits")
        ],
        "epochs": s.get("epochs"),
    }
