"""The one way a study runs, alone (`run_study`: `denselab <study>`, `denselab.run`) or all four in turn
(`run_all`: `denselab all`, ending in the report)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from denselab.config import Runtime, is_complete, prepare_out_dir
from denselab.errors import DenselabError, MissingInput, RunsFailed
from denselab.io import read_json, write_json
from denselab.lock import out_lock
from denselab.provenance import SNAPSHOT, run_record, snapshot
from denselab.registry import REGISTRY, Study, study


def run_study(
    name: str,
    preset: str,
    overrides: Mapping[str, Any],
    out_dir: str | os.PathLike,
    runtime: Runtime,
    force: bool = False,
) -> dict:
    """Resolve and validate the config and check every input, then, holding `out_dir`'s write lock, prepare
    it (config.json, resume check), record the sources and run the study.

    Bad settings and missing inputs fail before `out_dir` is created or touched, and a folder this call
    created is removed again when the study stops on bad input, so the corrected command needs no --force.
    RunsFailed when some training runs failed for good (the summary with the rest is written first)."""
    s = study(name)
    config = s.config(preset, dict(overrides))
    s.check_inputs(config, runtime.data_dir)
    record = run_record(s.command, config, runtime, preset)
    fresh = not Path(out_dir).exists()
    try:
        summary = _run_locked(s, config, record, Path(out_dir), runtime, force)
    except DenselabError:
        if fresh:  # a command rejected on its input leaves no folder it created behind
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    failed = summary.get("failed_runs") or []
    if failed:
        raise RunsFailed(
            f"{len(failed)} run(s) of `denselab {s.command}` failed for good (first: "
            f"{failed[0]['name']}: {failed[0]['error']}); the rest is in {out_dir}, whose summary.json "
            f"lists them under failed_runs: run the same command again to retry them"
        )
    return summary


def _run_locked(s: Study, config: Any, record: dict, out_dir: Path, runtime: Runtime, force: bool) -> dict:
    with out_lock(out_dir, s.command):
        if not force and is_complete(out_dir, record):
            if not runtime.quiet:
                print(
                    f"denselab: {s.command} already complete in {out_dir}; reusing it (--force reruns)",
                    file=sys.stderr,
                )
            return read_json(out_dir / "summary.json")
        out = prepare_out_dir(out_dir, record, force=force)
        write_json(out / SNAPSHOT, snapshot(s.recorded))  # the code the report shows, as it starts
        return s.run(config, out, runtime)


def run_all(
    out_dir: str | os.PathLike,
    preset: str,
    seed: int,
    runtime: Runtime,
    force: bool = False,
) -> tuple[Path, list[str]]:
    """Run every study with `preset` and `seed` into `out_dir/<study>`, then build the report there.

    A study whose inputs are missing (MissingInput: no speech recordings, say) is skipped and the others
    run: the report says what is missing and where it goes. Any other bad input stops it before anything is
    written. Returns the folder and one line per skipped study (exit 0).
    A study that fails on bad input while running does not stop the others either: the report is built
    and DenselabError raised at the end (exit 2). Training runs that failed for good are shown as failed
    in the report and raised at the end as RunsFailed (exit 1). Holds OUT's lock."""
    from denselab.reporting import build_report

    out = Path(out_dir)
    skipped: dict[str, str] = {}  # study name -> why its inputs are missing
    failures, failed_runs = [], []
    for s in REGISTRY.values():  # every option and input checked before anything is written
        config = s.config(preset, {"seed": seed})
        try:
            s.check_inputs(config, runtime.data_dir)
        except MissingInput as e:
            skipped[s.name] = str(e)
    with out_lock(out, "all"):
        for i, name in enumerate(REGISTRY, start=1):
            if name in skipped:
                continue
            if not runtime.quiet:
                print(f"denselab all: [{i}/{len(REGISTRY)}] {name} -> {out / name}", file=sys.stderr)
            try:
                run_study(name, preset, {"seed": seed}, out / name, runtime, force=force)
            except DenselabError as e:
                failures.append(f"{name}: {e}")
            except RunsFailed as e:
                failed_runs.append(str(e))
        build_report(out, quiet=runtime.quiet)
    if failures:
        raise DenselabError(f"report built without {'; '.join(failures)}")
    if failed_runs:
        raise RunsFailed("; ".join(failed_runs))
    return out, [f"{name} skipped: {why}" for name, why in skipped.items()]


def write_report(run_dir: str | os.PathLike, quiet: bool = False) -> list[Path]:
    """`denselab report DIR` (and `denselab.report`): holding DIR's write lock, build DIR/report.ipynb and
    DIR/report.html from the study results there; trains nothing. The paths written."""
    from denselab.reporting import build_report

    with out_lock(run_dir, "report", create=False):
        return build_report(run_dir, quiet=quiet)
