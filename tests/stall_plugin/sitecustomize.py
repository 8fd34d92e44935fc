"""Test plugin, loaded at start-up by a child `python -m denselab` whose PYTHONPATH starts with this folder
(tests/test_dropout.py, tests/test_executor.py): the study's driver writes its first two run files as usual
and then waits an hour before the third, so a SIGKILL or Ctrl-C the test sends once two files exist lands
between two groups of 2 runs, on either executor. It patches through pytest's MonkeyPatch; the product knows
nothing of it."""

import time

import pytest

from denselab.studies.sweeps import jobs

FILES_BEFORE_THE_STALL = 2
_write_json = jobs.write_json
_written: list[str] = []


def _stall_after_two(path, data, *args, **kwargs):
    if len(_written) == FILES_BEFORE_THE_STALL:
        time.sleep(3600)
    _written.append(str(path))
    return _write_json(path, data, *args, **kwargs)


pytest.MonkeyPatch().setattr(jobs, "write_json", _stall_after_two)
