"""Test plugin, loaded at start-up by a child `python -m denselab` whose PYTHONPATH starts with this folder
(tests/test_dropout.py): the first training group trains as usual, every later one waits an hour before it
starts, so a SIGKILL or Ctrl-C the test sends once the first group's run files exist lands between two groups.
It patches through pytest's MonkeyPatch; the product knows nothing of it."""

import time

import pytest

from denselab.studies.sweeps import jobs

_train_group = jobs.train_group
_started: list[int] = []


def _first_group_only(job_list, data, runtime, desc="train"):
    if _started:
        time.sleep(3600)
    _started.append(len(job_list))
    return _train_group(job_list, data, runtime, desc)


pytest.MonkeyPatch().setattr(jobs, "train_group", _first_group_only)
