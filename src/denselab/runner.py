"""The study registry and `run_study`: which command runs which study module, and the one way a study is
run (resolve the config, validate it, prepare --out, run). `cli`, `pipeline` and `bench` all go through here.

Each study module exposes `Config` (frozen dataclass, defaults = the full preset), `PRESETS` (field overrides
per preset, as data), `validate(config)` (a one-line DenselabError for a value that cannot work) and
`run(config, out_dir, runtime) -> summary`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from denselab.config import Runtime, is_complete, prepare_out_dir, resolve, run_record
from denselab.errors import RunsFailed
from denselab.io import read_json, write_json
from denselab.lock import out_lock
from denselab.report import sources
from denselab.studies import denoise, dropout, mnist, optim


@dataclass(frozen=True)
class Study:
    """One study and the command that runs it."""

    name: str
    """Also its folder under `denselab all`'s OUT and its key in TINY."""
    command: str
    """The command line that runs it (`denselab <command>`), also recorded in config.json."""
    module: ModuleType
    """`denselab.studies.<name>`: Config, PRESETS, validate, run."""
    help: str
    """The command's one-line --help."""

    @property
    def config_class(self) -> type:
        return self.module.Config

    @property
    def presets(self) -> dict[str, dict[str, Any]]:
        return self.module.PRESETS

    def validate(self, config: Any) -> None:
        """The study's own check of `config`; raises a one-line DenselabError."""
        self.module.validate(config)

    def run(self, config: Any, out_dir: Path, runtime: Runtime) -> dict:
        return self.module.run(config, out_dir, runtime)


# in the order of `denselab.studies.STUDIES` (`denselab all` runs them so, into OUT/<name>/)
REGISTRY: dict[str, Study] = {
    s.name: s
    for s in (
        Study(
            "mnist",
            "mnist",
            mnist,
            "Study 1: train a 5x1024 MNIST classifier, top-activation grids, t-SNE/PCA of every layer",
        ),
        Study(
            "denoise",
            "denoise train",
            denoise,
            "train a denoiser on a clean/noisy pair (validation and a held-out test part cut from it), denoise the "
            "test files, score it on voices it never heard",
        ),
        Study(
            "optim",
            "optim",
            optim,
            "Study 3: initialisation x activation under plain SGD (lr 1.0) and Adam, 5x512 nets",
        ),
        Study(
            "dropout",
            "dropout",
            dropout,
            "Study 4: sigmoid+Xavier and ReLU+He, with and without dropout, 5x1024 nets, Adam",
        ),
    )
}

# studies whose runs are independent jobs: they take --executor / --ray-address / --threads-per-job
JOB_STUDIES = ("optim", "dropout")

# Overrides on top of the `quick` preset that cut each study to seconds: every code path and output file,
# meaningless numbers. The tests' one table of tiny settings (tests/conftest.py) and `run_bench(_tiny=True)`.
TINY: dict[str, dict[str, Any]] = {
    # lr and batch chosen so 1000 images in one epoch learn something (test accuracy 0.71, seed 0)
    "mnist": dict(
        hidden_layers=2,
        hidden_width=64,
        lr=1e-2,
        batch_size=64,
        train_subset=1000,
        test_subset=500,
        probe_images=200,
    ),
    "denoise": dict(
        hidden=(32, 32),
        epochs=1,
        frames_per_epoch=512,
        batch_size=64,
        speed_factors=(1.0,),
        pitch_factors=(1.0,),
        formant_factors=(1.0,),
        unseen="none",
    ),
    "optim": dict(
        arms=("sigmoid-normal", "relu-he"),
        hidden_width=64,
        epochs=1,
        train_subset=600,
        test_subset=500,
        probe_size=128,
        trace_steps=8,
        batch_size=50,
        seeds=1,
        lr_sweep=False,
        scaling_check=False,
    ),
    "dropout": dict(
        hidden_width=64,
        epochs=2,
        train_subset=500,
        test_subset=400,
        probe_size=128,
        trace_steps=4,
        batch_size=100,
        seeds=1,
    ),
}


def study_config(name: str, preset: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """The validated config of study `name`: `preset` with `overrides` on top."""
    study = REGISTRY[name]
    config = resolve(study.config_class, study.presets, preset, overrides)
    study.validate(config)
    return config


def run_study(
    name: str,
    preset: str,
    overrides: Mapping[str, Any],
    out_dir: str | os.PathLike,
    runtime: Runtime,
    force: bool = False,
) -> dict:
    """Resolve and validate the config, then, holding `out_dir`'s write lock, prepare it (config.json, resume
    check) and run the study.

    Bad settings fail before `out_dir` is created or touched, so the corrected command needs no --force.
    RunsFailed when some training runs failed for good (the summary with the rest is written first)."""
    study = REGISTRY[name]
    config = study_config(name, preset, overrides)
    record = run_record(study.command, config, runtime, preset)
    with out_lock(out_dir, study.command):
        if not force and is_complete(out_dir, record):
            if not runtime.quiet:
                print(
                    f"denselab: {study.command} already complete in {out_dir}; reusing it (--force reruns)",
                    file=sys.stderr,
                )
            return read_json(Path(out_dir) / "summary.json")
        out = prepare_out_dir(out_dir, record, force=force)
        write_json(out / sources.SNAPSHOT, sources.snapshot(name))  # the code the report shows: as it starts
        summary = study.run(config, out, runtime)
    failed = summary.get("failed_runs") or []
    if failed:
        raise RunsFailed(
            f"{len(failed)} run(s) of `denselab {study.command}` failed for good (first: "
            f"{failed[0]['name']}: {failed[0]['error']}); the rest is in {out_dir}, whose summary.json "
            f"lists them under failed_runs: run the same command again to retry them"
        )
    return summary
