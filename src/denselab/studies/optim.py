"""Transitional alias: Study optim moved to `denselab.studies.sweeps.optim`. This file goes as soon as
`registry.py` imports the new path (the module object is the same, so nothing is defined twice)."""

import sys

from denselab.studies.sweeps import optim

sys.modules[__name__] = optim
