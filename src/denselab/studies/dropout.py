"""Transitional alias: Study dropout moved to `denselab.studies.sweeps.dropout`. This file goes as soon as
`registry.py` imports the new path (the module object is the same, so nothing is defined twice)."""

import sys

from denselab.studies.sweeps import dropout

sys.modules[__name__] = dropout
