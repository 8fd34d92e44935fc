"""`denselab all`: the four studies into OUT/<study>/, then the report. Finished studies are reused."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from denselab.config import Runtime
from denselab.errors import DenselabError, RunsFailed
from denselab.lock import out_lock
from denselab.report import build_report
from denselab.runner import REGISTRY, run_study


def run_all(
    out_dir: str | os.PathLike, preset: str, seed: int, runtime: Runtime, force: bool = False
) -> Path:
    """Run every study with `preset` and `seed` into `out_dir/<study>`, then build the report there.

    A study that fails on bad input (e.g. no speech files) does not stop the others: the report is built
    from what finished, and the failures are raised together at the end (exit 2). Training runs that failed
    for good are shown as failed in the report and raised at the end as RunsFailed (exit 1). Holds OUT's lock."""
    out = Path(out_dir)
    failures, failed_runs = [], []
    with out_lock(out, "all"):
        for i, name in enumerate(REGISTRY, start=1):
            if not runtime.quiet:
                print(f"denselab all: [{i}/{len(REGISTRY)}] {name} -> {out / name}", file=sys.stderr)
            try:
                run_study(name, preset, {"seed": seed}, out / name, runtime, force=force)
            except DenselabError as e:
                print(f"denselab all: {name} skipped: {e}", file=sys.stderr)
                failures.append(f"{name}: {e}")
            except RunsFailed as e:
                failed_runs.append(str(e))
        build_report(out, quiet=runtime.quiet)
    if failures:
        raise DenselabError(
            f"report built without {len(failures)} stud{'y' if len(failures) == 1 else 'ies'} "
            f"({'; '.join(failures)})"
        )
    if failed_runs:
        raise RunsFailed("; ".join(failed_runs))
    return out
