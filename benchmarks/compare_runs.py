"""Compare the run files of two `optim` or `dropout` folders (e.g. one written before a change, one after).

Per run found in both: whether both diverged (and at which global step), the final test accuracy of each, the
largest per-epoch test-accuracy difference and the largest relative per-epoch test-loss difference; then the
worst of those. Used for docs/BENCHMARKS.md ("Same results as before").

    python benchmarks/compare_runs.py runs/before/optim runs/after/optim
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    args = ap.parse_args()
    worst_acc = worst_loss = 0.0
    for fa in sorted((args.before / "runs").glob("*.json")):
        fb = args.after / "runs" / fa.name
        if not fb.exists():
            print(f"{fa.stem:40s} only in {args.before}")
            continue
        ra, rb = json.loads(fa.read_text())["result"], json.loads(fb.read_text())["result"]
        if ra["diverged"] or rb["diverged"]:
            at = [r["diverged_at"]["global_step"] if r["diverged"] else None for r in (ra, rb)]
            print(f"{fa.stem:40s} diverged at step {at[0]} before, {at[1]} after")
            continue
        acc = max(abs(x - y) for x, y in zip(ra["test_accuracy"], rb["test_accuracy"]))
        loss = max(
            abs(x - y) / abs(x) for x, y in zip(ra["test_loss"], rb["test_loss"]) if math.isfinite(x) and x
        )
        worst_acc, worst_loss = max(worst_acc, acc), max(worst_loss, loss)
        print(
            f"{fa.stem:40s} final test accuracy {ra['test_accuracy'][-1]:.4f} before, "
            f"{rb['test_accuracy'][-1]:.4f} after; largest per-epoch difference {acc:.4f} (accuracy), "
            f"{loss:.1e} (relative test loss)"
        )
    print(f"worst: {worst_acc:.4f} accuracy, {worst_loss:.1e} relative test loss")


if __name__ == "__main__":
    main()
