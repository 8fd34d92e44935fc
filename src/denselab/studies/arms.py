"""Transitional alias: the job table moved to `denselab.studies.sweeps.jobs` (`group_jobs`, `train_group`,
...) and the shared config and data to `denselab.studies.sweeps.base` (`load_data`, ...). This file goes as
soon as `bench.py` imports the new paths."""

from denselab.studies.sweeps.base import ArmConfig, load_data, widths
from denselab.studies.sweeps.jobs import Job, group_jobs, make_job, train_group

__all__ = ["ArmConfig", "Job", "group_jobs", "load_data", "make_job", "train_group", "widths"]
