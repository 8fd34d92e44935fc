"""The Python API, for notebooks: the same studies, files, validation and errors as the command line.

    import denselab
    summary = denselab.run("dropout", preset="quick", out="runs/d", epochs=3)   # summary.json as a dict
    html = denselab.report("runs/d")                                            # pathlib.Path of report.html

Bad input raises `denselab.DenselabError` with the one-line message the CLI prints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from denselab.config import Runtime, check_runtime, default_data_dir, default_out
from denselab.pipeline import run_study, write_report
from denselab.registry import study as find_study


def run(
    study: str,
    *,
    out: str | os.PathLike | None = None,
    preset: str = "full",
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    device: str = "auto",
    quiet: bool = False,
    force: bool = False,
    **fields: Any,
) -> dict:
    """Run one study (`"mnist"`, `"denoise"`, `"optim"`, `"dropout"`) as `denselab <command>` would and
    return its summary (summary.json as a dict).

    `out`: the results folder [default: runs/<command>-<YYYYmmdd-HHMMSS>]; `preset`: "full" (the
    assignment's settings) or "quick"; `data_dir`: holds mnist/ and speech/ [default: $DENSELAB_DATA, else
    ./data]; `device`: "auto" (CUDA when present), "cpu" or "cuda"; any field of the study's config as a
    keyword (`epochs=3`, `hidden=(256, 256)`). Everything is checked before anything is written; a folder
    holding this run already is reused (resume), one holding another config is refused unless `force`."""
    from denselab.training import resolve_device

    s = find_study(study)
    runtime = Runtime(
        device=resolve_device(device),
        data_dir=str(data_dir) if data_dir is not None else default_data_dir(),
        quiet=quiet,
    )
    check_runtime(runtime)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    out_dir = out if out is not None else default_out(s.command)
    return run_study(s.name, preset, {**fields, "seed": seed}, out_dir, runtime, force=force)


def report(run_dir: str | os.PathLike, quiet: bool = True) -> Path:
    """Build `run_dir`/report.ipynb and report.html from the study results in `run_dir` (the folder
    `denselab all` writes, or one study's `out`); trains nothing. Returns the HTML file's path."""
    return next(Path(p) for p in write_report(run_dir, quiet=quiet) if str(p).endswith(".html"))
