"""The studies' internals the bench drives, imported in this one place: when a study module moves, this file
is the one edit (the bench reaches each study's Config, PRESETS and `jobs` through `denselab.registry`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from denselab.studies.sweeps import base, jobs  # Studies 3 and 4: jobs, grouping, grouped training, data

group_jobs = jobs.group_jobs
train_group = jobs.train_group
load_arm_data = base.load_data


def apply_files(model: str, inputs: list[str], out_dir: str, device: str) -> list[Path]:
    """`denselab denoise apply` on `inputs` into `out_dir` (quietly): what the denoiser's speed times."""
    from denselab.studies.denoise.commands import apply_files as apply

    return apply(model, inputs, out_dir=out_dir, device=device, quiet=True)


def speech_files(study: Any) -> dict[str, Any]:
    """The denoise study's default file names per role (`SPEECH_FILES`: "test" lists the test WAVs)."""
    return study.SPEECH_FILES
