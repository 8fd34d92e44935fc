"""`denselab all`: the four studies into OUT/<study>/, then the report. Finished studies are reused."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from denselab.config import Runtime
from denselab.studies import STUDIES


def run_all(out_dir: str | os.PathLike, preset: str, seed: int, runtime: Runtime, force: bool = False) -> Path:
    """Run every study with `preset` and `seed` into `out_dir/<study>`, then build the report there."""
    from denselab.cli import run_study
    from denselab.report import build_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(STUDIES, start=1):
        if not runtime.quiet:
            print(f"denselab all: [{i}/{len(STUDIES)}] {name} -> {out / name}", file=sys.stderr)
        command = "denoise train" if name == "denoise" else name
        run_study(name, preset, {"seed": seed}, out / name, runtime, force=force, command=command)
    build_report(out, quiet=runtime.quiet)
    return out
